/**
 * A finished run, as every layer sees it: what a grid returns, a table assembles, a notebook shows and a run folder
 * holds (config.json, metrics.json, history.json, run.json). One record type, one saved-prediction row, one epoch row.
 */
import type { ExperimentConfig } from "./config";
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

/** A finished run: its config and hash (the folder's name), its metrics, its training curve and how it ran. */
export interface RunRecord {
  hash: string;
  /** the run folder on this machine */
  dir: string;
  config: ExperimentConfig;
  metrics: SplitMetrics;
  history: EpochRow[];
  info: RunInfo;
}

export interface RunInfo {
  backend: string;
  kernels: string[];
  /** threads the kernels ran on (BackendInfo.threads); absent in runs recorded before it was */
  threads?: number;
  startedAt: string;
  seconds: { total: number; train: number; eval: number };
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

/** The split a run's tables report (test when it has one, else dev): the predictions the error analysis reads. */
export function reportedPredictionSplit(run: Pick<RunRecord, "metrics">): "dev" | "test" {
  return run.metrics.test ? "test" : "dev";
}
