/**
 * npm run pretrain -- [--data-dir ../shared/data] [--work .cache/pretrain/quick] [--out data/pretrained/quick]
 *                     [--steps N] [--minutes M] [--stop-at S] [--seed N] [--layers 4 --hidden 192 --heads 3 --intermediate 768]
 *                     [--init-from data/pretrained/quick]
 * In-domain whole-word-masking MLM pre-training of the quick preset's encoder. Re-running the same command
 * resumes from <work>/state/ (saved every --save-every steps); on finishing (or at --minutes) the checkpoint is
 * exported to --out as a Hugging Face folder with its training curve and README.
 * --init-from continues an exported checkpoint (its weights as exported, fresh optimizer moments) in its own work
 * folder (<work>-from<step>), so the re-create chain is: the chain that made the export, then this command.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { initBackend } from "../backend/select";
import { buildCorpus, defaultCorpusSources, evaluationExclusions, formatCorpusReport } from "./corpus";
import { DEFAULT_PRETRAIN_CONFIG, readExportInfo, runPretrain, type ExportInfo, type PretrainConfig } from "./pretrain";
import { writeReadme } from "./readme";

async function main(): Promise<void> {
  const d = DEFAULT_PRETRAIN_CONFIG;
  const int = (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got "${v}"`);
    return n;
  };
  const num = (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`expected a number, got "${v}"`);
    return n;
  };
  const prog = new Command("pretrain")
    .option("--data-dir <dir>", "folder with study_*.jsonl and CMeIE-V2_*.jsonl", path.resolve(process.cwd(), "..", "shared", "data"))
    .option("--work <dir>", "resumable state folder (default .cache/pretrain/quick; with --init-from, .cache/pretrain/quick-from<step>)")
    .option("--init-from <dir>", "continue this exported checkpoint (when the work folder holds no state yet)")
    .option("--out <dir>", "exported checkpoint folder", "data/pretrained/quick")
    .option("--steps <n>", "planned optimizer steps", int, d.totalSteps)
    .option("--minutes <m>", "stop (and export) after this many minutes of this invocation; 0 = no limit", num, 0)
    .option("--batch-size <n>", "texts per step", int, d.batchSize)
    .option("--max-length <n>", "tokens per text", int, d.maxLength)
    .option("--lr <x>", "peak learning rate", num, d.lr)
    .option("--seed <n>", "seed", int, d.seed)
    .option("--layers <n>", "encoder layers", int, d.shape.layers)
    .option("--hidden <n>", "hidden size", int, d.shape.hidden)
    .option("--heads <n>", "attention heads", int, d.shape.heads)
    .option("--intermediate <n>", "feed-forward size", int, d.shape.intermediate)
    .option("--stop-at <n>", "stop (and export) at this step; the schedule still spans --steps", int)
    .option("--save-every <n>", "state save interval (steps)", int, d.saveEvery)
    .option("--f32", "export float32 instead of float16")
    .parse();
  const o = prog.opts<{
    dataDir: string; work?: string; initFrom?: string; out: string; steps: number; minutes: number; batchSize: number; maxLength: number; lr: number; seed: number;
    layers: number; hidden: number; heads: number; intermediate: number; saveEvery: number; stopAt?: number; f32?: boolean;
  }>();
  const cfg: PretrainConfig = {
    ...d,
    shape: { ...d.shape, layers: o.layers, hidden: o.hidden, heads: o.heads, intermediate: o.intermediate },
    totalSteps: o.steps,
    batchSize: o.batchSize,
    maxLength: o.maxLength,
    lr: o.lr,
    seed: o.seed,
    saveEvery: o.saveEvery,
  };
  const backend = await initBackend({ verbose: true });
  const dataDir = path.resolve(o.dataDir);
  const corpus = buildCorpus(defaultCorpusSources(dataDir), { exclude: evaluationExclusions(dataDir) });
  console.log(formatCorpusReport(corpus.stats).replace(/^/gm, "[pretrain] "));
  const deadline = o.minutes > 0 ? Date.now() + o.minutes * 60_000 : undefined;
  const initDir = o.initFrom ? path.resolve(o.initFrom) : undefined;
  const initInfo = initDir ? readExportInfo(initDir) : undefined;
  const initFrom = initDir && initInfo ? { dir: initDir, recreate: recreateChain(initDir, initInfo), info: initInfo } : undefined;
  const work = o.work ?? (initInfo ? `.cache/pretrain/quick-from${initInfo.step}` : ".cache/pretrain/quick");
  const trainer = await runPretrain(cfg, corpus.texts, path.resolve(work), { deadline, stopAtStep: o.stopAt, corpus: corpus.stats, initFrom });
  // the command that re-creates this export exactly: the same flags, --minutes replaced by the step reached
  const args: string[] = [];
  const raw = process.argv.slice(2);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === "--minutes" || raw[i] === "--stop-at" || raw[i] === "--work" || raw[i] === "--out") i++;
    else args.push(raw[i]);
  }
  if (trainer.state.step < cfg.totalSteps) args.push("--stop-at", String(trainer.state.step));
  // earlier schedule stages (a run extended with a larger --steps) come first, each resumed by the next
  const stages = trainer.state.stages ?? [];
  const perStage = (a: string | undefined): boolean => a === "--steps" || a === "--stop-at";
  const base = args.filter((a, i) => !perStage(a) && !perStage(args[i - 1]));
  const earlier = stages.slice(0, -1).map((s, k) => {
    // a stage left before its planned end (extended mid-way) stops where the next one took over
    const next = stages[k + 1].fromStep;
    const stop = next < s.plannedSteps ? ["--stop-at", String(next)] : [];
    return `npm run pretrain -- ${[...base, "--steps", String(s.plannedSteps), ...stop].join(" ")}`;
  });
  const argv = args.join(" ");
  // a continued export's chain starts with the chain that made its starting checkpoint
  const prior = trainer.state.initFrom ? [trainer.state.initFrom.recreate] : [];
  const recreate = [...prior, ...earlier, `npm run pretrain${argv ? " -- " + argv : ""}`].join(" && \\\n  ");
  await trainer.export(path.resolve(o.out), { dtype: o.f32 ? "F32" : "F16", extra: { corpus: corpus.stats, config: cfg, backend: backend.name, recreate } });
  writeReadme(path.resolve(o.out), { state: trainer.state, corpus: corpus.stats, command: recreate, vocabSize: trainer.tokenizer.vocabSize, parameters: trainer.model.numParameters() });
  console.log(`[pretrain] exported step ${trainer.state.step} to ${o.out} (${fs.statSync(path.join(o.out, "model.safetensors")).size} bytes)`);
  trainer.dispose();
}

/**
 * The command chain that re-creates an exported checkpoint: config.json medrel.pretrain.recreate, or (exports made
 * before that field existed) the code block under "## Re-create" in its README.md.
 */
function recreateChain(dir: string, info: ExportInfo): string {
  if (info.recreate) return info.recreate;
  const readme = path.join(dir, "README.md");
  const m = fs.existsSync(readme) ? /## Re-create\s+```\n([\s\S]*?)\n```/.exec(fs.readFileSync(readme, "utf8")) : null;
  if (!m) throw new Error(`--init-from ${dir}: no re-create command (config.json medrel.pretrain.recreate or README.md "## Re-create")`);
  return m[1].trim();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
