/**
 * Plain-language readings of comparisons (src/metrics/compare.ts computes them): which variant leads, by how much,
 * and whether that is beyond seed noise.
 */
import type { Metrics } from "../metrics/classification";
import { metricValue, summarize, type MetricRow } from "../metrics/records";
import { LABEL_NAMES } from "../data/labels";
import { bilingualLabel } from "./charts";
import { formatMeanStd } from "./tables";
import { MAX_PLANNED_SEEDS, verdictAgainst, type ComparisonLine, type SampleComparison, type Verdict } from "../metrics/compare";

/** "+1.23" / "−0.40" (a real minus sign), two decimals. */
export const signedPoints = (x: number): string => (x >= 0 ? `+${x.toFixed(2)}` : `−${(-x).toFixed(2)}`);

/** A 95% interval as "−1.40 … +1.95". */
export const formatInterval = (ci: readonly [number, number]): string => `${signedPoints(ci[0])} … ${signedPoints(ci[1])}`;

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

/**
 * A comparison's verdict against a reference (the study's own difference), or against 0 without one; "no verdict"
 * where MIN_VERDICT_SEEDS or the spread say so (noVerdictReason).
 */
export function readingVerdict(c: ComparisonLine, reference: number | undefined): Verdict {
  return noVerdictReason(c) ? { kind: "no verdict", reference } : verdictAgainst(c, reference);
}

/**
 * A verdict in the words every view uses (README, notebook summaries, per-class captions, notebook 06):
 * "rules out the study's +3.53", "confirms the study's direction", "undecided: about 14 seeds would decide",
 * "beyond seed noise", "within seed noise (these seeds detect ±2.24 or more)".
 */
export function verdictPhrase(c: SampleComparison, v: Verdict): string {
  const ref = v.reference === undefined ? "" : signedPoints(v.reference);
  const seeds = Math.min(c.seeds[0], c.seeds[1]);
  switch (v.kind) {
    case "rules out": {
      // outside the interval on the far side of 0 from it, or beyond it on its own side: both rule its value out
      const r = v.reference ?? 0;
      const itsWay = r > 0 ? c.ci[0] > 0 : r < 0 && c.ci[1] < 0;
      return `rules out the study's ${ref} (outside our 95% interval${itsWay ? ", though ours points its way" : ""})`;
    }
    case "confirms direction":
      return `confirms the study's direction (its ${ref} lies in our 95% interval, which excludes 0)`;
    case "undecided": {
      const n = v.seedsToDecide ?? NaN;
      if (!Number.isFinite(n)) return `undecided: more than ${MAX_PLANNED_SEEDS} seeds would be needed for the study's ${ref}`;
      if (n <= seeds) return `undecided: the study's ${ref} lies in our 95% interval, which includes 0 (these ${seeds} seeds had 80% power at it)`;
      return `undecided: about ${n} seeds would decide (the study's ${ref} lies in our 95% interval, which includes 0)`;
    }
    case "beyond noise":
      return "beyond seed noise";
    case "within noise":
      return `within seed noise (these seeds detect ±${c.detectable.toFixed(2)} or more)`;
    case "no verdict":
      return Number.isNaN(c.p) ? "no verdict: no seed spread to test" : `no verdict from ${seeds} seeds (run ≥ ${MIN_VERDICT_SEEDS})`;
  }
}

const pValue = (p: number): string => (p < 0.001 ? "< 0.001" : p.toFixed(3));

/**
 * One reading as a sentence: the difference, its 95% interval, what these seeds detect, the test, and the verdict
 * against `reference` (the study's own difference, when its table has one), naming the encoder it was measured on.
 */
export function formatComparison(c: ComparisonLine, opts: { reference?: number; encoder?: string } = {}): string {
  if (c.seeds[0] === 0 || c.seeds[1] === 0) {
    const absent = [c.seeds[0] === 0 ? c.a : null, c.seeds[1] === 0 ? c.b : null].filter((v) => v !== null).join(" and ");
    return `${c.b} vs ${c.a}: ${c.metric} not compared, no runs of ${absent} yet`;
  }
  const lowerBetter = c.metric === "F1 Range";
  const dir = c.diff === 0 ? "no change" : (c.diff > 0) !== lowerBetter ? "better" : "worse";
  const how = c.test === "paired" ? `paired over ${c.seeds[0]} seeds` : `Welch over ${c.seeds[0]} and ${c.seeds[1]} seeds`;
  const none = noVerdictReason(c);
  const stats = none
    ? none
    : `95% interval ${formatInterval(c.ci)}, detectable at 80% power ±${c.detectable.toFixed(2)} (${how}: SE ${c.se.toFixed(2)}, t ${c.t.toFixed(2)}, p ${pValue(c.p)})`;
  const verdict = none ? "" : `; ${verdictPhrase(c, readingVerdict(c, opts.reference))}`;
  const on = opts.encoder ? ` (measured on ${opts.encoder})` : "";
  return `${c.b} vs ${c.a}: ${c.metric} ${signedPoints(c.diff)} points, ${dir}; ${stats}${verdict}${on}`;
}

/** Variants ranked by mean of a metric (best first), as "name mean ± std" strings. */
export function rankVariants(records: readonly { variant: string; metrics: Metrics }[], metric: MetricRow = "Macro-F1"): string[] {
  const variants = [...new Set(records.map((r) => r.variant))];
  return variants
    .map((v) => ({ v, s: summarize(records.filter((r) => r.variant === v).map((r) => metricValue(r.metrics, metric))) }))
    .sort((x, y) => y.s.mean - x.s.mean)
    .map(({ v, s }) => `${v} ${formatMeanStd(s)}`);
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
export function perClassShifts(records: readonly { variant: string; metrics: Metrics }[], a: string, b: string): ClassShift[] {
  const mean = (v: string, zh: string): number => summarize(records.filter((r) => r.variant === v).map((r) => 100 * (r.metrics.per_class[zh]?.f1 ?? NaN))).mean;
  return LABEL_NAMES.map((zh) => ({ label: bilingualLabel(zh), a: mean(a, zh), b: mean(b, zh), diff: mean(b, zh) - mean(a, zh) }))
    .filter((s) => Number.isFinite(s.diff))
    .sort((x, y) => y.diff - x.diff);
}
