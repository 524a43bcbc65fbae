/**
 * bf16 products (src/backend/precision.ts, pool.c): a linear layer's forward and gradients and an attention head's
 * products against PyTorch with bfloat16-rounded operands summed in float64 (test/fixtures/backend/
 * make_precision_fixture.py); float32 again after; the emulated engine (rounded operands through OpenBLAS) agrees.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { cpuHasBf16, initBackend, linear, loadNative, nativeKernelsActive, selfAttention, usePrecision, type Precision } from "../src/backend";
import { maxAbs, maxAbsDiff } from "./helpers";

const FIX = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "backend", "precision.json"), "utf8")) as {
  linear: { rows: number; in: number; out: number; x: number[]; W: number[]; b: number[]; dy: number[]; db: number[] } & Record<`${"y" | "dx" | "dW"}_${"bf16" | "f32"}`, number[]>;
  attention: { T: number; D: number; q: number[]; k: number[]; v: number[]; ctx_bf16: number[]; ctx_f32: number[] };
};
const addon = loadNative().addon;
const emulate = process.env.MEDREL_BF16_EMULATE === "1";

/** float32 summation of up to 48 terms: far below the bf16 rounding the references differ by */
const TOL = 2e-5;

function linearAt(p: Precision): { y: Float32Array; dx: Float32Array; dW: Float32Array; db: Float32Array } {
  const L = FIX.linear;
  usePrecision(p);
  try {
    return tf.tidy(() => {
      const x = tf.tensor2d(L.x, [L.rows, L.in]);
      const W = tf.tensor2d(L.W, [L.in, L.out]);
      const b = tf.tensor1d(L.b);
      const dy = tf.tensor2d(L.dy, [L.rows, L.out]);
      const y = linear(x, W, b);
      const [dx, dW, db] = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(linear(xx, ww, bb), dy)))([x, W, b]);
      return { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array, dW: dW.dataSync() as Float32Array, db: db.dataSync() as Float32Array };
    });
  } finally {
    usePrecision("f32");
  }
}

function attentionAt(p: Precision): Float32Array {
  const A = FIX.attention;
  usePrecision(p);
  try {
    return tf.tidy(() => {
      const [q, k, v] = [A.q, A.k, A.v].map((d) => tf.tensor2d(d, [A.T, A.D]));
      return selfAttention(q, k, v, null, { heads: 1, batch: 1 }).dataSync() as Float32Array;
    });
  } finally {
    usePrecision("f32");
  }
}

/** within TOL (relative to the reference's largest entry) of `want`, and further than 10 TOL from `other` */
function near(got: ArrayLike<number>, want: number[], other: number[], what: string): void {
  const scale = Math.max(1, maxAbs(want));
  const d = maxAbsDiff(got, want) / scale;
  assert.ok(d < TOL, `${what}: ${d.toExponential(2)} from PyTorch`);
  assert.ok(maxAbsDiff(want, other) / scale > 10 * TOL, `${what}: the fixture's two precisions are too close to tell apart`);
}

test("setup: native kernels", { skip: !addon }, async () => {
  await initBackend({ force: "wasm", verbose: false });
  assert.ok(nativeKernelsActive());
});

test(`bf16 (${emulate ? "emulated" : "the CPU's engine"}): the engine in use is the CPU's (oneDNN with AVX512_BF16 / AMX, else emulated)`, { skip: !addon }, () => {
  const used = usePrecision("bf16");
  usePrecision("f32");
  assert.equal(used.engine, cpuHasBf16() && !emulate ? "bf16" : "bf16-emulated", used.detail);
  assert.equal(usePrecision("f32").engine, "f32");
});

test("bf16: linear forward, dx and dW equal PyTorch's products of bfloat16-rounded operands; db (a sum, no product) stays float32", { skip: !addon }, () => {
  const L = FIX.linear;
  const r = linearAt("bf16");
  near(r.y, L.y_bf16, L.y_f32, "y");
  near(r.dx, L.dx_bf16, L.dx_f32, "dx");
  near(r.dW, L.dW_bf16, L.dW_f32, "dW");
  assert.ok(maxAbsDiff(r.db, L.db) < 1e-4, "db");
});

test("bf16: attention's two products (scores, probabilities × values) round their operands too", { skip: !addon }, () => {
  near(attentionAt("bf16"), FIX.attention.ctx_bf16, FIX.attention.ctx_f32, "ctx");
});

test("f32 again after a bf16 run: the same layer matches the float32 reference", { skip: !addon }, () => {
  const L = FIX.linear;
  const r = linearAt("f32");
  near(r.y, L.y_f32, L.y_bf16, "y");
  near(r.dW, L.dW_f32, L.dW_bf16, "dW");
  near(attentionAt("f32"), FIX.attention.ctx_f32, FIX.attention.ctx_bf16, "ctx");
});

test("bf16 emulated (MEDREL_BF16_EMULATE=1: rounded operands through OpenBLAS) passes the same checks", { skip: !addon || emulate || !cpuHasBf16() }, () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--test", __filename], { env: { ...process.env, MEDREL_BF16_EMULATE: "1" }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
