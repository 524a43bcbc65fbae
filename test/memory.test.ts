/**
 * Training memory: gradient checkpointing (src/backend/recompute.ts, BertForRelationClassification `recompute`)
 * gives the gradients of the plain path, dropout included, on the WASM kernels and on the composite ops of the cpu
 * backend; the "auto" policy's layer counts for the base model; AdamW's moments outside the WASM heap; lean backprop
 * (src/backend/tape.ts) gives tfjs's own gradients while freeing the upper layers' tensors before backward reaches
 * the bottom.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { setLeanBackprop } from "../src/backend/tape";
import { BertForRelationClassification, layersToRecompute, shapeConfig, type BertConfig, type ModelInputs, type RecomputePolicy } from "../src/model";
import { AdamW, crossEntropy } from "../src/train";

const TINY: BertConfig = {
  ...shapeConfig("tiny", 60),
  hidden_size: 32,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  intermediate_size: 64,
  max_position_embeddings: 16,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
};
const B = 3;
const T = 12;

function inputs(): ModelInputs {
  const ids = Array.from({ length: B * T }, (_, i) => 1 + ((i * 37) % 59));
  const mask = Array.from({ length: B * T }, (_, i) => (i % T < T - (i / T) * 3 ? 1 : 0)); // rows padded 0, 3, 6 tokens
  return {
    inputIds: tf.tensor2d(ids, [B, T], "int32"),
    tokenTypeIds: tf.tensor2d(ids.map((_, i) => (i % T > 5 ? 1 : 0)), [B, T], "int32"),
    attentionMask: tf.tensor2d(mask, [B, T], "int32"),
    headPos: tf.tensor1d([1, 2, 3], "int32"),
    tailPos: tf.tensor1d([4, 5, 2], "int32"),
  };
}

/** The loss and every gradient of one training step (dropout seed fixed), keyed by HF name. */
async function step(recompute: RecomputePolicy, dropoutSeed = 7): Promise<{ loss: number; grads: Map<string, Float32Array>; used: number }> {
  const model = new BertForRelationClassification(TINY, { numLabels: 5, pooling: "entity_start", seed: 3, recompute });
  try {
    const x = inputs();
    const labels = tf.tensor1d([0, 3, 4], "int32");
    const names = new Map([...model.params].map(([k, v]) => [v.name, k]));
    const { value, grads } = tf.variableGrads(
      () => crossEntropy(model.forward(x, { training: true, dropoutSeed }).logits, labels),
      model.trainableVariables(),
    );
    const out = new Map<string, Float32Array>();
    for (const [n, g] of Object.entries(grads)) out.set(names.get(n)!, (await g.data()) as Float32Array);
    const loss = (await value.data())[0];
    tf.dispose([value, labels, ...Object.values(grads), ...Object.values(x)]);
    return { loss, grads: out, used: model.lastRecomputed };
  } finally {
    model.dispose();
  }
}

/** max |a - b| / max |a| over one gradient. */
function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  return m === 0 ? d : d / m;
}

async function checkSameGradients(): Promise<void> {
  const plain = await step(0);
  assert.equal(plain.used, 0);
  for (const k of [1, 3] as const) {
    const rec = await step(k);
    assert.equal(rec.used, k);
    assert.equal(rec.loss, plain.loss, `loss with ${k} recomputed layer(s)`);
    assert.equal(rec.grads.size, plain.grads.size);
    for (const [key, g] of plain.grads) {
      const r = relDiff(g, rec.grads.get(key)!);
      assert.ok(r <= 1e-5, `${key}: relative difference ${r} with ${k} recomputed layer(s)`);
    }
  }
  // the comparison can fail: another dropout seed moves the layer-0 gradients far more than 1e-5
  const other = await step(0, 8);
  const key = "bert.encoder.layer.0.attention.self.query.weight";
  assert.ok(relDiff(plain.grads.get(key)!, other.grads.get(key)!) > 1e-2);
}

test("recomputed layers give the plain path's gradients, dropout on (WASM kernels)", async () => {
  await initBackend({ force: "wasm", verbose: false });
  const before = tf.memory().numTensors;
  await checkSameGradients();
  assert.equal(tf.memory().numTensors, before, "no tensor outlives the step");
});

test("recomputed layers give the plain path's gradients, dropout on (composite ops, cpu backend)", async () => {
  await tf.setBackend("cpu");
  try {
    await checkSameGradients();
  } finally {
    await tf.setBackend("wasm");
  }
});

test('recompute: "auto" keeps every layer while the step fits the WASM heap, and recomputes the fewest that make it fit', () => {
  const base = shapeConfig("base");
  const params = 102_267_658 * 4;
  const heap = 4294901760;
  // on WASM the heap holds the weights when the forward starts (AdamW's moments are host arrays); measured at 16 x 300
  // with none recomputed: peak 3.17 GiB of live tensors (this file's estimate: 3.28 GiB), 3.31 GiB of heap
  const m = { inUse: params, gradBytes: params, limit: heap };
  assert.equal(layersToRecompute(base, 16, 64, m), 0);
  assert.equal(layersToRecompute(base, 16, 300, m), 0);
  assert.equal(layersToRecompute(base, 20, 300, m), 2);
  assert.equal(layersToRecompute(base, 32, 300, m), 7);
  assert.equal(layersToRecompute(base, 16, 300, { ...m, inUse: 2 * params }), 1, "one with a copy of the best weights held");
  assert.equal(layersToRecompute(base, 16, 300, { ...m, inUse: 3 * params }), 3, "three with the moments in the heap too");
  assert.equal(layersToRecompute(base, 64, 512, m), 12, "all of them when even that does not fit");
  assert.equal(layersToRecompute(base, 64, 512, { ...m, limit: Infinity }), 0, "none without a ceiling");
});

test("AdamW keeps its moments outside the WASM heap: its state adds no tensor bytes", async () => {
  await initBackend({ force: "wasm", verbose: false });
  const p = tf.variable(tf.tensor1d([1, -2, 3]));
  const before = tf.memory().numBytes;
  const opt = new AdamW(new Map([["classifier.weight", p]]), { lr: 0.1 });
  try {
    assert.equal(opt.hostMoments, true);
    assert.equal(tf.memory().numBytes, before);
    tf.tidy(() => opt.step(new Map([["classifier.weight", tf.tensor1d([0.5, 0.5, -1])]])));
    const state = await opt.stateTensors();
    // torch.optim.AdamW, step 1: m = (1 - b1) g, v = (1 - b2) g^2 (in float32: 1 - 0.999 is 0.00100005)
    const close = (got: Float32Array, want: number[]): void => want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) <= 1e-4 * Math.abs(w), `${got[i]} vs ${w}`));
    close(state.get("exp_avg.classifier.weight")!.data as Float32Array, [0.05, 0.05, -0.1]);
    close(state.get("exp_avg_sq.classifier.weight")!.data as Float32Array, [0.00025, 0.00025, 0.001]);
    assert.equal(tf.memory().numBytes, before);
  } finally {
    opt.dispose();
    p.dispose();
  }
});

test("recompute rejects what is neither a count nor auto", () => {
  assert.throws(
    () => new BertForRelationClassification(TINY, { numLabels: 5, pooling: "cls", seed: 0, recompute: -1 }),
    /model input "recompute": must be "auto" or a layer count ≥ 0, got -1/
  );
});

/** Gradients of a 6-layer residual MLP, and the bytes live tensors hold beyond its variables when backward reaches its bottom. */
function mlpStep(): { grads: Float32Array[]; bytesAtBottom: number } {
  let bytesAtBottom = -1;
  const probe = tf.customGrad(((x: tf.Tensor) => ({
    value: tf.clone(x),
    gradFunc: (dy: tf.Tensor) => {
      bytesAtBottom = tf.memory().numBytes;
      return tf.clone(dy);
    },
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  const seeded = (shape: number[], seed: number): tf.Variable => tf.tidy(() => tf.variable(tf.randomNormal(shape, 0, 0.1, "float32", seed)));
  const x = seeded([32, 64], 1);
  const ws = Array.from({ length: 6 }, (_, i) => seeded([64, 64], 10 + i));
  const before = tf.memory().numBytes;
  const { grads } = tf.variableGrads(() => {
    let h = probe(x) as tf.Tensor2D;
    for (const w of ws) h = tf.add(h, tf.relu(tf.matMul(h, w)));
    return tf.sum(tf.square(h));
  }, [x, ...ws]);
  const out = [x, ...ws].map((v) => grads[v.name].dataSync() as Float32Array);
  tf.dispose([x, ...ws, ...Object.values(grads)]);
  return { grads: out, bytesAtBottom: bytesAtBottom - before };
}

test("lean backprop: tfjs's own gradients, with the layers above freed before backward reaches the bottom", async () => {
  await initBackend({ force: "wasm", verbose: false });
  try {
    setLeanBackprop(false);
    const stock = mlpStep();
    setLeanBackprop(true);
    const lean = mlpStep();
    stock.grads.forEach((g, i) => assert.deepEqual(lean.grads[i], g, `gradient ${i}`));
    // stock tfjs holds every layer's saved inputs and every intermediate gradient (6 x several [32, 64]) until the end;
    // lean holds the weight gradients made so far (6 x [64, 64]) and the bottom's incoming gradient
    assert.ok(lean.bytesAtBottom > 0 && lean.bytesAtBottom < stock.bytesAtBottom / 2, `${lean.bytesAtBottom} vs ${stock.bytesAtBottom} bytes`);
  } finally {
    setLeanBackprop(true);
  }
});
