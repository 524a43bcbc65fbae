/**
 * Shipped results (results/study): a partial grid exported and read back as "n of N runs"; shipped runs taken as
 * done by a later grid on a machine without their run folders; compact predictions joined back to their sentences;
 * hostile edits to a results file or its predictions refused with the file named; the study grid's hash pinned.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import {
  gridJobs,
  runJobs,
  existingRuns,
  exportResults,
  loadResults,
  shippedRuns,
  shippedRun,
  NGRAM_VARIANT,
  STUDY_DATA_DIR,
  type Job,
} from "../src/experiments";
import { cachedTable } from "../src/experiments/tables";
import { readResultsFile } from "../src/experiments/results";
import { savedPredictions } from "../src/runs";
import { classWeightPlayground, progressLine } from "../src/views";
import { reproduceGrid } from "../src/cli/reproduce";
import * as report from "../src/report";

const ROOT = path.resolve(__dirname, "..");
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), `medrel-${p}-`));

/** The smoke loss table on the study's data, 1 seed: two of its four jobs are trained, the other two left missing. */
async function partialExport(): Promise<{ dir: string; runsDir: string; jobs: Job[] }> {
  const jobs = gridJobs("loss", { preset: "smoke", data: { kind: "dir", dir: STUDY_DATA_DIR }, seeds: [0] });
  const runsDir = tmp("runs");
  const dir = tmp("results");
  const runs = await runJobs(jobs.slice(0, 2), { runsDir, progress: false });
  exportResults(dir, { table: "loss", grid: jobs, runs, command: "test" });
  return { dir, runsDir, jobs };
}

test("a partial grid exports as n of N runs, names what is missing, and a later grid takes the shipped runs as done", async () => {
  const { dir, runsDir, jobs } = await partialExport();
  const t = loadResults("loss", dir);
  assert.ok(t);
  assert.deepEqual(t.progress, { done: 2, total: 4 });
  assert.match(progressLine(t) ?? "", /^2 of 4 runs so far: the grid on the study's data is still running/);
  assert.deepEqual(t.missing.map((m) => m.variant), ["Hard-class weights", "Effective-number weights"]);
  assert.deepEqual(t.variants, ["Regular Loss", "Weighted Loss", "Hard-class weights", "Effective-number weights"]);
  assert.deepEqual(Object.keys(t.seeds).filter((v) => t.seeds[v].length > 0), ["Regular Loss", "Weighted Loss"]);
  // the same table from the run folders (cachedTable) is the same result type, its scores and readings equal the shipped ones
  const local = await cachedTable("loss", { preset: "smoke", data: { kind: "dir", dir: STUDY_DATA_DIR }, seeds: [0], runsDir });
  assert.ok(local);
  assert.deepEqual([local.source, t.source], ["runs", "shipped"]);
  assert.deepEqual(local.progress, t.progress);
  assert.deepEqual(local.records.map((r) => r.metrics.macro_f1), t.records.map((r) => r.metrics.macro_f1));
  assert.deepEqual(local.readings, t.readings);
  // exporting the same runs again changes nothing, not even the date (no churn in git)
  const before = fs.readFileSync(t.file, "utf8");
  exportResults(dir, { table: "loss", grid: jobs, runs: await runJobs(jobs.slice(0, 2), { runsDir, progress: false }), command: "test" });
  assert.equal(fs.readFileSync(t.file, "utf8"), before);
  // a new machine: no run folders, only the results folder; the two shipped runs are done, the other two missing
  const shipped = shippedRuns(dir);
  assert.equal(shipped.size, 2);
  const fresh = existingRuns(jobs, tmp("fresh"), shipped);
  assert.deepEqual(fresh.runs.map((r) => r.hash), jobs.slice(0, 2).map((j) => j.hash));
  assert.equal(fresh.missing.length, 2);
  assert.equal(fresh.runs[0].metrics.dev.macro_f1, t.runs[0].metrics.dev.macro_f1);
  assert.ok(fresh.runs[0].metrics.selection?.per_class["并发症"], "selection metrics per class ship (hard_classes reads them)");
});

test("compact predictions join back to the data's sentences; an edited predictions file is refused by name", async () => {
  const { dir, runsDir, jobs } = await partialExport();
  const t = loadResults("loss", dir)!;
  const rows = savedPredictions(t.runs[0], "dev");
  const saved = fs.readFileSync(path.join(runsDir, jobs[0].hash, "predictions-dev.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(rows.length, saved.length);
  assert.deepEqual(rows.map((r) => [r.id, r.sentence, r.h, r.t, r.label, r.pred]), saved.map((r) => [r.id, r.sentence, r.h, r.t, r.label, r.pred]));
  rows.forEach((r, i) => r.probs.forEach((p, k) => assert.ok(Math.abs(p - saved[i].probs[k]) <= 0.0005 + 1e-12, `row ${i} class ${k}`)));
  // notebook 06 on the study's data starts from the shipped runs: its default settings are the loss table's first two rows
  const pgRuns = tmp("pg-runs");
  const pg = await classWeightPlayground({ preset: "smoke", data: { kind: "dir", dir: STUDY_DATA_DIR }, seeds: [0], resultsDir: dir, runsDir: pgRuns, progress: false });
  assert.deepEqual(fs.readdirSync(pgRuns), [], "nothing trained: both settings were shipped");
  assert.deepEqual([pg.runs.unweighted[0].hash, pg.runs["study weights"][0].hash], [jobs[0].hash, jobs[1].hash]);
  assert.equal(pg.split, "dev");
  assert.deepEqual(savedPredictions(pg.runs.unweighted[0], pg.split), rows);
  assert.match(pg.preview, new RegExp(`the unweighted run ${jobs[0].hash}`));
  assert.match(report.errorAnalysisHtml(pg.runs["study weights"], { pairs: 1, examples: 1 }), /<mark class="medrel-head"/);
  const file = path.join(dir, "predictions", `${jobs[0].hash}-dev.jsonl`);
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/"pred":"[^"]+"/, '"pred":"同义词"'));
  assert.throws(() => savedPredictions(t.runs[0], "dev"), new RegExp(`${jobs[0].hash}-dev\\.jsonl: its content does not match the digest`));
});

test("hostile results files: truncated, no runs, metrics null, an edited config — each refused naming the file and the problem", async () => {
  const { dir } = await partialExport();
  const file = path.join(dir, "loss.json");
  const good = fs.readFileSync(file, "utf8");
  const edit = (f: (j: Record<string, unknown> & { runs: Record<string, unknown>[] }) => void) => {
    const j = JSON.parse(good);
    f(j);
    fs.writeFileSync(file, JSON.stringify(j));
  };
  fs.writeFileSync(file, good.slice(0, good.length / 2));
  assert.throws(() => loadResults("loss", dir), /loss\.json: not readable as JSON .*restore it from git/);
  edit((j) => delete (j as Record<string, unknown>).runs);
  assert.throws(() => loadResults("loss", dir), /loss\.json: field runs: /);
  edit((j) => (j.runs[0].metrics = null));
  assert.throws(() => loadResults("loss", dir), /loss\.json: field runs\.0\.metrics: /);
  edit((j) => ((j.runs[0].config as { lr: number }).lr = 0.5));
  // a run that does not prove itself is left out by name, the others kept (issue 35)
  const edited = loadResults("loss", dir)!;
  assert.match(edited.rejected[0].message, /loss\.json: runs\[0\] \(Regular Loss, seed 0, [0-9a-f]{12}\): its config and fingerprints hash to [0-9a-f]{12}, not [0-9a-f]{12} \(the file was edited\)/);
  assert.deepEqual(edited.runs.map((r) => r.variant), ["Weighted Loss"]);
  edit((j) => (j.table = "models"));
  assert.throws(() => loadResults("loss", dir), /holds the models table, not loss/);
  fs.writeFileSync(file, good);
  assert.equal(readResultsFile(file, "loss").runs.length, 2);
});

test("the study grid's config hashes are pinned (shipped results are keyed by them)", () => {
  const { byTable } = reproduceGrid({ tables: ["models", "loss"], preset: "quick", dataDir: STUDY_DATA_DIR, seeds: 5 });
  const models = byTable.get("models")!;
  assert.equal(models.length, 15, "two encoder rows and the n-gram row, 5 seeds each");
  assert.deepEqual(models.slice(10).map((j) => j.config.model), Array(5).fill({ kind: "ngram" }));
  assert.equal(models[0].variant, "tiny (pretrained in-domain)");
  assert.equal(models[0].hash, "0215580f4e56");
  assert.equal(byTable.get("loss")!.find((j) => j.variant === "Regular Loss" && j.seed === 0)!.hash, "251bcd44b080");
});

test("a shipped run is re-made from its config (--config FILE#HASH): the same hash, the same numbers, said so", async () => {
  // the n-gram row: its config leaves the encoder's options out, which a preset must not fill back in
  const grid = gridJobs("models", { preset: "smoke", data: { kind: "dir", dir: STUDY_DATA_DIR }, seeds: [0] });
  const jobs = grid.filter((j) => j.variant === NGRAM_VARIANT);
  const runs = await runJobs(jobs, { runsDir: tmp("ngram-runs"), progress: false });
  const dir = tmp("ngram-results");
  exportResults(dir, { table: "models", grid, runs, command: "test" });
  const ref = `${path.join(dir, "models.json")}#${jobs[0].hash}`;
  assert.equal(shippedRun(ref).config.model.kind, "ngram");
  const log = execFileSync("npx", ["tsx", "src/cli/experiment.ts", "--config", ref], { cwd: ROOT, env: { ...process.env, MEDREL_RUNS_DIR: tmp("remade") } }).toString();
  assert.match(log, new RegExp(`run ${jobs[0].hash} against the shipped run`));
  assert.match(log, /dev: micro-F1 [\d.]+ \(shipped [\d.]+\), macro-F1 [\d.]+ \(shipped [\d.]+\): the same/);
  assert.throws(() => shippedRun(`${path.join(dir, "models.json")}#000000000000`), /models\.json: no run 000000000000 with a config in it; its runs include/);
});

test("exporting every table at once keeps each file's own row names for a run two tables share (no training)", () => {
  // the quick preset's run is the models table's pretrained row, Entity_marked2 and Weighted+Aug: the shipped map
  // holds it under one name, and an export of all tables once wrote that name into every file
  const shipped = shippedRuns();
  for (const table of ["models", "encodings"] as const) {
    const jobs = gridJobs(table, { preset: "quick", data: { kind: "dir", dir: STUDY_DATA_DIR }, seeds: [0, 1, 2, 3, 4] });
    const { runs, missing } = existingRuns(jobs, tmp("no-runs"), shipped);
    assert.equal(missing.length, 0, `${table}: every run is shipped`);
    const dir = tmp("export");
    exportResults(dir, { table, grid: jobs, runs, command: "test" });
    const written = readResultsFile(path.join(dir, `${table}.json`), table).runs;
    const committed = readResultsFile(path.join(ROOT, "results", "study", `${table}.json`), table).runs;
    assert.deepEqual(written.map((r) => [r.hash, r.variant, r.seed]), committed.map((r) => [r.hash, r.variant, r.seed]), table);
  }
});
