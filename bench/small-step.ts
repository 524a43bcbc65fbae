/**
 * tsx bench/small-step.ts — the trainer's step (forward, backward, clipping, AdamW) of the `tiny` (16 × 64) and `small`
 * (16 × 128) presets on synthetic ids, to check that the small-model fast path keeps its speed across a change:
 * run it in two checkouts in turn (it uses only APIs both have) with --label before/after, each run appended to --out.
 * Reports per-step wall and CPU time (median after 2 warm-up steps) and every loss (to compare numerics exactly).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command } from "commander";
import * as tf from "@tensorflow/tfjs";
import { describeBackend, initBackend } from "../src/backend/select";
import { BertForRelationClassification, shapeConfig } from "../src/model";
import { AdamW, clipByGlobalNorm, crossEntropy } from "../src/train";

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function timeSteps(preset: "tiny" | "small", B: number, T: number, steps: number) {
  const model = new BertForRelationClassification(shapeConfig(preset, 21128), { numLabels: 10, pooling: "cls", seed: 0 });
  const vars = model.trainableVariables();
  const nameToKey = new Map([...model.params].map(([k, v]) => [v.name, k]));
  const opt = new AdamW(new Map([...model.params].filter(([, v]) => v.trainable)), { lr: 1e-4 });
  const ids = new Int32Array(B * T).map((_, i) => 1 + ((i * 7919) % 21000));
  const wall: number[] = [];
  const cpu: number[] = [];
  const losses: string[] = [];
  for (let s = 0; s < steps; s++) {
    const t = performance.now();
    const c0 = process.cpuUsage();
    const lossT = tf.tidy(() => {
      const inputs = {
        inputIds: tf.tensor2d(ids, [B, T], "int32"),
        tokenTypeIds: tf.zeros([B, T], "int32") as tf.Tensor2D,
        attentionMask: tf.ones([B, T], "int32") as tf.Tensor2D,
        headPos: tf.zeros([B], "int32") as tf.Tensor1D,
        tailPos: tf.ones([B], "int32") as tf.Tensor1D,
      };
      const labels = tf.tensor1d(Array.from({ length: B }, (_, i) => i % 10), "int32");
      const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(inputs, { training: true, dropoutSeed: s }).logits, labels), vars);
      opt.step(clipByGlobalNorm(new Map(Object.entries(grads).map(([n, g]) => [nameToKey.get(n)!, g])), 1).grads, 1e-4);
      return value;
    });
    losses.push((await lossT.data())[0].toPrecision(9));
    lossT.dispose();
    const c = process.cpuUsage(c0);
    wall.push(performance.now() - t);
    cpu.push((c.user + c.system) / 1000);
  }
  opt.dispose();
  model.dispose();
  const w = wall.slice(2);
  const c = cpu.slice(2);
  return { preset, batch: B, seq: T, steps, wallMsMedian: +median(w).toFixed(1), cpuMsMedian: +median(c).toFixed(1), cpuMsMin: +Math.min(...c).toFixed(1), losses };
}

async function main(): Promise<void> {
  const o = new Command("small-step")
    .option("--label <name>", "what this checkout is (before/after)", "run")
    .option("--out <file>", "JSON file the run is appended to", path.join(__dirname, "results", "small-step.json"))
    .allowExcessArguments(false)
    .parse()
    .opts<{ label: string; out: string }>();
  const info = await initBackend({ verbose: false });
  let commit = "?";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: __dirname, encoding: "utf8" }).trim();
  } catch {
    // not a git checkout: leave "?"
  }
  const run = {
    label: o.label,
    commit,
    date: new Date().toISOString(),
    backend: describeBackend(info),
    blasThreadsEnv: process.env.MEDREL_BLAS_THREADS ?? null,
    loadAverage: os.loadavg().map((x) => +x.toFixed(2)),
    results: [await timeSteps("tiny", 16, 64, 80), await timeSteps("small", 16, 128, 12)],
  };
  for (const r of run.results) console.log(`${o.label} ${r.preset}: wall ${r.wallMsMedian} ms, CPU ${r.cpuMsMedian} ms (min ${r.cpuMsMin}) per step`);
  const prev = fs.existsSync(o.out) ? (JSON.parse(fs.readFileSync(o.out, "utf8")) as unknown[]) : [];
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  fs.writeFileSync(o.out, JSON.stringify([...prev, run], null, 1) + "\n");
}

main().catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
