/**
 * Fused transformer ops with hand-written gradients, for src/model.
 *
 * On the WASM backend they run as single kernels over the WASM heap (C from the OpenBLAS addon, or the
 * same loops in JS when the addon is absent), each with a registered gradient kernel, so a BERT layer is
 * a handful of kernels instead of dozens of elementwise ops. On other backends (tfjs-node, cpu) the same
 * maths runs as composite tf ops under tf.customGrad. Numerics follow PyTorch: GELU is the erf form,
 * LayerNorm uses the biased variance, dropout scales kept units by 1/(1-rate).
 */
import * as tf from "@tensorflow/tfjs";
import { mix32 } from "./jskernels";
import { adamwHostMoments, MEDREL_KERNELS, medrelKernelsActive, nativeKernelsActive, type AdamWKernelAttrs } from "./kernels";

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;

export class OpShapeError extends Error {
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = "OpShapeError";
  }
}

function run(kernel: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor | tf.Tensor[] {
  return tf.engine().runKernel(kernel, inputs, attrs) as tf.Tensor | tf.Tensor[];
}
function run1(kernel: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor {
  return run(kernel, inputs, attrs) as tf.Tensor;
}

// ------------------------------------------------------------------------------------------------
// gradients of the Medrel* kernels (registered once; used only where those kernels run)

let gradientsRegistered = false;
function registerGradients(): void {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  tf.registerGradient({
    kernelName: MEDREL_KERNELS.gelu,
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => ({ x: () => run1(MEDREL_KERNELS.geluGrad, { x: saved[0], dy: dy as tf.Tensor }) }),
  });
  tf.registerGradient({
    kernelName: MEDREL_KERNELS.layerNorm,
    inputsToSave: ["x", "gamma"],
    outputsToSave: [false, true],
    gradFunc: (dys, saved) => {
      const dy = (dys as tf.Tensor[])[0];
      const [x, gamma, stats] = saved;
      const [dx, dg, db] = run(MEDREL_KERNELS.layerNormGrad, { x, gamma, stats, dy }) as tf.Tensor[];
      return { x: () => dx, gamma: () => dg, beta: () => db };
    },
  });
  tf.registerGradient({
    kernelName: MEDREL_KERNELS.addLayerNorm,
    inputsToSave: ["gamma"],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const dy = (dys as tf.Tensor[])[0];
      const [gamma, stats, sum] = saved;
      const rate = Number((attrs as tf.NamedAttrMap).rate);
      const seed = Number((attrs as tf.NamedAttrMap).seed);
      const [dsum, dg, db, dx] = run(MEDREL_KERNELS.addLayerNormGrad, { sum, gamma, stats, dy }, { rate, seed }) as tf.Tensor[];
      // without dropout both branches get dsum: a second tensor over the same data (backprop disposes each one it sums into)
      return { x: () => dx ?? dsum.clone(), residual: () => dsum, gamma: () => dg, beta: () => db };
    },
  });
  tf.registerGradient({
    kernelName: MEDREL_KERNELS.softmax,
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const y = saved[0];
      const scale = Number((attrs as tf.NamedAttrMap).scale);
      const rowsPerMask = Number((attrs as tf.NamedAttrMap).rowsPerMask);
      const dx = run1(MEDREL_KERNELS.softmaxGrad, { y, dy: dy as tf.Tensor }, { scale });
      return {
        x: () => dx,
        // d/dmask: the unscaled row gradients summed over the rows that share a mask row (rarely needed)
        mask: () => {
          const cols = y.shape[y.shape.length - 1];
          const g = tf.div(dx, scale).reshape([-1, rowsPerMask, cols]).sum(1);
          return g;
        },
      };
    },
  });
  tf.registerGradient({
    kernelName: MEDREL_KERNELS.linear,
    inputsToSave: ["x", "W"],
    gradFunc: (dy, saved, attrs) => {
      const hasBias = Boolean((attrs as tf.NamedAttrMap).hasBias);
      const g = run(MEDREL_KERNELS.linearGrad, { x: saved[0], W: saved[1], dy: dy as tf.Tensor }, { hasBias }) as tf.Tensor[];
      const out: Record<string, () => tf.Tensor> = { x: () => g[0], W: () => g[1] };
      if (hasBias) out.b = () => g[2];
      return out;
    },
  });
  tf.registerGradient({
    kernelName: MEDREL_KERNELS.attention,
    // not the probabilities: the gradient kernel recomputes them (selfAttention always passes a mask, zeros if none)
    inputsToSave: ["q", "k", "v", "mask"],
    gradFunc: (dy, saved, attrs) => {
      const [q, k, v, mask] = saved;
      const dctx = dy as tf.Tensor;
      const [dq, dk, dv] = run(MEDREL_KERNELS.attentionGrad, { q, k, v, mask, dctx }, attrs as tf.NamedAttrMap) as tf.Tensor[];
      // the additive mask comes from the input ids: treated as a constant
      return { q: () => dq, k: () => dk, v: () => dv, mask: () => tf.zeros([Number((attrs as tf.NamedAttrMap).batch), Number((attrs as tf.NamedAttrMap).seq)]) };
    },
  });
  tf.registerGradient({
    kernelName: MEDREL_KERNELS.residualAdd,
    gradFunc: (dy) => ({ a: () => tf.clone(dy as tf.Tensor), b: () => tf.clone(dy as tf.Tensor) }),
  });
  tf.registerGradient({
    kernelName: MEDREL_KERNELS.dropout,
    gradFunc: (dy, _saved, attrs) => {
      const a = attrs as tf.NamedAttrMap;
      // the mask is a pure function of (seed, index): re-derive it instead of storing it
      return { x: () => run1(MEDREL_KERNELS.dropout, { x: dy as tf.Tensor }, { rate: a.rate, seed: a.seed }) };
    },
  });
}
registerGradients();

// ------------------------------------------------------------------------------------------------
// GELU

// tf.customGrad's typing takes (...inputs: (Tensor | GradSaveFunc)[]); our functions are precise, hence the casts
type CustomFn = Parameters<typeof tf.customGrad>[0];

const geluComposite = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  const value = tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, SQRT1_2)))));
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const xs = saved[0];
      const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(xs, SQRT1_2))));
      const pdf = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(xs))));
      return tf.mul(dy, tf.add(cdf, tf.mul(xs, pdf)));
    },
  };
}) as unknown as CustomFn) as (x: tf.Tensor) => tf.Tensor;

/** GELU, erf form (PyTorch `nn.GELU()` default). Forward within ~1e-7 of exact in float32. */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (medrelKernelsActive()) return run1(MEDREL_KERNELS.gelu, { x }) as T;
  return geluComposite(x) as T;
}

// ------------------------------------------------------------------------------------------------
// Linear

/**
 * y = x @ W + b with W stored [in, out] (x: [..., in] -> [..., out]). Leading dims are folded into one
 * 2-D product (the fast path on every backend); bias is fused into the product kernel.
 */
export function linear(x: tf.Tensor, W: tf.Tensor, b?: tf.Tensor | null): tf.Tensor {
  if (W.rank !== 2) throw new OpShapeError("linear", `W must be [in, out], got [${W.shape}]`);
  const [inDim, outDim] = W.shape;
  if (x.shape[x.rank - 1] !== inDim) {
    throw new OpShapeError("linear", `x [${x.shape}] does not end in W's input size ${inDim}`);
  }
  if (b && (b.rank !== 1 || b.shape[0] !== outDim)) {
    throw new OpShapeError("linear", `b must be [${outDim}], got [${b.shape}]`);
  }
  if (nativeKernelsActive()) {
    // one kernel forward (GEMM + bias), one backward (dx, dW, db)
    const inputs: tf.NamedTensorMap = b ? { x, W, b } : { x, W };
    return run1(MEDREL_KERNELS.linear, inputs, { hasBias: Boolean(b) });
  }
  return tf.tidy(() => {
    const x2 = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
    const y = b ? tf.fused.matMul({ a: x2, b: W as tf.Tensor2D, bias: b }) : tf.matMul(x2, W as tf.Tensor2D);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  });
}

// ------------------------------------------------------------------------------------------------
// residual add

/**
 * a + b for tensors of one shape (a residual connection; addLayerNorm's composite path). tf.add keeps both inputs
 * until backward for its broadcast shapes; with our WASM kernels this keeps nothing (two [B*T, H] activations less
 * per BERT layer where the addon's fused kernel is missing).
 */
function residualAdd<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
  if (medrelKernelsActive()) return run1(MEDREL_KERNELS.residualAdd, { a, b }) as T;
  return tf.add(a, b);
}

// ------------------------------------------------------------------------------------------------
// LayerNorm

const layerNormComposite = (eps: number) =>
  tf.customGrad(((x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
    const axis = x.rank - 1;
    const { value, xhat, rstd } = tf.tidy(() => {
      const mean = tf.mean(x, axis, true);
      const xc = tf.sub(x, mean);
      const variance = tf.mean(tf.square(xc), axis, true);
      const rstd = tf.rsqrt(tf.add(variance, eps));
      const xhat = tf.mul(xc, rstd);
      return { value: tf.add(tf.mul(xhat, gamma), beta), xhat, rstd };
    });
    save([xhat, rstd, gamma]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, g] = saved;
        const ax = xh.rank - 1;
        const dh = tf.mul(dy, g);
        const dx = tf.mul(rs, tf.sub(tf.sub(dh, tf.mean(dh, ax, true)), tf.mul(xh, tf.mean(tf.mul(dh, xh), ax, true))));
        const cols = xh.shape[ax];
        const dg = tf.sum(tf.reshape(tf.mul(dy, xh), [-1, cols]), 0);
        const db = tf.sum(tf.reshape(dy, [-1, cols]), 0);
        return [dx, dg, db];
      },
    };
  }) as unknown as CustomFn) as (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;

/** LayerNorm over the last axis (biased variance, as PyTorch); BERT uses eps = 1e-12. */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-12): T {
  const cols = x.shape[x.rank - 1];
  if (gamma.size !== cols || beta.size !== cols) {
    throw new OpShapeError("layerNorm", `gamma/beta must have ${cols} entries, got [${gamma.shape}] and [${beta.shape}]`);
  }
  if (medrelKernelsActive()) {
    // the second output (per-row mean, rstd) is only for the gradient; the tape keeps its own copy
    return tf.tidy(() => (run(MEDREL_KERNELS.layerNorm, { x, gamma, beta }, { eps }) as tf.Tensor[])[0]) as T;
  }
  return layerNormComposite(eps)(x, gamma, beta) as T;
}

/**
 * The end of BERT's residual blocks, LayerNorm(dropout(x) + residual): one kernel each way with the addon
 * (no dropout or sum tensor of its own), else those three ops (the sum by residualAdd, which keeps nothing for
 * backward). Dropout draws its mask as `dropout(x, rate, seed)` does, so both paths give the same numbers; rate 0
 * (evaluation) adds x as it is.
 */
export function addLayerNorm<T extends tf.Tensor>(x: T, residual: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-12, drop = { rate: 0, seed: 0 }): T {
  if (!tf.util.arraysEqual(x.shape, residual.shape)) throw new OpShapeError("addLayerNorm", `x [${x.shape}] and residual [${residual.shape}] differ`);
  const { rate } = drop;
  if (!(rate >= 0 && rate < 1)) throw new OpShapeError("addLayerNorm", `dropout rate must be in [0, 1), got ${rate}`);
  const seed = drop.seed >>> 0;
  if (!nativeKernelsActive()) return layerNorm(residualAdd(dropout(x, rate, seed), residual), gamma, beta, eps) as T;
  const cols = x.shape[x.rank - 1];
  if (gamma.size !== cols || beta.size !== cols) {
    throw new OpShapeError("addLayerNorm", `gamma/beta must have ${cols} entries, got [${gamma.shape}] and [${beta.shape}]`);
  }
  // outputs [y, stats, sum]: the last two only for the gradient (the tape keeps its own references)
  return tf.tidy(() => (run(MEDREL_KERNELS.addLayerNorm, { x, residual, gamma, beta }, { eps, rate, seed }) as tf.Tensor[])[0]) as T;
}

// ------------------------------------------------------------------------------------------------
// attention

/**
 * softmax(scale * scores + mask) over the last axis. scores: [B, heads, Tq, Tk]; mask: additive, one row
 * per example ([B, Tk] or [B, 1, 1, Tk]; 0 = attend, large negative = masked) or null.
 */
export function maskedSoftmax(scores: tf.Tensor, mask: tf.Tensor | null, scale = 1): tf.Tensor {
  const tk = scores.shape[scores.rank - 1];
  if (mask && (mask.shape[mask.rank - 1] !== tk || mask.size !== scores.shape[0] * tk)) {
    throw new OpShapeError("maskedSoftmax", `mask [${mask.shape}] must hold one row of ${tk} per example of scores [${scores.shape}]`);
  }
  if (medrelKernelsActive()) {
    const rows = scores.size / tk;
    const rowsPerMask = mask ? rows / scores.shape[0] : rows;
    return tf.tidy(() => {
      const inputs: tf.NamedTensorMap = mask ? { x: scores, mask: tf.reshape(mask, [-1, tk]) } : { x: scores };
      return run1(MEDREL_KERNELS.softmax, inputs, { scale, rowsPerMask });
    });
  }
  return tf.tidy(() => {
    let z = scale === 1 ? scores : tf.mul(scores, scale);
    if (mask) {
      const shape = [scores.shape[0], ...new Array<number>(scores.rank - 2).fill(1), tk];
      z = tf.add(z, tf.reshape(mask, shape));
    }
    return tf.softmax(z);
  });
}

/** q @ k^T for q, k: [B, heads, T, d] -> [B, heads, Tq, Tk] (transposed operand handled in the kernel). */
export function attentionScores(q: tf.Tensor, k: tf.Tensor): tf.Tensor {
  return tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true);
}

export interface AttentionOptions {
  /** default 1/sqrt(d) */
  scale?: number;
  /** dropout on the attention probabilities (training only; 0 = off) */
  dropoutRate?: number;
  /** seed for that dropout (draw it from the run's Rng) */
  seed?: number;
}

/** Scaled dot-product attention: dropout(softmax(q k^T * scale + mask)) v, all [B, heads, T, d]. */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | null, opts: AttentionOptions = {}): tf.Tensor {
  const d = q.shape[q.rank - 1];
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  return tf.tidy(() => {
    let probs = maskedSoftmax(attentionScores(q, k), mask, scale);
    if (opts.dropoutRate && opts.dropoutRate > 0) probs = dropout(probs, opts.dropoutRate, opts.seed ?? 0);
    return tf.matMul(probs as tf.Tensor3D, v as tf.Tensor3D);
  });
}

export interface SelfAttentionOptions extends AttentionOptions {
  /** number of heads; H must divide by it */
  heads: number;
  /** examples in the batch, needed when q is 2-D [B*T, H] and there is no mask to read it from */
  batch?: number;
}

/**
 * Multi-head attention straight from the projections: q, k, v are [B, T, H] or [B*T, H] (what `linear`
 * returns), the result has q's shape (heads merged back), ready for the output projection. Equal to
 * splitting heads, `attention`, and merging, including the dropout mask for the same seed. With the
 * OpenBLAS addon this is one kernel each way and no head transposes. `mask` is additive [B, T] (or
 * [B, 1, 1, T]) and is treated as a constant (no gradient).
 */
export function selfAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | null, opts: SelfAttentionOptions): tf.Tensor {
  const H = q.shape[q.rank - 1];
  const nh = opts.heads;
  if (!(Number.isInteger(nh) && nh > 0 && H % nh === 0)) throw new OpShapeError("selfAttention", `hidden size ${H} does not split into ${nh} heads`);
  if (!tf.util.arraysEqual(k.shape, q.shape) || !tf.util.arraysEqual(v.shape, q.shape)) {
    throw new OpShapeError("selfAttention", `q [${q.shape}], k [${k.shape}] and v [${v.shape}] must have the same shape`);
  }
  const B = q.rank === 3 ? q.shape[0] : opts.batch ?? mask?.shape[0];
  if (B === undefined || q.size % (B * H) !== 0) {
    throw new OpShapeError("selfAttention", `cannot tell the batch size of q [${q.shape}] (pass opts.batch)`);
  }
  const T = q.size / (B * H);
  const d = H / nh;
  if (mask && mask.size !== B * T) throw new OpShapeError("selfAttention", `mask [${mask.shape}] must hold ${B} rows of ${T}`);
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const rate = opts.dropoutRate ?? 0;
  if (!(rate >= 0 && rate < 1)) throw new OpShapeError("selfAttention", `dropoutRate must be in [0, 1), got ${rate}`);
  const seed = (opts.seed ?? 0) >>> 0;
  if (nativeKernelsActive()) {
    return tf.tidy(() => {
      const inputs: tf.NamedTensorMap = { q, k, v, mask: mask ? tf.reshape(mask, [B, T]) : tf.zeros([B, T]) };
      const attrs = { batch: B, heads: nh, seq: T, headDim: d, scale, rate, seed };
      return run1(MEDREL_KERNELS.attention, inputs, attrs);
    });
  }
  return tf.tidy(() => {
    const heads = (t: tf.Tensor): tf.Tensor => tf.transpose(tf.reshape(t, [B, T, nh, d]), [0, 2, 1, 3]);
    const ctx = attention(heads(q), heads(k), heads(v), mask, { scale, dropoutRate: rate, seed });
    return tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), q.shape);
  });
}

// ------------------------------------------------------------------------------------------------
// dropout

/** The keep/scale mask dropout(x, rate, seed) applies, as a Float32Array (for tests and other backends). */
export function dropoutMask(n: number, rate: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const t = rate * 4294967296;
  const thr = t > 4294967295 ? 4294967295 : Math.floor(t);
  const scale = Math.fround(rate >= 1 ? 0 : 1 / (1 - rate));
  const key = mix32((seed ^ 0x9e3779b9) >>> 0);
  for (let i = 0; i < n; i++) out[i] = mix32((Math.imul(i, 0x9e3779b9) + key) >>> 0) >= thr ? scale : 0;
  return out;
}

/**
 * Inverted dropout with a counter-hash mask: the mask is a pure function of (seed, element index), so it
 * is reproducible from the run's seeded Rng and identical on every backend. rate 0 returns x unchanged.
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed: number): T {
  if (!(rate >= 0 && rate < 1)) throw new OpShapeError("dropout", `rate must be in [0, 1), got ${rate}`);
  if (rate === 0) return x;
  const s = seed >>> 0;
  if (medrelKernelsActive()) return run1(MEDREL_KERNELS.dropout, { x }, { rate, seed: s }) as T;
  return tf.tidy(() => tf.mul(x, tf.tensor(dropoutMask(x.size, rate, s), x.shape, "float32"))) as T;
}

// ------------------------------------------------------------------------------------------------
// AdamW

export interface AdamWHyper {
  /** learning rate for this parameter (already scheduled / layer-scaled) */
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** decoupled weight decay for this parameter (0 for biases/LayerNorm) */
  weightDecay: number;
  /** 1-based step count t (bias corrections 1 - beta^t) */
  step: number;
}

/** The C kernel's attributes: the step count becomes the bias corrections 1 - beta^t. */
function kernelAttrs(h: AdamWHyper): AdamWKernelAttrs {
  return { lr: h.lr, beta1: h.beta1, beta2: h.beta2, eps: h.eps, weightDecay: h.weightDecay, bc1: 1 - h.beta1 ** h.step, bc2: 1 - h.beta2 ** h.step };
}

/**
 * One PyTorch-AdamW update of one parameter as a single kernel: returns new {p, m, v} (the caller assigns
 * them to its variables). p' = p(1 - lr wd) - lr/(1-b1^t) * m' / (sqrt(v'/(1-b2^t)) + eps).
 * Not differentiable (optimizer state).
 */
export function adamwUpdate(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, h: AdamWHyper): { p: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  for (const [name, t] of [["g", g], ["m", m], ["v", v]] as const) {
    if (!tf.util.arraysEqual(t.shape, p.shape)) throw new OpShapeError("adamwUpdate", `${name} [${t.shape}] must match p [${p.shape}]`);
  }
  const { bc1, bc2 } = kernelAttrs(h);
  if (medrelKernelsActive()) {
    const [p1, m1, v1] = run(MEDREL_KERNELS.adamw, { p, g, m, v }, { ...kernelAttrs(h) }) as tf.Tensor[];
    return { p: p1, m: m1, v: v1 };
  }
  return tf.tidy(() => {
    const m1 = tf.add(tf.mul(m, h.beta1), tf.mul(g, 1 - h.beta1));
    const v1 = tf.add(tf.mul(v, h.beta2), tf.mul(tf.square(g), 1 - h.beta2));
    const denom = tf.add(tf.sqrt(tf.div(v1, bc2)), h.eps);
    const p1 = tf.sub(tf.mul(p, 1 - h.lr * h.weightDecay), tf.mul(tf.div(m1, denom), h.lr / bc1));
    return { p: p1, m: m1, v: v1 };
  });
}

/**
 * The same update with m and v in host Float32Arrays, updated in place (outside the WASM heap, which then holds
 * weights, gradients and activations only): returns the new p. WASM with our kernels only (kernels.hostMomentsAvailable).
 */
export function adamwUpdateHostMoments(p: tf.Tensor, g: tf.Tensor, m: Float32Array, v: Float32Array, h: AdamWHyper): tf.Tensor {
  if (!tf.util.arraysEqual(g.shape, p.shape)) throw new OpShapeError("adamwUpdateHostMoments", `g [${g.shape}] must match p [${p.shape}]`);
  return adamwHostMoments(p, g, m, v, kernelAttrs(h));
}
