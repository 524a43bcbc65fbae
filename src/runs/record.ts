/**
 * A finished run, as every layer sees it: what a grid returns, a table assembles, a notebook shows and a run folder
 * holds (config.json, metrics.json, history.json, run.json), or a results file ships in its stead. One record type, one
 * saved-prediction row, one epoch row; the rule for the split a table reports.
 */
import type { ConfigHashParts, ValidConfig } from "./config";
import type { Metrics } from "../metrics";
import type { EpochRow } from "../train/progress";

export type { EpochRow };

export interface SplitMetrics {
  /** the split the best epoch was chosen on (train's selection slice, or dev when a test split is reported) */
  selection?: Metrics;
  dev: Metrics;
  /** absent when the data has no test split */
  test: Metrics | null;
}

/**
 * A finished run, wherever it lives: its config and hash (the folder's name), its metrics, its training curve and how
 * it ran; where it is (a run folder, or a results file that ships it); and, from a grid, the table row it ran as.
 */
export interface RunRecord {
  hash: string;
  /** the run folder on this machine; absent for a run a results file ships instead (`shipped`) */
  dir?: string;
  config: ValidConfig;
  metrics: SplitMetrics;
  history: EpochRow[];
  info: RunInfo;
  /** a run shipped in a results file (results/study), standing in for a folder not on this machine */
  shipped?: {
    /** the results file */
    file: string;
    /** sha256 of each split's compact predictions beside it (runs/predictions.ts reads them) */
    predictions: Partial<Record<PredictionSplit, string>>;
    /** what its hash was made of besides the config's settings (checked when the file was read) */
    identity: Pick<ConfigHashParts, "data" | "model">;
  };
  /** the row of a table a grid ran it as (a run can be a row of two tables: each grid names it its own way) */
  variant?: string;
}

export interface RunInfo {
  backend: string;
  kernels: string[];
  /** threads the kernels ran on (BackendInfo.threads); absent in runs recorded before it was */
  threads?: number;
  /** the CPU model, OpenBLAS's core (and who chose it) and whether denormals were flushed: timings compare only within one */
  cpu?: string;
  blasCore?: string;
  denormalsFlushed?: boolean;
  startedAt: string;
  seconds: RunSeconds;
  /** the kernel numerics it ran with (backend/numerics.ts); absent in runs made before it was recorded */
  numerics?: string;
  /** rows trained on (train minus the selection slice, augmentation included) */
  trainRows: number;
  selectionRows?: number;
  devRows: number;
  testRows: number;
  vocabSize: number;
  parameters: number;
  bestEpoch: number;
  dataReport: string[];
  augmentReport?: unknown;
  classWeights: number[] | null;
  /** the class weights the distillation teacher was fitted with (null: unweighted, or no distillation) */
  teacherClassWeights?: number[] | null;
  /** epochs taken from an interrupted attempt's checkpoint (0 = trained in one go) */
  resumedFromEpoch?: number;
  node: string;
}

/**
 * Where a run's time went, in seconds. total, train and eval mean what they always have (total: from the model's set-up
 * to the final scores; train: the training loop; eval: the final scoring of every split); the other fields are the
 * phases of a user's wait, recorded since #34 (absent in older runs). Not in any phase: process start and backend
 * set-up, and writing run.json itself.
 */
export interface RunSeconds {
  total: number;
  train: number;
  eval: number;
  /** reading the data files and choosing the run's rows (augmentation included), before `total` starts */
  data?: number;
  /** the tokenizer and the model: a checkpoint loaded, or a random init */
  model?: number;
  /** encoding every split's rows */
  encode?: number;
  /** optimizer steps (part of train) */
  steps?: number;
  /** each epoch's evaluation on the selection split (part of train) */
  selection?: number;
  /** end-of-epoch resumable checkpoints and the best epoch's copy (part of train) */
  checkpoints?: number;
  /** the model's weights, predictions and the run folder's json files, after `total` */
  write?: number;
}

/** One row of a run's predictions-<split>.jsonl: the row, its gold label, the predicted label and every class's probability. */
export interface Prediction {
  id: string;
  sentence: string;
  h: string;
  t: string;
  label: string;
  pred: string;
  probs: number[];
}

export type PredictionSplit = "selection" | "dev" | "test";

/**
 * The split a table of runs reports, the rule stated once: test when every run has one, else dev (one run: its test
 * split when it has one). Its metrics and saved predictions are what tables, summaries and error analysis read.
 */
export function reportedSplit(runs: readonly Pick<RunRecord, "metrics">[]): "dev" | "test" {
  return runs.length > 0 && runs.every((r) => r.metrics.test) ? "test" : "dev";
}

/** A run's metrics on the split its table reports (reportedSplit). */
export function reportedMetrics(run: Pick<RunRecord, "metrics">, split: "dev" | "test"): Metrics {
  return (split === "test" ? run.metrics.test : null) ?? run.metrics.dev;
}

/** Each run's score on the reported split, as tables, readings and charts read it: its row (variant), seed and metrics. */
export function scoresOf(runs: readonly (RunRecord & { variant: string })[], split: "dev" | "test") {
  return runs.map((r) => ({ variant: r.variant, seed: r.config.seed, metrics: reportedMetrics(r, split), split }));
}
