/** The computed readings in the notebooks: differences of means, their standard error, the noise verdict. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { formatComparison, noVerdictReason, rankVariants, readingVerdict, verdictPhrase } from "../src/report";
import { compareSamples, compareVariants, seedsToDetect, tCritical, verdictAgainst, type MetricRow, type SampleComparison } from "../src/metrics";
import type { RunScore } from "./helpers";
import { headlineChangeChart, loadResults, STUDY_RESULTS_DIR, studyDifference, tableComparisonLines, TABLE_NAMES, type TableName } from "../src/experiments";
import { classificationMetrics, type Metrics } from "../src/metrics";

// a run whose macro-F1 is exactly `acc` on a balanced 10-class set of 100 rows: acc*100 rows right, spread evenly
function runWith(variant: string, seed: number, correctPerClass: number): RunScore {
  const yTrue: number[] = [];
  const yPred: number[] = [];
  for (let c = 0; c < 10; c++) {
    for (let i = 0; i < 10; i++) {
      yTrue.push(c);
      yPred.push(i < correctPerClass ? c : (c + 1) % 10);
    }
  }
  return { variant, seed, metrics: classificationMetrics(yTrue, yPred) };
}

// a record whose Macro-F1 is `f1` points (only that field is read by these comparisons)
function macro(variant: string, seed: number, f1: number): RunScore {
  const m = { macro_f1: f1 / 100 } as Metrics;
  return { variant, seed, metrics: m };
}

test("compareVariants: difference of means and its standard error, in points", () => {
  const recs = [runWith("A", 0, 6), runWith("A", 1, 7), runWith("A", 2, 8), runWith("B", 0, 9), runWith("B", 1, 9), runWith("B", 2, 9)];
  const c = compareVariants(recs, "A", "B", "Micro-F1");
  // A: 60, 70, 80 (mean 70, sd 10); B: 90, 90, 90 (sd 0) -> diff 20; per-seed differences 30, 20, 10 -> paired SE 10/√3
  assert.ok(Math.abs(c.diff - 20) < 1e-9);
  assert.equal(c.test, "paired");
  assert.ok(Math.abs(c.se - 10 / Math.sqrt(3)) < 1e-9);
  assert.ok(Math.abs(c.seUnpaired - Math.sqrt(100 / 3)) < 1e-9);
  // t = 3.46 with 2 df: p = 0.074, not beyond noise — three seeds resolve only |t| > 4.30
  assert.equal(c.beyondNoise, false);
  assert.ok(Math.abs(tCritical(2) - 4.302652729749462) < 1e-9);
  // 95% interval 20 ± 4.3027 · 5.7735 = −4.84 … +44.84; detectable (4.3027 + t(0.80, 2) = 1.0607) · 5.7735 = 30.97
  assert.equal(
    formatComparison(c, { encoder: "a test encoder" }),
    "B vs A: Micro-F1 +20.00 points, better; 95% interval −4.84 … +44.84, detectable at 80% power ±30.97 (paired over 3 seeds: SE 5.77, t 3.46, p 0.074); " +
      "within seed noise (these seeds detect ±30.97 or more) (measured on a test encoder)",
  );
  assert.deepEqual(rankVariants(recs, "Micro-F1"), ["B 90.00 ± 0.00", "A 70.00 ± 10.00"]);
});

// scipy.stats references (test/fixtures/report/make_ttest_fixture.py); `welch`: compared as independent samples
const SCIPY_CASES = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/report/ttest_scipy.json"), "utf8")) as {
  name: string; a: number[]; b: number[]; t: number; p: number; df: number; welch?: boolean;
}[];
const caseRecords = (c: { a: number[]; b: number[] }): RunScore[] => [...c.a.map((v, i) => macro("A", i, v)), ...c.b.map((v, i) => macro("B", i, v))];

test("compareVariants: paired and Welch t-tests match scipy.stats (ttest_rel, ttest_ind equal_var=False)", () => {
  for (const c of SCIPY_CASES) {
    if (c.welch) continue;
    const got = compareVariants(caseRecords(c), "A", "B", "Macro-F1");
    assert.equal(got.test, c.a.length === c.b.length ? "paired" : "welch", c.name);
    assert.ok(Math.abs(got.t - c.t) < 1e-6, `${c.name}: t ${got.t} vs scipy ${c.t}`);
    assert.ok(Math.abs(got.p - c.p) < 1e-6, `${c.name}: p ${got.p} vs scipy ${c.p}`);
    assert.ok(Math.abs(got.df - c.df) < 1e-6, `${c.name}: df ${got.df} vs ${c.df}`);
    assert.equal(got.beyondNoise, c.p < 0.05, c.name);
  }
});

test("compareVariants: Welch on request even when the seeds match", () => {
  const c = SCIPY_CASES.find((x) => x.welch);
  assert.ok(c, "the fixture has a forced-Welch case");
  const recs = caseRecords(c);
  assert.equal(compareVariants(recs, "A", "B").test, "paired");
  const w = compareVariants(recs, "A", "B", "Macro-F1", "welch");
  assert.equal(w.test, "welch");
  assert.ok(Math.abs(w.t - c.t) < 1e-6 && Math.abs(w.p - c.p) < 1e-6, `welch t ${w.t} p ${w.p} vs scipy ${c.t} ${c.p}`);
});

test("compareVariants: one seed a side has no spread to test", () => {
  const c = compareVariants([macro("A", 0, 80), macro("B", 0, 85)], "A", "B");
  assert.ok(Number.isNaN(c.p));
  assert.equal(c.beyondNoise, false);
  assert.match(formatComparison(c), /no seed spread to test/);
  // a grid run for some rows only (reproduce --variants): the absent row is named, not printed as NaN
  assert.equal(formatComparison(compareVariants([macro("A", 0, 80)], "A", "QA")), "QA vs A: Macro-F1 not compared, no runs of QA yet");
});

test("two seeds: the p-value of a t-test on 1 degree of freedom is printed, never as a verdict", () => {
  // per-seed differences 13, 14: mean 13.5, SE 0.5, t = 27 on 1 df, p = 0.0236 — "beyond noise" by the 5% rule alone
  const c = compareVariants([macro("A", 0, 80), macro("A", 1, 81), macro("B", 0, 67), macro("B", 1, 67)], "A", "B");
  assert.equal(c.df, 1);
  assert.ok(c.p < 0.05);
  assert.equal(noVerdictReason(c), `no verdict from 2 seeds (t -27.00, p ${c.p.toFixed(3)} on 1 degree of freedom): run ≥ 3 seeds`);
  assert.doesNotMatch(formatComparison(c), /seed noise/);
  assert.match(formatComparison(c), /, worse; no verdict from 2 seeds \(t -27\.00, p 0\.024 on 1 degree of freedom\): run ≥ 3 seeds$/);
  // three seeds: the verdict is given
  const three = compareVariants([macro("A", 0, 80), macro("A", 1, 81), macro("A", 2, 80), macro("B", 0, 67), macro("B", 1, 67), macro("B", 2, 68)], "A", "B");
  assert.equal(noVerdictReason(three), undefined);
  assert.match(formatComparison(three), /beyond seed noise/);
});

test("for the F1 range, lower is better", () => {
  const recs = [runWith("A", 0, 6), runWith("B", 0, 6)];
  assert.match(formatComparison({ ...compareVariants(recs, "A", "B", "F1 Range"), diff: -3 }), /better/);
});

// scipy.stats references for intervals, detectable differences, seeds that decide and verdicts
// (test/fixtures/report/make_readings_fixture.py): made-up samples, and the study's comparisons on the shipped files
interface ScipyReading {
  diff: number; se: number; df: number; t: number; p: number; ci: [number, number]; detectable: number;
  exactPowerAtDetectable: number; verdict: string; seedsToDecide?: number | string; reference: number | null; paired: boolean;
}
const READINGS = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/report/readings_scipy.json"), "utf8")) as {
  synthetic: (ScipyReading & { name: string; a: number[]; b: number[] })[];
  shipped: (ScipyReading & { table: TableName; a: string; b: string; metric: MetricRow })[];
  shipped_sha256: Record<string, string>;
};
const near = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) < 1e-6, `${what}: ${got} vs scipy ${want}`);

function assertReading(got: SampleComparison, v: ReturnType<typeof verdictAgainst>, want: ScipyReading, name: string): void {
  for (const k of ["diff", "se", "df", "t", "p", "detectable"] as const) near(got[k], want[k], `${name} ${k}`);
  near(got.ci[0], want.ci[0], `${name} interval low`);
  near(got.ci[1], want.ci[1], `${name} interval high`);
  assert.equal(v.kind, want.verdict, name);
  if (want.seedsToDecide !== undefined) assert.equal(v.seedsToDecide, typeof want.seedsToDecide === "number" ? want.seedsToDecide : Infinity, `${name} seeds to decide`);
}

test("intervals, detectable differences and verdicts match scipy on made-up samples (one per verdict)", () => {
  assert.deepEqual(new Set(READINGS.synthetic.map((c) => c.verdict)), new Set(["rules out", "confirms direction", "undecided", "within noise", "beyond noise"]));
  for (const c of READINGS.synthetic) {
    const got = compareSamples(new Map(c.a.map((x, i) => [i, x])), new Map(c.b.map((x, i) => [i, x])), c.paired ? undefined : "welch");
    assert.equal(got.test, c.paired ? "paired" : "welch", c.name);
    assertReading(got, verdictAgainst(got, c.reference ?? undefined), c, c.name);
    // the t approximation behind "detectable" is a little under 80% exact power with few seeds, never far under
    assert.ok(c.exactPowerAtDetectable > 0.76 && c.exactPowerAtDetectable < 0.8, `${c.name}: exact power ${c.exactPowerAtDetectable}`);
  }
});

test("the README's readings of the shipped results equal scipy's, verdicts included (fixture made from the same files)", () => {
  for (const [table, sha] of Object.entries(READINGS.shipped_sha256)) {
    const now = createHash("sha256").update(fs.readFileSync(path.join(STUDY_RESULTS_DIR, `${table}.json`))).digest("hex");
    assert.equal(now, sha, `results/study/${table}.json changed since the scipy fixture was made: run /usr/bin/python3 test/fixtures/report/make_readings_fixture.py`);
  }
  const tables = new Map(TABLE_NAMES.map((t) => [t, loadResults(t)!]));
  const seen = new Set<string>();
  for (const want of READINGS.shipped) {
    const t = tables.get(want.table)!;
    const got = tableComparisonLines(t.table, t.records, t.variants).find((c) => c.a === want.a && c.b === want.b && c.metric === want.metric);
    const name = `${want.table}: ${want.b} vs ${want.a} (${want.metric})`;
    assert.ok(got, `${name}: not among the table's readings`);
    const study = studyDifference(t.table, want.metric, got);
    if (want.reference === null) assert.equal(study, undefined, `${name}: the study's table has no such difference`);
    else near(study ?? NaN, want.reference, `${name} the study's difference`);
    assertReading(got, readingVerdict(got, want.reference ?? undefined), want, name);
    seen.add(name);
  }
  // every reading the README shows (≥ 3 seeds a side) is in the fixture
  for (const t of tables.values()) {
    for (const c of tableComparisonLines(t.table, t.records, t.variants).filter((x) => Math.min(...x.seeds) >= 3)) {
      assert.ok(seen.has(`${t.table}: ${c.b} vs ${c.a} (${c.metric})`) || Number.isNaN(c.p), `${t.table}: ${c.b} vs ${c.a} (${c.metric}) has no scipy reference`);
    }
  }
});

test("verdict words: the same phrase for a verdict wherever it is shown", () => {
  const c = compareSamples(new Map([[0, 80], [1, 81], [2, 79.5], [3, 80.4], [4, 80.8]]), new Map([[0, 79], [1, 82.9], [2, 78.9], [3, 81.1], [4, 80.6]]));
  const v = verdictAgainst(c, 1.53);
  assert.equal(v.kind, "undecided");
  assert.match(verdictPhrase(c, v), /^undecided: about \d+ seeds would decide \(the study's \+1\.53 lies in our 95% interval, which includes 0\)$/);
  assert.equal(verdictPhrase(c, verdictAgainst(c, 5)), "rules out the study's +5.00 (outside our 95% interval)");
  assert.match(verdictPhrase(c, verdictAgainst(c, undefined)), /^within seed noise \(these seeds detect ±\d+\.\d\d or more\)$/);
  assert.equal(seedsToDetect(c, 0), Infinity);
});

test("the per-class change chart's caption gives the headline comparison's verdict in the readings' words, and the encoder", () => {
  const loss = loadResults("loss")!;
  const title = (headlineChangeChart(loss)?.layout.title as { text: string }).text;
  const c = compareVariants(loss.records, "Regular Loss", "Weighted Loss", "Macro-F1");
  assert.ok(title.includes(verdictPhrase(c, readingVerdict(c, studyDifference("loss", "Macro-F1", c)))), title);
  assert.ok(title.includes(`on ${loss.encoder}`), title);
  assert.ok(loss.summary.some((s) => s.includes(verdictPhrase(c, readingVerdict(c, studyDifference("loss", "Macro-F1", c))))), "the summary says the same");
});
