/** The README's figures are the files' figures: every generated block equals what scripts/readme.ts renders now. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { READMES, renderBlocks, renderReadme } from "../scripts/readme";

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
