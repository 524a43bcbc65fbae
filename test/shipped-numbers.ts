/**
 * The numbers a notebook reads from results/study, as plain JSON: each shipped run's headline metrics, and per table
 * the mean ± std of each variant and every reading (difference, its interval, p, detectable difference), all as the
 * product computes them today. test/hashes.test.ts holds them against test/fixtures/shipped-numbers.json.
 *
 * Runs are keyed "variant · seed" and the aggregates are taken over the pinned runs only, so a results file that
 * gains runs (the augmentation grid is still filling) keeps every pinned number; a run that changes or disappears,
 * a mean or a reading that moves, fails. Re-make the fixture only to add runs:
 *   npx tsx -e 'console.log(JSON.stringify(require("./test/shipped-numbers").shippedNumbers(), null, 1))' > test/fixtures/shipped-numbers.json
 */
import * as path from "node:path";
import { TABLE_NAMES, TABLE_SPECS, loadResults, tableComparisonLines, type TableName } from "../src/experiments";
import { METRIC_ROWS, metricValue, summarize, type Metrics } from "../src/metrics";

export const STUDY_RESULTS = path.join(__dirname, "..", "results", "study");

/** JSON has no NaN (a spread of one seed, a test without spread): null stands for it. */
type Num = number | null;
const num = (x: number): Num => (Number.isNaN(x) ? null : x);

export interface TableNumbers {
  split: string;
  /** "variant · seed" → its hash and the five headline metrics in % */
  runs: Record<string, { hash: string | null; metrics: Record<string, Num> }>;
  /** variant → metric → mean and std over its pinned seeds */
  summary: Record<string, Record<string, { mean: Num; std: Num; n: number }>>;
  /** "b vs a · metric" → the reading's numbers */
  readings: Record<string, { diff: Num; se: Num; p: Num; ci: [Num, Num]; detectable: Num; seeds: [number, number] }>;
}

export const runKey = (r: { variant: string; seed: number }): string => `${r.variant} · seed ${r.seed}`;

/** The numbers of one table over `keep` (its runs' keys; default every run the file has). */
export function tableNumbers(table: TableName, keep?: ReadonlySet<string>): TableNumbers | null {
  const result = loadResults(table, STUDY_RESULTS);
  if (!result) return null;
  const hashOf = new Map(result.runs.map((r) => [runKey({ variant: r.variant, seed: r.config.seed }), r.hash]));
  const records = result.records.filter((r) => !keep || keep.has(runKey(r)));
  const metrics = (m: Metrics) => Object.fromEntries(METRIC_ROWS.map((row) => [row, num(metricValue(m, row))]));
  const runs = Object.fromEntries(records.map((r) => [runKey(r), { hash: hashOf.get(runKey(r)) ?? null, metrics: metrics(r.metrics) }]));
  const variants = [...new Set(records.map((r) => r.variant))];
  const summary = Object.fromEntries(
    variants.map((v) => [
      v,
      Object.fromEntries(
        TABLE_SPECS[table].metrics.map((row) => {
          const s = summarize(records.filter((r) => r.variant === v).map((r) => metricValue(r.metrics, row)));
          return [row, { mean: num(s.mean), std: num(s.std), n: s.n }];
        }),
      ),
    ]),
  );
  const readings = Object.fromEntries(
    tableComparisonLines(table, records).map((c) => [
      `${c.b} vs ${c.a} · ${c.metric}`,
      { diff: num(c.diff), se: num(c.se), p: num(c.p), ci: [num(c.ci[0]), num(c.ci[1])] as [Num, Num], detectable: num(c.detectable), seeds: c.seeds },
    ]),
  );
  return { split: result.split, runs, summary, readings };
}

/** Every table's numbers over every run shipped now. */
export function shippedNumbers(): Partial<Record<TableName, TableNumbers>> {
  const out: Partial<Record<TableName, TableNumbers>> = {};
  for (const t of TABLE_NAMES) {
    const n = tableNumbers(t);
    if (n) out[t] = n;
  }
  return out;
}
