/**
 * npm run bench:pretrain -- [--objectives mlm,electra] [--steps 20] [--warmup 2] [--layers 4 --hidden 192 ...] [--json FILE]
 * Seconds per pre-training step of each objective at the real shape (default 4 × 192, batch 32, 128 tokens) on the
 * study's corpus, to size a run. Reports wall seconds AND process CPU seconds per step: at MEDREL_BLAS_THREADS=1 the
 * CPU seconds are what a step costs on a quiet core even when the machine is shared (wall time is then inflated by
 * whatever else runs). The first --warmup steps (allocation, WASM compilation) are not counted.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command } from "commander";
import { initBackend } from "../backend/select";
import { usePrecision } from "../backend";
import { cpuModel } from "../backend/cpu";
import { buildCorpus, defaultCorpusSources, evaluationExclusions } from "./corpus";
import { corpusTokenizer, createTrainer, DEFAULT_PRETRAIN_CONFIG, type PretrainConfig } from "./pretrain";

async function main(): Promise<void> {
  const d = DEFAULT_PRETRAIN_CONFIG;
  const o = new Command("bench:pretrain")
    .option("--data-dir <dir>", "data folder", path.resolve(process.cwd(), "..", "shared", "data"))
    .option("--objectives <list>", "comma-separated", "mlm,electra")
    .option("--steps <n>", "timed steps per objective", Number, 20)
    .option("--warmup <n>", "untimed steps first", Number, 2)
    .option("--layers <n>", "", Number, d.shape.layers)
    .option("--hidden <n>", "", Number, d.shape.hidden)
    .option("--heads <n>", "", Number, d.shape.heads)
    .option("--intermediate <n>", "", Number, d.shape.intermediate)
    .option("--batch-size <n>", "", Number, d.batchSize)
    .option("--max-length <n>", "", Number, d.maxLength)
    .option("--precision <p>", "dense products: f32 or bf16", "f32")
    .option("--json <file>", "write the result here")
    .parse()
    .opts<{ dataDir: string; objectives: string; steps: number; warmup: number; layers: number; hidden: number; heads: number; intermediate: number; batchSize: number; maxLength: number; json?: string; precision: string }>();
  const backend = await initBackend({ verbose: true });
  const products = usePrecision(o.precision === "bf16" ? "bf16" : "f32");
  const corpus = buildCorpus(defaultCorpusSources(o.dataDir), { exclude: evaluationExclusions(o.dataDir) });
  const tokenizer = corpusTokenizer(corpus.texts, d.minFreq);
  const results: Record<string, unknown>[] = [];
  for (const objective of o.objectives.split(",") as ("mlm" | "electra")[]) {
    const gh = Math.round(o.hidden / 4);
    const cfg: PretrainConfig = {
      ...d,
      shape: { ...d.shape, layers: o.layers, hidden: o.hidden, heads: o.heads, intermediate: o.intermediate },
      batchSize: o.batchSize,
      maxLength: o.maxLength,
      totalSteps: 1000,
      ...(objective === "electra"
        ? { objective, generator: { hidden: gh, layers: o.layers, heads: Math.max(1, Math.floor(gh / 64)), intermediate: 4 * gh }, discWeight: 50, maskProb: 0.85, randomProb: 0 }
        : {}),
    };
    const t = createTrainer(cfg, tokenizer, corpus.texts, { corpus: corpus.stats });
    for (let i = 0; i < o.warmup; i++) await t.step();
    const load0 = os.loadavg()[0];
    const wall0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < o.steps; i++) await t.step();
    const cpu = process.cpuUsage(cpu0);
    const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
    const r = {
      objective,
      steps: o.steps,
      wallPerStep: wall / o.steps,
      cpuPerStep: (cpu.user + cpu.system) / 1e6 / o.steps,
      trainedParams: [...t.params.values()].reduce((a, v) => a + v.size, 0),
      loadAvg: [load0, os.loadavg()[0]],
    };
    results.push(r);
    console.log(`[bench:pretrain] ${objective}: ${r.cpuPerStep.toFixed(3)} CPU s/step, ${r.wallPerStep.toFixed(3)} wall s/step over ${o.steps} steps (load ${load0.toFixed(1)} -> ${os.loadavg()[0].toFixed(1)}), ${r.trainedParams} trained parameters`);
    t.dispose();
  }
  const out = {
    cpu: cpuModel(),
    threads: backend.threads,
    backend: backend.name,
    products: products.engine,
    shape: `${o.layers} x ${o.hidden}, batch ${o.batchSize}, ${o.maxLength} tokens`,
    at: new Date().toISOString(),
    results,
  };
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(out, null, 1) + "\n");
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
