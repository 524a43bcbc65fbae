/**
 * Effects against encoder strength: each strength folder's comparisons are the readings of that folder, labelled by
 * the checkpoint its runs record; with one folder the views say the second is not run yet and draw nothing for it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { STUDY_RESULTS_DIR, TABLE_NAMES, loadResults, tableComparisonLines } from "../src/experiments";
import { loadStrengths, missingStrengthLine, strengthDirs, strengthEffects, strengthEffectsChart, strengthRows } from "../src/experiments/strengths";

/** A results root holding `names`, each a link to results/study (a stand-in for a second strength). */
function root(names: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-strengths-"));
  for (const n of names) fs.symlinkSync(STUDY_RESULTS_DIR, path.join(dir, n));
  fs.mkdirSync(path.join(dir, "study-empty")); // no table in it: not a strength
  return dir;
}

test("one strength: today's folder, named by its checkpoint; its effects are the readings; the second is said to be missing", () => {
  const strengths = loadStrengths(strengthDirs(root(["study"])));
  assert.equal(strengths.length, 1);
  assert.equal(strengths[0].label, "MLM 5k (data/pretrained/quick)");
  assert.match(missingStrengthLine(strengths)!, /has not been run yet: `npm run reproduce -- --plan results\/study-plan\.json --export results\/study-<name>\/`/);
  const effects = strengthEffects(strengths);
  for (const t of TABLE_NAMES) {
    const r = loadResults(t, STUDY_RESULTS_DIR)!;
    const lines = tableComparisonLines(t, r.records, r.variants);
    assert.deepEqual(effects.filter((e) => e.table === t).map((e) => [e.line.diff, e.line.ci]), lines.map((c) => [c.diff, c.ci]), t);
  }
  // the loss table: the study's own differences as the open diamonds, ours with intervals at the one strength
  const rows = strengthRows("loss", strengths, effects);
  const weighted = rows.find((r) => r.comparison === "Weighted Loss − Regular Loss (Macro-F1)")!;
  assert.equal(weighted.cells[0], "−0.06 [−0.62 … +0.50] rules out");
  assert.ok(Math.abs(weighted.study! - 1.7) < 1e-9);
  const chart = strengthEffectsChart("loss", effects)!;
  assert.deepEqual(chart.data.map((d) => d.name), ["MLM 5k (data/pretrained/quick)", "the study's own value"]);
  assert.deepEqual(chart.data[1].x, ["Weighted Loss − Regular Loss (Macro-F1)", "Weighted Loss − Regular Loss (F1 Range)"]);
  assert.deepEqual((chart.data[1].y as number[]).map((v) => v.toFixed(2)), ["1.70", "-8.28"]);
});

test("two strength folders: one trace and one column each, no line saying the second is missing", () => {
  const strengths = loadStrengths(strengthDirs(root(["study-b", "study"])));
  assert.deepEqual(strengths.map((s) => path.basename(s.dir)), ["study", "study-b"]);
  // the same checkpoint twice stays two strengths, told apart by folder
  assert.deepEqual(strengths.map((s) => s.label), ["MLM 5k (data/pretrained/quick), study/", "MLM 5k (data/pretrained/quick), study-b/"]);
  assert.equal(missingStrengthLine(strengths), undefined);
  const effects = strengthEffects(strengths);
  const rows = strengthRows("encodings", strengths, effects);
  assert.ok(rows.every((r) => r.cells.length === 2 && r.cells[0] === r.cells[1]));
  assert.equal(strengthEffectsChart("encodings", effects)!.data.length, 3);
});
