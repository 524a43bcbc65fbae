/**
 * crossEntropy against PyTorch (the parity fixture's logits and torch.nn.functional.cross_entropy values,
 * from test/fixtures/parity/make_fixture.py) and against a 2-row case worked by hand.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/backend/select";
import { crossEntropy, distillationLoss, LossInputError } from "../src/train/loss";
import { assertClose } from "./helpers";

const expected = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/parity/expected.json"), "utf8")) as {
  batch: { labels: number[]; class_weights: number[] };
  cases: Array<{ logits: { shape: number[]; data: number[] }; loss: Record<string, number> }>;
};

function loss(logits: number[][] | tf.Tensor2D, labels: number[], opts?: Parameters<typeof crossEntropy>[2]): number {
  return tf.tidy(() => {
    const l = logits instanceof tf.Tensor ? logits : tf.tensor2d(logits);
    return crossEntropy(l, tf.tensor1d(labels, "int32"), opts).dataSync()[0];
  });
}


before(async () => {
  await initBackend({ verbose: false });
});

// Two rows by hand: logits [[2, 0, -1], [0.5, 0.5, 0]], labels [0, 2], class weights [1, 1, 3]
//   nll_0 = log(1 + e^-2 + e^-3)           = 0.1698460
//   nll_1 = 0.5 + log(2 + e^-0.5) - 0      = 1.4580201
//   weighted mean = (1*nll_0 + 3*nll_1) / (1 + 3) = 1.1359766  (torch: 1.1359765529632568)
//   mean / N      = (1*nll_0 + 3*nll_1) / 2       = 2.2719531
//   unweighted    = (nll_0 + nll_1) / 2           = 0.8139331
const L = [
  [2, 0, -1],
  [0.5, 0.5, 0],
];
const nll0 = Math.log(1 + Math.exp(-2) + Math.exp(-3));
const nll1 = 0.5 + Math.log(2 + Math.exp(-0.5));

test("hand-computed 2-row case: both reductions and unweighted", () => {
  assertClose(nll0, 0.169846, 1e-6, "nll0 arithmetic", "abs");
  assertClose(loss(L, [0, 2], { classWeights: [1, 1, 3] }), (nll0 + 3 * nll1) / 4, 1e-6, "weighted_mean (default)", "abs");
  assertClose(loss(L, [0, 2], { classWeights: [1, 1, 3], reduction: "weighted_mean" }), 1.1359765529632568, 1e-6, "weighted_mean vs torch", "abs");
  assertClose(loss(L, [0, 2], { classWeights: [1, 1, 3], reduction: "mean" }), (nll0 + 3 * nll1) / 2, 1e-6, "mean / N", "abs");
  assertClose(loss(L, [0, 2]), (nll0 + nll1) / 2, 1e-6, "unweighted", "abs");
  assertClose(loss(L, [0, 2], { classWeights: null, reduction: "mean" }), (nll0 + nll1) / 2, 1e-6, "unweighted mean", "abs");
  // the two reductions really differ when weights are not all 1
  assert.ok(Math.abs(loss(L, [0, 2], { classWeights: [1, 1, 3] }) - loss(L, [0, 2], { classWeights: [1, 1, 3], reduction: "mean" })) > 1);
});

test("PyTorch values on the parity fixture's logits (both poolings)", () => {
  const { labels, class_weights: w } = expected.batch;
  for (const c of expected.cases) {
    const logits = tf.tensor2d(c.logits.data, c.logits.shape as [number, number]);
    assertClose(loss(logits, labels, { classWeights: w }), c.loss.weighted_mean, 2e-6, "weighted_mean", "abs");
    assertClose(loss(logits, labels, { classWeights: w, reduction: "mean" }), c.loss.mean, 2e-6, "mean", "abs");
    assertClose(loss(logits, labels), c.loss.unweighted, 2e-6, "unweighted", "abs");
    assertClose(loss(logits, labels, { classWeights: w, labelSmoothing: 0.1 }), c.loss["weighted_mean_label_smoothing_0.1"], 2e-6, "label smoothing 0.1", "abs");
    assertClose(loss(logits, labels, { classWeights: w, focalGamma: 2 }), c.loss.weighted_mean_focal_gamma_2, 2e-6, "focal gamma 2", "abs");
    logits.dispose();
  }
});

test("focal loss: gamma 0 is cross-entropy, gamma > 0 down-weights easy rows", () => {
  const ce = loss(L, [0, 2]);
  assertClose(loss(L, [0, 2], { focalGamma: 0 }), ce, 1e-7, "gamma 0", "abs");
  const f1 = loss(L, [0, 2], { focalGamma: 1 });
  const f2 = loss(L, [0, 2], { focalGamma: 2 });
  assert.ok(f2 < f1 && f1 < ce, `monotone in gamma: ${f2} < ${f1} < ${ce}`);
  // by hand, row 0 (p = e^-nll0): (1 - p)^2 * nll0
  const p0 = Math.exp(-nll0);
  const p1 = Math.exp(-nll1);
  assertClose(f2, ((1 - p0) ** 2 * nll0 + (1 - p1) ** 2 * nll1) / 2, 1e-6, "focal by hand", "abs");
});

test("label smoothing: eps 0 is CE, eps 1 is the uniform-target loss, confident predictions cost more", () => {
  const ce = loss(L, [0, 2]);
  assertClose(loss(L, [0, 2], { labelSmoothing: 0 }), ce, 1e-7, "eps 0", "abs");
  // eps = 1: target uniform, loss_i = mean_c(-logp_ic)
  const lse0 = 2 + nll0;
  const lse1 = nll1;
  const uniform = ((3 * lse0 - (2 + 0 - 1)) / 3 + (3 * lse1 - (0.5 + 0.5 + 0)) / 3) / 2;
  assertClose(loss(L, [0, 2], { labelSmoothing: 1 }), uniform, 1e-6, "eps 1", "abs");
  // a confident correct prediction costs more with smoothing than without
  const confident = [[10, -10, -10]];
  assert.ok(loss(confident, [0], { labelSmoothing: 0.1 }) > loss(confident, [0]) + 0.5);
});

test("gradient of weighted mean wrt logits is w_y (softmax - onehot) / sum w_y", () => {
  const logits = tf.tensor2d(L);
  const g = tf.grad((x: tf.Tensor) => crossEntropy(x as tf.Tensor2D, tf.tensor1d([0, 2], "int32"), { classWeights: [1, 1, 3] }))(logits);
  const gd = g.arraySync() as number[][];
  const soft = L.map((r) => {
    const m = Math.max(...r);
    const e = r.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
  const wy = [1, 3];
  const y = [0, 2];
  for (let i = 0; i < 2; i++) for (let c = 0; c < 3; c++) assertClose(gd[i][c], (wy[i] * (soft[i][c] - (c === y[i] ? 1 : 0))) / 4, 1e-6, `grad[${i}][${c}]`, "abs");
  tf.dispose([logits, g]);
});

test("clear errors for bad inputs", () => {
  assert.throws(() => loss(L, [0, 3]), (e: unknown) => e instanceof LossInputError && /label 3 at row 1 is outside \[0, 3\)/.test(e.message));
  assert.throws(() => loss(L, [0, 1], { classWeights: [1, 1] }), (e: unknown) => e instanceof LossInputError && /classWeights/.test(e.message));
  assert.throws(() => loss(L, [0]), /labels: expected shape \[2\]/);
  assert.throws(() => loss(L, [0, 1], { labelSmoothing: 1.5 }), /labelSmoothing/);
  assert.throws(() => loss(L, [0, 1], { focalGamma: -1 }), /focalGamma/);
});

test("distillation: (1 − α)·CE + α·T²·KL equals PyTorch (value and gradient, with and without class weights), α = 0 is CE, a perfect student has no soft loss", () => {
  // torch: (1-a)*F.cross_entropy(z, y) + a*T*T*F.kl_div(F.log_softmax(z/T), F.log_softmax(log(pt)/T), 'batchmean', log_target=True)
  const z = [[1.0, -0.5, 2.0, 0.3], [0.2, 0.1, -1.0, 1.5], [-0.7, 2.2, 0.4, 0.0]];
  const pt = [[0.1, 0.2, 0.6, 0.1], [0.25, 0.25, 0.0, 0.5], [0.05, 0.8, 0.1, 0.05]];
  const y = [2, 3, 1];
  const opts = { alpha: 0.7, temperature: 2 };
  const f = (logits: tf.Tensor2D): tf.Scalar => distillationLoss(logits, tf.tensor2d(pt), crossEntropy(logits, tf.tensor1d(y, "int32")), opts);
  const value = tf.tidy(() => f(tf.tensor2d(z)).dataSync()[0]);
  assertClose(value, 0.3253207206726074, 1e-5, "loss", "abs");
  const grad = tf.tidy(() => tf.grad((l: tf.Tensor) => f(l as tf.Tensor2D))(tf.tensor2d(z)).dataSync());
  const want = [0.0649266466498375, -0.04990429803729057, -0.03258367255330086, 0.01756134070456028, -0.013976747170090675, -0.02075083740055561, 0.0631280317902565, -0.028400465846061707, -0.0033549214713275433, -0.040238942950963974, 0.019519532099366188, 0.02407434582710266];
  want.forEach((g, i) => assertClose(grad[i], g, 1e-5, `grad[${i}]`, "abs"));
  // class weights weigh the soft term's rows too (weighted mean, as the hard term)
  const w = [1.0, 2.0, 0.5, 3.0];
  const fw = (logits: tf.Tensor2D): tf.Scalar =>
    distillationLoss(logits, tf.tensor2d(pt), crossEntropy(logits, tf.tensor1d(y, "int32"), { classWeights: w }), opts, {
      classWeights: w,
      labels: tf.tensor1d(y, "int32"),
      reduction: "weighted_mean",
    });
  assertClose(tf.tidy(() => fw(tf.tensor2d(z)).dataSync()[0]), 0.3671279549598694, 1e-5, "weighted loss", "abs");
  const gw = tf.tidy(() => tf.grad((l: tf.Tensor) => fw(l as tf.Tensor2D))(tf.tensor2d(z)).dataSync());
  const wantW = [0.01770726591348648, -0.013610261492431164, -0.008886453695595264, 0.004789456725120544, -0.022871054708957672, -0.033955931663513184, 0.10330040752887726, -0.04647347331047058, -0.003659912385046482, -0.04389702528715134, 0.02129402942955494, 0.02626292034983635];
  wantW.forEach((g, i) => assertClose(gw[i], g, 1e-5, `weighted grad[${i}]`, "abs"));
  const ce = loss(z, y);
  assertClose(tf.tidy(() => distillationLoss(tf.tensor2d(z), tf.tensor2d(pt), tf.scalar(ce), { alpha: 0, temperature: 3 }).dataSync()[0]), ce, 1e-6, "alpha 0", "abs");
  const selfTeacher = tf.tidy(() => tf.softmax(tf.tensor2d(z)).arraySync() as number[][]);
  assertClose(tf.tidy(() => distillationLoss(tf.tensor2d(z), tf.tensor2d(selfTeacher), tf.scalar(0), { alpha: 1, temperature: 2 }).dataSync()[0]), 0, 1e-5, "student = teacher", "abs");
  assert.throws(() => distillationLoss(tf.tensor2d(z), tf.tensor2d([[1, 0, 0, 0]]), tf.scalar(0), opts), (e: unknown) => e instanceof LossInputError && /teacherProbs/.test((e as Error).message));
  assert.throws(() => distillationLoss(tf.tensor2d(z), tf.tensor2d(pt), tf.scalar(0), { alpha: 1.5, temperature: 2 }), /alpha/);
});
