/** The README's figures are the files' figures: every generated block equals what scripts/readme.ts renders now. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { READMES, baseBlock, renderBlocks, renderReadme, type BaseStepResult } from "../scripts/readme";

test("the READMEs' generated blocks match their source files (run `npm run readme` after re-measuring)", () => {
  const blocks = renderBlocks();
  const texts = READMES.map((f) => fs.readFileSync(f, "utf8"));
  for (const name of blocks.keys()) assert.ok(texts.some((t) => t.includes(`<!-- generated:${name} -->`)), `no README has a block "${name}" for its source file`);
  READMES.forEach((f, i) => assert.equal(renderReadme(texts[i], blocks), texts[i], `${f} differs from its sources: npm run readme`));
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
