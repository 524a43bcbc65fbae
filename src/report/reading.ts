/**
 * Plain-language reading of a comparison, computed from the runs (so the notebook's words always match
 * its numbers): which variant leads, by how much, and whether that is beyond seed noise.
 */
import type { RunRecord, MetricRow } from "./tables";
import { metricValue, summarize } from "./tables";

export interface ComparisonLine {
  a: string;
  b: string;
  metric: MetricRow;
  /** mean(b) - mean(a), in points (%) */
  diff: number;
  /** standard error of the difference of means, in points */
  se: number;
  /** |diff| > 2 se with ≥ 2 seeds on each side */
  beyondNoise: boolean;
}

/** Compare variant b against variant a on one metric (in %). */
export function compareVariants(records: readonly RunRecord[], a: string, b: string, metric: MetricRow = "Macro-F1"): ComparisonLine {
  const vals = (v: string) => records.filter((r) => r.variant === v).map((r) => metricValue(r.metrics, metric));
  const sa = summarize(vals(a));
  const sb = summarize(vals(b));
  const se = Math.sqrt((sa.n > 1 ? sa.std ** 2 / sa.n : 0) + (sb.n > 1 ? sb.std ** 2 / sb.n : 0));
  const diff = sb.mean - sa.mean;
  return { a, b, metric, diff, se, beyondNoise: sa.n >= 2 && sb.n >= 2 && Math.abs(diff) > 2 * se };
}

export function formatComparison(c: ComparisonLine): string {
  const sign = c.diff >= 0 ? "+" : "";
  const verdict = c.beyondNoise ? "beyond seed noise (|Δ| > 2 SE)" : "within seed noise";
  const lowerBetter = c.metric === "F1 Range";
  const dir = c.diff === 0 ? "no change" : (c.diff > 0) !== lowerBetter ? "better" : "worse";
  return `${c.b} vs ${c.a}: ${c.metric} ${sign}${c.diff.toFixed(2)} points (SE ${c.se.toFixed(2)}), ${dir}, ${verdict}`;
}

/** Variants ranked by mean of a metric (best first), as "name mean ± std" strings. */
export function rankVariants(records: readonly RunRecord[], metric: MetricRow = "Macro-F1"): string[] {
  const variants = [...new Set(records.map((r) => r.variant))];
  return variants
    .map((v) => ({ v, s: summarize(records.filter((r) => r.variant === v).map((r) => metricValue(r.metrics, metric))) }))
    .sort((x, y) => y.s.mean - x.s.mean)
    .map(({ v, s }) => `${v} ${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}`);
}
