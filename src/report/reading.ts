/**
 * Plain-language reading of a comparison, computed from the runs (so the notebook's words always match
 * its numbers): which variant leads, by how much, and whether that is beyond seed noise.
 *
 * "Beyond seed noise" is a two-sided Student t-test at 5%. When both variants ran on the same seeds the test
 * is paired (a seed fixes the initialisation, the batch order and the dropout masks, so the per-seed
 * differences are what varies); otherwise Welch's unequal-variance test. With 3 seeds the paired test needs
 * |t| > 4.30, with 5 seeds |t| > 2.78: few seeds resolve only large gaps, and the reading says so.
 */
import tQuantile from "@stdlib/stats-base-dists-t-quantile";
import tCdf from "@stdlib/stats-base-dists-t-cdf";
import type { RunRecord, MetricRow } from "./tables";
import { metricValue, summarize } from "./tables";

export type ComparisonTest = "paired" | "welch";

export interface ComparisonLine {
  a: string;
  b: string;
  metric: MetricRow;
  /** mean(b) - mean(a), in points (%) */
  diff: number;
  /** standard error of diff under `test` (paired: sd of the per-seed differences / √n), in points */
  se: number;
  /** standard error of the difference of two independent means (shown beside the paired one) */
  seUnpaired: number;
  test: ComparisonTest;
  /** seeds of a and of b (equal, and the number of pairs, when paired) */
  seeds: [number, number];
  /** degrees of freedom (n - 1 paired; Welch–Satterthwaite otherwise) */
  df: number;
  /** diff / se */
  t: number;
  /** two-sided p-value; NaN when there is no spread to test (fewer than 2 seeds a side, or se = 0) */
  p: number;
  /** p < 0.05 */
  beyondNoise: boolean;
}

/** t quantile for a two-sided 5% test at these degrees of freedom. */
export function tCritical(df: number): number {
  return tQuantile(0.975, df);
}

function tTest(diff: number, se: number, df: number): { t: number; p: number } {
  if (!(se > 0) || !(df > 0)) return { t: NaN, p: NaN };
  const t = diff / se;
  return { t, p: 2 * (1 - tCdf(Math.abs(t), df)) };
}

/**
 * Compare variant b against variant a on one metric (in %). `test` defaults to paired when both ran on the same
 * seeds; pass "welch" when a seed number does not tie the two runs together (e.g. a baseline whose seed shuffles
 * something else).
 */
export function compareVariants(
  records: readonly RunRecord[],
  a: string,
  b: string,
  metric: MetricRow = "Macro-F1",
  test?: ComparisonTest,
): ComparisonLine {
  const bySeed = (v: string) => new Map(records.filter((r) => r.variant === v).map((r) => [r.seed, metricValue(r.metrics, metric)]));
  const ma = bySeed(a);
  const mb = bySeed(b);
  const sa = summarize([...ma.values()]);
  const sb = summarize([...mb.values()]);
  const diff = sb.mean - sa.mean;
  const va = sa.n > 1 ? sa.std ** 2 / sa.n : NaN;
  const vb = sb.n > 1 ? sb.std ** 2 / sb.n : NaN;
  const seUnpaired = Math.sqrt(va + vb);
  const sameSeeds = ma.size === mb.size && [...ma.keys()].every((s) => mb.has(s));
  let line: Omit<ComparisonLine, "beyondNoise" | "t" | "p">;
  if (test !== "welch" && sameSeeds && ma.size >= 2) {
    const d = summarize([...ma.keys()].map((s) => mb.get(s)! - ma.get(s)!));
    line = { a, b, metric, diff, se: d.std / Math.sqrt(d.n), seUnpaired, test: "paired", seeds: [sa.n, sb.n], df: d.n - 1 };
  } else {
    // Welch–Satterthwaite degrees of freedom
    const df = (va + vb) ** 2 / (va ** 2 / (sa.n - 1) + vb ** 2 / (sb.n - 1));
    line = { a, b, metric, diff, se: seUnpaired, seUnpaired, test: "welch", seeds: [sa.n, sb.n], df };
  }
  const { t, p } = tTest(diff, line.se, line.df);
  return { ...line, t, p, beyondNoise: p < 0.05 };
}

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
  const verdict = Number.isNaN(c.p)
    ? "no seed spread to test"
    : `${c.beyondNoise ? "beyond seed noise" : "within seed noise"} (t ${c.t.toFixed(2)}, p ${c.p < 0.001 ? "< 0.001" : c.p.toFixed(3)})`;
  return `${c.b} vs ${c.a}: ${c.metric} ${sign}${c.diff.toFixed(2)} points (${how}), ${dir}, ${verdict}`;
}

/** Variants ranked by mean of a metric (best first), as "name mean ± std" strings. */
export function rankVariants(records: readonly RunRecord[], metric: MetricRow = "Macro-F1"): string[] {
  const variants = [...new Set(records.map((r) => r.variant))];
  return variants
    .map((v) => ({ v, s: summarize(records.filter((r) => r.variant === v).map((r) => metricValue(r.metrics, metric))) }))
    .sort((x, y) => y.s.mean - x.s.mean)
    .map(({ v, s }) => `${v} ${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}`);
}
