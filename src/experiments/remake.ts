/**
 * A shipped run re-made from its config (`npm run experiment -- --config FILE#HASH`), compared with the shipped one.
 * Under the same kernel numerics (backend/numerics.ts) a re-make must agree digit for digit; under other numerics
 * (another OpenBLAS core, the chunking fix, bfloat16, another backend), or when the shipped run recorded none, the
 * digits legitimately differ and only seed noise is a fair yardstick: the rule is SEED_NOISE_RULE.
 */
import * as path from "node:path";
import { tCritical } from "../metrics/compare";
import type { Metrics } from "../metrics";
import type { RunInfo, RunRecord } from "../runs/record";
import { readResultsFile } from "./results";

/** The fewest shipped seeds of a variant that give a prediction range (its sd needs ≥ 2, and 2 make t(0.975, 1) = 12.7). */
export const MIN_SEEDS_FOR_RANGE = 3;

export const SEED_NOISE_RULE =
  "within the 95% prediction range of one more seed of the variant's shipped runs: mean ± t(0.975, n−1)·sd·√(1 + 1/n)";

/** A run's numerics in words: its string, or, for a run made before they were recorded, what it does carry (nothing inferred). */
export function numericsWords(info: Pick<RunInfo, "numerics" | "cpu" | "blasCore"> | undefined): string {
  if (info?.numerics) return info.numerics;
  return `not recorded (made before numerics were recorded; CPU ${info?.cpu ?? "not recorded"}, OpenBLAS core ${info?.blasCore?.split(" ")[0] ?? "not recorded"})`;
}

/** Whether two runs are expected to agree digit for digit: both recorded their numerics and they are the same. */
export function sameNumerics(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a === b;
}

export interface PredictionRange {
  n: number;
  mean: number;
  sd: number;
  lo: number;
  hi: number;
}

/** The 95% prediction range of one more draw from `values` (SEED_NOISE_RULE); undefined below MIN_SEEDS_FOR_RANGE values. */
export function predictionRange(values: readonly number[]): PredictionRange | undefined {
  const n = values.length;
  if (n < MIN_SEEDS_FOR_RANGE) return undefined;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const half = tCritical(n - 1) * sd * Math.sqrt(1 + 1 / n);
  return { n, mean, sd, lo: mean - half, hi: mean + half };
}

type Split = "selection" | "dev" | "test";
const METRICS = [
  ["micro_f1", "micro-F1"],
  ["macro_f1", "macro-F1"],
] as const;
const pct = (x: number): string => (100 * x).toFixed(4);

/** The shipped runs of a results file that share `shipped`'s variant (its seeds), `shipped` among them. */
export function variantRuns(file: string, shipped: Pick<RunRecord, "variant">): RunRecord[] {
  return readResultsFile(path.resolve(file)).records.filter((r) => r.variant === shipped.variant);
}

/**
 * The re-made run beside the shipped one, split by split: "the same"/"different" digit for digit when both ran under
 * the same numerics, else each metric against the prediction range of the variant's shipped seeds (`peers`).
 */
export function comparedWithShipped(run: Pick<RunRecord, "hash" | "metrics" | "info">, shipped: RunRecord & { variant: string }, peers: readonly RunRecord[], thisCpu: string): string {
  const exact = sameNumerics(run.info.numerics, shipped.info.numerics);
  const splits = (["selection", "dev", "test"] as const).filter((k) => run.metrics[k] && shipped.metrics[k]);
  const lines = splits.map((k) => {
    const [a, b] = [run.metrics[k]!, shipped.metrics[k]!];
    const nums = METRICS.map(([m, name]) => `${name} ${pct(a[m])} (shipped ${pct(b[m])})`).join(", ");
    if (exact) return `  ${k}: ${nums}: ${a.micro_f1 === b.micro_f1 && a.macro_f1 === b.macro_f1 ? "the same" : "different"}`;
    return `  ${k}: ${nums}: ${withinNoise(k, a, peers, shipped.variant)}`;
  });
  const where = shipped.info.cpu ? ` (shipped from ${shipped.info.cpu}; this machine: ${thisCpu})` : "";
  const name = run.hash === shipped.hash ? `run ${run.hash}` : `run ${run.hash} (the shipped run is ${shipped.hash}: the config or the data differ)`;
  const numerics = [
    `  numerics: this run ${numericsWords(run.info)}; the shipped run ${numericsWords(shipped.info)}`,
    exact ? "  the same numerics: compared digit for digit" : `  not the same numerics: compared within seed noise, not digit for digit (${SEED_NOISE_RULE})`,
  ];
  return [`[medrel] ${name} against the shipped run${where}:`, ...numerics, ...lines].join("\n");
}

/** One split's metrics against the variant's shipped seeds: "within seed noise", "outside seed noise", or why it cannot say. */
function withinNoise(split: Split, a: Metrics, peers: readonly RunRecord[], variant: string): string {
  const verdicts = METRICS.map(([m, name]) => {
    const range = predictionRange(peers.flatMap((r) => (r.metrics[split] ? [r.metrics[split]![m]] : [])));
    if (!range) return { ok: undefined, text: `${name}: too few shipped seeds of ${variant} to judge (${MIN_SEEDS_FOR_RANGE} needed)` };
    const ok = a[m] >= range.lo && a[m] <= range.hi;
    return { ok, text: `${name} ${ok ? "inside" : "OUTSIDE"} ${pct(range.lo)}–${pct(range.hi)} (${range.n} seeds)` };
  });
  const all = verdicts.every((v) => v.ok === true) ? "within seed noise" : verdicts.some((v) => v.ok === false) ? "outside seed noise" : "not judged";
  return `${all} (${verdicts.map((v) => v.text).join("; ")})`;
}
