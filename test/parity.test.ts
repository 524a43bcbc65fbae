/**
 * Parity with PyTorch: test/fixtures/parity/make_fixture.py builds a tiny random BERT from torch.nn modules that
 * mirror HF modeling_bert, saves it as model.safetensors AND pytorch_model.bin, and records last hidden states,
 * logits, losses and gradients for a padded batch. We load both files and must reproduce them.
 * make_legacy.py does the same for pytorch_model.bin in the legacy (pre-1.6, non-zip) torch.save format
 * (float32, float16, an old-hub state_dict, tensors saved as views), loaded as a user's folder is.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { describeBackend, initBackend } from "../src/backend/select";
import { RelationTokenizer } from "../src/encoding";
import { loadPretrained, toHfLayout, type ModelInputs, type Pooling } from "../src/model";
import { crossEntropy } from "../src/train/loss";
import { fixtureInputs, maxAbsDiff, maxAbs, type FixtureBatch } from "./helpers";

const FIXTURE = path.join(__dirname, "fixtures/parity");

interface Arr {
  shape: number[];
  data: number[];
}
interface Case {
  pooling: Pooling;
  num_labels: number;
  last_hidden_state: Arr;
  logits: Arr;
  loss: Record<string, number>;
  grads: Record<string, Arr>;
}
interface Expected {
  batch: FixtureBatch & { labels: number[]; class_weights: number[] };
  cases: Case[];
}
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, "expected.json"), "utf8")) as Expected;

/** make_legacy.py's folders: logits only where the file has a classifier (not the old-hub MLM checkpoint) */
interface LegacyCase {
  dir: string;
  pooling: Pooling;
  num_labels: number;
  last_hidden_state: Arr;
  logits?: Arr;
}
const LEGACY = path.join(FIXTURE, "legacy");
const legacy = JSON.parse(fs.readFileSync(path.join(LEGACY, "expected.json"), "utf8")) as { batch: FixtureBatch; cases: LegacyCase[] };

const inputs = (b: FixtureBatch = expected.batch): ModelInputs => fixtureInputs(b);

const disposeInputs = (x: ModelInputs): void => tf.dispose(Object.values(x) as tf.Tensor[]);

/** the weight files a case's folder holds (entity_span has only model.safetensors) */
const weightFiles = (c: Case): string[] => ["model.safetensors", "pytorch_model.bin"].filter((f) => fs.existsSync(path.join(FIXTURE, c.pooling, f)));


async function checkCase(c: Case, weightsFile: string): Promise<void> {
  const dir = path.join(FIXTURE, c.pooling);
  const { model, missingKeys, unexpectedKeys } = await loadPretrained(dir, { numLabels: c.num_labels, pooling: c.pooling, seed: 0, weightsFile });
  assert.deepEqual(missingKeys, [], "every parameter is in the fixture");
  if (c.pooling === "entity_start" && weightsFile === "pytorch_model.bin") {
    assert.equal(unexpectedKeys.filter((k) => k.startsWith("cls.predictions.")).length, 5, "MLM head keys reported");
  } else {
    assert.deepEqual(unexpectedKeys, []);
  }
  const x = inputs();
  const labels = tf.tensor1d(expected.batch.labels, "int32");
  try {
    // forward: hidden states and logits
    const out = model.forward(x, { training: false });
    assert.deepEqual(out.lastHiddenState.shape, c.last_hidden_state.shape);
    assert.deepEqual(out.logits.shape, c.logits.shape);
    const dh = maxAbsDiff(out.lastHiddenState.dataSync(), c.last_hidden_state.data);
    const dl = maxAbsDiff(out.logits.dataSync(), c.logits.data);
    if (process.env.PARITY_VERBOSE) console.log(c.pooling, weightsFile, "hidden", dh, "logits", dl);
    assert.ok(dh <= 1e-4, `${c.pooling}/${weightsFile}: last hidden state max abs error ${dh}`);
    assert.ok(dl <= 1e-4, `${c.pooling}/${weightsFile}: logits max abs error ${dl}`);
    tf.dispose(out);

    // gradients of PyTorch's weighted cross-entropy (weighted mean)
    const vars = model.trainableVariables();
    const { value, grads } = tf.variableGrads(
      () => crossEntropy(model.forward(x, { training: false }).logits, labels, { classWeights: expected.batch.class_weights }),
      vars,
    );
    assert.ok(Math.abs(value.dataSync()[0] - c.loss.weighted_mean) <= 1e-5, `loss ${value.dataSync()[0]} vs ${c.loss.weighted_mean}`);
    const byKey = new Map([...model.params].map(([k, v]) => [v.name, k]));
    const gradByKey = new Map(Object.entries(grads).map(([name, g]) => [byKey.get(name) ?? name, g]));
    for (const [key, exp] of Object.entries(c.grads)) {
      const g = gradByKey.get(key);
      assert.ok(g, `gradient for ${key}`);
      const hf = toHfLayout(key, g.shape, g.dataSync() as Float32Array); // our Linear grads are [in, out]
      assert.deepEqual(hf.shape, exp.shape, `${key} grad shape`);
      const rel = maxAbsDiff(hf.data, exp.data) / maxAbs(exp.data);
      if (process.env.PARITY_VERBOSE) console.log("  grad", key, rel);
      assert.ok(rel <= 1e-3, `${c.pooling}/${weightsFile}: grad ${key} relative error ${rel}`);
    }
    tf.dispose([value, ...Object.values(grads)]);
  } finally {
    disposeInputs(x);
    labels.dispose();
    model.dispose();
  }
}

test("backend", async (t) => {
  const info = await initBackend({ verbose: false });
  assert.ok(["wasm", "cpu", "tensorflow", "tensorflow-gpu"].includes(info.name));
  t.diagnostic(describeBackend(info));
});

test("the fixture covers every pooling", () => {
  assert.deepEqual(expected.cases.map((c) => c.pooling), ["cls", "entity_start", "entity_span"]);
});

for (const c of expected.cases) {
  for (const file of weightFiles(c)) {
    test(`parity ${c.pooling} from ${file} (default backend)`, async () => {
      await initBackend({ verbose: false });
      await checkCase(c, file);
    });
  }
}

test("the parity check can fail: a perturbed weight breaks it", async () => {
  await initBackend({ verbose: false });
  const c = expected.cases[0];
  const { model } = await loadPretrained(path.join(FIXTURE, c.pooling), { numLabels: c.num_labels, pooling: c.pooling, seed: 0 });
  // one weight moved by 0.01 (a bias before LayerNorm would not do: LayerNorm removes a uniform shift)
  const v = model.params.get("bert.encoder.layer.0.attention.self.value.weight")!;
  const vals = v.dataSync().slice();
  vals[5] += 0.01;
  v.assign(tf.tensor(vals, v.shape));
  const x = inputs();
  const logits = model.forward(x, { training: false }).logits;
  assert.ok(maxAbsDiff(logits.dataSync(), c.logits.data) > 1e-4);
  logits.dispose();
  disposeInputs(x);
  model.dispose();
});

/** The path a user's old-hub folder takes (src/experiments/run.ts): tokenizer from the folder, then loadPretrained. */
async function checkLegacy(c: LegacyCase): Promise<void> {
  const dir = path.join(LEGACY, c.dir);
  const tokenizer = RelationTokenizer.fromDir(dir);
  assert.equal(tokenizer.vocabSize, 64, "markers take [unusedN] slots: no resize");
  const res = await loadPretrained(dir, { numLabels: c.num_labels, pooling: c.pooling, seed: 0, vocabSize: tokenizer.vocabSize, ignoreMismatchedHead: true });
  assert.equal(res.weightsFile, path.join(dir, "pytorch_model.bin"));
  if (c.dir === "oldhub") {
    assert.deepEqual(res.missingKeys, ["classifier.weight", "classifier.bias"]);
    assert.deepEqual(res.unexpectedKeys.filter((k) => !k.startsWith("cls.")), [], "every bert.* key used");
    assert.ok(res.unexpectedKeys.includes("cls.predictions.decoder.weight"), "tied decoder reported as unused");
    assert.equal(res.unexpectedKeys.length, 8);
    assert.ok(res.notes.some((n) => /keys renamed to HF BERT names \(gamma\/beta/.test(n)), res.notes.join("; "));
  } else {
    assert.deepEqual([res.missingKeys, res.unexpectedKeys], [[], []]);
  }
  const x = inputs(legacy.batch);
  try {
    const out = res.model.forward(x, { training: false });
    const dh = maxAbsDiff(out.lastHiddenState.dataSync(), c.last_hidden_state.data);
    if (process.env.PARITY_VERBOSE) console.log("legacy", c.dir, "hidden", dh);
    assert.ok(dh <= 1e-4, `legacy ${c.dir}: last hidden state max abs error ${dh}`);
    if (c.logits) {
      const dl = maxAbsDiff(out.logits.dataSync(), c.logits.data);
      if (process.env.PARITY_VERBOSE) console.log("legacy", c.dir, "logits", dl);
      assert.ok(dl <= 1e-4, `legacy ${c.dir}: logits max abs error ${dl}`);
    }
    tf.dispose(out);
  } finally {
    disposeInputs(x);
    res.model.dispose();
  }
}

for (const c of legacy.cases) {
  test(`parity legacy (pre-1.6) pytorch_model.bin: ${c.dir} (${c.pooling})`, async () => {
    await initBackend({ verbose: false });
    await checkLegacy(c);
  });
}

// last: switches the engine to the plain JS backend
test("parity entity_start (pytorch_model.bin) and entity_span on the cpu backend", async () => {
  await initBackend({ force: "cpu", verbose: false });
  assert.equal(tf.getBackend(), "cpu");
  await checkCase(expected.cases[1], "pytorch_model.bin");
  await checkCase(expected.cases[2], "model.safetensors");
});
