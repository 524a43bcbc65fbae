/**
 * src/backend: our WASM kernels against the stock tfjs kernels, the fused ops against PyTorch
 * (test/fixtures/backend/make_fixtures.py) and against autodiff of the plain formulas, and the pure-WASM
 * fallback (MEDREL_NATIVE=0) in a child process.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  adamwUpdate,
  addLayerNorm,
  attention,
  dropout,
  dropoutMask,
  gelu,
  initBackend,
  installWasmKernels,
  layerNorm,
  linear,
  loadNative,
  maskedSoftmax,
  medrelKernelsActive,
  nativeKernelsActive,
  selfAttention,
  uninstallWasmKernels,
} from "../src/backend";
import { adamwUpdateHostMoments } from "../src/backend/ops";
import { betterCore, cpuLevel, cpuModel, decideBlasCore } from "../src/backend/cpu";
import { Rng } from "../src/random";
import { maxAbsDiff, maxAbs } from "./helpers";

const ROOT = path.resolve(__dirname, "..");
const FIX = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "backend", "backend.json"), "utf8")) as Fixtures;

interface Fixtures {
  gelu: { x: number[]; y: number[]; dydx: number[] };
  layerNorm: { shape: number[]; x: number[]; gamma: number[]; beta: number[]; dy: number[]; y: number[]; dx: number[]; dgamma: number[]; dbeta: number[] };
  softmax: { shape: number[]; scores: number[]; mask: number[]; scale: number; dy: number[]; y: number[]; dscores: number[] };
  adamw: {
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weightDecay: number;
    p0: number[];
    grads: number[][];
    steps: Array<{ p: number[]; m: number[]; v: number[] }>;
  };
}

type Mode = "native" | "pure-wasm";
const addon = process.env.MEDREL_NATIVE === "0" ? undefined : loadNative().addon;
const MODES: Mode[] = addon ? ["native", "pure-wasm"] : ["pure-wasm"];

function useMode(mode: Mode): void {
  installWasmKernels({ addon: mode === "native" ? addon : undefined });
}

/** run f on the stock wasm kernels (ours removed), then put `mode` back */
function stock<T>(mode: Mode, f: () => T): T {
  uninstallWasmKernels();
  try {
    return f();
  } finally {
    useMode(mode);
  }
}



const vals = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;

function rand(rng: Rng, shape: number[], scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal() * scale;
  return tf.tensor(v, shape);
}

test("setup: wasm backend with our kernels", async () => {
  const info = await initBackend({ force: "wasm", verbose: false });
  assert.equal(tf.getBackend(), "wasm");
  assert.ok(info.kernels.length > 0, "extra kernels listed");
  if (addon) assert.match(info.blas ?? "", /OpenBLAS/);
});

/**
 * What setup installs to build the addon (libopenblas-dev, g++, make, node-gyp), each as missing or present:
 * when all are present a failed build is a defect, not a reason to run on pure WASM.
 */
function missingBuildDeps(): string[] {
  const has = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;
  const dpkg = spawnSync("dpkg-query", ["-W", "-f=${Status}", "libopenblas-dev"], { encoding: "utf8" });
  const headers = ["/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h", "/usr/include/openblas/cblas.h", "/usr/include/cblas.h"];
  const missing: string[] = [];
  if (!/install ok installed/.test(dpkg.stdout ?? "") && !headers.some((h) => fs.existsSync(h))) missing.push("libopenblas-dev");
  for (const cmd of ["g++", "make"]) if (!has(cmd)) missing.push(cmd);
  if (!fs.existsSync(path.join(ROOT, "node_modules", ".bin", "node-gyp")) && !has("node-gyp")) missing.push("node-gyp");
  return missing;
}

test("addon: loaded whenever its build dependencies are installed (no silent fall-back to pure WASM)", (t) => {
  if (process.env.MEDREL_NATIVE === "0") return t.skip("MEDREL_NATIVE=0 turns the addon off");
  const missing = missingBuildDeps();
  if (missing.length) return t.skip(`build dependencies missing (${missing.join(", ")}): pure WASM is expected`);
  const log = path.join(ROOT, "src", "backend", "native", "build.log");
  const tail = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").slice(-5).join("\n") : "(no build.log)";
  assert.ok(addon, `libopenblas-dev, g++, make and node-gyp are installed but the addon did not load: ${loadNative().error}\nrun bash src/backend/native/build.sh; its log ends:\n${tail}`);
  assert.equal(MODES[0], "native", "the native kernels' tests run");
});

test("addon: bounds are checked, not trusted", { skip: !addon }, () => {
  const heap = new ArrayBuffer(512);
  assert.throws(() => addon?.gemm(heap, 1, 0, 0, 16, 16, 16, 0, 256, 0, 256, 0, 1, 0, -1, 0, 0), /outside the WebAssembly heap/);
  assert.throws(() => addon?.gelu(new ArrayBuffer(8) as ArrayBuffer, 0, 0, 100), /outside/);
});

test("addon: denormals are flushed in the calling thread and every pool thread while a kernel runs, and JS keeps IEEE semantics between calls", { skip: !addon }, () => {
  const before = addon!.getThreads();
  try {
    addon!.setThreads(2);
    const f = addon!.denormalsFlushed();
    assert.equal(f.caller, true);
    assert.deepEqual(f.threads, [true, true]);
  } finally {
    addon!.setThreads(before);
  }
  // V8's numbers share the register: after a call, the smallest denormal double is still itself
  assert.ok(Number.MIN_VALUE > 0 && Number.MIN_VALUE * 1 === 5e-324);
  assert.equal(new Float32Array([1e-39])[0] * 2, new Float32Array([2e-39])[0]);
});

test("addon: a product of denormal inputs is exactly 0 (DAZ), one with normal inputs is not; gelu' of a large negative input flushes its denormal tail", { skip: !addon }, () => {
  const heap = new ArrayBuffer(4096);
  const f = new Float32Array(heap);
  // A (2×2) at 0, B (2×2) at 16 bytes, C at 32 bytes
  f.set([1e-39, 2e-39, 3e-39, 4e-39], 0);
  f.set([1, 1, 1, 1], 4);
  addon!.gemm(heap, 1, 0, 0, 2, 2, 2, 0, 0, 16, 0, 32, 1, 0, -1, 0, 0);
  assert.deepEqual([...f.slice(8, 12)], [0, 0, 0, 0]);
  f.set([1e-3, 2e-3, 3e-3, 4e-3], 0);
  addon!.gemm(heap, 1, 0, 0, 2, 2, 2, 0, 0, 16, 0, 32, 1, 0, -1, 0, 0);
  assert.deepEqual([...f.slice(8, 12)].map((x) => +x.toPrecision(6)), [0.003, 0.003, 0.007, 0.007]);
  // where denormals arise in training: gelu'(x) = Φ(x) + x φ(x) of a large negative pre-activation is ~1e-37, and
  // times a small upstream gradient it is denormal (~1e-40): it would reach the intermediate layer's weight gradient
  f.set([-13, -14], 64);
  f.set([1, 1e-3], 80);
  addon!.geluGrad(heap, 64 * 4, 80 * 4, 96 * 4, 2);
  assert.ok(f[96] < -1e-37 && f[96] > -1e-35, `gelu'(-13) · 1 = ${f[96]} (normal: kept)`);
  assert.ok(f[97] === 0, `gelu'(-14) · 1e-3 = ${f[97]}: denormal, so flushed to (signed) zero`);
});

test("OpenBLAS core: a fallback below the CPU's instruction set is replaced before OpenBLAS loads; the user's choice and a known core are kept", () => {
  const fake = (core: string): string => {
    const file = path.join(fs.mkdtempSync(path.join(require("os").tmpdir(), "medrel-blas-")), "addon.js");
    fs.writeFileSync(file, `module.exports = { blasInfo: () => "OpenBLAS 0.3.21 DYNAMIC_ARCH; core ${core}" };`);
    return file;
  };
  const env: NodeJS.ProcessEnv = {};
  assert.deepEqual(decideBlasCore(fake("Prescott"), env, "avx512_bf16"), { source: "medrel", core: "Cooperlake", fallback: "Prescott" });
  assert.equal(env.OPENBLAS_CORETYPE, "Cooperlake");
  // a worker inherits the environment: the value is known to be ours, and no probe runs again
  assert.deepEqual(decideBlasCore("/nonexistent", env, "avx512_bf16"), { source: "medrel", core: "Cooperlake", fallback: "Prescott" });
  assert.deepEqual(decideBlasCore(fake("Prescott"), {}, "avx2"), { source: "medrel", core: "Haswell", fallback: "Prescott" });
  assert.deepEqual(decideBlasCore(fake("Prescott"), {}, "avx512"), { source: "medrel", core: "SkylakeX", fallback: "Prescott" });
  const user: NodeJS.ProcessEnv = { OPENBLAS_CORETYPE: "Haswell" };
  assert.deepEqual(decideBlasCore(fake("Prescott"), user, "avx512_bf16"), { source: "user", core: "Haswell" });
  assert.equal(user.OPENBLAS_CORETYPE, "Haswell");
  const known: NodeJS.ProcessEnv = {};
  assert.deepEqual(decideBlasCore(fake("Zen"), known, "avx2"), { source: "openblas", core: "Zen" });
  assert.equal(known.OPENBLAS_CORETYPE, undefined);
  assert.equal(betterCore("Cooperlake", "avx512_bf16"), undefined);
  assert.equal(cpuLevel("flags : fpu sse2 avx avx2 fma avx512f avx512_bf16"), "avx512_bf16");
  assert.equal(cpuLevel("flags : fpu sse2 avx avx2 fma"), "avx2");
  assert.match(cpuModel(), /\S/);
});

for (const mode of MODES) {
  test(`${mode}: BatchMatMul matches the stock kernel (transposes, batches, broadcast)`, () => {
    useMode(mode);
    const rng = new Rng(7);
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[5, 7], [7, 3], false, false],
      [[7, 5], [7, 3], true, false],
      [[5, 7], [3, 7], false, true],
      [[7, 5], [3, 7], true, true],
      [[4, 5, 7], [4, 7, 3], false, false],
      [[4, 7, 5], [4, 3, 7], true, true],
      [[4, 5, 7], [7, 3], false, false], // weights broadcast over the batch
      [[4, 5, 7], [3, 7], false, true],
      [[5, 7], [4, 7, 3], false, false], // left operand broadcast
      [[2, 3, 5, 16], [2, 3, 9, 16], false, true], // attention scores
      [[2, 3, 9, 9], [2, 3, 9, 16], false, false],
      [[2, 1, 5, 7], [1, 3, 7, 6], false, false], // 2-D broadcast: falls back to stock
      [[33, 65], [65, 17], false, false],
      [[40, 12], [40, 3], true, false], // weight gradient with the wide operand first: transposes b instead
      [[1, 40, 12], [1, 40, 3], true, false],
    ];
    for (const [sa, sb, ta, tb] of cases) {
      tf.tidy(() => {
        const a = rand(rng, sa);
        const b = rand(rng, sb);
        const ours = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, ta, tb);
        const ref = stock(mode, () => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, ta, tb));
        assert.deepEqual(ours.shape, ref.shape);
        const err = maxAbsDiff(vals(ours), vals(ref));
        assert.ok(err < 1e-4, `[${sa}]x[${sb}] ta=${ta} tb=${tb}: max diff ${err}`);
      });
    }
  });

  // reference: unfused stock ops (the stock wasm _FusedMatMul mis-broadcasts bias on its transposed path)
  test(`${mode}: _FusedMatMul with bias and activations matches unfused stock ops`, () => {
    useMode(mode);
    const rng = new Rng(8);
    const acts = ["linear", "relu", "relu6", "sigmoid", "leakyrelu", "elu", "prelu"] as const;
    for (const activation of acts) {
      for (const [sa, sb, ta, tb] of [
        [[6, 9], [9, 4], false, false],
        [[9, 6], [4, 9], true, true],
        [[3, 6, 9], [9, 4], false, false],
      ] as Array<[number[], number[], boolean, boolean]>) {
        tf.tidy(() => {
          const a = rand(rng, sa, 2);
          const b = rand(rng, sb);
          const bias = rand(rng, [4]);
          const prelu = activation === "prelu" ? rand(rng, [4], 0.3) : undefined;
          const ours = tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeA: ta, transposeB: tb, bias, activation, preluActivationWeights: prelu, leakyreluAlpha: 0.1 });
          const ref = stock(mode, () => {
            const z = tf.add(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb), bias);
            const byAct: Record<string, () => tf.Tensor> = {
              linear: () => z,
              relu: () => tf.relu(z),
              relu6: () => tf.relu6(z),
              sigmoid: () => tf.sigmoid(z),
              leakyrelu: () => tf.leakyRelu(z, 0.1),
              elu: () => tf.elu(z),
              prelu: () => tf.prelu(z, prelu as tf.Tensor),
            };
            return byAct[activation]();
          });
          const err = maxAbsDiff(vals(ours), vals(ref));
          assert.ok(err < 1e-4, `${activation} [${sa}]x[${sb}]: max diff ${err}`);
        });
      }
    }
  });

  test(`${mode}: Sum, GatherV2 and Identity match stock`, () => {
    useMode(mode);
    const rng = new Rng(9);
    tf.tidy(() => {
      const x = rand(rng, [4, 6, 5]);
      for (const [axis, keep] of [[0, false], [[0, 1], false], [[0, 1], true], [2, false], [[1, 2], false], [1, true]] as Array<[number | number[], boolean]>) {
        const err = maxAbsDiff(vals(tf.sum(x, axis, keep)), vals(stock(mode, () => tf.sum(x, axis, keep))));
        assert.ok(err < 1e-5, `sum axis ${axis}: ${err}`);
        assert.deepEqual(tf.sum(x, axis, keep).shape, stock(mode, () => tf.sum(x, axis, keep)).shape);
      }
      const table = rand(rng, [10, 3]);
      const idx = tf.tensor1d([3, 0, 9, 3, 7], "int32");
      assert.deepEqual(vals(tf.gather(table, idx)), stock(mode, () => vals(tf.gather(table, idx))));
      const itable = tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], "int32");
      assert.deepEqual(tf.gather(itable, tf.tensor1d([2, 2, 0], "int32")).arraySync(), [[5, 6], [5, 6], [1, 2]]);
      assert.deepEqual(tf.gather(x, tf.tensor1d([1], "int32"), 1).shape, [4, 1, 5]); // other axes: stock path
      assert.throws(() => tf.gather(table, tf.tensor1d([10], "int32")), /not in \[0, 9\]/);
    });
    const a = tf.tensor1d([1, 2, 3]);
    const c = tf.clone(a);
    a.dispose();
    assert.deepEqual(Array.from(vals(c)), [1, 2, 3], "a clone outlives its source");
    c.dispose();
  });

  test(`${mode}: UnsortedSegmentSum (gather's gradient) sums duplicate rows`, () => {
    useMode(mode);
    tf.tidy(() => {
      const data = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]);
      const ids = tf.tensor1d([2, 0, 2, -1], "int32");
      assert.deepEqual(tf.unsortedSegmentSum(data, ids, 3).arraySync(), [[3, 4], [0, 0], [6, 8]]);
      const table = tf.variable(tf.ones([5, 2]));
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d([1, 3, 1], "int32")), tf.tensor2d([[1, 2], [3, 4], [5, 6]]))));
      assert.deepEqual(g(table).arraySync(), [[0, 0], [6, 8], [0, 0], [3, 4], [0, 0]]);
      table.dispose();
    });
  });

  test(`${mode}: gelu within 1e-6 of exact erf GELU (PyTorch float64), gradient within 1e-5`, () => {
    useMode(mode);
    assert.ok(medrelKernelsActive());
    tf.tidy(() => {
      const x = tf.tensor1d(FIX.gelu.x);
      const y = vals(gelu(x));
      const err = maxAbsDiff(y, FIX.gelu.y);
      assert.ok(err <= 1e-6, `gelu max error ${err}`);
      const dy = vals(tf.grad((t: tf.Tensor) => tf.sum(gelu(t)))(x));
      const gerr = maxAbsDiff(dy, FIX.gelu.dydx);
      assert.ok(gerr <= 1e-5, `gelu' max error ${gerr}`);
    });
  });

  test(`${mode}: layerNorm forward and gradients match PyTorch`, () => {
    useMode(mode);
    const f = FIX.layerNorm;
    tf.tidy(() => {
      const x = tf.tensor2d(f.x, f.shape as [number, number]);
      const gamma = tf.tensor1d(f.gamma);
      const beta = tf.tensor1d(f.beta);
      const dy = tf.tensor2d(f.dy, f.shape as [number, number]);
      assert.ok(maxAbsDiff(vals(layerNorm(x, gamma, beta, 1e-12)), f.y) < 1e-5, "forward");
      const [dx, dg, db] = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(layerNorm(a, g, b, 1e-12), dy)))([x, gamma, beta]);
      assert.ok(maxAbsDiff(vals(dx), f.dx) < 1e-4, `dx ${maxAbsDiff(vals(dx), f.dx)}`);
      assert.ok(maxAbsDiff(vals(dg), f.dgamma) < 1e-4, "dgamma");
      assert.ok(maxAbsDiff(vals(db), f.dbeta) < 1e-4, "dbeta");
    });
  });

  test(`${mode}: maskedSoftmax forward and gradient match PyTorch`, () => {
    useMode(mode);
    const f = FIX.softmax;
    tf.tidy(() => {
      const s = tf.tensor(f.scores, f.shape);
      const mask = tf.tensor2d(f.mask, [f.shape[0], f.shape[3]]);
      const dy = tf.tensor(f.dy, f.shape);
      assert.ok(maxAbsDiff(vals(maskedSoftmax(s, mask, f.scale)), f.y) < 1e-6, "forward");
      const ds = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(maskedSoftmax(t, mask, f.scale), dy)))(s);
      assert.ok(maxAbsDiff(vals(ds), f.dscores) < 1e-5, `dscores ${maxAbsDiff(vals(ds), f.dscores)}`);
      // the [B, 1, 1, Tk] mask layout gives the same
      const m4 = tf.reshape(mask, [f.shape[0], 1, 1, f.shape[3]]);
      assert.ok(maxAbsDiff(vals(maskedSoftmax(s, m4, f.scale)), f.y) < 1e-6, "4-D mask");
    });
  });

  test(`${mode}: custom gradients equal autodiff of the plain formulas on stock kernels`, () => {
    useMode(mode);
    const rng = new Rng(11);
    tf.tidy(() => {
      const x = rand(rng, [12, 16], 2);
      const g = rand(rng, [16]);
      const b = rand(rng, [16]);
      const W = rand(rng, [16, 8], 0.3);
      const bias = rand(rng, [8]);
      const up = rand(rng, [12, 8]);
      // ours: linear -> gelu ... -> layerNorm chain
      const fOurs = (xx: tf.Tensor, gg: tf.Tensor, ww: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(gelu(linear(layerNorm(xx, gg, b, 1e-5), ww, bias)), up));
      const plainLN = (xx: tf.Tensor, gg: tf.Tensor): tf.Tensor => {
        const { mean, variance } = tf.moments(xx, -1, true);
        return tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(variance, 1e-5))), gg), b);
      };
      const plainGelu = (t: tf.Tensor): tf.Tensor => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.erf(tf.mul(t, Math.SQRT1_2))));
      const fPlain = (xx: tf.Tensor, gg: tf.Tensor, ww: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(plainGelu(tf.add(tf.matMul(plainLN(xx, gg), ww), bias)), up));
      const ours = tf.grads(fOurs)([x, g, W]);
      const ref = stock(mode, () => tf.grads(fPlain)([x, g, W]).map((t) => tf.keep(t.clone())));
      ours.forEach((t, i) => {
        const err = maxAbsDiff(vals(t), vals(ref[i]));
        assert.ok(err < 2e-4 * Math.max(1, maxAbs(vals(ref[i]))), `grad ${i}: ${err}`);
      });
      // attention (no dropout) against matMul/softmax autodiff
      const q = rand(rng, [2, 2, 6, 4]);
      const k = rand(rng, [2, 2, 6, 4]);
      const v = rand(rng, [2, 2, 6, 4]);
      const mask = tf.tensor2d([[0, 0, 0, 0, -10000, -10000], [0, 0, 0, 0, 0, 0]]);
      const w = rand(rng, [2, 2, 6, 4]);
      const att = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor): tf.Scalar => tf.sum(tf.mul(attention(qq, kk, vv, mask), w));
      const attPlain = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor): tf.Scalar => {
        const s = tf.add(tf.mul(tf.matMul(qq as tf.Tensor4D, kk as tf.Tensor4D, false, true), 0.5), tf.reshape(mask, [2, 1, 1, 6]));
        return tf.sum(tf.mul(tf.matMul(tf.softmax(s) as tf.Tensor4D, vv as tf.Tensor4D), w));
      };
      const ga = tf.grads(att)([q, k, v]);
      const gp = stock(mode, () => tf.grads(attPlain)([q, k, v]).map((t) => tf.keep(t.clone())));
      ga.forEach((t, i) => assert.ok(maxAbsDiff(vals(t), vals(gp[i])) < 1e-4, `attention grad ${i}`));
    });
  });

  test(`${mode}: addLayerNorm = LayerNorm(dropout(x) + residual): values and gradients equal autodiff of the plain formulas`, () => {
    useMode(mode);
    const rng = new Rng(13);
    tf.tidy(() => {
      const [R, H] = [9, 16];
      const x = rand(rng, [R, H]);
      const res = rand(rng, [R, H]);
      const gamma = rand(rng, [H]);
      const beta = rand(rng, [H]);
      const up = rand(rng, [R, H]);
      for (const rate of [0, 0.25]) {
        const drop = { rate, seed: 77 };
        const ours = (a: tf.Tensor, r: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.sum(tf.mul(addLayerNorm(a, r, g, b, 1e-5, drop), up));
        const mask = tf.tensor2d(dropoutMask(R * H, rate, 77), [R, H]); // rate 0: all ones
        const plain = (a: tf.Tensor, r: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Scalar => {
          const s2 = tf.add(tf.mul(a, mask), r);
          const { mean, variance } = tf.moments(s2, -1, true);
          return tf.sum(tf.mul(tf.add(tf.mul(tf.div(tf.sub(s2, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b), up));
        };
        const y = vals(addLayerNorm(x, res, gamma, beta, 1e-5, drop));
        const yPlain = vals(stock(mode, () => tf.keep(layerNorm(tf.add(tf.mul(x, mask), res), gamma, beta, 1e-5))));
        assert.ok(maxAbsDiff(y, yPlain) < 1e-5, `rate ${rate}: forward ${maxAbsDiff(y, yPlain)}`);
        const a = tf.grads(ours)([x, res, gamma, beta]);
        const b = stock(mode, () => tf.grads(plain)([x, res, gamma, beta]).map((t) => tf.keep(t.clone())));
        a.forEach((t, i) => assert.ok(maxAbsDiff(vals(t), vals(b[i])) < 1e-4 * Math.max(1, maxAbs(vals(b[i]))), `rate ${rate} grad ${i}: ${maxAbsDiff(vals(t), vals(b[i]))}`));
        if (rate > 0) assert.ok(maxAbsDiff(vals(a[0]), vals(a[1])) > 1e-3, "the dropped branch's gradient carries the mask");
      }
      assert.throws(() => addLayerNorm(x, rand(rng, [R, H + 1]), gamma, beta), /x \[9,16\] and residual \[9,17\] differ/);
    });
  });

  test(`${mode}: selfAttention on [B*T, H] equals heads + attention + merge (values, dropout, gradients)`, () => {
    useMode(mode);
    assert.equal(nativeKernelsActive(), mode === "native");
    const rng = new Rng(12);
    tf.tidy(() => {
      const [B, T, H, nh] = [3, 7, 8, 2];
      const q = rand(rng, [B * T, H]);
      const k = rand(rng, [B * T, H]);
      const v = rand(rng, [B * T, H]);
      const w = rand(rng, [B * T, H]);
      const mask = tf.tensor2d([[0, 0, 0, 0, 0, -10000, -10000], [0, 0, 0, 0, 0, 0, 0], [0, 0, -10000, -10000, -10000, -10000, -10000]]);
      for (const rate of [0, 0.3]) {
        const opts = { heads: nh, batch: B, dropoutRate: rate, seed: 5 };
        const ours = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor): tf.Scalar => tf.sum(tf.mul(selfAttention(qq, kk, vv, mask, opts), w));
        const split = (t: tf.Tensor): tf.Tensor => tf.transpose(tf.reshape(t, [B, T, nh, H / nh]), [0, 2, 1, 3]);
        const plain = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor): tf.Scalar => {
          const ctx = attention(split(qq), split(kk), split(vv), mask, { dropoutRate: rate, seed: 5 });
          return tf.sum(tf.mul(tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B * T, H]), w));
        };
        const y = selfAttention(q, k, v, mask, opts);
        assert.deepEqual(y.shape, [B * T, H]);
        const y3 = selfAttention(tf.reshape(q, [B, T, H]), tf.reshape(k, [B, T, H]), tf.reshape(v, [B, T, H]), mask, opts);
        assert.deepEqual(y3.shape, [B, T, H]);
        assert.ok(maxAbsDiff(vals(y), vals(y3)) < 1e-6);
        const a = tf.grads(ours)([q, k, v]);
        const b = stock(mode, () => tf.grads(plain)([q, k, v]).map((t) => tf.keep(t.clone())));
        assert.ok(Math.abs(ours(q, k, v).dataSync()[0] - stock(mode, () => plain(q, k, v).dataSync()[0])) < 1e-4, `value, rate ${rate}`);
        a.forEach((t, i) => assert.ok(maxAbsDiff(vals(t), vals(b[i])) < 1e-4, `rate ${rate} grad ${i}: ${maxAbsDiff(vals(t), vals(b[i]))}`));
      }
      assert.throws(() => selfAttention(q, k, v, null, { heads: 3 }), /does not split into 3 heads/);
    });
  });

  test(`${mode}: linear (bias, N-D input) forward and gradients equal matMul + add autodiff`, () => {
    useMode(mode);
    const rng = new Rng(13);
    tf.tidy(() => {
      const x = rand(rng, [2, 5, 6]);
      const W = rand(rng, [6, 4]);
      const b = rand(rng, [4]);
      const up = rand(rng, [2, 5, 4]);
      const y = linear(x, W, b);
      assert.deepEqual(y.shape, [2, 5, 4]);
      const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Scalar => tf.sum(tf.mul(linear(xx, ww, bb), up));
      const fPlain = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(tf.add(tf.reshape(tf.matMul(tf.reshape(xx, [10, 6]), ww as tf.Tensor2D), [2, 5, 4]), bb), up));
      const ga = tf.grads(f)([x, W, b]);
      const gb = stock(mode, () => tf.grads(fPlain)([x, W, b]).map((t) => tf.keep(t.clone())));
      ga.forEach((t, i) => assert.ok(maxAbsDiff(vals(t), vals(gb[i])) < 1e-4, `grad ${i}`));
      const gNoBias = tf.grad((xx: tf.Tensor) => tf.sum(linear(xx, W)))(x);
      assert.deepEqual(gNoBias.shape, x.shape);
      assert.throws(() => linear(x, W, tf.zeros([5])), /b must be \[4\]/);
    });
  });

  test(`${mode}: dropout mask is the seeded hash, gradient reuses it`, () => {
    useMode(mode);
    tf.tidy(() => {
      const x = tf.fill([4000], 2);
      const y = vals(dropout(x, 0.25, 99));
      const mask = dropoutMask(4000, 0.25, 99);
      assert.deepEqual(Array.from(y), Array.from(mask, (m) => 2 * m));
      const kept = mask.filter((m) => m > 0).length / 4000;
      assert.ok(Math.abs(kept - 0.75) < 0.03, `kept fraction ${kept}`);
      assert.ok(Math.abs(mask.find((m) => m > 0)! - 1 / 0.75) < 1e-6);
      const g = vals(tf.grad((t: tf.Tensor) => tf.sum(dropout(t, 0.25, 99)))(x));
      assert.deepEqual(Array.from(g), Array.from(mask));
      assert.notDeepEqual(Array.from(vals(dropout(x, 0.25, 100))), Array.from(y), "another seed, another mask");
      assert.equal(dropout(x, 0, 1), x, "rate 0 is the identity");
    });
  });

  test(`${mode}: adamwUpdate follows torch.optim.AdamW for three steps`, () => {
    useMode(mode);
    const f = FIX.adamw;
    let p: tf.Tensor = tf.tensor1d(f.p0);
    let m: tf.Tensor = tf.zeros([f.p0.length]);
    let v: tf.Tensor = tf.zeros([f.p0.length]);
    f.grads.forEach((gr, i) => {
      const g = tf.tensor1d(gr);
      const r = adamwUpdate(p, g, m, v, { lr: f.lr, beta1: f.beta1, beta2: f.beta2, eps: f.eps, weightDecay: f.weightDecay, step: i + 1 });
      tf.dispose([p, m, v, g]);
      ({ p, m, v } = r);
      assert.ok(maxAbsDiff(vals(p), f.steps[i].p) < 1e-6, `step ${i + 1} p: ${maxAbsDiff(vals(p), f.steps[i].p)}`);
      assert.ok(maxAbsDiff(vals(m), f.steps[i].m) < 1e-6, `step ${i + 1} m`);
      assert.ok(maxAbsDiff(vals(v), f.steps[i].v) < 1e-6, `step ${i + 1} v`);
    });
    tf.dispose([p, m, v]);
  });
}

/** every kernel the model runs, forward and backward, at shapes big enough to be split over the pool */
function poolWorkload(): Float32Array[] {
  const rng = new Rng(5);
  const x = rand(rng, [384, 192]);
  const W = rand(rng, [192, 160]);
  const b = rand(rng, [160]);
  const [q, k, v] = [rand(rng, [384, 192]), rand(rng, [384, 192]), rand(rng, [384, 192])];
  const mask = tf.mul(tf.cast(tf.less(rand(rng, [4, 96]), -1), "float32"), -10000); // some keys masked
  const [gamma, beta] = [rand(rng, [192]), rand(rng, [192])];
  const scores = rand(rng, [4, 2, 96, 96]);
  const attn = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor): tf.Tensor => selfAttention(a, c, d, mask, { heads: 3, batch: 4, dropoutRate: 0.1, seed: 9 });
  const sq = (t: tf.Tensor): tf.Scalar => tf.sum(tf.square(t));
  const outs = [
    linear(x, W, b),
    ...tf.grads((a: tf.Tensor, w: tf.Tensor, c: tf.Tensor) => sq(linear(a, w, c)))([x, W, b]),
    attn(q, k, v),
    ...tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => sq(attn(a, c, d)))([q, k, v]),
    layerNorm(x, gamma, beta),
    ...tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => sq(layerNorm(a, c, d)))([x, gamma, beta]),
    gelu(x),
    tf.grad((a: tf.Tensor) => sq(gelu(a)))(x),
    dropout(x, 0.2, 3),
    maskedSoftmax(scores, null, 0.5),
    tf.grad((a: tf.Tensor) => sq(maskedSoftmax(a, null, 0.5)))(scores),
    tf.matMul(rand(rng, [6, 64, 80]), rand(rng, [6, 80, 72])), // a true batch of products
    ...Object.values(adamwUpdate(x, q, k, tf.abs(v), { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step: 3 })),
    addLayerNorm(x, q, gamma, beta, 1e-12, { rate: 0.1, seed: 4 }),
    ...tf.grads((a: tf.Tensor, r: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => sq(addLayerNorm(a, r, c, d, 1e-12, { rate: 0.1, seed: 4 })))([x, q, gamma, beta]),
  ];
  // the same AdamW step with its moments in host arrays (outputs 26-28: p, m, v; updated in place)
  const [m, vv] = [k.dataSync().slice() as Float32Array, tf.abs(v).dataSync().slice() as Float32Array];
  outs.push(adamwUpdateHostMoments(x, q, m, vv, { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step: 3 }));
  return [...outs.map((t) => t.dataSync() as Float32Array), m, vv];
}

test("native: two pool threads compute exactly what one does (products split by rows/columns, row kernels, attention blocks, LayerNorm's parameter gradients by fixed row blocks)", { skip: !addon }, () => {
  useMode("native");
  const threadsBefore = addon!.getThreads();
  const tasks = (): number => (fs.existsSync("/proc/self/task") ? fs.readdirSync("/proc/self/task").length : NaN);
  try {
    // (tidy returns nothing: it would walk every element of the arrays looking for tensors)
    const run = (): Float32Array[] => {
      let out: Float32Array[] = [];
      tf.tidy(() => void (out = poolWorkload()));
      return out;
    };
    addon!.setThreads(1);
    const one = run();
    const before = tasks();
    addon!.setThreads(2);
    assert.equal(addon!.getThreads(), 2);
    const two = run();
    if (threadsBefore < 2 && Number.isFinite(before)) assert.ok(tasks() > before, "a pool worker thread was started");
    // the same bits at any thread count: a run repeats exactly on a laptop with more cores
    one.forEach((a, i) => assert.deepEqual(two[i], a, `output ${i} differs between 1 and 2 threads`));
    // AdamW over the pool with host-array moments (outputs 26-28) updates as with heap moments (18-20)
    [0, 1, 2].forEach((j) => assert.deepEqual(two[26 + j], two[18 + j], `AdamW output ${j}: host moments differ from heap moments`));
  } finally {
    addon!.setThreads(threadsBefore);
  }
});

test("composite path (cpu backend): same PyTorch numbers without the Medrel kernels", async () => {
  await tf.setBackend("cpu");
  try {
    assert.equal(medrelKernelsActive(), false);
    tf.tidy(() => {
      const x = tf.tensor1d(FIX.gelu.x);
      assert.ok(maxAbsDiff(vals(gelu(x)), FIX.gelu.y) < 1e-5, "gelu (tf.erf)");
      const f = FIX.layerNorm;
      const xl = tf.tensor2d(f.x, f.shape as [number, number]);
      const gamma = tf.tensor1d(f.gamma);
      const beta = tf.tensor1d(f.beta);
      const dy = tf.tensor2d(f.dy, f.shape as [number, number]);
      assert.ok(maxAbsDiff(vals(layerNorm(xl, gamma, beta, 1e-12)), f.y) < 1e-5);
      const [dx, dg] = tf.grads((a: tf.Tensor, g: tf.Tensor) => tf.sum(tf.mul(layerNorm(a, g, beta, 1e-12), dy)))([xl, gamma]);
      assert.ok(maxAbsDiff(vals(dx), f.dx) < 1e-4);
      assert.ok(maxAbsDiff(vals(dg), f.dgamma) < 1e-4);
      const s = FIX.softmax;
      const sc = tf.tensor(s.scores, s.shape);
      const mask = tf.tensor2d(s.mask, [s.shape[0], s.shape[3]]);
      assert.ok(maxAbsDiff(vals(maskedSoftmax(sc, mask, s.scale)), s.y) < 1e-6);
      const d = vals(dropout(tf.ones([50]), 0.5, 3));
      assert.deepEqual(Array.from(d), Array.from(dropoutMask(50, 0.5, 3)));
    });
  } finally {
    await tf.setBackend("wasm");
  }
});

test("fallback: MEDREL_NATIVE=0 prints one line and computes on pure WASM", () => {
  const code = [
    'const tf = require("@tensorflow/tfjs");',
    'require("./src/backend").initBackend().then(async (info) => {',
    "  const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]]), false, true);",
    "  process.stdout.write(JSON.stringify({ name: info.name, kernels: info.kernels, y: await y.array() }) + '\\n');",
    "});",
  ].join("\n");
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, MEDREL_NATIVE: "0", MEDREL_BACKEND: "wasm" },
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  const medrel = lines.filter((l) => l.startsWith("[medrel]"));
  assert.equal(medrel.length, 1, `expected one [medrel] line, got:\n${r.stdout}`);
  assert.match(medrel[0], /native kernels: disabled by MEDREL_NATIVE=0/);
  const out = JSON.parse(lines[lines.length - 1]) as { name: string; kernels: string[]; y: number[][] };
  assert.equal(out.name, "wasm");
  assert.ok(out.kernels.some((k) => /XNNPACK/.test(k)));
  assert.deepEqual(out.y, [[17, 23], [39, 53]]);
});
