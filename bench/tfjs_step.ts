/**
 * Our side of bench/throughput.ts, one configuration per process (the twin of bench/torch_step.py): the
 * product's training step (src/model BertForRelationClassification, src/train loss and AdamW) and an
 * inference batch (eval, argmax) on the selected backend, timed after warm-up.
 *
 *   MEDREL_BLAS_THREADS=2 npx tsx bench/tfjs_step.ts '{"size":{...BenchSize},"warmup":3,"steps":10,
 *       "evalWarmup":3,"evalBatches":20,"native":true,"profile":false}'
 *   npx tsx bench/tfjs_step.ts --sgemm 1024      (the addon's sgemm rate at MEDREL_BLAS_THREADS)
 *
 * Prints one JSON line, with the CPU, OpenBLAS's core and who chose it (our loader, src/backend/cpu.ts) and
 * whether denormals are flushed. A config that asks for the native kernels fails if the addon did not load,
 * rather than timing pure WASM under the wrong name.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, loadNative } from "../src/backend";
import { blasCoreChoice, cpuModel } from "../src/backend/cpu";
import { profileKernels, type KernelTime } from "../src/backend/profile";
import { BertForRelationClassification, SHAPES, type BertConfig, type ModelInputs } from "../src/model";
import { Rng } from "../src/random";
import { crossEntropy } from "../src/train/loss";
import { AdamW } from "../src/train/optimizer";
import { BENCH_LABELS, stats, type BenchSize } from "./throughput-results";

export interface StepSpec {
  size: BenchSize;
  warmup: number;
  steps: number;
  evalWarmup: number;
  evalBatches: number;
  native: boolean;
  profile?: boolean;
  /** products in bfloat16 (the addon's setPrecision(1)) */
  bf16?: boolean;
}

/** the batch torch_step.py builds too: lengths T/2..T, random ids, random labels */
function makeBatch(s: BenchSize, rng: Rng): { inputs: ModelInputs; labels: tf.Tensor1D } {
  const { batch: B, seq: T } = s;
  const ids = new Int32Array(B * T);
  const mask = new Int32Array(B * T);
  const labels = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const len = T / 2 + rng.int(T / 2 + 1);
    for (let t = 0; t < T; t++) {
      mask[b * T + t] = t < len ? 1 : 0;
      ids[b * T + t] = t < len ? 1 + rng.int(s.vocab - 1) : 0;
    }
    labels[b] = rng.int(BENCH_LABELS);
  }
  const inputs: ModelInputs = {
    inputIds: tf.tensor2d(ids, [B, T], "int32"),
    tokenTypeIds: tf.zeros([B, T], "int32") as tf.Tensor2D,
    attentionMask: tf.tensor2d(mask, [B, T], "int32"),
    headPos: tf.fill([B], 1, "int32") as tf.Tensor1D,
    tailPos: tf.fill([B], 2, "int32") as tf.Tensor1D,
  };
  return { inputs, labels: tf.tensor1d(labels, "int32") };
}

export function benchConfig(s: BenchSize): BertConfig {
  return {
    ...SHAPES.tiny,
    vocab_size: s.vocab,
    hidden_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    intermediate_size: s.inter,
    max_position_embeddings: 512,
  };
}

const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function timed(fn: () => Promise<void>, warmup: number, n: number): Promise<{ wall: number[]; cpu: number[] }> {
  for (let i = 0; i < warmup; i++) await fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const c0 = cpuSeconds();
    await fn();
    wall.push((performance.now() - t0) / 1000);
    cpu.push(cpuSeconds() - c0);
  }
  return { wall, cpu };
}

async function runSteps(spec: StepSpec): Promise<Record<string, unknown>> {
  const info = await initBackend({ verbose: false });
  const addon = loadNative().addon;
  if (spec.native && !addon) throw new Error(`native kernels asked for but not loaded: ${info.notices.join("; ")}`);
  const precision = spec.bf16 && addon ? addon.setPrecision(1) : undefined;
  const model = new BertForRelationClassification(benchConfig(spec.size), { numLabels: BENCH_LABELS, pooling: "cls", seed: 1 });
  const opt = new AdamW(model.params, { lr: 2e-5, weightDecay: 0.01 });
  const nameToKey = new Map([...model.params].map(([k, v]) => [v.name, k]));
  const vars = model.trainableVariables();
  const { inputs, labels } = makeBatch(spec.size, new Rng(1234));
  let calls = 0;
  let loss = NaN;
  const train = async (): Promise<void> => {
    const { value, grads } = tf.variableGrads(() => crossEntropy(model.forward(inputs, { training: true, dropoutSeed: 1000 + calls++ }).logits, labels), vars);
    const byKey = new Map<string, tf.Tensor>();
    for (const [name, g] of Object.entries(grads)) byKey.set(nameToKey.get(name) ?? name, g);
    opt.step(byKey);
    loss = (await value.data())[0];
    tf.dispose([value, ...Object.values(grads)]);
  };
  const infer = async (): Promise<void> => {
    const pred = tf.tidy(() => tf.argMax(model.forward(inputs, { training: false }).logits, 1));
    await pred.data();
    pred.dispose();
  };
  const tr = await timed(train, spec.warmup, spec.steps);
  const ev = await timed(infer, spec.evalWarmup, spec.evalBatches);
  let profile: { train: KernelTime[]; eval: KernelTime[] } | undefined;
  if (spec.profile) {
    let stop = profileKernels();
    await train();
    const trainK = stop();
    stop = profileKernels();
    await infer();
    profile = { train: trainK, eval: stop() };
  }
  return {
    backend: info.name,
    kernels: info.kernels,
    blas: info.blas ?? null,
    blasThreads: addon ? addon.getThreads() : 0,
    cpu: info.cpu,
    blasCore: addon ? (blasCoreChoice() ?? null) : null,
    denormalsFlushed: info.denormalsFlushed,
    precision,
    train: stats(tr.wall),
    trainCpu: stats(tr.cpu),
    eval: stats(ev.wall),
    evalCpu: stats(ev.cpu),
    loss,
    tensors: tf.memory().numTensors,
    rssMb: process.resourceUsage().maxRSS / 1024,
    profile,
  };
}

/** the addon's sgemm on an n^3 product at its configured threads: GFLOP/s of each of 10 timed calls */
function sgemmRates(n: number): Record<string, unknown> {
  const addon = loadNative().addon;
  if (!addon) throw new Error(`sgemm: native addon not loaded (${loadNative().error})`);
  const heap = new ArrayBuffer(3 * n * n * 4);
  const a = new Float32Array(heap, 0, 2 * n * n);
  for (let i = 0; i < a.length; i++) a[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  const call = (): void => addon.gemm(heap, 1, 0, 0, n, n, n, 0, 0, n * n * 4, 0, 2 * n * n * 4, 1, 0, -1, 0, 0);
  for (let i = 0; i < 3; i++) call();
  const rates: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    call();
    rates.push((2 * n ** 3) / ((performance.now() - t0) / 1000) / 1e9);
  }
  return { threads: addon.getThreads(), blas: addon.blasInfo(), cpu: cpuModel(), blasCore: blasCoreChoice() ?? null, gflops: stats(rates) };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const out = argv[0] === "--sgemm" ? sgemmRates(Number(argv[1] ?? 1024)) : await runSteps(JSON.parse(argv[0]) as StepSpec);
  process.stdout.write(JSON.stringify(out) + "\n");
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
