/**
 * The README's figures are the files' figures: every generated block (README.md, the checkpoint's README, each
 * notebook's time in its header) equals what scripts/readme.ts renders now.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { RENDERED, renderBlocks, renderNotebook, renderReadme } from "../scripts/readme";
import { listNotebooks } from "../src/tools/notebooks";
import { COMMITTED_TIMES, readTimes } from "../src/tools/times";

test("the READMEs' and notebooks' generated blocks match their source files (run `npm run readme` after re-measuring)", () => {
  const blocks = renderBlocks();
  const texts = RENDERED.map(({ file }) => fs.readFileSync(file, "utf8"));
  for (const name of blocks.keys()) assert.ok(texts.some((t) => t.includes(`<!-- generated:${name} -->`)), `no README or notebook has a block "${name}" for its source file`);
  RENDERED.forEach(({ file, render }, i) => assert.equal(render(texts[i], blocks), texts[i], `${file} differs from its sources: npm run readme`));
});

test("a generated block is replaced whole; a block without a source is left alone", () => {
  const text = "a\n<!-- generated:x -->\nold\n<!-- /generated:x -->\nb\n<!-- generated:y -->\nkeep\n<!-- /generated:y -->\n";
  assert.equal(renderReadme(text, new Map([["x", "new\nlines"]])), "a\n<!-- generated:x -->\nnew\nlines\n<!-- /generated:x -->\nb\n<!-- generated:y -->\nkeep\n<!-- /generated:y -->\n");
});

test("a notebook's block is rendered inside its markdown cell, as Jupyter's lines; code cells are left alone", () => {
  const nb = {
    cells: [
      { cell_type: "markdown", metadata: {}, source: ["# t\n", "<!-- generated:x -->\n", "old\n", "<!-- /generated:x -->"] },
      { cell_type: "code", metadata: {}, source: ["// <!-- generated:x -->\n", "<!-- /generated:x -->"], outputs: [], execution_count: null },
    ],
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5,
  };
  const text = JSON.stringify(nb, null, 1) + "\n";
  const out = JSON.parse(renderNotebook(text, new Map([["x", "new\nlines"]])));
  assert.deepEqual(out.cells[0].source, ["# t\n", "<!-- generated:x -->\n", "new\n", "lines\n", "<!-- /generated:x -->"]);
  assert.deepEqual(out.cells[1].source, nb.cells[1].source);
  assert.equal(renderNotebook(text, new Map()), text, "nothing to render: the bytes are kept");
});

test("every notebook's header says how long it takes, from bench/results/times.json", () => {
  const times = readTimes(COMMITTED_TIMES).entries;
  for (const nb of listNotebooks()) {
    const name = path.basename(nb, ".ipynb");
    const first = (JSON.parse(fs.readFileSync(nb, "utf8")) as { cells: { source: string[] }[] }).cells[0].source.join("");
    assert.match(first, new RegExp(`<!-- generated:time-${name} -->\\n\\*Time to run it: `), `${name}: its first cell carries its time`);
    const smoke = times.find((e) => e.step === `notebook ${name}` && e.preset === "smoke");
    assert.ok(smoke, `${name}: measured under smoke`);
    const s = Math.round(smoke.seconds);
    const shown = s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
    assert.ok(first.includes(`${shown} with \`MEDREL_PRESET=smoke\``), `${name}: ${shown} under smoke in its header`);
  }
});
