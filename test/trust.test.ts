/**
 * Trust nothing unverified (issue 26): what a careless or hostile user does to the run store, to checkpoints and to
 * the files a hash is made of. Each test reproduces the input and asserts the message (file, field, numbers) and
 * that nothing of the user's was lost.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { configHash, dataFingerprint, modelFingerprint, presetConfig, type ExperimentConfig } from "../src/experiments";

const ROOT = path.resolve(__dirname, "..");
const CLS = path.join(ROOT, "test", "fixtures", "parity", "cls");
const tmp = (name: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `medrel-trust-${name}-`));

test("fingerprints: files under 16 MiB hash exactly as before (pinned), so shipped runs keep their config hashes", () => {
  // the values the sampled-fingerprint code gave; the whole-file digest must give the same for small files
  assert.equal(modelFingerprint(CLS), "73a83e078e092f57");
  const files = { kind: "files", train: path.join(CLS, "config.json"), dev: path.join(CLS, "model.safetensors") } as const;
  assert.equal(dataFingerprint(files), "7aa81a22c43f99bf");
  assert.equal(dataFingerprint({ kind: "demo" }), "b5e7c3c0dfb0a223");
  assert.equal(configHash(presetConfig("smoke")), "d3c26aebb740");
  assert.equal(configHash(presetConfig("quick")), "1ba8c3fda4c6");
  const cfg: ExperimentConfig = { ...presetConfig("smoke"), data: { ...files, test: path.join(CLS, "pytorch_model.bin") } };
  assert.equal(configHash(cfg), "696ba257a0ad");
});

test("fingerprints read every byte: 17 labels changed in the middle of a 17.9 MB train file name a new run", () => {
  const dir = tmp("big");
  const row = (i: number, r: string): string => JSON.stringify({ id: String(i), sentence: "糖尿病患者可出现口渴和乏力，需要长期随访观察", h: "糖尿病", t: "口渴", r });
  const n = 17.9e6 / (row(0, "临床表现").length + 1);
  const lines = Array.from({ length: Math.ceil(n) }, (_, i) => row(i, "临床表现"));
  const train = path.join(dir, "train.jsonl");
  const dev = path.join(dir, "val.jsonl");
  fs.writeFileSync(train, lines.join("\n") + "\n");
  fs.writeFileSync(dev, lines.slice(0, 10).join("\n") + "\n");
  assert.ok(fs.statSync(train).size > 16 * 2 ** 20, "over 16 MiB: the size that used to be sampled");
  const spec = { kind: "files", train, dev } as const;
  const before = dataFingerprint(spec);
  const mid = Math.floor(lines.length / 2);
  for (let k = 0; k < 17; k++) lines[mid + k] = row(mid + k, "病理分型"); // same byte length: the size does not change
  fs.writeFileSync(train, lines.join("\n") + "\n");
  const later = new Date(fs.statSync(dev).mtimeMs + 5000); // a distinct mtime even on a coarse clock
  fs.utimesSync(train, later, later);
  const after = dataFingerprint(spec);
  assert.notEqual(after, before, "a change in the middle is seen");
  assert.equal(dataFingerprint(spec), after, "stable (and memoised) for an unchanged file");
});
