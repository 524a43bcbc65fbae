/**
 * The trainer's hyperparameters, listed once: this zod schema is where each is named, typed, bounded and described.
 * The experiment config schema (src/runs/config.ts) includes it, `TrainConfig` is derived from it, the CLI flags are
 * generated from it, and the resume fingerprint (state.ts) is its fields plus the trainer's fixed knobs.
 */
import { z } from "zod";
import { EVAL_BATCH_SIZE } from "./inference";
import type { BatchSampler } from "./batching";
import type { DistillOptions } from "./loss";
import { SCHEDULE_NAMES, type ScheduleName } from "./schedule";

/** How a run is optimised: every field of a config that the training loop reads by the same name. */
/** The most epochs and rows per batch a config may ask for (the study trains 3–4 epochs of 16–32 rows). */
export const MAX_EPOCHS = 1000;
export const MAX_BATCH_SIZE = 4096;

export const HyperparamsSchema = z.strictObject({
  seed: z.number().int().nonnegative().describe("random seed (model init, sampler, dropout)"),
  // bounded before any work: each epoch's batches are planned up front, so 1e9 epochs would fill the memory first
  epochs: z.number().int().positive().max(MAX_EPOCHS).describe("epochs"),
  batchSize: z.number().int().positive().max(MAX_BATCH_SIZE).describe("rows per batch"),
  lr: z.number().positive().describe("peak learning rate"),
  schedule: z.enum(SCHEDULE_NAMES as unknown as [ScheduleName, ...ScheduleName[]]).describe("learning-rate schedule"),
  warmupRatio: z.number().min(0).max(1).describe("fraction of all optimizer steps spent warming up linearly from 0"),
  weightDecay: z.number().nonnegative().describe("AdamW decoupled weight decay (none on biases and LayerNorm)"),
  maxGradNorm: z.number().positive().describe("clip the global gradient norm to this"),
  earlyStoppingPatience: z.number().int().nonnegative().describe("stop after this many epochs without a better selection Macro-F1 (0 = off)"),
  layerwiseLrDecay: z.number().positive().max(1).describe("layer-wise learning-rate decay, ELECTRA style (1 = off)"),
});
export type Hyperparams = z.infer<typeof HyperparamsSchema>;
export const HYPERPARAM_KEYS = Object.keys(HyperparamsSchema.shape) as (keyof Hyperparams)[];

/** How the loss reads a batch: the fields of an experiment's `loss` that the loop applies to every batch. */
export const LossOptionsSchema = z.strictObject({
  focalGamma: z.number().nonnegative().describe("focal loss γ (0 = plain cross-entropy)"),
  reduction: z.enum(["weighted_mean", "mean"]).describe("weighted_mean = PyTorch's (divide by the batch's total weight); mean = divide by the rows"),
  labelSmoothing: z.number().min(0).max(0.5).describe("label smoothing ε"),
});
export type LossOptions = z.infer<typeof LossOptionsSchema>;

/** The one set of defaults: the quick preset's (src/experiments/presets.ts builds every preset on them). */
export const DEFAULT_HYPERPARAMS: Readonly<Hyperparams> = {
  seed: 0,
  epochs: 3,
  batchSize: 32,
  lr: 1e-3,
  schedule: "linear",
  warmupRatio: 0.1,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
  earlyStoppingPatience: 0,
  layerwiseLrDecay: 1,
};
export const DEFAULT_LOSS_OPTIONS: Readonly<LossOptions> = { focalGamma: 0, reduction: "weighted_mean", labelSmoothing: 0 };

/** The training loop's config: the hyperparameters, the loss options, and what a run computes or decides for itself. */
export interface TrainConfig extends Hyperparams {
  lossReduction: LossOptions["reduction"];
  labelSmoothing: LossOptions["labelSmoothing"];
  focalGamma: LossOptions["focalGamma"];
  /** StepLR gamma per epoch for schedule "step" (the study: 0.5) */
  stepGamma: number;
  /** per-class loss weights (length numLabels), null = unweighted */
  classWeights: number[] | null;
  evalBatchSize: number;
  /** batch sampler for every epoch; default bucketedSampler(trainSet, {batchSize}) */
  sampler?: BatchSampler;
  /** per-epoch sampler (e.g. balanced for epochs 0–1, priority for 2–3); undefined falls back to `sampler` */
  samplerByEpoch?: (epoch: number) => BatchSampler | undefined;
  /** save last + best here after every epoch; resume when a last checkpoint exists */
  checkpointDir?: string;
  /** also save last/ mid-epoch every this many steps or seconds (whichever comes first; undefined = only at epoch ends) */
  checkpointEverySteps?: number;
  checkpointEverySeconds?: number;
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

export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = {
  ...DEFAULT_HYPERPARAMS,
  lossReduction: DEFAULT_LOSS_OPTIONS.reduction,
  labelSmoothing: DEFAULT_LOSS_OPTIONS.labelSmoothing,
  focalGamma: DEFAULT_LOSS_OPTIONS.focalGamma,
  stepGamma: 0.5,
  classWeights: null,
  evalBatchSize: EVAL_BATCH_SIZE,
};

/** A full config from partial overrides of DEFAULT_TRAIN_CONFIG. */
export function trainConfig(overrides: Partial<TrainConfig> = {}): TrainConfig {
  return { ...DEFAULT_TRAIN_CONFIG, ...overrides };
}

/** What a run adds to its hyperparameters: computed weights, a sampler, where checkpoints go, the teacher. */
export type TrainExtras = Pick<TrainConfig, "classWeights" | "sampler" | "checkpointDir" | "checkpointTokenizerDir" | "checkpointEverySeconds" | "distill">;

/** The trainer's config of an experiment: its hyperparameters (same names) and loss options, and the extras. */
export function toTrainConfig(cfg: Hyperparams & { loss: LossOptions }, extras: TrainExtras): TrainConfig {
  const hyperparams = Object.fromEntries(HYPERPARAM_KEYS.map((k) => [k, cfg[k]])) as Hyperparams;
  const { reduction, labelSmoothing, focalGamma } = cfg.loss;
  return { ...DEFAULT_TRAIN_CONFIG, ...hyperparams, lossReduction: reduction, labelSmoothing, focalGamma, ...extras };
}
