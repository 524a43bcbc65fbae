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
import * as os from "node:os";
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";
import { executeNotebook, exportNotebookHtml, listNotebooks, type NotebookJson } from "../src/tools/notebooks";
import { CHROMIUM_FLAGS, chromiumPath, renderPage } from "../src/tools/browser";
import { displayWidth, loadStudyTables } from "../src/report";
import { LABEL_NAMES } from "../src/data/labels";
import { decisionRuleMetrics, predictionsToSplit, quantizeProbs } from "../src/report";
import { loadPredictions } from "../src/runs";
import { loadRun } from "../src/runs/store";
import { drivePreview } from "./preview-page";

const outDir = path.resolve(__dirname, "..", "reports", "test", "notebooks");
const runsDir = path.resolve(__dirname, "..", "reports", "test", "runs");
const notebooks = listNotebooks();
// a stand-in for results/study (smoke preset, see its README), so the "ours on the study's data" sections run too
const RESULTS = path.resolve(__dirname, "fixtures", "results-smoke");
const ROOT = path.resolve(__dirname, "..");

test("the quickstart and data notebooks exist", () => {
  const names = notebooks.map((n) => path.basename(n));
  assert.ok(names.includes("00_quickstart.ipynb"));
  assert.ok(names.includes("01_data.ipynb"));
});

const source = (c: { source: string | string[] }): string => (Array.isArray(c.source) ? c.source.join("") : c.source);
const read = (nb: string): NotebookJson => JSON.parse(fs.readFileSync(nb, "utf8")) as NotebookJson;

test("on a projector: code lines fit 100 columns, outputs are never squeezed into an auto-scroll box, no TeX", () => {
  for (const nb of notebooks) {
    const name = path.basename(nb);
    for (const [i, cell] of read(nb).cells.entries()) {
      if (cell.cell_type === "code") {
        // Notebook 6 scrolls a long output (three heatmaps) in a small box unless the cell says not to
        assert.equal(cell.metadata?.scrolled, false, `${name} cell ${i}: metadata.scrolled must be false`);
        for (const line of source(cell).split("\n")) assert.ok(displayWidth(line) <= 100, `${name} cell ${i}: ${displayWidth(line)} columns: ${line}`);
      } else {
        // the exported HTML carries no MathJax (it would load from /usr/share/javascript): no $…$ in the prose
        assert.doesNotMatch(source(cell), /\$[^$\n]+\$/, `${name} cell ${i}: TeX`);
      }
    }
  }
});

test("notebooks 02–05 render the study's table from data/study-tables.json: one studySection call, no study number typed", () => {
  const study = loadStudyTables();
  const numbers = Object.values(study.tables).flatMap((t) => Object.values(t.rows).flat().map((v) => v.toFixed(2)));
  for (const [file, table] of [["02_models", "models"], ["03_encodings", "encodings"], ["04_weighted_loss", "loss"], ["05_augmentation", "augmentation"]]) {
    const cells = read(path.join(path.dirname(notebooks[0]), `${file}.ipynb`)).cells;
    const code = cells.filter((c) => c.cell_type === "code").map(source);
    assert.deepEqual(code.filter((c) => c.includes("studySection(")), [`const section = await views.studySection("${table}", { preset: PRESET });`], file);
    for (const c of code) assert.doesNotMatch(c, /loadResults|demoTable|showErrorAnalysis|showTableResult/, `${file}: a repeated cell is back`);
    const prose = cells.filter((c) => c.cell_type === "markdown").map(source).join("\n");
    const typed = numbers.filter((n) => prose.includes(n));
    assert.deepEqual(typed, [], `${file}: the study's numbers typed in its prose`);
  }
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

/**
 * A copy of the project as a student's clone has it: what git tracks (the working tree's version), plus what `npm run
 * setup` makes (node_modules, the native build) and dist/, in a folder with no ../shared beside it.
 */
function cloneWithoutSharedData(): string {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-clone-"));
  const clone = path.join(parent, "medrel-notebooks");
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT }).toString().split("\0").filter((f) => f && fs.existsSync(path.join(ROOT, f)));
  for (const f of files) fs.cpSync(path.join(ROOT, f), path.join(clone, f));
  for (const built of ["dist", path.join("src", "backend", "native", "build")]) fs.cpSync(path.join(ROOT, built), path.join(clone, built), { recursive: true });
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(clone, "node_modules"));
  assert.ok(!fs.existsSync(path.join(parent, "shared")), "no ../shared beside the clone");
  return clone;
}

const outputText = (file: string): string =>
  read(file)
    .cells.flatMap((c) => (c as { outputs?: { text?: string | string[]; data?: Record<string, string | string[]> }[] }).outputs ?? [])
    .map((o) => [o.text, o.data?.["text/plain"], o.data?.["text/html"]].map((t) => (Array.isArray(t) ? t.join("") : (t ?? ""))).join(""))
    .join("\n");

test("notebooks 02–05 execute in a clone with no ../shared beside it: the shipped tables show, the sentences say what is missing, the demo runs", { timeout: 40 * 60_000 }, async () => {
  const clone = cloneWithoutSharedData();
  const out = path.join(path.dirname(clone), "executed");
  const env: Record<string, string | undefined> = { MEDREL_PRESET: "smoke", MEDREL_RUNS_DIR: runsDir, MEDREL_RESULTS_DIR: undefined };
  const t0 = Date.now();
  for (const name of ["02_models", "03_encodings", "04_weighted_loss", "05_augmentation"]) {
    const res = await executeNotebook(path.join(clone, "notebooks", `${name}.ipynb`), out, { env: env as Record<string, string> });
    assert.deepEqual(res.errors, [], `${name} produced error outputs in a clone without ../shared`);
    const text = outputText(res.output);
    assert.match(text, /Ours on the study/, `${name}: the shipped section`);
    assert.match(text, /ours on the study(&#39;|')s data \(dev split, % mean ± std over 5 seeds\)/, `${name}: the shipped table`);
    assert.match(text, /no example sentences: the sentences of these predictions are in the dev split of \.\.\/shared\/data, which is not on this machine/, `${name}: what is missing`);
    assert.match(text, /The demo grid: an illustration/, `${name}: the demo section ran`);
    assert.match(text, /ours \((dev|test) split, % mean ± std over \d seeds\) beside the study/, `${name}: the demo table`);
  }
  console.log(`# notebooks 02–05 in a clone without ../shared: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  fs.rmSync(path.dirname(clone), { recursive: true, force: true });
});

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
  // the preview opens on the selection split (the one tuning may look at), not on the reported one
  const probs = quantizeProbs(predictionsToSplit(loadPredictions(run.dir!, "selection")));
  const shot = path.resolve(__dirname, "..", "reports", "test", "notebook-06-preview.png");
  // 并发症 (class 4) ×4, 临床表现 (class 0) ×0.25
  const { before, after } = await drivePreview(html, { 4: 2, 0: -2 }, { screenshot: shot });
  assert.equal(before.split, "selection");
  assert.match(fs.readFileSync(html, "utf8"), new RegExp(`value="${run.metrics.test ? "test" : "dev"}"> \\w+ \\(\\d+ rows, the reported split: look, do not tune\\)`));
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

/** What the page looks like at 1024 × 768 (a projector): measured in Chromium, the way a person would see it. */
const LAYOUT = `(labels) => {
  const out = { tables: 0, cut: [], wideOutputs: 0, wrappedLabels: [], wideCode: [], pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth };
  // an output wider than the page makes the whole output area (prompt and all) scroll sideways: the table is cut at
  // the window's edge until someone finds that scrollbar
  const page = document.documentElement.clientWidth + 0.5;
  for (const o of document.querySelectorAll(".jp-OutputArea-output, .output_subarea")) if (o.getBoundingClientRect().right > page) out.wideOutputs++;
  for (const t of document.querySelectorAll(".jp-OutputArea-output table, .output_subarea table")) {
    out.tables++;
    const area = t.closest(".jp-OutputArea-output, .output_subarea");
    const right = area.getBoundingClientRect().right + 0.5;
    if (t.getBoundingClientRect().right <= right) continue;
    // wider than the output: it must scroll inside its own box, which itself fits the output
    let box = null;
    for (let e = t.parentElement; e && e !== area; e = e.parentElement) {
      const ox = getComputedStyle(e).overflowX;
      if ((ox === "auto" || ox === "scroll") && e.getBoundingClientRect().right <= right && e.clientWidth < e.scrollWidth) { box = e; break; }
    }
    if (!box) out.cut.push((t.textContent || "").slice(0, 60));
  }
  for (const th of document.querySelectorAll("table th")) {
    const text = (th.textContent || "").trim();
    if (!labels.includes(text) || !th.firstChild) continue;
    const range = document.createRange();
    range.selectNodeContents(th);
    if (range.getClientRects().length > 1) out.wrappedLabels.push(text);
  }
  for (const pre of document.querySelectorAll(".jp-InputArea-editor pre, .input_area pre")) {
    if (pre.scrollWidth > pre.clientWidth + 1) out.wideCode.push((pre.textContent || "").slice(0, 60));
  }
  return out;
}`;

test("notebook 06 exported to HTML at 1024 × 768: self-contained, no table cut off, labels on one line, code wrapped", { timeout: 5 * 60_000 }, async () => {
  const executed = path.join(outDir, "06_class_weights_playground.ipynb");
  assert.ok(fs.existsSync(executed), "06_class_weights_playground must have been executed first");
  const html = await exportNotebookHtml(executed, outDir);
  const text = fs.readFileSync(html, "utf8");
  assert.doesNotMatch(text, /\/usr\/share\/javascript|<script[^>]+src="(?!data:)/, "no script loaded from elsewhere");
  const bin = chromiumPath();
  assert.ok(bin, "chromium not found (npm run setup installs Debian's chromium)");
  const browser = await chromium.launch({ executablePath: bin, headless: true, args: CHROMIUM_FLAGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
    await page.goto(`file://${html}`);
    await page.waitForFunction(() => document.querySelectorAll(".js-plotly-plot .main-svg").length >= 4, undefined, { timeout: 60_000 });
    type Layout = { tables: number; cut: string[]; wideOutputs: number; wrappedLabels: string[]; wideCode: string[]; pageOverflow: number };
    const layout = (await page.evaluate(`(${LAYOUT})(${JSON.stringify(LABEL_NAMES)})`)) as Layout;
    const shot = path.resolve(__dirname, "..", "reports", "test", "notebook-06-1024.png");
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(layout.tables >= 4, `tables measured: ${layout.tables}`);
    assert.equal(layout.wideOutputs, 0, "outputs wider than the page");
    assert.deepEqual(layout.cut, [], "tables wider than their output scroll inside their own box");
    assert.deepEqual(layout.wrappedLabels, [], "Chinese class labels stay on one line");
    assert.deepEqual(layout.wideCode, [], "code lines wrap instead of running off");
    assert.ok(layout.pageOverflow <= 0, `the page itself scrolls sideways by ${layout.pageOverflow} px`);
    assert.ok(fs.statSync(shot).size > 50_000, "screenshot written");
  } finally {
    await browser.close();
  }
});
