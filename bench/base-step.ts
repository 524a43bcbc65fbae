/**
 * npm run bench:base — training steps of a base-size BERT (Chinese-RoBERTa-wwm-ext's shape: L=12, H=768, 12 heads,
 * V=21128, 102M parameters) at the study's batch on this machine: the trainer's step (forward, backward, global-norm
 * clipping, AdamW) on real study rows, each padded to exactly --seq tokens (as HF's padding="max_length" does).
 * Prints a line as each step starts and as it ends (a slow machine never looks hung; every line names the CPU), then
 * s/step, peak RSS and the WASM heap's high-water mark, and writes the raw result as JSON to --out, with the CPU,
 * OpenBLAS's core and who chose it, and whether denormals were flushed.
 *
 *   --batch 16 --seq 300 (alias --max-length) --steps 4 --pad max|longest --profile --out bench/results/base-step.json
 *   --recompute auto|<layers>[,...]  --threads <n>[,...]
 *     a comma list alternates its values step by step in one process, each timed on its own steps after the first
 *     round (a paired comparison on a shared, noisy machine); alternate one of the two at a time
 *
 * Memory: the WASM heap (4 GiB) holds the weights (0.4 GB), the gradients (0.4 GB, twice while clipping) and the
 * activations kept for backward (≈236 MB per layer at 16 × 300); AdamW's moments (0.8 GB) are host arrays. At 16 × 300
 * all layers fit (peak ≈3.2 GiB); beyond, the model recomputes the bottom layers' activations in backward ("auto":
 * as few as fit; BertForRelationClassification `recompute`). Backward frees as it goes (src/backend/tape.ts;
 * MEDREL_LEAN_BACKPROP=0 turns that off).
 * Threads: MEDREL_BLAS_THREADS (the addon pool's size), default every core.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import * as tf from "@tensorflow/tfjs";
import { blasCoreChoice } from "../src/backend/cpu";
import { loadNative } from "../src/backend/native";
import { profileKernels, type KernelTime } from "../src/backend/profile";
import { leanBackpropActive } from "../src/backend/tape";
import { initBackend, describeBackend, describeBackendDetails, memoryLimitBytes, type BackendInfo } from "../src/backend/select";
import { runMain } from "../src/cli/common";
import { loadRows } from "../src/data/load";
import { RelationTokenizer, encodeDataset } from "../src/encoding";
import { BertForRelationClassification, SHAPES, shapeConfig, type RecomputePolicy } from "../src/model";
import { AdamW, batchInputs, clipByGlobalNorm, collate, crossEntropy, type Batch } from "../src/train";
import { cpuShortName, kernelEnv } from "./throughput-results";

const ROOT = path.resolve(__dirname, "..");
const PAD_ID = SHAPES.base.pad_token_id;
const GiB = 2 ** 30;

interface Flags {
  batch: number;
  seq: number;
  steps: number;
  /** one policy, or several taken in turn step by step (a paired comparison under the same machine load) */
  recompute: RecomputePolicy[];
  /** addon pool threads, one count or several taken in turn; undefined: the process default (MEDREL_BLAS_THREADS / all cores) */
  threads?: number[];
  pad: "max" | "longest";
  profile: boolean;
  out: string;
}

function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(Number.isInteger(n) && n >= 1)) throw new InvalidArgumentError(`${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

function recomputeArg(v: string): RecomputePolicy[] {
  return v.split(",").map((p) => {
    if (p === "auto") return p;
    const n = Number(p);
    if (!(p !== "" && Number.isInteger(n) && n >= 0)) throw new InvalidArgumentError(`--recompute takes "auto" or layer counts ≥ 0, comma-separated; got "${v}"`);
    return n;
  });
}

function threadsArg(v: string): number[] {
  return v.split(",").map((p) => positive("--threads")(p));
}

function parseFlags(argv: string[]): Flags {
  const cmd = new Command("bench:base")
    .description("training steps of a base-size BERT at the study's batch; s/step and peak memory")
    .option("--batch <rows>", "rows per batch", positive("--batch"), 16)
    .option("--seq <tokens>", "tokens per row (alias --max-length)", positive("--seq"))
    .option("--max-length <tokens>", "same as --seq", positive("--max-length"))
    .option("--steps <n>", "training steps (the first round also warms up)", positive("--steps"), 4)
    .option("--recompute <layers>", 'encoder layers recomputed in backward: "auto" or a count; a comma list alternates them step by step', recomputeArg, ["auto"] as RecomputePolicy[])
    .option("--threads <n>", "addon pool threads; a comma list alternates them step by step (default: MEDREL_BLAS_THREADS, else all cores)", threadsArg)
    .addOption(new Option("--pad <mode>", "pad rows to --seq (max) or to the batch's longest row").choices(["max", "longest"]).default("max"))
    .option("--profile", "per-kernel times of the last step (into the JSON)", false)
    .option("--out <file>", "where the JSON result goes", path.join("bench", "results", "base-step.json"))
    .allowExcessArguments(false);
  cmd.parse(argv, { from: "user" });
  const o = cmd.opts<Omit<Flags, "seq"> & { seq?: number; maxLength?: number }>();
  if (o.seq !== undefined && o.maxLength !== undefined && o.seq !== o.maxLength) {
    throw new Error(`--seq ${o.seq} and --max-length ${o.maxLength} are the same flag; give one`);
  }
  if (o.recompute.length > 1 && (o.threads?.length ?? 0) > 1) throw new Error("alternate --recompute or --threads, not both");
  return { ...o, seq: o.seq ?? o.maxLength ?? 300 };
}

/** The batch with every row padded to T tokens (pad id, mask 0, token type 0). */
function padTo(b: Batch, T: number, padId: number): Batch {
  if (b.seqLen === T) return b;
  const widen = (src: Int32Array, fill: number): Int32Array => {
    const out = new Int32Array(b.size * T).fill(fill);
    for (let r = 0; r < b.size; r++) out.set(src.subarray(r * b.seqLen, (r + 1) * b.seqLen), r * T);
    return out;
  };
  return { ...b, seqLen: T, inputIds: widen(b.inputIds, padId), tokenTypeIds: widen(b.tokenTypeIds, 0), attentionMask: widen(b.attentionMask, 0) };
}

interface HeapMeter {
  /** bytes the WASM heap has grown to (it never shrinks: the high-water mark) */
  heap(): number;
  /** most bytes held by live tensors at once since the last call */
  takePeak(): number;
}

/** Live-bytes accounting of the WASM heap (tfjs-backend-wasm allocates every tensor through the glue's _malloc). */
function heapMeter(): HeapMeter | undefined {
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array; _malloc(n: number): number; _free(p: number): void } }).wasm;
  if (!wasm) return undefined;
  wasm._free(wasm._malloc(8)); // the glue swaps its lazy _malloc/_free for the real ones on first call
  const malloc = wasm._malloc;
  const free = wasm._free;
  const sizes = new Map<number, number>();
  let live = 0;
  let peak = 0;
  wasm._malloc = (n: number): number => {
    const p = malloc(n) >>> 0;
    sizes.set(p, n);
    live += n;
    peak = Math.max(peak, live);
    return p;
  };
  wasm._free = (p: number): void => {
    live -= sizes.get(p >>> 0) ?? 0;
    sizes.delete(p >>> 0);
    free(p);
  };
  return {
    heap: () => wasm.HEAPU8.buffer.byteLength,
    takePeak: () => {
      const p = peak;
      peak = live;
      return p;
    },
  };
}

function strategy(info: BackendInfo, recomputed: number, layers: number): string {
  const where = info.name === "wasm" ? "every tensor in the WASM heap (4 GiB ceiling)" : `tensors in ${info.name} backend memory`;
  const rec = recomputed === 0 ? "no recomputation" : `gradient checkpointing: the bottom ${recomputed} of ${layers} encoder layers recompute their activations in backward`;
  const lean = leanBackpropActive() ? "lean backprop (each tape node frees its gradients and saved tensors once used)" : "tfjs's own backprop (holds all until the end)";
  return `${where}; ${rec}; ${lean}`;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const gib = (bytes: number): number => +(bytes / GiB).toFixed(3);

interface StepRecord {
  step: number;
  recompute: RecomputePolicy;
  recomputedLayers: number;
  threads: number;
  /** wall time */
  seconds: number;
  /** CPU time of this process (all its threads, incl. the pool's spinning workers): less sensitive to other jobs' load */
  cpuSeconds: number;
  loss: number;
  /** most bytes live tensors held in the WASM heap during the step */
  peakLiveGiB?: number;
  heapGiB?: number;
}

/** What a step runs with; several alternate step by step. */
interface Variant {
  recompute: RecomputePolicy;
  threads: number;
}

function variantsOf(flags: Flags, defaultThreads: number): Variant[] {
  const threads = flags.threads ?? [defaultThreads];
  const n = Math.max(flags.recompute.length, threads.length);
  return Array.from({ length: n }, (_, i) => ({ recompute: flags.recompute[i % flags.recompute.length], threads: threads[i % threads.length] }));
}

/** The study batch: the first B training rows, encoded as the study does, padded to T (or to their longest). */
function studyBatch(B: number, T: number, pad: Flags["pad"]): { batch: Batch; vocabSize: number } {
  const shared = path.resolve(ROOT, "..", "shared", "data");
  const tok = RelationTokenizer.fromVocabFile(path.join(shared, "bert-base-chinese-vocab.txt"));
  const rows = loadRows(path.join(shared, "study_train.jsonl"), { mode: "lenient" }).rows.slice(0, B);
  const { encoded } = encodeDataset(tok, rows, { encoding: "Entity_marked2", maxLength: T });
  const collated = collate(encoded, encoded.map((_, i) => i), PAD_ID);
  return { batch: pad === "max" ? padTo(collated, T, PAD_ID) : collated, vocabSize: tok.vocabSize };
}

interface Trainee {
  model: BertForRelationClassification;
  opt: AdamW;
  vars: tf.Variable[];
  nameToKey: Map<string, string>;
}

/** The trainer's step (src/train/loop.ts): loss and gradients, clipping to norm 1, AdamW. Returns the loss. */
async function trainStep(t: Trainee, batch: Batch, dropoutSeed: number): Promise<number> {
  const lossT = tf.tidy(() => {
    const inputs = batchInputs(batch);
    const labels = tf.tensor1d(batch.labels!, "int32");
    const { value, grads } = tf.variableGrads(() => crossEntropy(t.model.forward(inputs, { training: true, dropoutSeed }).logits, labels), t.vars);
    const byKey = new Map(Object.entries(grads).map(([n, g]) => [t.nameToKey.get(n)!, g]));
    t.opt.step(clipByGlobalNorm(byKey, 1).grads);
    return value;
  });
  const loss = (await lossT.data())[0];
  lossT.dispose();
  return loss;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const { batch: B, seq: T } = flags;
  const loadAtStart = os.loadavg();
  const info = await initBackend({ verbose: false });
  console.log(describeBackend(info));
  for (const line of describeBackendDetails(info)) console.log(`  ${line}`);
  const tag = `[${cpuShortName(info.cpu)}]`;
  const addon = loadNative().addon;
  if (flags.threads && !addon) throw new Error("--threads sets the addon pool's threads, and the native addon is not loaded");
  const variants = variantsOf(flags, info.threads);
  const meter = heapMeter();
  const { batch, vocabSize } = studyBatch(B, T, flags.pad);
  const config = shapeConfig("base", vocabSize);
  const t0 = Date.now();
  const model = new BertForRelationClassification(config, { numLabels: 10, pooling: "cls", seed: 0 });
  console.log(`base model: ${model.numParameters().toLocaleString("en")} parameters, built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const vars = model.trainableVariables();
  const trainee: Trainee = { model, vars, nameToKey: new Map([...model.params].map(([k, v]) => [v.name, k])), opt: new AdamW(new Map([...model.params].filter(([, v]) => v.trainable)), { lr: 1e-5 }) };
  const steps: StepRecord[] = [];
  let profile: KernelTime[] | undefined;
  for (let s = 0; s < flags.steps; s++) {
    const v = variants[s % variants.length];
    model.recompute = v.recompute;
    addon?.setThreads(v.threads);
    console.log(`${tag} step ${s + 1}/${flags.steps}: started (recompute ${v.recompute}, ${v.threads} thread(s))${s === 0 ? "; the first step also warms up" : ""}`);
    const stopProfile = flags.profile && s === flags.steps - 1 ? profileKernels() : undefined;
    meter?.takePeak();
    const t = Date.now();
    const cpu = process.cpuUsage();
    const loss = await trainStep(trainee, batch, s);
    const seconds = (Date.now() - t) / 1000;
    const used = process.cpuUsage(cpu);
    profile = stopProfile?.() ?? profile;
    const rec: StepRecord = { step: s + 1, ...v, recomputedLayers: model.lastRecomputed, seconds, cpuSeconds: +((used.user + used.system) / 1e6).toFixed(2), loss };
    if (meter) Object.assign(rec, { peakLiveGiB: gib(meter.takePeak()), heapGiB: gib(meter.heap()) });
    steps.push(rec);
    const mem = meter ? `, peak live ${rec.peakLiveGiB} GiB, WASM heap ${rec.heapGiB} GiB` : "";
    console.log(`${tag} step ${s + 1}/${flags.steps}: batch ${B} x ${batch.seqLen} tokens, recompute ${v.recompute} (${rec.recomputedLayers} layers), ${v.threads} thread(s), loss ${loss.toFixed(4)}, ${seconds.toFixed(2)} s (CPU ${rec.cpuSeconds} s)${mem}`);
  }
  const peakRssGiB = process.resourceUsage().maxRSS / 1024 ** 2; // KiB -> GiB
  const summary = summarise(variants, steps, info, config.num_hidden_layers);
  for (const p of summary) {
    console.log(`${tag} recompute ${p.recompute}, ${p.threads} thread(s): ${p.secondsPerStep.toFixed(2)} s/step, CPU ${p.cpuSecondsPerStep.toFixed(2)} s/step (median of ${p.timedSteps.length} step(s) after the first round)`);
  }
  console.log(`${tag} peak RSS ${peakRssGiB.toFixed(2)} GiB (machine: ${(os.totalmem() / GiB).toFixed(0)} GiB)`);
  const result = {
    command: `npm run bench:base -- ${process.argv.slice(2).join(" ")}`.trim(),
    date: new Date().toISOString(),
    machine: { cpu: info.cpu, cores: os.availableParallelism(), memoryGiB: +(os.totalmem() / GiB).toFixed(1), node: process.version, loadAverageAtStart: loadAtStart.map((x) => +x.toFixed(2)), loadAverageAtEnd: os.loadavg().map((x) => +x.toFixed(2)), env: kernelEnv() },
    flags: { ...flags, seq: T },
    tokensPerRow: batch.seqLen,
    backend: info.name,
    kernels: info.kernels,
    blas: info.blas ?? null,
    /** OpenBLAS's core and who chose it (src/backend/cpu.ts); null without the addon */
    blasCore: info.blas ? (blasCoreChoice() ?? null) : null,
    denormalsFlushed: info.denormalsFlushed,
    threads: summary[0].threads,
    leanBackprop: leanBackpropActive(),
    model: { shape: "base (L=12, H=768, 12 heads, I=3072)", vocab: config.vocab_size, parameters: model.numParameters() },
    heapLimitGiB: Number.isFinite(memoryLimitBytes()) ? gib(memoryLimitBytes()) : null,
    secondsPerStep: summary[0].secondsPerStep,
    memoryStrategy: summary[0].strategy,
    variants: summary,
    peakRssGiB: +peakRssGiB.toFixed(3),
    steps,
    ...(profile ? { profileLastStep: profile.map((k) => ({ ...k, ms: +k.ms.toFixed(1) })) } : {}),
  };
  const out = path.resolve(ROOT, flags.out);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 1) + "\n");
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
}

/** Per variant: median s/step over its steps after the first round, peak live bytes, the memory strategy in words. */
function summarise(variants: Variant[], steps: StepRecord[], info: BackendInfo, layers: number) {
  const n = variants.length;
  return variants.map((v, i) => {
    const mine = steps.filter((_, s) => s % n === i);
    const timed = mine.length > 1 ? mine.slice(1) : mine;
    const live = mine.map((s) => s.peakLiveGiB ?? 0);
    const used = mine[mine.length - 1]?.recomputedLayers ?? 0;
    return {
      ...v,
      recomputedLayers: used,
      strategy: strategy(info, used, layers),
      timedSteps: timed.map((s) => s.step),
      secondsPerStep: median(timed.map((s) => s.seconds)),
      cpuSecondsPerStep: median(timed.map((s) => s.cpuSeconds)),
      peakLiveGiB: live.length ? Math.max(...live) : null,
    };
  });
}

runMain(main);
