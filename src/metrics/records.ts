/**
 * Scores as the tables see them: the study's headline metrics in %, and mean ± std over seeds. A run's score is
 * whatever holds { variant, seed, metrics } (a view of a run's record, src/runs/record.ts): this layer names no run type.
 */
import type { Metrics } from "./classification";

export const METRIC_ROWS = ["Macro-P", "Macro-R", "Macro-F1", "Micro-F1", "F1 Range"] as const;
export type MetricRow = (typeof METRIC_ROWS)[number];

/** A headline metric of one run, in %. */
export function metricValue(m: Metrics, row: MetricRow): number {
  switch (row) {
    case "Macro-P": return 100 * m.macro_precision;
    case "Macro-R": return 100 * m.macro_recall;
    case "Macro-F1": return 100 * m.macro_f1;
    case "Micro-F1": return 100 * m.micro_f1;
    case "F1 Range": return 100 * m.f1_range;
  }
}

export interface Summary {
  mean: number;
  /** sample standard deviation (n − 1); NaN for fewer than 2 values */
  std: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : NaN;
  return { mean, std, n };
}
