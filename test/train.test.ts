import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { Rng } from "../src/random";
import type { Encoded } from "../src/encoding/types";
import {
  AdamW,
  clipByGlobalNorm,
  isNoDecayParam,
  layerwiseLrMultipliers,
  lrMultiplier,
  scheduledLr,
  warmupStepsFor,
  computeClassWeights,
  manualWeights,
  hardClassWeights,
  inverseFrequencyWeights,
  sqrtInverseFrequencyWeights,
  effectiveNumberWeights,
  classCounts,
  STUDY_MANUAL_WEIGHTS,
  bucketedSampler,
  collate,
  createProgress,
  formatEpochLine,
  TrainConfigError,
  train,
  trainConfig,
  predict,
  evaluate,
  hasResumableCheckpoint,
  type TrainConfig,
  type TrainResult,
  type BatchSampler,
} from "../src/train";
import { BertForRelationClassification, SHAPES, loadCheckpoint, type BertConfig } from "../src/model";
import { classificationMetrics } from "../src/metrics";
import { assertClose } from "./helpers";

const fixtures = JSON.parse(readFileSync(path.join(__dirname, "fixtures/train/torch_cases.json"), "utf8")) as {
  adamw: {
    keys: string[];
    shapes: number[][];
    init: number[][];
    lr: number;
    weight_decay: number;
    max_norm: number;
    steps: number;
    warmup: number;
    grads: number[][][];
    lrs: number[];
    norms: number[];
    after: number[][][];
    state: { exp_avg: number[]; exp_avg_sq: number[] }[];
  };
  single_step: { w_after: number[]; b_after: number[] };
  schedules: { step_lr_1e5_gamma05: number[]; linear_2e5_w3_t10: number[] };
  effective_number: { counts: number[]; beta: number; weights: number[] };
};


const ready = initBackend({ verbose: false });

// ---- AdamW ------------------------------------------------------------------------------------

test("AdamW: one step matches the hand-computed update, decay on the weight but not on the bias", async () => {
  await ready;
  const params = new Map<string, tf.Variable>([
    ["classifier.weight", tf.variable(tf.tensor1d([1, -2]))],
    ["classifier.bias", tf.variable(tf.tensor1d([0.5]))],
  ]);
  const opt = new AdamW(params, { lr: 0.01, weightDecay: 0.5 });
  const grads = new Map<string, tf.Tensor>([
    ["classifier.weight", tf.tensor1d([0.2, -0.4])],
    ["classifier.bias", tf.tensor1d([0.1])],
  ]);
  opt.step(grads);
  // step 1: m̂ = g, v̂ = g², so the Adam step is lr·g/(|g| + eps) ≈ lr·sign(g);
  // decay first: w·(1 − lr·wd) = w·0.995, then − 0.01·sign(g)
  const w = await params.get("classifier.weight")!.data();
  const b = await params.get("classifier.bias")!.data();
  assertClose(w, [1 * 0.995 - 0.01, -2 * 0.995 + 0.01], 1e-6, "weight");
  assertClose(b, [0.5 - 0.01], 1e-6, "bias (no decay)");
  assertClose(w, fixtures.single_step.w_after, 1e-6, "weight vs torch");
  assertClose(b, fixtures.single_step.b_after, 1e-6, "bias vs torch");
  assert.equal(opt.stepCount, 1);

  // the same bias WITH decay (rule overridden): 0.5·(1 − 0.01·0.5) − 0.01 = 0.4875
  const p2 = new Map<string, tf.Variable>([["classifier.bias", tf.variable(tf.tensor1d([0.5]))]]);
  const opt2 = new AdamW(p2, { lr: 0.01, weightDecay: 0.5, noDecay: () => false });
  opt2.step(new Map([["classifier.bias", grads.get("classifier.bias")!]]));
  assertClose(await p2.get("classifier.bias")!.data(), [0.4875], 1e-6, "bias with decay");
  for (const m of [params, p2]) for (const v of m.values()) v.dispose();
  for (const g of grads.values()) g.dispose();
  opt.dispose();
  opt2.dispose();
});

test("AdamW + clipping + linear warmup schedule: 5 steps match torch.optim.AdamW", async () => {
  await ready;
  const fx = fixtures.adamw;
  const params = new Map<string, tf.Variable>(
    fx.keys.map((k, i) => [k, tf.variable(tf.tensor(fx.init[i], fx.shapes[i]))]),
  );
  assert.deepEqual(fx.keys.map(isNoDecayParam), [false, true, true]);
  const opt = new AdamW(params, { lr: fx.lr, weightDecay: fx.weight_decay });
  const sched = { schedule: "linear" as const, totalSteps: fx.steps, warmupSteps: fx.warmup };
  for (let s = 0; s < fx.steps; s++) {
    const lr = scheduledLr(fx.lr, sched, s, 0);
    assertClose([lr], [fx.lrs[s]], 1e-12, `lr at step ${s}`);
    const norm = tf.tidy(() => {
      const g = new Map<string, tf.Tensor>(fx.keys.map((k, i) => [k, tf.tensor(fx.grads[s][i], fx.shapes[i])]));
      const clipped = clipByGlobalNorm(g, fx.max_norm);
      opt.step(clipped.grads, lr);
      return clipped.norm;
    });
    assertClose(await norm.data(), [fx.norms[s]], 1e-5, `grad norm at step ${s}`);
    norm.dispose();
    for (let i = 0; i < fx.keys.length; i++) {
      assertClose(await params.get(fx.keys[i])!.data(), fx.after[s][i], 2e-6, `${fx.keys[i]} after step ${s + 1}`);
    }
  }
  const state = await opt.stateTensors();
  fx.keys.forEach((k, i) => {
    assertClose(state.get(`exp_avg.${k}`)!.data, fx.state[i].exp_avg, 1e-5, `exp_avg ${k}`);
    assertClose(state.get(`exp_avg_sq.${k}`)!.data, fx.state[i].exp_avg_sq, 1e-5, `exp_avg_sq ${k}`);
  });
  opt.dispose();
  for (const v of params.values()) v.dispose();
});

test("AdamW state saves and loads: 2 steps + save/load + 2 steps equals 4 steps", async () => {
  await ready;
  const dir = mkdtempSync(path.join(os.tmpdir(), "medrel-adamw-"));
  try {
    const mk = (): Map<string, tf.Variable> =>
      new Map<string, tf.Variable>([
        ["bert.encoder.layer.0.output.dense.weight", tf.variable(tf.tensor2d([[0.1, -0.2], [0.3, 0.4]]))],
        ["bert.encoder.layer.0.output.dense.bias", tf.variable(tf.tensor1d([0.01, -0.02]))],
      ]);
    const grad = (s: number): Map<string, tf.Tensor> =>
      new Map<string, tf.Tensor>([
        ["bert.encoder.layer.0.output.dense.weight", tf.tensor2d([[s, -1], [0.5, 2 - s]])],
        ["bert.encoder.layer.0.output.dense.bias", tf.tensor1d([1 - s, s])],
      ]);
    const a = mk();
    const optA = new AdamW(a, { lr: 0.05, weightDecay: 0.1 });
    for (let s = 0; s < 4; s++) tf.tidy(() => optA.step(grad(s)));

    const b = mk();
    const optB = new AdamW(b, { lr: 0.05, weightDecay: 0.1 });
    for (let s = 0; s < 2; s++) tf.tidy(() => optB.step(grad(s)));
    const file = path.join(dir, "optimizer.safetensors");
    await optB.save(file);
    const optC = new AdamW(b, { lr: 0.05, weightDecay: 0.1 });
    optC.load(file);
    assert.equal(optC.stepCount, 2);
    for (let s = 2; s < 4; s++) tf.tidy(() => optC.step(grad(s)));
    for (const k of a.keys()) assert.deepEqual(await b.get(k)!.data(), await a.get(k)!.data(), k);
    // a file for other parameters is refused with the key named
    const other = new AdamW(new Map([["classifier.bias", tf.variable(tf.zeros([3]))]]), { lr: 1 });
    assert.throws(() => other.load(file), /exp_avg\.classifier\.bias/);
    for (const o of [optA, optB, optC, other]) o.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("decay and layer-wise lr rules follow the HF key", () => {
  assert.equal(isNoDecayParam("bert.embeddings.LayerNorm.weight"), true);
  assert.equal(isNoDecayParam("bert.encoder.layer.3.attention.output.LayerNorm.bias"), true);
  assert.equal(isNoDecayParam("classifier.bias"), true);
  assert.equal(isNoDecayParam("classifier.weight"), false);
  assert.equal(isNoDecayParam("bert.embeddings.word_embeddings.weight"), false);
  const keys = [
    "bert.embeddings.word_embeddings.weight",
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.encoder.layer.1.output.dense.bias",
    "bert.pooler.dense.weight",
    "classifier.weight",
  ];
  // L = 2: embeddings 0.5^3, layer 0 0.5^2, layer 1 0.5, head 1
  const m = layerwiseLrMultipliers(keys, 0.5);
  assert.deepEqual(keys.map((k) => m.get(k)), [0.125, 0.25, 0.5, 1, 1]);
  assert.deepEqual([...layerwiseLrMultipliers(keys, 1).values()], [1, 1, 1, 1, 1]);
  assert.throws(() => layerwiseLrMultipliers(keys, 0), TrainConfigError);
});

// ---- schedules and clipping -------------------------------------------------------------------

test("schedules: linear warmup/decay and StepLR match torch; constant with warmup", () => {
  const lin = { schedule: "linear" as const, totalSteps: 10, warmupSteps: 3 };
  const got = Array.from({ length: 11 }, (_, s) => scheduledLr(2e-5, lin, s, 0));
  assertClose(got, fixtures.schedules.linear_2e5_w3_t10, 1e-12, "linear");
  // by hand: step 1 → 1/3, step 3 → 1, step 5 → (10 − 5)/(10 − 3)
  assertClose([lrMultiplier(lin, 1, 0), lrMultiplier(lin, 3, 0), lrMultiplier(lin, 5, 0)], [1 / 3, 1, 5 / 7], 1e-15, "linear by hand");
  const step = { schedule: "step" as const, totalSteps: 40, warmupSteps: 0, stepGamma: 0.5 };
  const perEpoch = [0, 1, 2, 3].map((e) => scheduledLr(1e-5, step, e * 10 + 7, e));
  assertClose(perEpoch, fixtures.schedules.step_lr_1e5_gamma05, 1e-15, "StepLR");
  const cst = { schedule: "constant" as const, totalSteps: 100, warmupSteps: 4 };
  assert.deepEqual([0, 2, 4, 50, 99].map((s) => lrMultiplier(cst, s, 3)), [0, 0.5, 1, 1, 1]);
  assert.equal(warmupStepsFor(350, 0.1), 35);
  assert.equal(warmupStepsFor(351, 0.1), 36); // HF: ceil
  assert.throws(() => warmupStepsFor(10, 1.5), /warmupRatio/);
});

test("clipping by global norm: scales by maxNorm/(norm + 1e-6) only when above", async () => {
  await ready;
  const [clipped, norm, kept] = tf.tidy(() => {
    const g = new Map<string, tf.Tensor>([
      ["a", tf.tensor1d([3, 0])],
      ["b", tf.tensor2d([[0], [4]])],
    ]);
    const c = clipByGlobalNorm(g, 1);
    const k = clipByGlobalNorm(g, 10);
    return [tf.concat([c.grads.get("a")!, c.grads.get("b")!.flatten()]), c.norm, tf.concat([k.grads.get("a")!, k.grads.get("b")!.flatten()])];
  });
  assertClose(await norm.data(), [5], 1e-7, "norm");
  const coef = 1 / (5 + 1e-6);
  assertClose(await clipped.data(), [3 * coef, 0, 0, 4 * coef], 1e-7, "clipped");
  assertClose(await kept.data(), [3, 0, 0, 4], 0, "unclipped");
  tf.dispose([clipped, norm, kept]);
});

// ---- class weights ----------------------------------------------------------------------------

test("class weights: none, manual (the study's), hard_classes", () => {
  assert.deepEqual(computeClassWeights({ scheme: "none" }), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  const study = [1, 1, 1, 1, 2, 1, 1, 1, 2, 1];
  assert.deepEqual(computeClassWeights({ scheme: "manual", weights: STUDY_MANUAL_WEIGHTS }), study);
  assert.deepEqual(manualWeights({ 并发症: 2, 相关: 2 }), study); // alias spelling of 相关（导致）
  assert.deepEqual(manualWeights(new Map<string | number, number>([[4, 2], [8, 2]])), study);
  assert.deepEqual(manualWeights({ Complication: 3 }, 0.5, 10), [0.5, 0.5, 0.5, 0.5, 3, 0.5, 0.5, 0.5, 0.5, 0.5]);
  assert.throws(() => manualWeights({ 不存在: 2 }), /不存在/);
  // w = 1 + α(1 − F1)
  const f1 = [1, 0.5, 0, 0.8];
  assert.deepEqual(hardClassWeights(f1), [1, 1.5, 2, 1 + 0.2]);
  assertClose(computeClassWeights({ scheme: "hard_classes", perClassF1: f1, alpha: 2 }, 4), [1, 2, 3, 1.4], 1e-15, "alpha 2");
  assert.throws(() => hardClassWeights([1.2]), TrainConfigError);
});

test("class weights: inverse, sqrt_inverse, effective_number (normalised to mean 1)", () => {
  // counts [1, 2, 4]: 1/n = [1, .5, .25], mean 7/12 → [12/7, 6/7, 3/7]
  assertClose(inverseFrequencyWeights([1, 2, 4]), [12 / 7, 6 / 7, 3 / 7], 1e-15, "inverse");
  // counts [1, 4, 16]: 1/√n = [1, .5, .25] → the same
  assertClose(sqrtInverseFrequencyWeights([1, 4, 16]), [12 / 7, 6 / 7, 3 / 7], 1e-15, "sqrt_inverse");
  // β = 0.5, counts [1, 2]: (1−β)/(1−β^n) = [1, 2/3], mean 5/6 → [1.2, 0.8]
  assertClose(effectiveNumberWeights([1, 2], 0.5), [1.2, 0.8], 1e-15, "effective by hand");
  const en = fixtures.effective_number;
  assertClose(computeClassWeights({ scheme: "effective_number", counts: en.counts, beta: en.beta }, 4), en.weights, 1e-12, "effective vs python");
  // an absent class gets 1 and does not enter the normalisation
  assert.deepEqual(inverseFrequencyWeights([2, 0, 2]), [1, 1, 1]);
  assertClose(inverseFrequencyWeights([1, 0, 3]), [1.5, 1, 0.5], 1e-15, "inverse with absent class");
  assert.deepEqual(classCounts([0, 2, 2, 9]), [1, 0, 2, 0, 0, 0, 0, 0, 0, 1]);
  // balanced data: every frequency scheme gives 1s
  assertClose(inverseFrequencyWeights([5, 5, 5]), [1, 1, 1], 1e-15, "balanced");
  assert.throws(() => inverseFrequencyWeights([0, 0]), /all class counts are 0/);
});

// ---- batching ---------------------------------------------------------------------------------

function row(len: number, label = 0, start = 1): Encoded {
  return {
    inputIds: Array.from({ length: len }, (_, i) => start + i),
    tokenTypeIds: new Array<number>(len).fill(0),
    attentionMask: new Array<number>(len).fill(1),
    headPos: 0,
    tailPos: len - 1,
    label,
  };
}

test("collate pads to the batch's longest row with the pad id", () => {
  const set = [row(3, 1), row(5, 2), row(2, 3)];
  const b = collate(set, [0, 2], 7);
  assert.equal(b.seqLen, 3);
  assert.deepEqual([...b.inputIds], [1, 2, 3, 1, 2, 7]);
  assert.deepEqual([...b.attentionMask], [1, 1, 1, 1, 1, 0]);
  assert.deepEqual([...b.labels!], [1, 3]);
  assert.deepEqual([...b.tailPos], [2, 1]);
  const c = collate(set, [1, 0, 2], 0);
  assert.equal(c.seqLen, 5);
  assert.equal(c.inputIds.length, 15);
  assert.deepEqual([...c.inputIds.slice(5, 10)], [1, 2, 3, 0, 0]);
});

test("bucketed sampler: every row once, batches of similar length, shuffled, seeded", () => {
  const rng = new Rng(1);
  const lengths = Array.from({ length: 1000 }, () => 5 + rng.int(200));
  const sampler = bucketedSampler(lengths, { batchSize: 10, chunkBatches: 50 });
  const a = sampler(0, new Rng(7));
  assert.equal(a.length, 100);
  assert.deepEqual(a.flat().sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  // padding: bucketed batches waste far less than random ones
  const waste = (bs: number[][]): number =>
    bs.reduce((s, b) => s + b.length * Math.max(...b.map((i) => lengths[i])) - b.reduce((t, i) => t + lengths[i], 0), 0);
  const random: number[][] = [];
  const perm = new Rng(7).shuffle(lengths.map((_, i) => i));
  for (let s = 0; s < 1000; s += 10) random.push(perm.slice(s, s + 10));
  assert.ok(waste(a) * 5 < waste(random), `bucketed waste ${waste(a)} vs random ${waste(random)}`);
  // batch order is shuffled (not sorted by length)
  const maxLens = a.map((b) => Math.max(...b.map((i) => lengths[i])));
  assert.notDeepEqual(maxLens, [...maxLens].sort((x, y) => x - y));
  assert.deepEqual(sampler(0, new Rng(7)), a);
  assert.notDeepEqual(sampler(1, new Rng(8)), a);
});

// ---- progress ---------------------------------------------------------------------------------

test("progress outside a terminal and a kernel: one line per epoch; notebook falls back", () => {
  const lines: string[] = [];
  const stream = { write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WriteStream;
  for (const mode of ["lines", "notebook"] as const) {
    lines.length = 0;
    const p = createProgress({ mode, stream });
    p.startEpoch(0, 2, 100);
    for (let s = 1; s <= 100; s++) {
      p.update({ epoch: 0, epochs: 2, step: s, stepsInEpoch: 100, globalStep: s, totalSteps: 200, loss: 1, lr: 1e-5, samplesPerSec: 10, epochSeconds: s });
    }
    const summary = { epoch: 0, step: 100, trainLoss: 0.5, devLoss: 0.6, devMacroF1: 0.71, devMicroF1: 0.72, lr: 1e-5, seconds: 65, samplesPerSec: 12.5 };
    p.endEpoch(summary, 2, true);
    p.stop();
    assert.equal(lines.length, 1, mode);
    assert.equal(lines[0], formatEpochLine(summary, 2, true) + "\n");
    assert.match(lines[0], /^epoch 1\/2 step 100 loss 0\.5000 dev_loss 0\.6000 dev_macro_f1 0\.7100 .* 01:05 \*best\n$/);
  }
});

// ---- training on a tiny model -----------------------------------------------------------------

/**
 * An easy synthetic task: the label is which of ten "signal" tokens (10 + label) appears somewhere in a
 * random filler sequence ([CLS]=1 … [SEP]=2, filler 20–59). Balanced over the 10 labels.
 */
function synth(n: number, seed: number): Encoded[] {
  const rng = new Rng(seed);
  const out: Encoded[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 10;
    const len = 6 + rng.int(12);
    const ids = [1];
    for (let j = 1; j < len - 1; j++) ids.push(20 + rng.int(40));
    ids.push(2);
    ids[1 + rng.int(len - 2)] = 10 + label;
    out.push({ inputIds: ids, tokenTypeIds: ids.map(() => 0), attentionMask: ids.map(() => 1), headPos: 1, tailPos: 2, label });
  }
  return out;
}

const TINY: BertConfig = {
  ...SHAPES.tiny,
  vocab_size: 60,
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 32,
};
const trainSet = synth(400, 1);
const devSet = synth(200, 2);
const tinyModel = (): BertForRelationClassification =>
  new BertForRelationClassification(TINY, { numLabels: 10, pooling: "cls", seed: 11 });
const quick = (over: Partial<TrainConfig> = {}): TrainConfig =>
  trainConfig({ epochs: 6, batchSize: 16, lr: 5e-3, warmupRatio: 0.1, seed: 3, evalBatchSize: 64, ...over });

test("a short training beats the majority-class baseline by a wide margin; predict/evaluate agree", async () => {
  await ready;
  const model = tinyModel();
  const res = await train(model, trainSet, devSet, quick(), { progress: false });
  // majority baseline on balanced 10 classes: accuracy 0.1, Macro-F1 = (2·0.1/1.1)/10 ≈ 0.018
  const devLabels = devSet.map((r) => r.label!);
  const majority = classificationMetrics(devLabels, devLabels.map(() => 0));
  const ev = await evaluate(model, devSet, { batchSize: 7 });
  assert.ok(ev.metrics.macro_f1 > 0.6 && ev.metrics.macro_f1 > 20 * majority.macro_f1, `dev Macro-F1 ${ev.metrics.macro_f1}`);
  assert.ok(ev.metrics.accuracy > 0.6, `dev accuracy ${ev.metrics.accuracy}`);
  // the model holds the best epoch's weights
  assert.equal(ev.metrics.macro_f1, res.bestDevMacroF1);
  assert.equal(res.history[res.bestEpoch].devMacroF1, res.bestDevMacroF1);
  assert.equal(res.history.length, 6);
  assert.ok(res.history[5].trainLoss < res.history[0].trainLoss * 0.5, "training loss falls");
  assert.equal(res.totalSteps, 6 * 25);
  // predict: same predictions whatever the batch size, probabilities sum to 1
  const p = await predict(model, devSet, { batchSize: 64 });
  assert.deepEqual(p.preds, ev.preds);
  for (const row of p.probs) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  assertClose(p.probs[17], ev.probs[17], 1e-5, "probs across batch sizes");
  model.dispose();
});

test("memory: tensor count stays flat across training steps and nothing leaks after train()", async () => {
  await ready;
  const model = tinyModel();
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  await train(model, trainSet.slice(0, 160), devSet.slice(0, 40), quick({ epochs: 2 }), {
    progress: false,
    onStep: () => counts.push(tf.memory().numTensors),
  });
  // epoch 0: flat; epoch 1: flat at one more copy of the weights (the best-epoch snapshot)
  const e0 = counts.slice(1, 10);
  const e1 = counts.slice(11);
  assert.ok(e0.every((c) => c === e0[0]), `epoch 0 counts ${e0}`);
  assert.ok(e1.every((c) => c === e1[0]), `epoch 1 counts ${e1}`);
  assert.equal(e1[0] - e0[0], model.params.size);
  assert.equal(tf.memory().numTensors, before, "after train()");
  model.dispose();
});

test("reproducible: same seed and config give identical history and predictions; another seed differs", async () => {
  await ready;
  const run = async (seed: number): Promise<[TrainResult, number[][]]> => {
    const model = tinyModel();
    const r = await train(model, trainSet.slice(0, 200), devSet, quick({ epochs: 2, seed }), { progress: false });
    const p = await predict(model, devSet);
    model.dispose();
    return [r, p.probs];
  };
  const [a, pa] = await run(5);
  const [b, pb] = await run(5);
  const [c] = await run(6);
  const strip = (r: TrainResult): unknown => r.history.map(({ seconds: _s, samplesPerSec: _p, ...rest }) => rest);
  assert.deepEqual(strip(b), strip(a));
  assert.deepEqual(pb, pa);
  assert.notDeepEqual(strip(c), strip(a));
});

test("distillation in train(): a one-hot gold teacher at α = 1, T = 1 is plain CE (same trajectory); a wrong teacher pulls the student away", async () => {
  await ready;
  const sub = trainSet;
  const C = 10;
  const teacherOf = (labelOf: (r: Encoded) => number): Float32Array => {
    const p = new Float32Array(sub.length * C);
    sub.forEach((r, i) => (p[i * C + labelOf(r)] = 1));
    return p;
  };
  const run = async (distill?: TrainConfig["distill"]): Promise<[TrainResult, number[]]> => {
    const model = tinyModel();
    const r = await train(model, sub, devSet, quick({ distill }), { progress: false });
    const ev = await evaluate(model, devSet);
    model.dispose();
    return [r, ev.preds];
  };
  const [plain, pPlain] = await run();
  const [gold, pGold] = await run({ alpha: 1, temperature: 1, teacherProbs: teacherOf((r) => r.label!) });
  plain.history.forEach((h, i) => assert.ok(Math.abs(h.trainLoss - gold.history[i].trainLoss) < 1e-4, `epoch ${i}: ${h.trainLoss} vs ${gold.history[i].trainLoss}`));
  assert.deepEqual(pGold, pPlain);
  // a teacher that always says "label + 1": the student learns the shifted labels, dev accuracy collapses
  const [, pWrong] = await run({ alpha: 1, temperature: 1, teacherProbs: teacherOf((r) => (r.label! + 1) % C) });
  const accOf = (p: number[]): number => p.filter((x, i) => x === devSet[i].label).length / p.length;
  assert.ok(accOf(pWrong) < accOf(pPlain) - 0.3, `wrong teacher ${accOf(pWrong)} vs plain ${accOf(pPlain)}`);
  await assert.rejects(() => train(tinyModel(), sub, devSet, quick({ distill: { alpha: 0.5, temperature: 2, teacherProbs: new Float32Array(10) } }), { progress: false }), /teacherProbs covers 1 rows, trainSet has 400/);
});

test("resume mid-epoch: a run killed between two epoch ends resumes from its last save and equals the straight run", async () => {
  await ready;
  const dir = mkdtempSync(path.join(os.tmpdir(), "medrel-resume-mid-"));
  try {
    const cfg = quick({ epochs: 2, seed: 5, schedule: "linear" });
    const sub = trainSet.slice(0, 160);
    const straight = tinyModel();
    const rs = await train(straight, sub, devSet, cfg, { progress: false });
    const crashed = tinyModel();
    await assert.rejects(
      train(crashed, sub, devSet, { ...cfg, checkpointDir: dir, checkpointEverySteps: 3 }, {
        progress: false,
        onStep: (p) => {
          if (p.epoch === 1 && p.step === 8) throw new Error("killed");
        },
      }),
      /killed/,
    );
    crashed.dispose();
    const state = JSON.parse(readFileSync(path.join(dir, "last", "trainer_state.json"), "utf8")) as { epochsDone: number; stepInEpoch: number };
    assert.deepEqual([state.epochsDone, state.stepInEpoch], [1, 6], "the last save was 6 batches into epoch 2");
    const resumed = new BertForRelationClassification(TINY, { numLabels: 10, pooling: "cls", seed: 999 });
    const notes: string[] = [];
    const recorder = { startEpoch() {}, update() {}, endEpoch() {}, stop() {}, note: (m: string) => void notes.push(m) };
    const rr = await train(resumed, sub, devSet, { ...cfg, checkpointDir: dir, checkpointEverySteps: 3 }, { progress: recorder });
    assert.match(notes.join("\n"), /1\/2 epochs done and 6 batches of epoch 2, step 16/);
    const strip = (r: TrainResult): unknown => r.history.map(({ seconds: _s, samplesPerSec: _p, ...rest }) => rest);
    assert.deepEqual(strip(rr), strip(rs));
    for (const [k, v] of straight.params) assert.deepEqual(await resumed.params.get(k)!.data(), await v.data(), k);
    for (const m of [straight, resumed]) m.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("resume: 1 epoch, crash, resume for the 2nd equals 2 epochs straight (weights, metrics, history)", async () => {
  await ready;
  const dir = mkdtempSync(path.join(os.tmpdir(), "medrel-resume-"));
  try {
    const cfg = quick({ epochs: 3, seed: 9, schedule: "linear" });
    const sub = trainSet.slice(0, 160);
    const straight = tinyModel();
    const rs = await train(straight, sub, devSet, cfg, { progress: false });
    const ps = await predict(straight, devSet);

    const crashed = tinyModel();
    await assert.rejects(
      train(crashed, sub, devSet, { ...cfg, checkpointDir: dir }, {
        progress: false,
        onEpochEnd: (row) => {
          if (row.epoch === 1) throw new Error("simulated crash");
        },
      }),
      /simulated crash/,
    );
    crashed.dispose();
    assert.ok(hasResumableCheckpoint(dir));
    assert.ok(existsSync(path.join(dir, "best", "config.json")));

    // a fresh process would build a fresh model: its own (different) init is overwritten by the checkpoint
    const resumed = new BertForRelationClassification(TINY, { numLabels: 10, pooling: "cls", seed: 999 });
    const notes: string[] = [];
    const recorder = { startEpoch() {}, update() {}, endEpoch() {}, stop() {}, note: (m: string) => void notes.push(m) };
    const rr = await train(resumed, sub, devSet, { ...cfg, checkpointDir: dir }, { progress: recorder });
    assert.equal(rr.resumedFromEpoch, 2);
    assert.match(notes.join("\n"), /resumed from .*2\/3 epochs done, step 20/);
    const strip = (r: TrainResult): unknown => r.history.map(({ seconds: _s, samplesPerSec: _p, ...rest }) => rest);
    assert.deepEqual(strip(rr), strip(rs));
    assert.equal(rr.bestEpoch, rs.bestEpoch);
    assert.deepEqual((await predict(resumed, devSet)).probs, ps.probs);
    for (const [k, v] of straight.params) assert.deepEqual(await resumed.params.get(k)!.data(), await v.data(), k);

    // the same checkpointDir with another config is refused, naming the field
    await assert.rejects(train(tinyModel(), sub, devSet, { ...cfg, lr: 1e-3, checkpointDir: dir }, { progress: false }), /different config \(lr\)/);
    // best/ is a loadable Hugging Face folder holding the best epoch
    const loaded = await loadCheckpoint(path.join(dir, "best"));
    assert.equal(loaded.extra.epoch, rs.bestEpoch);
    assert.deepEqual((await predict(loaded.model, devSet)).preds, ps.preds);
    for (const m of [straight, resumed, loaded.model]) m.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("early stopping on dev Macro-F1 keeps the best epoch; samplers are pluggable per epoch", async () => {
  await ready;
  const model = tinyModel();
  // lr 0: nothing changes, so epoch 0 stays best and patience 2 stops after epoch 2
  const seen: number[][] = [];
  const fixed = (epoch: number): BatchSampler => (_e, rng) => {
    const b = [rng.int(100), 100 + epoch];
    seen.push(b);
    return [b];
  };
  const res = await train(model, trainSet, devSet, quick({ epochs: 6, lr: 0, earlyStoppingPatience: 2, samplerByEpoch: fixed }), {
    progress: false,
  });
  assert.equal(res.history.length, 3);
  assert.equal(res.stoppedEarly, true);
  assert.equal(res.bestEpoch, 0);
  assert.equal(res.totalSteps, 6); // planned, one batch per epoch
  assert.deepEqual(seen.map((b) => b[1]), [100, 101, 102, 103, 104, 105]);
  await assert.rejects(
    train(model, trainSet, devSet, quick({ sampler: () => [[0, 400]] }), { progress: false }),
    /TrainConfig\.sampler: epoch 0: batch 0 holds row 400/,
  );
  await assert.rejects(train(model, trainSet, devSet, quick({ classWeights: [1, 2] }), { progress: false }), /classWeights: has 2 weights/);
  model.dispose();
});
