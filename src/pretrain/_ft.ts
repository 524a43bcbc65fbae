import { presetConfig, runExperiment } from "../experiments";
async function main() {
  const o = JSON.parse(process.env.FT ?? "{}");
  const base = presetConfig("quick");
  const cfg = { ...base, model: { kind: "preset" as const, preset: "tiny" as const, pretrained: process.env.CKPT ?? null }, data: { kind: "files" as const, train: "../shared/data/study_train.jsonl", dev: "../shared/data/study_val.jsonl" }, maxLength: 160, ...o };
  const r = await runExperiment(cfg, { runsDir: "/tmp/pt/runs", progress: false });
  console.log(JSON.stringify({ o, micro: r.metrics.dev.micro_f1, macro: r.metrics.dev.macro_f1, secs: r.info.seconds, hist: r.history.map((h) => [h.devMicroF1, h.samplesPerSec, h.seconds]) }));
}
main();
