/**
 * Error analysis (src/report/errors.ts) on a hand-made run folder: the most confused pairs, the misclassified
 * sentences of a pair with their probabilities, the entity highlighting and its HTML escaping; and the saved
 * predictions' loader refusing a bad row by file, line and field.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LABEL_NAMES } from "../src/data/labels";
import { classificationMetrics } from "../src/metrics";
import { loadPredictions, PredictionsFileError, type RunRecord } from "../src/runs";
import { errors, errorAnalysisHtml, worstPairs, sumConfusion, confusedPairs, confusedPairsTable, highlightEntities } from "../src/report";

/** A hand-made run folder as a run record: only what the error analysis reads when told the split (its folder and name). */
const fromFolder = (dir: string) => ({ hash: path.basename(dir), dir }) as RunRecord;

const I = (zh: string): number => LABEL_NAMES.indexOf(zh as (typeof LABEL_NAMES)[number]);

/** probabilities with `top` on the predicted class and `second` on another, the rest spread evenly */
function probs(pred: string, top: number, other: string, second: number): number[] {
  const rest = (1 - top - second) / 8;
  return LABEL_NAMES.map((l) => (l === pred ? top : l === other ? second : rest));
}

// gold → pred by hand: 并发症→临床表现 ×3 (a1, a2, a7), 相关（导致）→病因 ×1 (a4), 临床表现→并发症 ×1 (a8); 3 correct
const ROWS = [
  { id: "a1", sentence: "头痛可引起呕吐，头痛加重。", h: "头痛", t: "呕吐", label: "并发症", pred: "临床表现", probs: probs("临床表现", 0.6, "并发症", 0.3) },
  { id: "a2", sentence: "糖尿病可并发肾病。", h: "糖尿病", t: "肾病", label: "并发症", pred: "临床表现", probs: probs("临床表现", 0.5, "并发症", 0.4) },
  { id: "a3", sentence: "肝硬化可并发腹水。", h: "肝硬化", t: "腹水", label: "并发症", pred: "并发症", probs: probs("并发症", 0.7, "临床表现", 0.2) },
  { id: "a4", sentence: "吸烟与肺癌相关。", h: "肺癌", t: "吸烟", label: "相关（导致）", pred: "病因", probs: probs("病因", 0.55, "相关（导致）", 0.35) },
  { id: "a5", sentence: "感冒表现为发热。", h: "感冒", t: "发热", label: "临床表现", pred: "临床表现", probs: probs("临床表现", 0.9, "并发症", 0.05) },
  { id: "a6", sentence: "流感由病毒引起。", h: "流感", t: "病毒", label: "病因", pred: "病因", probs: probs("病因", 0.8, "相关（导致）", 0.1) },
  { id: "a7", sentence: "<script>alert(1)</script>胃炎 & 胃痛", h: "胃炎", t: "胃痛", label: "并发症", pred: "临床表现", probs: probs("临床表现", 0.45, "并发症", 0.44) },
  { id: "a8", sentence: "高血压伴头晕。", h: "高血压", t: "头晕", label: "临床表现", pred: "并发症", probs: probs("并发症", 0.5, "临床表现", 0.4) },
];

function runFolder(rows: readonly object[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-errors-"));
  fs.writeFileSync(path.join(dir, "predictions-test.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return dir;
}

test("worstPairs: off-diagonal counts, most first, ties in label order, rate = % of the gold class", () => {
  const m = classificationMetrics(ROWS.map((r) => I(r.label)), ROWS.map((r) => I(r.pred)));
  const pairs = worstPairs(m, 5);
  assert.deepEqual(
    pairs.map((p) => [p.gold, p.pred, p.count, p.rate]),
    [
      ["并发症", "临床表现", 3, 75], // 3 of the 4 并发症 rows
      ["临床表现", "并发症", 1, 50], // 1 of 2
      ["相关（导致）", "病因", 1, 100], // 1 of 1
    ],
  );
  assert.equal(worstPairs(m, 1).length, 1);
  // two seeds are summed cell by cell
  assert.deepEqual(worstPairs([m, m], 1)[0], { gold: "并发症", pred: "临床表现", count: 6, rate: 75 });
  assert.equal(sumConfusion([m, m])[I("并发症")][I("临床表现")], 6);
  const df = confusedPairsTable(pairs);
  assert.deepEqual(df.column("% of gold").values, ["75.00", "50.00", "100.00"]);
  assert.deepEqual(df.column("gold").values[0], "并发症 Complication");
});

test("errors: the pair's rows, most confident mistake first, with P(gold) and P(pred), from a run folder", () => {
  const dir = runFolder(ROWS);
  try {
    const ex = errors(fromFolder(dir), { gold: "Complication", pred: "临床表现", split: "test", limit: 2 });
    assert.equal(ex.gold, "并发症");
    assert.equal(ex.pred, "临床表现");
    assert.equal(ex.total, 3);
    assert.equal(ex.goldRows, 4);
    assert.deepEqual(ex.rows.map((r) => [r.id, r.pGold, r.pPred]), [
      ["a1", 0.3, 0.6],
      ["a2", 0.4, 0.5],
    ]);
    assert.match(ex.html, /3 of 4 test rows \(the 2 most confident shown\)/);
    assert.match(ex.html, /<td[^>]*>0\.30<\/td><td[^>]*>0\.60<\/td>/);
    // 相关 is an accepted spelling of 相关（导致）
    assert.deepEqual(errors(fromFolder(dir), { gold: "相关", pred: "Etiology", split: "test" }).rows.map((r) => r.id), ["a4"]);
    assert.throws(() => errors(fromFolder(dir), { gold: "Complications", pred: "病因", split: "test" }), /unknown gold label "Complications"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("errors: a <script> in a sentence is escaped, never run", () => {
  const dir = runFolder(ROWS);
  try {
    const ex = errors(fromFolder(dir), { gold: "并发症", pred: "临床表现", split: "test" });
    assert.equal(ex.rows.length, 3);
    assert.equal(ex.rows[2].id, "a7");
    assert.ok(!ex.html.includes("<script"), "no raw <script> tag");
    assert.ok(ex.html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"), "the text is shown escaped");
    assert.ok(ex.html.includes(" &amp; "), "& escaped");
    const all = errorAnalysisHtml(fromFolder(dir), { split: "test", pairs: 3, examples: 5 });
    assert.ok(!all.includes("<script"));
    // the worst-pairs table and one example table per pair
    assert.equal((all.match(/class="medrel-errors"/g) ?? []).length, 3);
    assert.match(all, /most confused pairs of run medrel-errors-\w+, test split \(8 rows\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("errorAnalysisHtml over several seeds: pairs from the summed matrix (as its heatmap shows), each sentence once with how many runs", () => {
  // seed 0: the hand-made run; seed 1: the same but a1 right. Summed: 并发症→临床表现 3 + 2 = 5, 相关（导致）→病因 1 + 1 = 2
  const seed1 = ROWS.map((r) => (r.id === "a1" ? { ...r, pred: "并发症", probs: probs("并发症", 0.6, "临床表现", 0.3) } : r));
  const dirs = [runFolder(ROWS), runFolder(seed1)];
  try {
    const gold = (rows: typeof ROWS) => rows.map((r) => I(r.label));
    const pred = (rows: typeof ROWS) => rows.map((r) => I(r.pred));
    const summed = sumConfusion([classificationMetrics(gold(ROWS), pred(ROWS)), classificationMetrics(gold(seed1), pred(seed1))]);
    assert.equal(summed[I("并发症")][I("临床表现")], 5);
    const html = errorAnalysisHtml(dirs.map((dir) => fromFolder(dir)), { split: "test", pairs: 3, examples: 5 });
    assert.match(html, /most confused pairs summed over 2 runs \(as in the confusion matrix\), test split \(16 rows\)/);
    // the pairs table is the summed matrix's: 并发症→临床表现 5 (of 8 gold rows: 62.50%) first
    assert.match(html, /并发症 Complication<\/td><td[^>]*>临床表现 Clinical Manifestation<\/td><td[^>]*>5<\/td><td[^>]*>62\.50<\/td>/);
    assert.match(html, /gold 并发症 Complication → predicted 临床表现 Clinical Manifestation: 5 of 8 test rows over 2 runs/);
    // a2 and a7 were mistaken by both runs, a1 by one: listed once each, most runs first
    const rows = [...html.matchAll(/<tr><td[^>]*>(a\d)<\/td>[\s\S]*?<td[^>]*>(\d) of 2<\/td><\/tr>/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(rows.slice(0, 3), [["a2", "2"], ["a7", "2"], ["a1", "1"]]);
    // the study's hard classes: what each is taken for most
    assert.deepEqual(confusedPairs(summed, { pairs: 1, golds: ["并发症", "相关"] }).map((p) => [p.gold, p.pred, p.count]), [
      ["并发症", "临床表现", 5],
      ["相关（导致）", "病因", 2],
    ]);
    const hard = errorAnalysisHtml(dirs.map((dir) => fromFolder(dir)), { split: "test", pairs: 1, golds: ["并发症", "相关（导致）"] });
    assert.equal((hard.match(/class="medrel-errors"/g) ?? []).length, 2);
    assert.doesNotMatch(hard, /gold 临床表现/);
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});

test("highlightEntities: every mention of head and tail in its own colour, the longer mention wins an overlap", () => {
  const head = (s: string) => `<mark class="medrel-head" style="background:#ffd166;border-radius:3px;padding:0 2px">${s}</mark>`;
  const tail = (s: string) => `<mark class="medrel-tail" style="background:#9bd0ff;border-radius:3px;padding:0 2px">${s}</mark>`;
  assert.equal(highlightEntities("头痛可引起呕吐，头痛加重。", "头痛", "呕吐"), `${head("头痛")}可引起${tail("呕吐")}，${head("头痛")}加重。`);
  assert.equal(highlightEntities("慢性胃炎即胃炎", "胃炎", "慢性胃炎"), `${tail("慢性胃炎")}即${head("胃炎")}`);
  assert.equal(highlightEntities("a<b>", "<b>", "z"), `a${head("&lt;b&gt;")}`);
});

test("loadPredictions names the file, line and field of a bad row", () => {
  const dir = runFolder([ROWS[0], { ...ROWS[1], probs: "0.5" }]);
  try {
    assert.throws(
      () => loadPredictions(dir, "test"),
      (e: unknown) => e instanceof PredictionsFileError && e.message === `${path.join(dir, "predictions-test.jsonl")}:2: field "probs" must be an array of numbers`,
    );
    assert.throws(() => loadPredictions(dir, "dev"), /predictions-dev\.jsonl: not found \(the run has no dev predictions\)/);
    fs.writeFileSync(path.join(dir, "predictions-dev.jsonl"), `${JSON.stringify(ROWS[0])}\n{"id": 3}\n`);
    assert.throws(() => loadPredictions(dir, "dev"), /predictions-dev\.jsonl:2: field "id" must be a string, got 3/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
