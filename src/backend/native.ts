/**
 * Loader for the OpenBLAS addon built by `src/backend/native/build.sh`.
 * All its functions take the WebAssembly heap (ArrayBuffer) plus byte offsets and work in place; where an offset
 * is typed `number | Float32Array`, a typed array outside the heap may stand in for it.
 * `MEDREL_NATIVE=0` disables it (pure WASM), which is also what happens when the build is missing.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chooseBlasCore } from "./cpu";

export interface NativeAddon {
  /** C[i] = alpha op(A[i]) op(B[i]) + beta C[i] (+bias, activation); strides in elements, 0 = broadcast */
  gemm(
    heap: ArrayBuffer,
    batch: number,
    transA: number,
    transB: number,
    m: number,
    n: number,
    k: number,
    aOff: number,
    strideA: number,
    bOff: number,
    strideB: number,
    cOff: number,
    alpha: number,
    beta: number,
    biasOff: number,
    act: number,
    actAlpha: number,
  ): void;
  gelu(heap: ArrayBuffer, xOff: number, yOff: number, n: number): void;
  geluGrad(heap: ArrayBuffer, xOff: number, dyOff: number, dxOff: number, n: number): void;
  layerNorm(
    heap: ArrayBuffer,
    xOff: number,
    gammaOff: number,
    betaOff: number,
    yOff: number,
    statsOff: number,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  layerNormGrad(
    heap: ArrayBuffer,
    xOff: number,
    gammaOff: number,
    statsOff: number,
    dyOff: number,
    dxOff: number,
    dgOff: number,
    dbOff: number,
    rows: number,
    cols: number,
  ): void;
  /** sum = dropout(x, rate, seed) + residual; y = layerNorm(sum) (stats as layerNorm) */
  addLayerNorm(
    heap: ArrayBuffer,
    xOff: number,
    resOff: number,
    gammaOff: number,
    betaOff: number,
    yOff: number,
    statsOff: number,
    sumOff: number,
    rows: number,
    cols: number,
    eps: number,
    rate: number,
    seed: number,
  ): void;
  /** dsum = layerNorm's input gradient (the residual's), dx = dropout'(dsum) (written only when rate > 0) */
  addLayerNormGrad(
    heap: ArrayBuffer,
    sumOff: number,
    gammaOff: number,
    statsOff: number,
    dyOff: number,
    dsumOff: number,
    dxOff: number,
    dgOff: number,
    dbOff: number,
    rows: number,
    cols: number,
    rate: number,
    seed: number,
  ): void;
  softmax(
    heap: ArrayBuffer,
    xOff: number,
    yOff: number,
    rows: number,
    cols: number,
    scale: number,
    maskOff: number,
    rowsPerMask: number,
  ): void;
  softmaxGrad(heap: ArrayBuffer, yOff: number, dyOff: number, dxOff: number, rows: number, cols: number, scale: number): void;
  segmentSum(
    heap: ArrayBuffer,
    dataOff: number,
    idsOff: number,
    outOff: number,
    nIds: number,
    rowLen: number,
    numSegments: number,
  ): void;
  dropout(heap: ArrayBuffer, xOff: number, yOff: number, n: number, rate: number, seed: number): void;
  /** m/v (and their outputs) may be Float32Arrays outside the heap, updated in place when mOut/vOut are the same arrays */
  adamw(
    heap: ArrayBuffer,
    pOff: number,
    gOff: number,
    mOff: number | Float32Array,
    vOff: number | Float32Array,
    pOutOff: number,
    mOutOff: number | Float32Array,
    vOutOff: number | Float32Array,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    bc1: number,
    bc2: number,
  ): void;
  /** probsOff -1: the probabilities are not written out */
  attention(
    heap: ArrayBuffer,
    qOff: number,
    kOff: number,
    vOff: number,
    maskOff: number,
    ctxOff: number,
    probsOff: number,
    batch: number,
    heads: number,
    seq: number,
    headDim: number,
    scale: number,
    rate: number,
    seed: number,
  ): void;
  attentionGrad(
    heap: ArrayBuffer,
    qOff: number,
    kOff: number,
    vOff: number,
    probsOff: number,
    dctxOff: number,
    dqOff: number,
    dkOff: number,
    dvOff: number,
    batch: number,
    heads: number,
    seq: number,
    headDim: number,
    scale: number,
    rate: number,
    seed: number,
    /** -1: no mask; needed when probsOff is -1 (the probabilities are recomputed) */
    maskOff: number,
  ): void;
  linearGrad(
    heap: ArrayBuffer,
    xOff: number,
    wOff: number,
    dyOff: number,
    dxOff: number,
    dwOff: number,
    dbOff: number,
    rows: number,
    inDim: number,
    outDim: number,
  ): void;
  /** MEDREL_NATIVE_ABI of the C source it was built from (absent in builds before version 2) */
  abiVersion?(): number;
  /** threads for every product and kernel of the addon (its own pool, pool.c; OpenBLAS itself runs one) */
  setThreads(n: number): void;
  getThreads(): number;
  /** 0: float32 products (OpenBLAS); 1: bfloat16 operands with float32 sums. Returns what runs (2: bfloat16 emulated
   * through OpenBLAS on a CPU without AVX512_BF16 / AMX or without libdnnl.so.2) and its engine in words */
  setPrecision(p: 0 | 1): { precision: 0 | 1 | 2; engine: string };
  blasInfo(): string;
  /** whether denormals are flushed (FTZ|DAZ) in the calling thread and each pool thread while a kernel runs */
  denormalsFlushed(): { caller: boolean; threads: boolean[] };
}

/** The C source's MEDREL_NATIVE_ABI this file's signatures match; a build of another version is not loaded. */
export const NATIVE_ABI = 5;

/** Activation codes understood by `gemm`'s epilogue. */
export const NATIVE_ACT = { linear: 0, relu: 1, relu6: 2, sigmoid: 3, leakyrelu: 4, elu: 5, gelu: 6 } as const;

const ADDON_REL = path.join("native", "build", "Release", "medrel_native.node");

/** Where the built addon may live: beside this file (tsx from src/) or back in src/ when running from dist/. */
export function addonCandidates(): string[] {
  return [path.join(__dirname, ADDON_REL), path.resolve(__dirname, "..", "..", "src", "backend", ADDON_REL)];
}

/** The most threads the addon's pool runs (POOL_MAX in pool.c). */
export const POOL_MAX_THREADS = 64;

/**
 * Threads of the addon's pool (pool.c; OpenBLAS itself runs one) for this process: MEDREL_BLAS_THREADS, else every
 * core (one run owns the machine; a launcher that runs several workers sets floor(cores / workers) for each).
 * Anything but a positive integer is an error. More than the pool runs is capped, and more than the machine's
 * cores is kept (a benchmark may oversubscribe on purpose); both say so
 * through `warn`.
 */
export function blasThreads(env: NodeJS.ProcessEnv = process.env, warn: (m: string) => void = () => {}, cores = os.availableParallelism()): number {
  const raw = env.MEDREL_BLAS_THREADS;
  if (raw === undefined || raw.trim() === "") return Math.min(cores, POOL_MAX_THREADS);
  const n = Number(raw);
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`MEDREL_BLAS_THREADS must be a positive integer, got "${raw}"`);
  if (n > POOL_MAX_THREADS) {
    warn(`[medrel] warning: MEDREL_BLAS_THREADS=${n} capped at ${POOL_MAX_THREADS}, the most the native pool runs (this machine has ${cores} cores)`);
    return POOL_MAX_THREADS;
  }
  if (n > cores) warn(`[medrel] warning: MEDREL_BLAS_THREADS=${n} is more than this machine's ${cores} cores: threads will share cores (slower)`);
  return n;
}

/** Threads per worker when `workers` processes share this machine's cores (at least 1). */
export function threadsPerWorker(workers: number, cores: number = os.availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, workers)));
}

let cached: { addon?: NativeAddon; error?: string } | undefined;

/** Load the addon once. Returns the error line instead of throwing so callers can fall back. */
export function loadNative(): { addon?: NativeAddon; error?: string } {
  if (cached) return cached;
  if (process.env.MEDREL_NATIVE === "0") {
    cached = { error: "disabled by MEDREL_NATIVE=0" };
    return cached;
  }
  const threads = blasThreads(process.env, (m) => console.warn(m)); // a bad value is the user's error, not a reason to fall back to pure WASM
  const file = addonCandidates().find((p) => fs.existsSync(p));
  if (!file) {
    cached = { error: "addon not built (run `bash src/backend/native/build.sh`)" };
    return cached;
  }
  try {
    // OpenBLAS reads OPENBLAS_CORETYPE once, when the addon loads it: choose its kernels first
    chooseBlasCore(file);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require(file) as NativeAddon;
    const abi = addon.abiVersion?.() ?? 1;
    if (abi !== NATIVE_ABI) {
      // an addon newer than this code means the code is the stale one (dist/ not rebuilt since a pull): say which
      const fix = abi > NATIVE_ABI ? "this code is older than the addon: rebuild it (`npm run build` for dist/, which the notebooks import)" : "run `bash src/backend/native/build.sh`";
      cached = { error: `${file} was built from another medrel_native.c (ABI ${abi}, this code needs ${NATIVE_ABI}): ${fix}` };
      return cached;
    }
    addon.setThreads(threads);
    cached = { addon };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    cached = { error: `${file}: ${msg.split("\n")[0].slice(0, 160)}` };
  }
  return cached;
}
