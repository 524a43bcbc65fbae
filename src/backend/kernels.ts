/**
 * Kernels we register on top of the tfjs WASM backend.
 *
 * Two tiers, both installed by `installWasmKernels` right after the WASM backend is selected:
 * - always: `UnsortedSegmentSum` (missing from tfjs-backend-wasm; it is the gradient of `gather`, i.e. of
 *   every embedding lookup), and matmul wrappers that keep WASM on XNNPACK's fast path (its only fast case
 *   is a rank-2, untransposed product; everything else runs a naive loop 5-15x slower): transposes are
 *   materialised, broadcast weights are folded into one 2-D product, true batches are run slice by slice
 *   through aliases of the same memory (no copies).
 * - with the OpenBLAS addon: `BatchMatMul`, `_FusedMatMul`, `Sum` (leading/trailing axes) and the
 *   `Medrel*` kernels behind src/backend/ops.ts run in C directly on the WASM heap.
 * Anything a replacement does not handle is passed to the stock kernel it replaced.
 */
import * as tf from "@tensorflow/tfjs";
import { jsKernels, type RowKernels } from "./jskernels";
import { NATIVE_ACT, type NativeAddon } from "./native";

type TI = tf.TensorInfo;
type Attrs = tf.NamedAttrMap;
/** Kernel inputs; optional ones (bias, mask) are read as `TI | undefined`. */
type Inputs = Record<string, TI>;

interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
}

/** The parts of tfjs-backend-wasm's BackendWasm we use (its fields are public in its .d.ts). */
export interface WasmBackendLike {
  wasm: {
    HEAPU8: Uint8Array;
    cwrap(name: string, ret: string | null, args: string[]): (...args: unknown[]) => unknown;
    tfjs: {
      registerTensor(id: number, size: number, memoryOffset: number): void;
      disposeData(id: number): void;
    };
  };
  dataIdMap: { get(dataId: object): WasmTensorData | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TI;
  disposeData(dataId: object, force?: boolean): boolean;
}

export class KernelError extends Error {
  constructor(kernel: string, message: string) {
    super(`${kernel}: ${message}`);
    this.name = "KernelError";
  }
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function data(b: WasmBackendLike, t: TI): WasmTensorData {
  const d = b.dataIdMap.get(t.dataId);
  if (!d) throw new KernelError("wasm", "tensor is not on the wasm backend");
  return d;
}
const offset = (b: WasmBackendLike, t: TI): number => data(b, t).memoryOffset;
/** Fetched on every call: memory growth (any _malloc) replaces the buffer. */
const heap = (b: WasmBackendLike): ArrayBuffer => b.wasm.HEAPU8.buffer as ArrayBuffer;

// ------------------------------------------------------------------------------------------------
// registry bookkeeping

type KFunc = (args: { inputs: Inputs; backend: WasmBackendLike; attrs: Attrs }) => TI | TI[];

const stockKernels = new Map<string, tf.KernelConfig>();
/** the row kernels (C addon or their JS twins) behind the installed Medrel* kernels */
let installedRows: RowKernels | undefined;
const installed: string[] = [];

/** The kernel we replaced, or the registered one for kernels we never replace (Transpose, ...). */
function stock(name: string): tf.KernelConfig | undefined {
  return stockKernels.get(name) ?? (installed.includes(name) ? undefined : (tf.getKernel(name, "wasm") as tf.KernelConfig | undefined));
}

function callStock(name: string, inputs: Inputs, backend: WasmBackendLike, attrs: Attrs): TI | TI[] {
  const k = stock(name);
  if (!k) throw new KernelError(name, "no stock wasm kernel to fall back to");
  return k.kernelFunc({ inputs, backend: backend as unknown as object, attrs }) as TI | TI[];
}

function callStock1(name: string, inputs: Inputs, backend: WasmBackendLike, attrs: Attrs): TI {
  return callStock(name, inputs, backend, attrs) as TI;
}

function register(name: string, fn: KFunc): void {
  const prev = tf.getKernel(name, "wasm") as tf.KernelConfig | undefined;
  if (prev) {
    if (!stockKernels.has(name)) stockKernels.set(name, prev);
    tf.unregisterKernel(name, "wasm");
  }
  tf.registerKernel({ kernelName: name, backendName: "wasm", kernelFunc: fn as unknown as tf.KernelFunc });
  installed.push(name);
}

/** Put the stock kernels back (tests compare against them; `MEDREL_NATIVE=0` style comparisons). */
export function uninstallWasmKernels(): void {
  installedRows = undefined;
  for (const name of installed.splice(0)) {
    tf.unregisterKernel(name, "wasm");
    const prev = stockKernels.get(name);
    if (prev) tf.registerKernel(prev);
  }
}

export function installedWasmKernels(): string[] {
  return [...installed];
}

// ------------------------------------------------------------------------------------------------
// shapes

interface MatMulPlan {
  batch: number;
  batchA: number;
  batchB: number;
  m: number;
  n: number;
  k: number;
  outShape: number[];
}

function planMatMul(a: TI, b: TI, ta: boolean, tb: boolean, kernel: string): MatMulPlan | undefined {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = tb ? b.shape[rb - 1] : b.shape[rb - 2];
  if (k !== kb) {
    throw new KernelError(kernel, `inner dimensions ${k} and ${kb} of shapes [${a.shape}] and [${b.shape}] differ`);
  }
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = size(outer);
  const batchA = size(outerA);
  const batchB = size(outerB);
  // only "same batch" or "one side broadcast" map to strided gemm; anything fancier goes to stock
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
  return { batch, batchA, batchB, m, n, k, outShape: [...outer, m, n] };
}

// ------------------------------------------------------------------------------------------------
// native kernels

/** prelu after the product (the stock fused kernel mis-broadcasts bias on its transposed path) */
function applyPrelu(backend: WasmBackendLike, x: TI, alpha: TI): TI {
  const y = callStock1("Prelu", { x, alpha }, backend, {});
  backend.disposeData(x.dataId);
  return y;
}

function nativeMatMul(addon: NativeAddon): { batchMatMul: KFunc; fusedMatMul: KFunc } {
  const run = (
    backend: WasmBackendLike,
    a: TI,
    b: TI,
    ta: boolean,
    tb: boolean,
    p: MatMulPlan,
    bias: TI | undefined,
    act: number,
    actAlpha: number,
  ): TI => {
    const out = backend.makeOutput(p.outShape, "float32");
    const h = heap(backend);
    addon.gemm(
      h,
      p.batch,
      ta ? 1 : 0,
      tb ? 1 : 0,
      p.m,
      p.n,
      p.k,
      offset(backend, a),
      p.batchA === 1 ? 0 : p.m * p.k,
      offset(backend, b),
      p.batchB === 1 ? 0 : p.k * p.n,
      offset(backend, out),
      1,
      0,
      bias ? offset(backend, bias) : -1,
      act,
      actAlpha,
    );
    return out;
  };

  const batchMatMul: KFunc = ({ inputs, backend, attrs }) => {
    const { a, b } = inputs;
    const ta = Boolean(attrs.transposeA);
    const tb = Boolean(attrs.transposeB);
    const p = a.dtype === "float32" && b.dtype === "float32" ? planMatMul(a, b, ta, tb, "BatchMatMul") : undefined;
    if (!p) return callStock("BatchMatMul", inputs, backend, attrs);
    return run(backend, a, b, ta, tb, p, undefined, NATIVE_ACT.linear, 0);
  };

  const fusedMatMul: KFunc = ({ inputs, backend, attrs }) => {
    const { a, b } = inputs;
    const bias = inputs.bias as TI | undefined;
    const preluActivationWeights = inputs.preluActivationWeights as TI | undefined;
    const ta = Boolean(attrs.transposeA);
    const tb = Boolean(attrs.transposeB);
    const activation = String(attrs.activation ?? "linear");
    const prelu = activation === "prelu";
    const act = prelu ? NATIVE_ACT.linear : (NATIVE_ACT as Record<string, number>)[activation];
    const p = a.dtype === "float32" && b.dtype === "float32" ? planMatMul(a, b, ta, tb, "_FusedMatMul") : undefined;
    const biasOk = bias == null || (bias.dtype === "float32" && size(bias.shape) === p?.n && bias.shape.length <= 1);
    if (!p || act === undefined || (prelu && preluActivationWeights == null) || !biasOk) {
      return callStock("_FusedMatMul", inputs, backend, attrs);
    }
    const out = run(backend, a, b, ta, tb, p, bias ?? undefined, act, Number(attrs.leakyreluAlpha ?? 0.2));
    return prelu ? applyPrelu(backend, out, preluActivationWeights as TI) : out;
  };
  return { batchMatMul, fusedMatMul };
}

/** Sum over leading or trailing axes in C (the stock kernel transposes first for leading axes). */
function nativeSum(addon: NativeAddon): KFunc {
  return ({ inputs, backend, attrs }) => {
    const { x } = inputs;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((p, q) => p - q);
    const contiguous = axes.every((ax, i) => i === 0 || ax === axes[i - 1] + 1);
    const leading = contiguous && axes.length > 0 && axes[0] === 0 && axes[axes.length - 1] < rank - 1;
    if (x.dtype !== "float32" || !leading || size(x.shape) === 0) {
      return callStock("Sum", inputs, backend, attrs);
    }
    // [R, C] -> column sums: ones[1,R] @ x[R,C] on BLAS (sgemv-like, memory bound)
    const r = size(x.shape.slice(0, axes.length));
    const c = size(x.shape.slice(axes.length));
    const keep = Boolean(attrs.keepDims);
    const outShape = keep ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
    const ones = onesOn(backend, r);
    const out = backend.makeOutput(outShape, "float32");
    addon.gemm(heap(backend), 1, 0, 0, 1, c, r, offset(backend, ones), 0, offset(backend, x), 0, offset(backend, out), 1, 0, -1, 0, 0);
    return out;
  };
}

/** A cached vector of ones in WASM memory (for reductions as products). */
let onesCache: { backend: WasmBackendLike; t: TI; n: number } | undefined;
function onesOn(backend: WasmBackendLike, n: number): TI {
  if (onesCache && onesCache.backend === backend && onesCache.n >= n) return onesCache.t;
  if (onesCache && onesCache.backend === backend) backend.disposeData(onesCache.t.dataId, true);
  const cap = Math.max(n, 4096);
  const t = backend.makeOutput([cap], "float32");
  new Float32Array(heap(backend), offset(backend, t), cap).fill(1);
  onesCache = { backend, t, n: cap };
  return t;
}

function segmentSum(impl: RowKernels): KFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, segmentIds } = inputs;
    const numSegments = Number(attrs.numSegments);
    const nIds = size(segmentIds.shape);
    const rowLen = nIds === 0 ? 0 : size(x.shape) / nIds;
    if (!Number.isInteger(rowLen)) {
      throw new KernelError("UnsortedSegmentSum", `x [${x.shape}] does not split into ${nIds} segment rows`);
    }
    const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
    const out = backend.makeOutput(outShape, x.dtype);
    const h = heap(backend);
    const idsI32 = segmentIds.dtype === "int32";
    if (x.dtype === "float32" && idsI32) {
      impl.segmentSum(h, offset(backend, x), offset(backend, segmentIds), offset(backend, out), nIds, rowLen, numSegments);
      return out;
    }
    const view = (t: TI, n: number): Float32Array | Int32Array =>
      t.dtype === "float32" ? new Float32Array(h, offset(backend, t), n) : new Int32Array(h, offset(backend, t), n);
    const xs = view(x, nIds * rowLen);
    const ids = view(segmentIds, nIds);
    const o = view(out, numSegments * rowLen);
    o.fill(0);
    for (let i = 0; i < nIds; i++) {
      const s = ids[i];
      if (s < 0 || s >= numSegments) continue;
      const src = i * rowLen;
      const dst = s * rowLen;
      for (let j = 0; j < rowLen; j++) o[dst + j] += xs[src + j];
    }
    return out;
  };
}

/**
 * GatherV2 along axis 0 (embedding lookups, row picks) as row copies on the heap; the stock kernel copies the
 * indices out, asserts each one through a closure and runs a generic strided gather (tens of ms per lookup).
 */
function gatherRows(): KFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, indices } = inputs;
    const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
    const batchDims = Number(attrs.batchDims ?? 0);
    const elem = x.dtype === "float32" || x.dtype === "int32" ? 4 : 0;
    if (axis !== 0 || batchDims !== 0 || elem === 0 || indices.dtype !== "int32" || size(x.shape) === 0) {
      return callStock("GatherV2", inputs, backend, attrs);
    }
    const rows = x.shape[0];
    const rowLen = size(x.shape.slice(1));
    const n = size(indices.shape);
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    const h = heap(backend);
    const ids = new Int32Array(h, offset(backend, indices), n);
    const src = new Int32Array(h, offset(backend, x), rows * rowLen); // 4-byte words: dtype-agnostic copy
    const dst = new Int32Array(h, offset(backend, out), n * rowLen);
    for (let i = 0; i < n; i++) {
      const r = ids[i];
      if (!(r >= 0 && r < rows)) {
        backend.disposeData(out.dataId);
        throw new KernelError("GatherV2", `index ${r} at position ${i} is not in [0, ${rows - 1}]`);
      }
      if (rowLen === 1) dst[i] = src[r];
      else dst.set(src.subarray(r * rowLen, (r + 1) * rowLen), i * rowLen);
    }
    return out;
  };
}

/** Identity without a copy: tensors are immutable, so a clone can share the buffer (as tfjs-backend-cpu does). */
function identityShared(): KFunc {
  return ({ inputs, backend }) => {
    const { x } = inputs;
    if (x.dtype === "string") return callStock("Identity", inputs, backend, {});
    (backend as unknown as tf.KernelBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** Sum over leading axes as column sums in JS (the stock kernel transposes first: ~15 ms for a bias gradient). */
function jsColumnSum(): KFunc {
  return ({ inputs, backend, attrs }) => {
    const { x } = inputs;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((p, q) => p - q);
    const contiguous = axes.every((ax, i) => i === 0 || ax === axes[i - 1] + 1);
    const leading = contiguous && axes.length > 0 && axes[0] === 0 && axes[axes.length - 1] < rank - 1;
    if (x.dtype !== "float32" || !leading || size(x.shape) === 0) return callStock("Sum", inputs, backend, attrs);
    const r = size(x.shape.slice(0, axes.length));
    const c = size(x.shape.slice(axes.length));
    const outShape = attrs.keepDims ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
    const out = backend.makeOutput(outShape, "float32");
    const h = heap(backend);
    const src = new Float32Array(h, offset(backend, x), r * c);
    const acc = new Float64Array(c);
    for (let i = 0; i < r; i++) {
      const o = i * c;
      for (let j = 0; j < c; j++) acc[j] += src[o + j];
    }
    new Float32Array(h, offset(backend, out), c).set(acc);
    return out;
  };
}

// ------------------------------------------------------------------------------------------------
// pure-WASM matmul: stay on XNNPACK's rank-2 fast path

type WasmMatMulFn = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: number,
  transposeB: number,
  outId: number,
) => void;
type WasmFusedFn = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: number,
  transposeB: number,
  activation: number,
  biasId: number,
  preluId: number,
  leakyAlpha: number,
  outId: number,
) => void;

// Ids for views into existing allocations; far above the backend's own counter, unregistered right after use.
let aliasNext = 0x40000000;
function withAlias<T>(backend: WasmBackendLike, byteOffset: number, elems: number, f: (id: number) => T): T {
  const id = aliasNext++;
  if (aliasNext > 0x7ffffff0) aliasNext = 0x40000000;
  backend.wasm.tfjs.registerTensor(id, elems, byteOffset);
  try {
    return f(id);
  } finally {
    backend.wasm.tfjs.disposeData(id); // also drops any XNNPACK operator cached on this id
  }
}

const shapeBytes = (s: number[]): Uint8Array => new Uint8Array(new Int32Array(s).buffer);
const WASM_ACT: Record<string, number> = { linear: 0, relu: 1, relu6: 2, prelu: 3, leakyrelu: 4, sigmoid: 5, elu: 6 };

function pureWasmMatMul(backend0: WasmBackendLike): { batchMatMul: KFunc; fusedMatMul: KFunc } {
  const mm = backend0.wasm.cwrap("BatchMatMul", null, [
    "number", "array", "number", "number", "array", "number", "number", "number", "number",
  ]) as unknown as WasmMatMulFn;
  const fmm = backend0.wasm.cwrap("_FusedMatMul", null, [
    "number", "array", "number", "number", "array", "number", "number", "number", "number", "number", "number", "number", "number",
  ]) as unknown as WasmFusedFn;

  const transposeLast2 = (backend: WasmBackendLike, t: TI): TI => {
    const r = t.shape.length;
    const perm = t.shape.map((_, i) => i);
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    return callStock1("Transpose", { x: t }, backend, { perm });
  };

  /** out = act(a @ b + bias) with a [batchA, m, k], b [batchB, k, n] untransposed, via rank-2 XNNPACK calls */
  const run = (
    backend: WasmBackendLike,
    a: TI,
    b: TI,
    p: MatMulPlan,
    bias: TI | undefined,
    act: number,
    alpha: number,
  ): TI => {
    const out = backend.makeOutput(p.outShape, "float32");
    const biasId = bias ? data(backend, bias).id : 0;
    const call = (aId: number, rows: number, bId: number, outId: number): void => {
      const as = shapeBytes([1, rows, p.k]);
      const bs = shapeBytes([1, p.k, p.n]);
      if (bias || act !== 0) fmm(aId, as, 3, bId, bs, 3, 0, 0, act, biasId, 0, alpha, outId);
      else mm(aId, as, 3, bId, bs, 3, 0, 0, outId);
    };
    const aData = data(backend, a);
    const bData = data(backend, b);
    const oData = data(backend, out);
    if (p.batchB === 1) {
      // weights broadcast over the batch: one product over all rows of a (b's id keeps XNNPACK's packed cache)
      call(aData.id, p.batch * p.m, bData.id, oData.id);
      return out;
    }
    const aStep = p.batchA === 1 ? 0 : p.m * p.k;
    const bStep = p.batchB === 1 ? 0 : p.k * p.n;
    for (let i = 0; i < p.batch; i++) {
      withAlias(backend, aData.memoryOffset + 4 * i * aStep, p.m * p.k, (aId) =>
        withAlias(backend, bData.memoryOffset + 4 * i * bStep, p.k * p.n, (bId) =>
          withAlias(backend, oData.memoryOffset + 4 * i * p.m * p.n, p.m * p.n, (oId) => call(aId, p.m, bId, oId)),
        ),
      );
    }
    return out;
  };

  const prep = (backend: WasmBackendLike, a: TI, b: TI, ta: boolean, tb: boolean): { a2: TI; b2: TI; temps: TI[] } => {
    const temps: TI[] = [];
    let a2 = a;
    let b2 = b;
    if (ta) temps.push((a2 = transposeLast2(backend, a)));
    if (tb) temps.push((b2 = transposeLast2(backend, b)));
    return { a2, b2, temps };
  };

  const batchMatMul: KFunc = ({ inputs, backend, attrs }) => {
    const { a, b } = inputs;
    const ta = Boolean(attrs.transposeA);
    const tb = Boolean(attrs.transposeB);
    const p = a.dtype === "float32" && b.dtype === "float32" ? planMatMul(a, b, ta, tb, "BatchMatMul") : undefined;
    if (!p || p.batch * p.m * p.n === 0 || p.k === 0) return callStock("BatchMatMul", inputs, backend, attrs);
    if (ta && !tb && p.batch === 1 && p.k * p.n + p.m * p.n < p.k * p.m) {
      // a^T b with a tall a (a weight gradient x^T dy where x is the wider one): transpose the smaller
      // operand instead, (b^T a)^T, and the small [n, m] result
      const bT = transposeLast2(backend, b);
      const q: MatMulPlan = { ...p, m: p.n, n: p.m, outShape: [...p.outShape.slice(0, -2), p.n, p.m] };
      const prodT = run(backend, bT, a, q, undefined, 0, 0);
      backend.disposeData(bT.dataId);
      const out = transposeLast2(backend, prodT);
      backend.disposeData(prodT.dataId);
      return out;
    }
    const { a2, b2, temps } = prep(backend, a, b, ta, tb);
    try {
      return run(backend, a2, b2, p, undefined, 0, 0);
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };

  const fusedMatMul: KFunc = ({ inputs, backend, attrs }) => {
    const { a, b } = inputs;
    const bias = inputs.bias as TI | undefined;
    const preluActivationWeights = inputs.preluActivationWeights as TI | undefined;
    const ta = Boolean(attrs.transposeA);
    const tb = Boolean(attrs.transposeB);
    const prelu = attrs.activation === "prelu";
    const act = prelu ? WASM_ACT.linear : WASM_ACT[String(attrs.activation ?? "linear")];
    const p = a.dtype === "float32" && b.dtype === "float32" ? planMatMul(a, b, ta, tb, "_FusedMatMul") : undefined;
    const biasOk = bias == null || (bias.shape.length === 1 && bias.shape[0] === p?.n);
    if (!p || act === undefined || (prelu && preluActivationWeights == null) || !biasOk || p.batch * p.m * p.n === 0 || p.k === 0) {
      return callStock("_FusedMatMul", inputs, backend, attrs);
    }
    const { a2, b2, temps } = prep(backend, a, b, ta, tb);
    try {
      const out = run(backend, a2, b2, p, bias ?? undefined, act, Number(attrs.leakyreluAlpha ?? 0.2));
      return prelu ? applyPrelu(backend, out, preluActivationWeights as TI) : out;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
  return { batchMatMul, fusedMatMul };
}

// ------------------------------------------------------------------------------------------------
// Medrel* kernels behind ops.ts (C when the addon is present, else the same loops in JS)

export const MEDREL_KERNELS = {
  gelu: "MedrelGelu",
  geluGrad: "MedrelGeluGrad",
  layerNorm: "MedrelLayerNorm",
  layerNormGrad: "MedrelLayerNormGrad",
  softmax: "MedrelSoftmax",
  softmaxGrad: "MedrelSoftmaxGrad",
  dropout: "MedrelDropout",
  adamw: "MedrelAdamW",
  residualAdd: "MedrelResidualAdd",
  // native only (BLAS inside, or fused where the JS fallback composes ops)
  addLayerNorm: "MedrelAddLayerNorm",
  addLayerNormGrad: "MedrelAddLayerNormGrad",
  linear: "MedrelLinear",
  linearGrad: "MedrelLinearGrad",
  attention: "MedrelAttention",
  attentionGrad: "MedrelAttentionGrad",
} as const;

/** Our kernels take float32 only; anything else is a caller's bug, named with the kernel. */
function f32(kernel: string, ...ts: (TI | undefined | null)[]): void {
  for (const t of ts) if (t && t.dtype !== "float32") throw new KernelError(kernel, `expects float32, got ${t.dtype}`);
}

/** The row kernels (C in the addon, or their JS twins): element-wise ones, then the row-normalising ones. */
function medrelKernels(impl: RowKernels): Record<string, KFunc> {
  return { ...elementwiseKernels(impl), ...rowNormKernels(impl) };
}

function elementwiseKernels(impl: RowKernels): Record<string, KFunc> {
  return {
    [MEDREL_KERNELS.gelu]: ({ inputs, backend }) => {
      const { x } = inputs;
      f32("MedrelGelu", x);
      const out = backend.makeOutput(x.shape, "float32");
      impl.gelu(heap(backend), offset(backend, x), offset(backend, out), size(x.shape));
      return out;
    },
    [MEDREL_KERNELS.geluGrad]: ({ inputs, backend }) => {
      const { x, dy } = inputs;
      f32("MedrelGeluGrad", x, dy);
      const out = backend.makeOutput(x.shape, "float32");
      impl.geluGrad(heap(backend), offset(backend, x), offset(backend, dy), offset(backend, out), size(x.shape));
      return out;
    },
    [MEDREL_KERNELS.adamw]: ({ inputs, backend, attrs }) => {
      const { p, g, m, v } = inputs;
      f32("MedrelAdamW", p, g, m, v);
      const n = size(p.shape);
      const po = backend.makeOutput(p.shape, "float32");
      const mo = backend.makeOutput(p.shape, "float32");
      const vo = backend.makeOutput(p.shape, "float32");
      const num = (k: string): number => Number(attrs[k]);
      impl.adamw(
        heap(backend),
        offset(backend, p),
        offset(backend, g),
        offset(backend, m),
        offset(backend, v),
        offset(backend, po),
        offset(backend, mo),
        offset(backend, vo),
        n,
        num("lr"),
        num("beta1"),
        num("beta2"),
        num("eps"),
        num("weightDecay"),
        num("bc1"),
        num("bc2"),
      );
      return [po, mo, vo];
    },
    // the stock Add; a kernel of its own so that its gradient keeps no inputs (ops.residualAdd)
    [MEDREL_KERNELS.residualAdd]: ({ inputs, backend }) => callStock1("Add", { a: inputs.a, b: inputs.b }, backend, {}),
    [MEDREL_KERNELS.dropout]: ({ inputs, backend, attrs }) => {
      const { x } = inputs;
      f32("MedrelDropout", x);
      const out = backend.makeOutput(x.shape, "float32");
      impl.dropout(heap(backend), offset(backend, x), offset(backend, out), size(x.shape), Number(attrs.rate), Number(attrs.seed));
      return out;
    },
  };
}

function rowNormKernels(impl: RowKernels): Record<string, KFunc> {
  return {
    [MEDREL_KERNELS.layerNorm]: ({ inputs, backend, attrs }) => {
      const { x, gamma, beta } = inputs;
      f32("MedrelLayerNorm", x, gamma, beta);
      const cols = x.shape[x.shape.length - 1];
      const rows = size(x.shape) / cols;
      const y = backend.makeOutput(x.shape, "float32");
      const stats = backend.makeOutput([rows, 2], "float32");
      impl.layerNorm(
        heap(backend),
        offset(backend, x),
        offset(backend, gamma),
        offset(backend, beta),
        offset(backend, y),
        offset(backend, stats),
        rows,
        cols,
        Number(attrs.eps),
      );
      return [y, stats];
    },
    [MEDREL_KERNELS.layerNormGrad]: ({ inputs, backend }) => {
      const { x, gamma, stats, dy } = inputs;
      f32("MedrelLayerNormGrad", x, gamma, stats, dy);
      const cols = x.shape[x.shape.length - 1];
      const rows = size(x.shape) / cols;
      const dx = backend.makeOutput(x.shape, "float32");
      const dg = backend.makeOutput([cols], "float32");
      const db = backend.makeOutput([cols], "float32");
      impl.layerNormGrad(
        heap(backend),
        offset(backend, x),
        offset(backend, gamma),
        offset(backend, stats),
        offset(backend, dy),
        offset(backend, dx),
        offset(backend, dg),
        offset(backend, db),
        rows,
        cols,
      );
      return [dx, dg, db];
    },
    [MEDREL_KERNELS.softmax]: ({ inputs, backend, attrs }) => {
      const { x } = inputs;
      const mask = inputs.mask as TI | undefined;
      f32("MedrelSoftmax", x, mask);
      const cols = x.shape[x.shape.length - 1];
      const rows = size(x.shape) / cols;
      const out = backend.makeOutput(x.shape, "float32");
      impl.softmax(
        heap(backend),
        offset(backend, x),
        offset(backend, out),
        rows,
        cols,
        Number(attrs.scale),
        mask ? offset(backend, mask) : -1,
        Number(attrs.rowsPerMask ?? rows),
      );
      return out;
    },
    [MEDREL_KERNELS.softmaxGrad]: ({ inputs, backend, attrs }) => {
      const { y, dy } = inputs;
      f32("MedrelSoftmaxGrad", y, dy);
      const cols = y.shape[y.shape.length - 1];
      const rows = size(y.shape) / cols;
      const out = backend.makeOutput(y.shape, "float32");
      impl.softmaxGrad(heap(backend), offset(backend, y), offset(backend, dy), offset(backend, out), rows, cols, Number(attrs.scale));
      return out;
    },
  };
}

/** Kernels that need BLAS (a whole linear layer's backward, attention straight from [B*T, H] projections) or fuse several ops. */
function nativeOnlyKernels(addon: NativeAddon): Record<string, KFunc> {
  const dims = (attrs: Attrs): [number, number, number, number] => [
    Number(attrs.batch),
    Number(attrs.heads),
    Number(attrs.seq),
    Number(attrs.headDim),
  ];
  return {
    [MEDREL_KERNELS.addLayerNorm]: ({ inputs, backend, attrs }) => {
      const { x, residual, gamma, beta } = inputs;
      const cols = x.shape[x.shape.length - 1];
      const rows = size(x.shape) / cols;
      const y = backend.makeOutput(x.shape, "float32");
      const stats = backend.makeOutput([rows, 2], "float32");
      const sum = backend.makeOutput(x.shape, "float32");
      const [o, h] = [(t: TI): number => offset(backend, t), heap(backend)];
      addon.addLayerNorm(h, o(x), o(residual), o(gamma), o(beta), o(y), o(stats), o(sum), rows, cols, Number(attrs.eps), Number(attrs.rate), Number(attrs.seed));
      return [y, stats, sum];
    },
    [MEDREL_KERNELS.addLayerNormGrad]: ({ inputs, backend, attrs }) => {
      const { sum, gamma, stats, dy } = inputs;
      const cols = sum.shape[sum.shape.length - 1];
      const rows = size(sum.shape) / cols;
      const rate = Number(attrs.rate);
      const dsum = backend.makeOutput(sum.shape, "float32");
      const dx = rate > 0 ? backend.makeOutput(sum.shape, "float32") : undefined;
      const dg = backend.makeOutput([cols], "float32");
      const db = backend.makeOutput([cols], "float32");
      const o = (t: TI): number => offset(backend, t);
      addon.addLayerNormGrad(heap(backend), o(sum), o(gamma), o(stats), o(dy), o(dsum), dx ? o(dx) : -1, o(dg), o(db), rows, cols, rate, Number(attrs.seed));
      return dx ? [dsum, dg, db, dx] : [dsum, dg, db];
    },
    [MEDREL_KERNELS.linear]: ({ inputs, backend }) => {
      const { x, W } = inputs;
      const b = inputs.b as TI | undefined;
      const [inDim, outDim] = W.shape;
      const rows = size(x.shape) / inDim;
      const out = backend.makeOutput([...x.shape.slice(0, -1), outDim], "float32");
      addon.gemm(heap(backend), 1, 0, 0, rows, outDim, inDim, offset(backend, x), 0, offset(backend, W), 0, offset(backend, out), 1, 0, b ? offset(backend, b) : -1, 0, 0);
      return out;
    },
    [MEDREL_KERNELS.linearGrad]: ({ inputs, backend, attrs }) => {
      const { x, W, dy } = inputs;
      const [inDim, outDim] = W.shape;
      const rows = size(x.shape) / inDim;
      const dx = backend.makeOutput(x.shape, "float32");
      const dW = backend.makeOutput(W.shape, "float32");
      const db = attrs.hasBias ? backend.makeOutput([outDim], "float32") : undefined;
      addon.linearGrad(
        heap(backend),
        offset(backend, x),
        offset(backend, W),
        offset(backend, dy),
        offset(backend, dx),
        offset(backend, dW),
        db ? offset(backend, db) : -1,
        rows,
        inDim,
        outDim,
      );
      return db ? [dx, dW, db] : [dx, dW];
    },
    // the probabilities [B, heads, T, T] are not kept: backward recomputes them block by block from q, k and the mask
    [MEDREL_KERNELS.attention]: ({ inputs, backend, attrs }) => {
      const { q, k, v } = inputs;
      const mask = inputs.mask as TI | undefined;
      const [B, NH, T, D] = dims(attrs);
      const ctx = backend.makeOutput(q.shape, "float32");
      addon.attention(
        heap(backend),
        offset(backend, q),
        offset(backend, k),
        offset(backend, v),
        mask ? offset(backend, mask) : -1,
        offset(backend, ctx),
        -1,
        B,
        NH,
        T,
        D,
        Number(attrs.scale),
        Number(attrs.rate),
        Number(attrs.seed),
      );
      return ctx;
    },
    [MEDREL_KERNELS.attentionGrad]: ({ inputs, backend, attrs }) => {
      const { q, k, v, dctx } = inputs;
      const mask = inputs.mask as TI | undefined;
      const [B, NH, T, D] = dims(attrs);
      const dq = backend.makeOutput(q.shape, "float32");
      const dk = backend.makeOutput(q.shape, "float32");
      const dv = backend.makeOutput(q.shape, "float32");
      addon.attentionGrad(
        heap(backend),
        offset(backend, q),
        offset(backend, k),
        offset(backend, v),
        -1,
        offset(backend, dctx),
        offset(backend, dq),
        offset(backend, dk),
        offset(backend, dv),
        B,
        NH,
        T,
        D,
        Number(attrs.scale),
        Number(attrs.rate),
        Number(attrs.seed),
        mask ? offset(backend, mask) : -1,
      );
      return [dq, dk, dv];
    },
  };
}

// ------------------------------------------------------------------------------------------------

export interface InstallOptions {
  /** the OpenBLAS addon; undefined = pure WASM improvements only */
  addon?: NativeAddon;
}

/**
 * Register our kernels on the active wasm backend. Returns the kernel names now overridden/added.
 * Idempotent: a second call first restores the stock kernels.
 */
export function installWasmKernels(opts: InstallOptions = {}): string[] {
  uninstallWasmKernels();
  const backend = tf.findBackend("wasm") as unknown as WasmBackendLike | null;
  if (!backend) throw new KernelError("installWasmKernels", "the wasm backend is not initialised");
  const { addon } = opts;
  const rows: RowKernels = addon ?? jsKernels;
  register("UnsortedSegmentSum", segmentSum(rows));
  register("GatherV2", gatherRows());
  register("Identity", identityShared());
  if (addon) {
    const m = nativeMatMul(addon);
    register("BatchMatMul", m.batchMatMul);
    register("_FusedMatMul", m.fusedMatMul);
    register("Sum", nativeSum(addon));
    for (const [name, fn] of Object.entries(nativeOnlyKernels(addon))) register(name, fn);
  } else {
    const m = pureWasmMatMul(backend);
    register("BatchMatMul", m.batchMatMul);
    register("_FusedMatMul", m.fusedMatMul);
    register("Sum", jsColumnSum());
  }
  for (const [name, fn] of Object.entries(medrelKernels(rows))) register(name, fn);
  installedRows = rows;
  return installedWasmKernels();
}

/** True where adamwHostMoments runs: the wasm backend with our kernels (C or JS) installed. */
export function hostMomentsAvailable(): boolean {
  return installedRows !== undefined && medrelKernelsActive();
}

/** AdamW hyper-parameters as the C kernel takes them (bias corrections already 1 - beta^t). */
export interface AdamWKernelAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  bc1: number;
  bc2: number;
}

/**
 * AdamW on one WASM parameter whose moments are host Float32Arrays (updated in place, outside the WASM heap):
 * returns the new p. Not a registered kernel: kernel attributes cannot carry arrays, and it has no gradient.
 */
export function adamwHostMoments(p: tf.Tensor, g: tf.Tensor, m: Float32Array, v: Float32Array, h: AdamWKernelAttrs): tf.Tensor {
  const backend = tf.findBackend("wasm") as unknown as WasmBackendLike | null;
  const impl = installedRows;
  if (!backend || !impl || !medrelKernelsActive()) throw new KernelError("adamwHostMoments", "needs the wasm backend with our kernels");
  if (p.dtype !== "float32" || g.dtype !== "float32") throw new KernelError("adamwHostMoments", `expects float32, got ${p.dtype}/${g.dtype}`);
  const n = size(p.shape);
  if (m.length !== n || v.length !== n) throw new KernelError("adamwHostMoments", `moments hold ${m.length}/${v.length} values for ${n}`);
  const out = backend.makeOutput(p.shape, "float32");
  const h0 = heap(backend);
  impl.adamw(h0, offset(backend, p), offset(backend, g), m, v, offset(backend, out), m, v, n, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.bc1, h.bc2);
  return tf.engine().makeTensorFromTensorInfo(out);
}

/** True when the BLAS-backed Medrel* kernels (linear, attention) are registered for the active backend. */
export function nativeKernelsActive(): boolean {
  // MEDREL_FUSED_BLAS=0 keeps linear/attention on tf.fused.matMul + head transposes (to measure what they buy)
  return tf.getBackend() === "wasm" && process.env.MEDREL_FUSED_BLAS !== "0" && tf.getKernel(MEDREL_KERNELS.linear, "wasm") != null;
}

/** True when the Medrel* kernels (C or JS over the heap) are registered for the active backend. */
export function medrelKernelsActive(): boolean {
  return tf.getBackend() === "wasm" && tf.getKernel(MEDREL_KERNELS.gelu, "wasm") != null;
}
