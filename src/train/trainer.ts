/**
 * The training loop: AdamW + schedule + global-norm clipping over dynamically padded batches, dev
 * evaluation every epoch, early stopping on dev Macro-F1, best weights restored at the end, and
 * resumable checkpoints (weights + optimizer moments + epoch/step + history).
 *
 * Reproducibility: every random choice is derived from `cfg.seed` by position — epoch e's sampler gets
 * `new Rng(deriveSeed(seed, SAMPLER_STREAM, e))`, step s's dropout seed is `deriveSeed(seed, DROPOUT_STREAM, s)` —
 * so the RNG state at an epoch boundary is (seed, epoch, step) and a resumed run replays exactly
 * what the uninterrupted run would have done.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import type { Encoded } from "../encoding/types";
import { classificationMetrics, Metrics } from "../metrics";
import { Rng } from "../random";
import type { BertForRelationClassification, SaveCheckpointOptions } from "../model";
import { Batch, BatchSampler, batchInputs, bucketedSampler, collate, lengthSortedBatches, validateEncoded } from "./batching";
import { CHECKPOINT_FILES, completeFolder, readModelWeights, saveModelFolder, writeFolder } from "./checkpoint";
import { CheckpointError, TrainConfigError, TrainDataError } from "./errors";
import { crossEntropy, distillationLoss, type CrossEntropyOptions, type DistillOptions, type LossReduction } from "./loss";
import { AdamW, clipByGlobalNorm, layerwiseLrMultipliers } from "./optimizer";
import { createProgress, Progress, ProgressMode, StepProgress, type EpochSummary } from "./progress";
import { lrMultiplier, ScheduleName, ScheduleOptions, SCHEDULE_NAMES, warmupStepsFor } from "./schedule";

type Model = BertForRelationClassification;

export interface TrainConfig {
  epochs: number;
  /** rows per batch for the default bucketed sampler (custom samplers choose their own) */
  batchSize: number;
  /** peak learning rate */
  lr: number;
  /** AdamW decoupled weight decay (none on biases and LayerNorm) */
  weightDecay: number;
  /** fraction of all optimizer steps spent warming up linearly from 0 */
  warmupRatio: number;
  schedule: ScheduleName;
  /** StepLR gamma per epoch for schedule "step" (the study: 0.5) */
  stepGamma: number;
  /** clip the global gradient norm to this; 0 = no clipping */
  maxGradNorm: number;
  /** per-class loss weights (length numLabels), null = unweighted */
  classWeights: number[] | null;
  lossReduction: LossReduction;
  labelSmoothing: number;
  /** focal loss γ; 0 = plain cross-entropy */
  focalGamma: number;
  seed: number;
  /** stop after this many epochs without a better dev Macro-F1; 0 = off */
  earlyStoppingPatience: number;
  evalBatchSize: number;
  /** batch sampler for every epoch; default bucketedSampler(trainSet, {batchSize}) */
  sampler?: BatchSampler;
  /** per-epoch sampler (e.g. balanced for epochs 0–1, priority for 2–3); undefined falls back to `sampler` */
  samplerByEpoch?: (epoch: number) => BatchSampler | undefined;
  /** save last + best here after every epoch; resume when a last checkpoint exists */
  checkpointDir?: string;
  /** layer-wise learning-rate decay (ELECTRA style); 1 or undefined = off */
  layerwiseLrDecay?: number;
  /** chunk size (in batches) of the default sampler's length bucketing; default 50 */
  bucketChunkBatches?: number;
  /** tokenizer folder copied into the best/ and last/ checkpoints (so they load as complete HF folders) */
  checkpointTokenizerDir?: string;
  /**
   * knowledge distillation: a teacher's class probabilities for every training row (row-major [rows × numLabels],
   * trainSet order); the loss becomes (1 − alpha)·CE + alpha·T²·KL (see distillationLoss)
   */
  distill?: DistillOptions & { teacherProbs: Float32Array };
}

/** Hugging Face Trainer-like defaults for fine-tuning BERT. */
export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = {
  epochs: 3,
  batchSize: 16,
  lr: 2e-5,
  weightDecay: 0.01,
  warmupRatio: 0.1,
  schedule: "linear",
  stepGamma: 0.5,
  maxGradNorm: 1.0,
  classWeights: null,
  lossReduction: "weighted_mean",
  labelSmoothing: 0,
  focalGamma: 0,
  seed: 42,
  earlyStoppingPatience: 0,
  evalBatchSize: 64,
};

/** A full config from partial overrides of DEFAULT_TRAIN_CONFIG. */
export function trainConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return { ...DEFAULT_TRAIN_CONFIG, ...overrides };
}

/** One row of TrainResult.history (the same record the progress display prints at epoch end). */
export type HistoryRow = EpochSummary;

export interface TrainResult {
  history: HistoryRow[];
  /** 0-based epoch whose weights the model holds on return; -1 when no epoch ran */
  bestEpoch: number;
  bestDevMacroF1: number;
  totalSeconds: number;
  totalSteps: number;
  stoppedEarly: boolean;
  /** epochs already done in the checkpoint this run resumed from (0 = fresh start) */
  resumedFromEpoch: number;
}

export interface TrainHooks {
  /** a Progress, a mode for createProgress, or false for none; default "auto" */
  progress?: Progress | ProgressMode | false;
  /** after each optimizer step (loss already read back) */
  onStep?: (p: StepProgress) => void;
  /** after each epoch's evaluation and checkpoint; throwing aborts training (the checkpoint stays) */
  onEpochEnd?: (row: HistoryRow, devMetrics: Metrics) => void | Promise<void>;
}

// ---- seeds -----------------------------------------------------------------------------------

export const SAMPLER_STREAM = 1;
export const DROPOUT_STREAM = 2;

/** A 32-bit seed from (seed, stream, index) — murmur3-style mixing, stable across platforms. */
export function deriveSeed(seed: number, stream: number, index: number): number {
  let h = (seed >>> 0) ^ 0x9e3779b9;
  for (const x of [stream, index]) {
    let k = Math.imul(x >>> 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// ---- validation ------------------------------------------------------------------------------

function validateConfig(cfg: TrainConfig, numLabels: number): void {
  const posInt = (f: keyof TrainConfig): void => {
    const v = cfg[f] as number;
    if (!(Number.isInteger(v) && v >= 1)) throw new TrainConfigError(f, `must be a positive integer, got ${v}`);
  };
  posInt("epochs");
  posInt("batchSize");
  posInt("evalBatchSize");
  const nonNeg = (f: keyof TrainConfig): void => {
    const v = cfg[f] as number;
    if (!(Number.isFinite(v) && v >= 0)) throw new TrainConfigError(f, `must be a finite number ≥ 0, got ${v}`);
  };
  nonNeg("lr");
  nonNeg("weightDecay");
  nonNeg("maxGradNorm");
  nonNeg("focalGamma");
  if (!(cfg.warmupRatio >= 0 && cfg.warmupRatio <= 1)) throw new TrainConfigError("warmupRatio", `must be in [0, 1], got ${cfg.warmupRatio}`);
  if (!(cfg.labelSmoothing >= 0 && cfg.labelSmoothing < 1)) {
    throw new TrainConfigError("labelSmoothing", `must be in [0, 1), got ${cfg.labelSmoothing}`);
  }
  if (!SCHEDULE_NAMES.includes(cfg.schedule)) {
    throw new TrainConfigError("schedule", `unknown "${cfg.schedule}" (${SCHEDULE_NAMES.join(", ")})`);
  }
  if (!(cfg.stepGamma > 0)) throw new TrainConfigError("stepGamma", `must be > 0, got ${cfg.stepGamma}`);
  if (cfg.lossReduction !== "weighted_mean" && cfg.lossReduction !== "mean") {
    throw new TrainConfigError("lossReduction", `must be "weighted_mean" or "mean", got "${String(cfg.lossReduction)}"`);
  }
  if (!(Number.isInteger(cfg.earlyStoppingPatience) && cfg.earlyStoppingPatience >= 0)) {
    throw new TrainConfigError("earlyStoppingPatience", `must be an integer ≥ 0, got ${cfg.earlyStoppingPatience}`);
  }
  if (!Number.isInteger(cfg.seed)) throw new TrainConfigError("seed", `must be an integer, got ${cfg.seed}`);
  if (cfg.classWeights !== null) {
    if (cfg.classWeights.length !== numLabels) {
      throw new TrainConfigError("classWeights", `has ${cfg.classWeights.length} weights, the model has ${numLabels} labels`);
    }
    cfg.classWeights.forEach((w, i) => {
      if (!(Number.isFinite(w) && w >= 0)) throw new TrainConfigError("classWeights", `weight ${i} is ${w}`);
    });
  }
  const d = cfg.layerwiseLrDecay ?? 1;
  if (!(d > 0 && d <= 1)) throw new TrainConfigError("layerwiseLrDecay", `must be in (0, 1], got ${d}`);
  if (cfg.distill) {
    const { alpha, temperature } = cfg.distill;
    if (!(alpha >= 0 && alpha <= 1)) throw new TrainConfigError("distill", `alpha must be in [0, 1], got ${alpha}`);
    if (!(temperature > 0)) throw new TrainConfigError("distill", `temperature must be > 0, got ${temperature}`);
    // teacherProbs' size is checked against the training set in train()
  }
}

/** The fields that shape the training trajectory (what a resumed run must share with the checkpoint). */
function trajectoryFingerprint(cfg: TrainConfig): Record<string, unknown> {
  return {
    epochs: cfg.epochs,
    batchSize: cfg.batchSize,
    lr: cfg.lr,
    weightDecay: cfg.weightDecay,
    warmupRatio: cfg.warmupRatio,
    schedule: cfg.schedule,
    stepGamma: cfg.stepGamma,
    maxGradNorm: cfg.maxGradNorm,
    classWeights: cfg.classWeights,
    lossReduction: cfg.lossReduction,
    labelSmoothing: cfg.labelSmoothing,
    focalGamma: cfg.focalGamma,
    seed: cfg.seed,
    layerwiseLrDecay: cfg.layerwiseLrDecay ?? 1,
    bucketChunkBatches: cfg.bucketChunkBatches ?? 50,
    // only present when distilling, so older checkpoints' fingerprints still match
    ...(cfg.distill ? { distill: { alpha: cfg.distill.alpha, temperature: cfg.distill.temperature, teacher: teacherDigest(cfg.distill.teacherProbs) } } : {}),
  };
}

/** A short digest of the teacher's probabilities (a resumed run must distil from the same teacher). */
function teacherDigest(p: Float32Array): string {
  return `${p.length}:${createHash("sha256").update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength)).digest("hex").slice(0, 16)}`;
}

// ---- loss options ----------------------------------------------------------------------------

function lossOptionsOf(cfg: TrainConfig): CrossEntropyOptions {
  return {
    classWeights: cfg.classWeights,
    reduction: cfg.lossReduction,
    labelSmoothing: cfg.labelSmoothing,
    focalGamma: cfg.focalGamma,
  };
}

/** The teacher's probability rows of one batch, as a [B, C] tensor. */
function teacherBatch(probs: Float32Array, rows: readonly number[], C: number): tf.Tensor2D {
  const out = new Float32Array(rows.length * C);
  rows.forEach((r, b) => out.set(probs.subarray(r * C, (r + 1) * C), b * C));
  return tf.tensor2d(out, [rows.length, C]);
}

// ---- inference -------------------------------------------------------------------------------

export interface PredictOptions {
  batchSize?: number;
}

export interface Prediction {
  /** softmax probabilities, one row per input row, in input order */
  probs: number[][];
  /** argmax class per row (first on ties) */
  preds: number[];
}

async function predictRaw(
  model: Model,
  set: readonly Encoded[],
  batchSize: number,
): Promise<{ logits: Float32Array; probs: number[][]; preds: number[] }> {
  validateEncoded(set, "set", model.numLabels, false);
  const C = model.numLabels;
  const padId = model.config.pad_token_id;
  const logits = new Float32Array(set.length * C);
  const probs: number[][] = new Array<number[]>(set.length);
  const preds: number[] = new Array<number>(set.length);
  for (const idx of lengthSortedBatches(set, batchSize)) {
    const batch = collate(set, idx, padId);
    const [lg, pr] = tf.tidy(() => {
      const l = model.forward(batchInputs(batch), { training: false }).logits;
      return [l, tf.softmax(l)];
    });
    const [lv, pv] = await Promise.all([lg.data(), pr.data()]);
    lg.dispose();
    pr.dispose();
    idx.forEach((row, b) => {
      logits.set(lv.subarray(b * C, (b + 1) * C), row * C);
      const p = Array.from(pv.subarray(b * C, (b + 1) * C));
      probs[row] = p;
      let best = 0;
      for (let c = 1; c < C; c++) if (p[c] > p[best]) best = c;
      preds[row] = best;
    });
  }
  return { logits, probs, preds };
}

/** Class probabilities and predictions (inference mode: no dropout, no gradients). */
export async function predict(
  model: Model,
  set: readonly Encoded[],
  opts: PredictOptions = {},
): Promise<Prediction> {
  const { probs, preds } = await predictRaw(model, set, opts.batchSize ?? DEFAULT_TRAIN_CONFIG.evalBatchSize);
  return { probs, preds };
}

export interface EvaluateOptions extends PredictOptions {
  /** loss options for the reported loss (default: plain mean cross-entropy) */
  loss?: CrossEntropyOptions;
}

export interface Evaluation {
  metrics: Metrics;
  preds: number[];
  probs: number[][];
  /** the loss over the whole set at once (a weighted mean divides by the set's total weight) */
  loss: number;
}

/** Metrics, predictions and loss on a labelled set. */
export async function evaluate(
  model: Model,
  set: readonly Encoded[],
  opts: EvaluateOptions = {},
): Promise<Evaluation> {
  validateEncoded(set, "set", model.numLabels, true);
  const { logits, probs, preds } = await predictRaw(model, set, opts.batchSize ?? DEFAULT_TRAIN_CONFIG.evalBatchSize);
  const labels = set.map((r) => r.label as number);
  const lossT = tf.tidy(() =>
    crossEntropy(
      tf.tensor2d(logits, [set.length, model.numLabels]),
      tf.tensor1d(labels, "int32"),
      opts.loss ?? { reduction: "mean" },
    ),
  );
  const loss = (await lossT.data())[0];
  lossT.dispose();
  const metrics = classificationMetrics(labels, preds, { numLabels: model.numLabels });
  return { metrics, preds, probs, loss };
}

// ---- checkpoints ----------------------------------------------------------------------------

const STATE_VERSION = 1;

interface TrainerState {
  version: number;
  /** epochs completed */
  epochsDone: number;
  globalStep: number;
  totalSteps: number;
  history: HistoryRow[];
  bestEpoch: number;
  bestDevMacroF1: number;
  epochsWithoutImprovement: number;
  stoppedEarly: boolean;
  /** all randomness derives from (seed, stream, index): this is the whole RNG state */
  rng: { seed: number; samplerStream: number; dropoutStream: number; nextEpoch: number; nextStep: number };
  config: Record<string, unknown>;
}

/** Assign tensors (stored layout, keyed like model.params) to the model's variables, then dispose them. */
function assignWeights(model: Model, weights: Map<string, tf.Tensor>): void {
  for (const [k, v] of model.params) v.assign(weights.get(k)!);
  for (const t of weights.values()) t.dispose();
}

/** The epoch recorded in best/config.json by saveOpts, undefined when there is none. */
function bestEpochOnDisk(bestDir: string): number | undefined {
  const dir = completeFolder(bestDir, "config.json");
  if (!dir) return undefined;
  try {
    const raw = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as { medrel?: { extra?: { epoch?: unknown } } };
    const e = raw.medrel?.extra?.epoch;
    return typeof e === "number" ? e : undefined;
  } catch {
    return undefined;
  }
}

function readState(file: string): TrainerState {
  let s: TrainerState;
  try {
    s = JSON.parse(fs.readFileSync(file, "utf8")) as TrainerState;
  } catch (e) {
    throw new CheckpointError(file, `unreadable trainer state (${(e as Error).message})`);
  }
  if (s.version !== STATE_VERSION) throw new CheckpointError(file, `trainer state version ${s.version}, expected ${STATE_VERSION}`);
  return s;
}

function diffFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

// ---- training --------------------------------------------------------------------------------

function samplerFor(cfg: TrainConfig, epoch: number, fallback: BatchSampler): BatchSampler {
  return cfg.samplerByEpoch?.(epoch) ?? cfg.sampler ?? fallback;
}

function checkPlan(plan: number[][], n: number, epoch: number): void {
  if (plan.length === 0) throw new TrainConfigError("sampler", `epoch ${epoch}: the sampler returned no batches`);
  plan.forEach((b, j) => {
    if (b.length === 0) throw new TrainConfigError("sampler", `epoch ${epoch}: batch ${j} is empty`);
    for (const i of b) {
      if (!(Number.isInteger(i) && i >= 0 && i < n)) {
        throw new TrainConfigError("sampler", `epoch ${epoch}: batch ${j} holds row ${i}, outside [0, ${n - 1}]`);
      }
    }
  });
}

/**
 * Fine-tune `model` on `trainSet`, evaluating on `devSet` after every epoch. On return the model holds
 * the weights of the best dev Macro-F1 epoch.
 */
export async function train(
  model: Model,
  trainSet: readonly Encoded[],
  devSet: readonly Encoded[],
  cfg: TrainConfig,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const t0 = Date.now();
  const C = model.numLabels;
  validateConfig(cfg, C);
  validateEncoded(trainSet, "trainSet", C, true);
  validateEncoded(devSet, "devSet", C, true);
  const padId = model.config.pad_token_id;
  if (cfg.distill && cfg.distill.teacherProbs.length !== trainSet.length * C) {
    throw new TrainConfigError("distill", `teacherProbs covers ${cfg.distill.teacherProbs.length / C} rows, trainSet has ${trainSet.length}`);
  }

  // every epoch's batches, fixed up front: the linear schedule needs the total step count
  const fallback = bucketedSampler(trainSet, { batchSize: cfg.batchSize, chunkBatches: cfg.bucketChunkBatches });
  const plans: number[][][] = [];
  for (let e = 0; e < cfg.epochs; e++) {
    const plan = samplerFor(cfg, e, fallback)(e, new Rng(deriveSeed(cfg.seed, SAMPLER_STREAM, e)));
    checkPlan(plan, trainSet.length, e);
    plans.push(plan);
  }
  const totalSteps = plans.reduce((a, p) => a + p.length, 0);
  const sched: ScheduleOptions = {
    schedule: cfg.schedule,
    totalSteps,
    warmupSteps: warmupStepsFor(totalSteps, cfg.warmupRatio),
    stepGamma: cfg.stepGamma,
  };

  // variables → HF keys (gradients come back keyed by variable name)
  const nameToKey = new Map<string, string>();
  for (const [k, v] of model.params) nameToKey.set(v.name, k);
  const vars = model.trainableVariables();
  for (const v of vars) {
    if (!nameToKey.has(v.name)) throw new TrainConfigError("model", `trainable variable "${v.name}" is not in model.params`);
  }
  const trainable = new Map([...model.params].filter(([, v]) => vars.includes(v)));
  const decay = cfg.layerwiseLrDecay ?? 1;
  const optimizer = new AdamW(trainable, {
    lr: cfg.lr,
    weightDecay: cfg.weightDecay,
    lrMultipliers: decay === 1 ? undefined : layerwiseLrMultipliers(trainable.keys(), decay),
  });
  const lossOpts = lossOptionsOf(cfg);

  const progress: Progress =
    hooks.progress === false
      ? createProgress({ mode: "silent" })
      : typeof hooks.progress === "object"
        ? hooks.progress
        : createProgress({ mode: hooks.progress ?? "auto" });

  // best weights kept in memory (clones share data with the variables until these change)
  let best: Map<string, tf.Tensor> | undefined;
  const replaceBest = (m: Map<string, tf.Tensor>): void => {
    if (best) for (const t of best.values()) t.dispose();
    best = m;
  };
  const keepBest = (): void => replaceBest(new Map([...model.params].map(([k, v]) => [k, tf.clone(v)])));
  const saveOpts = (epoch: number, devMacroF1: number): SaveCheckpointOptions => ({
    tokenizerDir: cfg.checkpointTokenizerDir,
    extra: { epoch, devMacroF1, trainer: "medrel.train" },
  });

  let history: HistoryRow[] = [];
  let startEpoch = 0;
  let globalStep = 0;
  let bestEpoch = -1;
  let bestF1 = -Infinity;
  let badEpochs = 0;
  let stoppedEarly = false;
  const fingerprint = trajectoryFingerprint(cfg);

  const lastDir = cfg.checkpointDir ? path.join(cfg.checkpointDir, "last") : undefined;
  const bestDir = cfg.checkpointDir ? path.join(cfg.checkpointDir, "best") : undefined;

  try {
    // ---- resume
    const resumeFrom = lastDir ? completeFolder(lastDir, CHECKPOINT_FILES.state) : undefined;
    if (resumeFrom && bestDir) {
      const stateFile = path.join(resumeFrom, CHECKPOINT_FILES.state);
      const s = readState(stateFile);
      const diff = diffFields(s.config, fingerprint);
      if (diff.length) {
        throw new CheckpointError(stateFile, `was written with a different config (${diff.join(", ")}); use another checkpointDir`);
      }
      if (s.totalSteps !== totalSteps) {
        throw new CheckpointError(stateFile, `planned ${s.totalSteps} steps, this run plans ${totalSteps} (different data or sampler?)`);
      }
      assignWeights(model, readModelWeights(model, resumeFrom));
      optimizer.load(path.join(resumeFrom, CHECKPOINT_FILES.optimizer));
      if (optimizer.stepCount !== s.globalStep) {
        throw new CheckpointError(resumeFrom, `optimizer step ${optimizer.stepCount} ≠ trainer step ${s.globalStep}`);
      }
      history = s.history;
      startEpoch = s.epochsDone;
      globalStep = s.globalStep;
      bestEpoch = s.bestEpoch;
      bestF1 = s.bestDevMacroF1 ?? -Infinity;
      badEpochs = s.epochsWithoutImprovement;
      stoppedEarly = s.stoppedEarly;
      if (bestEpoch >= 0) {
        // last/ is written before best/, so when the last epoch was the best, best/ may lag behind: rewrite it
        const onDisk = bestEpochOnDisk(bestDir);
        if (bestEpoch === startEpoch - 1) {
          keepBest();
          if (onDisk !== bestEpoch) await writeFolder(bestDir, (tmp) => saveModelFolder(model, tmp, saveOpts(bestEpoch, bestF1)));
        } else {
          if (onDisk !== bestEpoch) {
            throw new CheckpointError(bestDir, `holds epoch ${onDisk ?? "none"}, but ${stateFile} says the best epoch is ${bestEpoch}`);
          }
          replaceBest(readModelWeights(model, bestDir));
        }
      }
      progress.note(`resumed from ${resumeFrom}: ${startEpoch}/${cfg.epochs} epochs done, step ${globalStep}`);
    }

    // ---- epochs
    for (let epoch = startEpoch; epoch < cfg.epochs && !stoppedEarly; epoch++) {
      const plan = plans[epoch];
      const tEpoch = Date.now();
      progress.startEpoch(epoch, cfg.epochs, plan.length);
      let lossSum = 0;
      let seen = 0;
      let lr = cfg.lr;
      for (let j = 0; j < plan.length; j++) {
        const batch: Batch = collate(trainSet, plan[j], padId);
        lr = cfg.lr * lrMultiplier(sched, globalStep, epoch);
        const dropoutSeed = deriveSeed(cfg.seed, DROPOUT_STREAM, globalStep);
        const lossT = tf.tidy(() => {
          const inputs = batchInputs(batch);
          const labels = tf.tensor1d(batch.labels!, "int32");
          const teacher = cfg.distill ? teacherBatch(cfg.distill.teacherProbs, plan[j], C) : null;
          const { value, grads } = tf.variableGrads(() => {
            const logits = model.forward(inputs, { training: true, dropoutSeed }).logits;
            const hard = crossEntropy(logits, labels, lossOpts);
            if (!teacher || !cfg.distill) return hard;
            const weighting = cfg.classWeights ? { classWeights: cfg.classWeights, labels, reduction: cfg.lossReduction } : undefined;
            return distillationLoss(logits, teacher, hard, cfg.distill, weighting);
          }, vars);
          const byKey = new Map<string, tf.Tensor>();
          for (const [name, g] of Object.entries(grads)) byKey.set(nameToKey.get(name)!, g);
          const clipped = clipByGlobalNorm(byKey, cfg.maxGradNorm);
          optimizer.step(clipped.grads, lr);
          return value;
        });
        const loss = (await lossT.data())[0];
        lossT.dispose();
        if (!Number.isFinite(loss)) {
          throw new TrainDataError(`epoch ${epoch} step ${globalStep}: training loss is ${loss} (lr ${lr}); lower lr or check the labels`);
        }
        globalStep++;
        lossSum += loss;
        seen += batch.size;
        const secs = (Date.now() - tEpoch) / 1000;
        const sp: StepProgress = {
          epoch,
          epochs: cfg.epochs,
          step: j + 1,
          stepsInEpoch: plan.length,
          globalStep,
          totalSteps,
          loss: lossSum / (j + 1),
          lr,
          samplesPerSec: secs > 0 ? seen / secs : 0,
          epochSeconds: secs,
        };
        progress.update(sp);
        hooks.onStep?.(sp);
      }
      const trainSecs = (Date.now() - tEpoch) / 1000;

      const ev = await evaluate(model, devSet, { batchSize: cfg.evalBatchSize, loss: lossOpts });
      const row: HistoryRow = {
        epoch,
        step: globalStep,
        trainLoss: lossSum / plan.length,
        devLoss: ev.loss,
        devMacroF1: ev.metrics.macro_f1,
        devMicroF1: ev.metrics.micro_f1,
        lr,
        seconds: (Date.now() - tEpoch) / 1000,
        samplesPerSec: trainSecs > 0 ? seen / trainSecs : 0,
      };
      history.push(row);
      const isBest = row.devMacroF1 > bestF1;
      if (isBest) {
        bestF1 = row.devMacroF1;
        bestEpoch = epoch;
        badEpochs = 0;
        keepBest();
      } else {
        badEpochs++;
      }
      if (cfg.earlyStoppingPatience > 0 && badEpochs >= cfg.earlyStoppingPatience && epoch < cfg.epochs - 1) {
        stoppedEarly = true;
      }

      if (lastDir && bestDir) {
        const state: TrainerState = {
          version: STATE_VERSION,
          epochsDone: epoch + 1,
          globalStep,
          totalSteps,
          history,
          bestEpoch,
          bestDevMacroF1: bestF1,
          epochsWithoutImprovement: badEpochs,
          stoppedEarly,
          rng: { seed: cfg.seed, samplerStream: SAMPLER_STREAM, dropoutStream: DROPOUT_STREAM, nextEpoch: epoch + 1, nextStep: globalStep },
          config: fingerprint,
        };
        await writeFolder(lastDir, async (tmp) => {
          await saveModelFolder(model, tmp, saveOpts(epoch, row.devMacroF1));
          await optimizer.save(path.join(tmp, CHECKPOINT_FILES.optimizer));
          fs.writeFileSync(path.join(tmp, CHECKPOINT_FILES.state), JSON.stringify(state, null, 1));
        });
        if (isBest) await writeFolder(bestDir, (tmp) => saveModelFolder(model, tmp, saveOpts(epoch, row.devMacroF1)));
      }

      progress.endEpoch(row, cfg.epochs, isBest);
      await hooks.onEpochEnd?.(row, ev.metrics);
      if (stoppedEarly) progress.note(`early stopping: no better dev Macro-F1 for ${badEpochs} epoch(s); best epoch ${bestEpoch + 1}`);
    }

    // ---- best weights back into the model
    if (best) for (const [k, v] of model.params) v.assign(best.get(k)!);
    return {
      history,
      bestEpoch,
      bestDevMacroF1: bestEpoch >= 0 ? bestF1 : NaN,
      totalSeconds: (Date.now() - t0) / 1000,
      totalSteps,
      stoppedEarly,
      resumedFromEpoch: resumeFrom ? startEpoch : 0,
    };
  } finally {
    progress.stop();
    optimizer.dispose();
    if (best) for (const t of best.values()) t.dispose();
  }
}
