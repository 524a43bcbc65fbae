/**
 * The README's figures are the files' figures: every generated block (README.md, the checkpoint's README, each
 * notebook's time in its header) equals what scripts/readme.ts renders now.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { RENDERED, baseBlock, renderBlocks, renderNotebook, renderReadme, type BaseStepResult } from "../scripts/readme";
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

test("the base block's caption names the CPU, OpenBLAS's core and who chose it, and denormal flushing", () => {
  const r: BaseStepResult = {
    command: "npm run bench:base -- --batch 16 --seq 300",
    date: "2026-12-06T10:00:00.000Z",
    machine: { cpu: "Intel(R) Xeon(R) Platinum 8480C CPU @ 2.00GHz", cores: 2, memoryGiB: 7.7, loadAverageAtStart: [0.3], env: { OPENBLAS_L2_SIZE: "512", MEDREL_BLAS_THREADS: "2" } },
    model: { shape: "base (L=12, H=768, 12 heads, I=3072)", parameters: 102_275_338 },
    flags: { batch: 16, seq: 300 },
    threads: 2,
    secondsPerStep: 13.8,
    peakRssGiB: 4.3,
    heapLimitGiB: 4,
    memoryStrategy: "every tensor in the WASM heap",
    blas: "OpenBLAS 0.3.21 DYNAMIC_ARCH; core Cooperlake; 2 thread(s)",
    blasCore: { source: "medrel", core: "Cooperlake", fallback: "Prescott" },
    denormalsFlushed: true,
    variants: [{ cpuSecondsPerStep: 27, peakLiveGiB: 3.18, timedSteps: [2, 3, 4] }],
  };
  assert.equal(
    baseBlock(r).split("\n")[4],
    "Median of timed steps 2, 3, 4 (the first is warm-up); measured 2026-12-06 on Intel(R) Xeon(R) Platinum 8480C CPU @ 2.00GHz, 2 cores, 7.7 GiB (load average 0.3 at the start), " +
      "OpenBLAS core Cooperlake (selected by medrel (OpenBLAS 0.3.21 would fall back to Prescott)), denormals flushed to zero, environment OPENBLAS_L2_SIZE=512, " +
      "by `npm run bench:base -- --batch 16 --seq 300` (bench/results/base-step.json).",
  );
  // a file from before bench:base recorded them says so rather than guessing
  const { blasCore: _c, denormalsFlushed: _d, ...old } = r;
  assert.match(baseBlock({ ...old, blas: "OpenBLAS 0.3.21; core Haswell; 2 thread(s)" }), /OpenBLAS core Haswell \(who chose it not recorded\), denormals: not recorded,/);
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
  assert.deepEqual(out.cells[0].source, ["# t\n", "<!-- generated:x -->\n", "\n", "new\n", "lines\n", "\n", "<!-- /generated:x -->"]);
  assert.deepEqual(out.cells[1].source, nb.cells[1].source);
  assert.equal(renderNotebook(text, new Map()), text, "nothing to render: the bytes are kept");
});

test("every notebook's header says how long it takes, from bench/results/times.json", () => {
  const times = readTimes(COMMITTED_TIMES).entries;
  for (const nb of listNotebooks()) {
    const name = path.basename(nb, ".ipynb");
    const first = (JSON.parse(fs.readFileSync(nb, "utf8")) as { cells: { source: string[] }[] }).cells[0].source.join("");
    assert.match(first, new RegExp(`<!-- generated:time-${name} -->\\n\\n\\*Time to run it: [^\\n]*\\*\\n\\n<!-- /generated`), `${name}: its first cell carries its time, blank lines around it`);
    const smoke = times.find((e) => e.step === `notebook ${name}` && e.preset === "smoke");
    assert.ok(smoke, `${name}: measured under smoke`);
    const s = Math.round(smoke.seconds);
    const shown = s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
    assert.ok(first.includes(`${shown} with \`MEDREL_PRESET=smoke\``), `${name}: ${shown} under smoke in its header`);
  }
});
