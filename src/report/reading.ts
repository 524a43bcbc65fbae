/**
 * Plain-language readings of comparisons (src/metrics/compare.ts computes them): which variant leads, by how much,
 * and whether that is beyond seed noise.
 */
import { metricValue, summarize, type RunScore, type MetricRow } from "../metrics/records";
import { LABEL_NAMES } from "../data/labels";
import { bilingualLabel } from "./charts";
import type { ComparisonLine } from "../metrics/compare";

/** Fewer seeds a side than this and a p-value is no verdict: with 2 seeds the paired t-test has 1 degree of freedom. */
export const MIN_VERDICT_SEEDS = 3;

/**
 * Why a comparison gives no verdict, or undefined when it does: no spread to test, or fewer than MIN_VERDICT_SEEDS
 * seeds a side (a t-test on 1 degree of freedom swings from "nothing" to p < 0.05 on noise).
 */
export function noVerdictReason(c: ComparisonLine): string | undefined {
  if (Number.isNaN(c.p)) return "no seed spread to test";
  const seeds = Math.min(c.seeds[0], c.seeds[1]);
  if (seeds < MIN_VERDICT_SEEDS) return `no verdict from ${seeds} seeds (t ${c.t.toFixed(2)}, p ${pValue(c.p)} on ${c.df.toFixed(0)} degree${c.df >= 1.5 ? "s" : ""} of freedom): run ≥ ${MIN_VERDICT_SEEDS} seeds`;
  return undefined;
}

const pValue = (p: number): string => (p < 0.001 ? "< 0.001" : p.toFixed(3));

export function formatComparison(c: ComparisonLine): string {
  if (c.seeds[0] === 0 || c.seeds[1] === 0) {
    const absent = [c.seeds[0] === 0 ? c.a : null, c.seeds[1] === 0 ? c.b : null].filter((v) => v !== null).join(" and ");
    return `${c.b} vs ${c.a}: ${c.metric} not compared, no runs of ${absent} yet`;
  }
  const sign = c.diff >= 0 ? "+" : "";
  const lowerBetter = c.metric === "F1 Range";
  const dir = c.diff === 0 ? "no change" : (c.diff > 0) !== lowerBetter ? "better" : "worse";
  const how =
    c.test === "paired"
      ? `paired over ${c.seeds[0]} seeds: SE ${c.se.toFixed(2)}, unpaired ${c.seUnpaired.toFixed(2)}`
      : `Welch over ${c.seeds[0]} and ${c.seeds[1]} seeds: SE ${c.se.toFixed(2)}`;
  const verdict = noVerdictReason(c) ?? `${c.beyondNoise ? "beyond seed noise" : "within seed noise"} (t ${c.t.toFixed(2)}, p ${pValue(c.p)})`;
  return `${c.b} vs ${c.a}: ${c.metric} ${sign}${c.diff.toFixed(2)} points (${how}), ${dir}, ${verdict}`;
}

/** Variants ranked by mean of a metric (best first), as "name mean ± std" strings. */
export function rankVariants(records: readonly RunScore[], metric: MetricRow = "Macro-F1"): string[] {
  const variants = [...new Set(records.map((r) => r.variant))];
  return variants
    .map((v) => ({ v, s: summarize(records.filter((r) => r.variant === v).map((r) => metricValue(r.metrics, metric))) }))
    .sort((x, y) => y.s.mean - x.s.mean)
    .map(({ v, s }) => `${v} ${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}`);
}

export interface ClassShift {
  /** the label, in both languages */
  label: string;
  /** mean per-class F1 of a and of b over their seeds, in % */
  a: number;
  b: number;
  /** b − a, in points */
  diff: number;
}

/** Per-class F1 of variant b against variant a (means over seeds, %), largest gain first. */
export function perClassShifts(records: readonly RunScore[], a: string, b: string): ClassShift[] {
  const mean = (v: string, zh: string): number => summarize(records.filter((r) => r.variant === v).map((r) => 100 * (r.metrics.per_class[zh]?.f1 ?? NaN))).mean;
  return LABEL_NAMES.map((zh) => ({ label: bilingualLabel(zh), a: mean(a, zh), b: mean(b, zh), diff: mean(b, zh) - mean(a, zh) }))
    .filter((s) => Number.isFinite(s.diff))
    .sort((x, y) => y.diff - x.diff);
}
