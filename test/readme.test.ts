/** The README's figures are the files' figures: every generated block equals what scripts/readme.ts renders now. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { README, renderBlocks, renderReadme } from "../scripts/readme";

test("README.md's generated blocks match their source files (run `npm run readme` after re-measuring)", () => {
  const text = fs.readFileSync(README, "utf8");
  const blocks = renderBlocks();
  for (const name of blocks.keys()) assert.match(text, new RegExp(`<!-- generated:${name} -->`), `README.md has no block "${name}" for its source file`);
  assert.equal(renderReadme(text, blocks), text);
});

test("a generated block is replaced whole; a block without a source is left alone", () => {
  const text = "a\n<!-- generated:x -->\nold\n<!-- /generated:x -->\nb\n<!-- generated:y -->\nkeep\n<!-- /generated:y -->\n";
  assert.equal(renderReadme(text, new Map([["x", "new\nlines"]])), "a\n<!-- generated:x -->\nnew\nlines\n<!-- /generated:x -->\nb\n<!-- generated:y -->\nkeep\n<!-- /generated:y -->\n");
});
