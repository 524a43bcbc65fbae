/**
 * Executes every notebook under notebooks/ headless in real Jupyter with the tslab kernel
 * (jupyter nbconvert --execute), in the `smoke` preset, and fails on any error output.
 * Executed copies land in reports/test/notebooks/ so a person can open them (reports/notebooks/ is npm start's, and the
 * notebooks' demo runs go to reports/test/runs/: the suite leaves the checkout's runs/ and reports as it found them).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import * as fs from "node:fs";
import { executeNotebook, exportNotebookHtml, listNotebooks } from "../src/tools/notebooks";
import { renderPage } from "../src/tools/browser";
import { decisionRuleMetrics, predictionsToSplit, quantizeProbs } from "../src/report";
import { loadPredictions } from "../src/runs";
import { loadRun } from "../src/experiments/store";
import { drivePreview } from "./preview-page";

const outDir = path.resolve(__dirname, "..", "reports", "test", "notebooks");
const runsDir = path.resolve(__dirname, "..", "reports", "test", "runs");
const notebooks = listNotebooks();
// a stand-in for results/study (smoke preset, see its README), so the "ours on the study's data" sections run too
const RESULTS = path.resolve(__dirname, "fixtures", "results-smoke");

test("the quickstart and data notebooks exist", () => {
  const names = notebooks.map((n) => path.basename(n));
  assert.ok(names.includes("00_quickstart.ipynb"));
  assert.ok(names.includes("01_data.ipynb"));
});

for (const nb of notebooks) {
  test(`notebook ${path.basename(nb)} executes in Jupyter (tslab) without error outputs`, { timeout: 20 * 60_000 }, async () => {
    const res = await executeNotebook(nb, outDir, { env: { MEDREL_PRESET: "smoke", MEDREL_RESULTS_DIR: RESULTS, MEDREL_RUNS_DIR: runsDir } });
    assert.deepEqual(res.errors, [], `${path.basename(nb)} produced error outputs`);
    assert.ok(res.outputs > 0, `${path.basename(nb)} produced no outputs at all`);
    // tables and charts reach the notebook as rich HTML outputs, not the text fallback
    assert.ok(res.mimeTypes.includes("text/html"), `${path.basename(nb)} showed no HTML output (tslab display not reached)`);
  });
}

test("an executed notebook exported to HTML draws its plotly charts in headless Chromium", { timeout: 5 * 60_000 }, async () => {
  const executed = path.join(outDir, "00_quickstart.ipynb");
  assert.ok(fs.existsSync(executed), "00_quickstart must have been executed first");
  const html = await exportNotebookHtml(executed, outDir);
  const shot = path.resolve(__dirname, "..", "reports", "test", "00_quickstart.png");
  const page = renderPage(html, { screenshot: shot });
  // label distribution, training curves, confusion matrix
  assert.equal(page.charts, 3, "three plotly charts drawn");
  assert.ok(page.marks >= 10, `bars drawn (got ${page.marks} marks)`);
  assert.ok(fs.statSync(shot).size > 10_000, "screenshot written");
  // every code cell shows its execution count, as in Jupyter after Run All
  const text = fs.readFileSync(html, "utf8");
  assert.ok(!/In&nbsp;\[&nbsp;\]:/.test(text), "no In [ ]: prompt");
  assert.match(text, /In&nbsp;\[1\]:/);
});

test("notebook 06 exported to HTML: its decision-rule sliders re-score the unweighted run's saved probabilities in headless Chromium", { timeout: 5 * 60_000 }, async () => {
  const executed = path.join(outDir, "06_class_weights_playground.ipynb");
  assert.ok(fs.existsSync(executed), "06_class_weights_playground must have been executed first");
  const html = await exportNotebookHtml(executed, outDir);
  // the run the preview says it re-scores (its text names the run folder)
  const hash = /the unweighted run ([0-9a-f]{12})/.exec(fs.readFileSync(html, "utf8"))?.[1];
  assert.ok(hash, "the preview names its run");
  const run = loadRun(path.join(runsDir, hash));
  assert.ok(run, `${runsDir}/${hash} exists`);
  const split = run.metrics.test ? "test" : "dev";
  const probs = quantizeProbs(predictionsToSplit(loadPredictions(run.dir, split)));
  const shot = path.resolve(__dirname, "..", "reports", "test", "notebook-06-preview.png");
  // 并发症 (class 4) ×4, 临床表现 (class 0) ×0.25
  const { before, after } = await drivePreview(html, { 4: 2, 0: -2 }, { screenshot: shot });
  const w = [0.25, 1, 1, 1, 4, 1, 1, 1, 1, 1];
  assert.deepEqual(after.weights, w);
  const expected = decisionRuleMetrics(probs, w);
  const base = decisionRuleMetrics(probs, w.map(() => 1));
  after.f1.forEach((f, i) => assert.ok(Math.abs(f - Object.values(expected.per_class)[i].f1) < 1e-12, `class ${i}: page ${f}`));
  assert.ok(Math.abs(after.macro - expected.macro_f1) < 1e-12 && Math.abs(after.micro - expected.micro_f1) < 1e-12);
  assert.ok(Math.abs(before.macro - base.macro_f1) < 1e-12, "before the move: the run's own argmax");
  assert.notEqual(after.macroText, before.macroText, "the display changed");
  assert.match(after.code, /weights: \{"临床表现":0\.25,"并发症":4\}/);
  // the notebook stays small: the preview's probabilities are 1e-4 integers
  const previewBytes = /<div id="medrel-preview[\s\S]*?<\/script>/.exec(fs.readFileSync(html, "utf8"))![0].length;
  assert.ok(previewBytes < 1_000_000, `preview ${previewBytes} bytes`);
});
