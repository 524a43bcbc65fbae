/**
 * Executes every notebook under notebooks/ headless in real Jupyter with the tslab kernel
 * (jupyter nbconvert --execute), in the `smoke` preset, and fails on any error output.
 * Executed copies land in reports/notebooks/ so a person can open them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import * as fs from "node:fs";
import { executeNotebook, exportNotebookHtml, listNotebooks } from "../src/report/notebooks";
import { renderPage } from "../src/report/browser";

const outDir = path.resolve(__dirname, "..", "reports", "notebooks");
const notebooks = listNotebooks();

test("the quickstart and data notebooks exist", () => {
  const names = notebooks.map((n) => path.basename(n));
  assert.ok(names.includes("00_quickstart.ipynb"));
  assert.ok(names.includes("01_data.ipynb"));
});

for (const nb of notebooks) {
  test(`notebook ${path.basename(nb)} executes in Jupyter (tslab) without error outputs`, { timeout: 20 * 60_000 }, async () => {
    const res = await executeNotebook(nb, outDir, { env: { MEDREL_PRESET: "smoke" } });
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
  const shot = path.resolve(__dirname, "..", "reports", "screenshots", "00_quickstart.png");
  const page = renderPage(html, { screenshot: shot });
  // label distribution, training curves, confusion matrix
  assert.equal(page.charts, 3, "three plotly charts drawn");
  assert.ok(page.marks >= 10, `bars drawn (got ${page.marks} marks)`);
  assert.ok(fs.statSync(shot).size > 10_000, "screenshot written");
});
