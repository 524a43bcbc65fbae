/**
 * Is variant b better than variant a beyond seed noise? Computed from the runs, so every reading that quotes it
 * matches its numbers.
 *
 * "Beyond seed noise" is a two-sided Student t-test at 5%. When both variants ran on the same seeds the test
 * is paired (a seed fixes the initialisation, the batch order and the dropout masks, so the per-seed
 * differences are what varies); otherwise Welch's unequal-variance test. With 3 seeds the paired test needs
 * |t| > 4.30, with 5 seeds |t| > 2.78: few seeds resolve only large gaps, and the reading says so.
 */
import tQuantile from "@stdlib/stats-base-dists-t-quantile";
import tCdf from "@stdlib/stats-base-dists-t-cdf";
import { metricValue, summarize, type RunScore, type MetricRow } from "./records";

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
  records: readonly RunScore[],
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
