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
import type { Metrics } from "./classification";
import { metricValue, summarize, type MetricRow } from "./records";

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
  /** 95% interval of diff: diff ± t(0.975, df) · se (NaN ends when there is no spread) */
  ci: [number, number];
  /** the smallest |difference| these seeds detect at 80% power in a two-sided 5% test, from the observed spread (detectableDifference) */
  detectable: number;
  /** sample standard deviations that scale with seeds: paired [sd of the per-seed differences, 0]; Welch [sd of a, sd of b] */
  spread: [number, number];
}

/** Power the "detectable" difference is planned for. */
export const PLANNED_POWER = 0.8;

/**
 * The smallest |difference| a two-sided 5% t-test on `df` degrees of freedom detects with 80% power when its standard
 * error is `se`: (t(0.975, df) + t(0.80, df)) · se, the usual t approximation to the power of a t-test. Its exact
 * (noncentral t) power is a little under 80% with few seeds: 0.766 at 3 seeds, 0.791 at 5, 0.799 at 10 (scipy,
 * test/fixtures/report/make_readings_fixture.py).
 */
export function detectableDifference(se: number, df: number): number {
  if (!(se > 0) || !(df > 0)) return NaN;
  return (tQuantile(0.975, df) + tQuantile(PLANNED_POWER, df)) * se;
}

/** Standard error and degrees of freedom of a comparison if it had `n` seeds a side (pairs when paired), same spread. */
function atSeeds(c: Pick<ComparisonLine, "test" | "spread">, n: number): { se: number; df: number } {
  if (c.test === "paired") return { se: c.spread[0] / Math.sqrt(n), df: n - 1 };
  const [va, vb] = [c.spread[0] ** 2, c.spread[1] ** 2];
  // Welch–Satterthwaite with n a side
  return { se: Math.sqrt((va + vb) / n), df: ((va + vb) ** 2 * (n - 1)) / (va ** 2 + vb ** 2) };
}

/** Beyond this many seeds a side "seeds needed" is reported as "more than". */
export const MAX_PLANNED_SEEDS = 1000;

/**
 * Seeds a side (pairs when paired) for 80% power at a true difference of `target` points, from this comparison's
 * observed spread: the smallest n whose detectable difference is ≤ |target|; Infinity past MAX_PLANNED_SEEDS, NaN
 * without a spread.
 */
export function seedsToDetect(c: Pick<ComparisonLine, "test" | "spread">, target: number): number {
  if (!c.spread.every(Number.isFinite) || !(c.spread[0] + c.spread[1] > 0)) return NaN;
  for (let n = 2; n <= MAX_PLANNED_SEEDS; n++) {
    const { se, df } = atSeeds(c, n);
    if (detectableDifference(se, df) <= Math.abs(target)) return n;
  }
  return Infinity;
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

/** A difference of two seed-keyed samples: everything of a ComparisonLine but the names. */
export type SampleComparison = Omit<ComparisonLine, "a" | "b" | "metric">;

/**
 * b − a for two samples keyed by seed (points). `test` defaults to paired when both have the same seeds (≥ 2); pass
 * "welch" when a seed number does not tie the two runs together. Per-class F1 and any other per-run number compare
 * through this, so every interval in the suite is the same interval.
 */
export function compareSamples(ma: ReadonlyMap<number, number>, mb: ReadonlyMap<number, number>, test?: ComparisonTest): SampleComparison {
  const sa = summarize([...ma.values()]);
  const sb = summarize([...mb.values()]);
  const diff = sb.mean - sa.mean;
  const va = sa.n > 1 ? sa.std ** 2 / sa.n : NaN;
  const vb = sb.n > 1 ? sb.std ** 2 / sb.n : NaN;
  const seUnpaired = Math.sqrt(va + vb);
  const sameSeeds = ma.size === mb.size && [...ma.keys()].every((s) => mb.has(s));
  let line: Omit<SampleComparison, "beyondNoise" | "t" | "p" | "ci" | "detectable">;
  if (test !== "welch" && sameSeeds && ma.size >= 2) {
    const d = summarize([...ma.keys()].map((s) => mb.get(s)! - ma.get(s)!));
    line = { diff, se: d.std / Math.sqrt(d.n), seUnpaired, test: "paired", seeds: [sa.n, sb.n], df: d.n - 1, spread: [d.std, 0] };
  } else {
    // Welch–Satterthwaite degrees of freedom
    const df = (va + vb) ** 2 / (va ** 2 / (sa.n - 1) + vb ** 2 / (sb.n - 1));
    line = { diff, se: seUnpaired, seUnpaired, test: "welch", seeds: [sa.n, sb.n], df, spread: [sa.std, sb.std] };
  }
  const { t, p } = tTest(diff, line.se, line.df);
  const half = line.se > 0 && line.df > 0 ? tCritical(line.df) * line.se : NaN;
  return { ...line, t, p, beyondNoise: p < 0.05, ci: [diff - half, diff + half], detectable: detectableDifference(line.se, line.df) };
}

/**
 * Compare variant b against variant a on one metric (in %). `test` defaults to paired when both ran on the same
 * seeds; pass "welch" when a seed number does not tie the two runs together (e.g. a baseline whose seed shuffles
 * something else).
 */
export function compareVariants(
  records: readonly { variant: string; seed: number; metrics: Metrics }[],
  a: string,
  b: string,
  metric: MetricRow = "Macro-F1",
  test?: ComparisonTest,
): ComparisonLine {
  const bySeed = (v: string) => new Map(records.filter((r) => r.variant === v).map((r) => [r.seed, metricValue(r.metrics, metric)]));
  return { a, b, metric, ...compareSamples(bySeed(a), bySeed(b), test) };
}

export type VerdictKind = "rules out" | "confirms direction" | "undecided" | "beyond noise" | "within noise" | "no verdict";

/**
 * What a comparison's seeds say about a reference difference (the study's own b − a, one run each):
 * - "rules out": the reference lies outside our 95% interval;
 * - "confirms direction": it lies inside, and the interval excludes 0 on its side;
 * - "undecided": it lies inside, and the interval includes 0 (`seedsToDecide`: seeds for 80% power at it).
 * Without a reference, the difference against 0: "beyond noise" or "within noise" (then `detectable` says what
 * these seeds could have seen). "no verdict" when there is no spread to test.
 */
export interface Verdict {
  kind: VerdictKind;
  /** the reference difference, when there is one */
  reference?: number;
  /** for "undecided": seeds a side for 80% power at the reference (Infinity past MAX_PLANNED_SEEDS) */
  seedsToDecide?: number;
}

export function verdictAgainst(c: SampleComparison, reference: number | undefined): Verdict {
  const [lo, hi] = c.ci;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { kind: "no verdict", reference };
  if (reference === undefined) return { kind: lo > 0 || hi < 0 ? "beyond noise" : "within noise" };
  if (reference < lo || reference > hi) return { kind: "rules out", reference };
  const excludesZeroOnItsSide = reference > 0 ? lo > 0 : reference < 0 ? hi < 0 : false;
  if (excludesZeroOnItsSide) return { kind: "confirms direction", reference };
  return { kind: "undecided", reference, seedsToDecide: seedsToDetect(c, reference) };
}
