/**
 * Backend selection: tfjs-node-gpu (if it loads and sees a GPU) > tfjs-node > WASM > plain CPU.
 * `MEDREL_BACKEND` (or the `force` option) picks one; the choice is printed once and recorded with results.
 */
import * as os from "os";
import * as tf from "@tensorflow/tfjs";
import { installWasmKernels } from "./kernels";
import { loadNative } from "./native";
import { blasCoreChoice, cpuModel, describeBlasCore } from "./cpu";
import { installLeanBackprop } from "./tape";
import { backendNumerics } from "./numerics";

export type BackendName = "tensorflow-gpu" | "tensorflow" | "wasm" | "cpu";
export const BACKEND_NAMES: readonly BackendName[] = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"];

export interface BackendInfo {
  /** what we asked for */
  name: BackendName;
  /** tf.getBackend() after selection */
  tfBackend: string;
  /** extra kernels registered on top of the backend (e.g. native BLAS matmul) */
  kernels: string[];
  /** one line per backend that was tried and failed */
  notices: string[];
  /** OpenBLAS build/threads when the native kernels are active */
  blas?: string;
  /** threads the numeric kernels run on: the addon pool's (MEDREL_BLAS_THREADS, default all cores), TensorFlow's own pool (all cores), else 1 */
  threads: number;
  /** the CPU's model name (timings are only comparable on the same one) */
  cpu: string;
  /** OpenBLAS's kernels and who chose them, when the native kernels are active */
  blasCore?: string;
  /** whether denormal floats are flushed to zero in every thread that runs our kernels (native kernels only) */
  denormalsFlushed: boolean;
  /** the kernel numerics, one short string recorded with every run (numerics.ts) */
  numerics: string;
}

let current: BackendInfo | undefined;

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // tfjs-node's own message is a paragraph with a path; what a user needs is why and where to look
  if (/tfjs_binding\.node/.test(msg)) return "native binding not installed (its install script downloads libtensorflow; see npm run doctor)";
  return msg.split("\n")[0].slice(0, 200);
}

async function tryNode(pkg: string): Promise<string | undefined> {
  // tfjs-node registers the "tensorflow" backend on import; a missing libtensorflow throws here
  // a second tfjs-node package (after tfjs-node-gpu failed) re-registers every kernel: silence those warnings only
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!/is already registered/.test(String(args[0]))) warn(...args);
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(pkg);
  } finally {
    console.warn = warn;
  }
  return tf.findBackend("tensorflow") ? "tensorflow" : undefined;
}

function gpuVisible(): boolean {
  try {
    // tfjs-node-gpu exposes no device query; libtensorflow logs the GPU, so we check the driver instead
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("fs") as typeof import("fs");
    return fs.existsSync("/proc/driver/nvidia/version");
  } catch {
    return false;
  }
}

async function attempt(name: BackendName, notices: string[]): Promise<boolean> {
  try {
    switch (name) {
      case "tensorflow-gpu": {
        if (!gpuVisible()) {
          notices.push("tensorflow-gpu: no NVIDIA driver visible");
          return false;
        }
        const b = await tryNode("@tensorflow/tfjs-node-gpu");
        return b !== undefined && (await tf.setBackend(b));
      }
      case "tensorflow": {
        const b = await tryNode("@tensorflow/tfjs-node");
        return b !== undefined && (await tf.setBackend(b));
      }
      case "wasm": {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require("@tensorflow/tfjs-backend-wasm");
        return await tf.setBackend("wasm");
      }
      case "cpu":
        return await tf.setBackend("cpu");
    }
  } catch (e) {
    notices.push(`${name}: ${firstLine(e)}`);
    return false;
  }
}

export interface InitBackendOptions {
  force?: BackendName;
  /** print the one-line summary (default true) */
  verbose?: boolean;
}

/** Select and initialise the fastest backend that loads. Idempotent: later calls return the first choice. */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const forced = opts.force ?? (process.env.MEDREL_BACKEND as BackendName | undefined);
  if (current && (!forced || forced === current.name)) return current;
  if (forced && !BACKEND_NAMES.includes(forced)) {
    throw new Error(`MEDREL_BACKEND="${forced}" is not one of ${BACKEND_NAMES.join(", ")}`);
  }
  const order = forced ? [forced] : BACKEND_NAMES;
  const notices: string[] = [];
  for (const name of order) {
    if (await attempt(name, notices)) {
      await tf.ready();
      // libtensorflow sizes its intra-op pool to the cores; WASM (no SIMD threads build) and cpu run on one
      const threads = name === "tensorflow" || name === "tensorflow-gpu" ? os.availableParallelism() : 1;
      const info: BackendInfo = { name, tfBackend: tf.getBackend(), kernels: [], notices, threads, cpu: cpuModel(), denormalsFlushed: false, numerics: "" };
      installLeanBackprop();
      if (name === "wasm") extendWasm(info);
      info.numerics = backendNumerics(info);
      current = info;
      if (opts.verbose ?? true) console.log(describeBackend(info));
      return info;
    }
  }
  throw new Error(`no TensorFlow.js backend could be initialised: ${notices.join("; ")}`);
}

/**
 * WASM gets our kernels: OpenBLAS products and C row kernels when the addon loads (MEDREL_NATIVE=0 turns
 * it off), otherwise XNNPACK routing and the same row kernels in JS. A failed load is one notice.
 */
function extendWasm(info: BackendInfo): void {
  // MEDREL_WASM_KERNELS=0: tfjs-wasm exactly as shipped (for benchmarks of what our kernels buy)
  if (process.env.MEDREL_WASM_KERNELS === "0") {
    info.notices.push("our wasm kernels: disabled by MEDREL_WASM_KERNELS=0");
    return;
  }
  const { addon, error } = loadNative();
  installWasmKernels({ addon });
  if (addon) {
    info.threads = addon.getThreads();
    info.blas = `${addon.blasInfo()}; ${info.threads} thread(s)`;
    const reported = /core (\S+)/.exec(addon.blasInfo())?.[1];
    const c = blasCoreChoice();
    info.blasCore = c ? describeBlasCore(c, reported) : reported;
    const ftz = addon.denormalsFlushed();
    info.denormalsFlushed = ftz.caller && ftz.threads.every(Boolean);
    info.kernels.push("OpenBLAS matmul", "C gelu/layerNorm/softmax/dropout/segmentSum");
  } else {
    info.kernels.push("XNNPACK matmul routing", "JS gelu/layerNorm/softmax/dropout/segmentSum");
    info.notices.push(`native kernels: ${error ?? "unavailable"}`);
  }
}

/** tfjs-backend-wasm's heap ceiling: its glue's getHeapMax() (wasm32, 4 GiB − 64 KiB); every WASM tensor lives in it. */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/** Bytes the active backend can hold in all: the WASM heap's ceiling, Infinity for backends in process memory. */
export function memoryLimitBytes(): number {
  return tf.getBackend() === "wasm" ? WASM_HEAP_MAX_BYTES : Infinity;
}

/** The one line a run prints: what it trains on, in words a student reads; the details are `npm run doctor`'s. */
export function describeBackend(info: BackendInfo): string {
  const threads = `${info.threads} thread${info.threads === 1 ? "" : "s"}`;
  const what =
    info.name === "tensorflow-gpu" ? "GPU (TensorFlow)"
    : info.name === "tensorflow" ? "CPU (TensorFlow)"
    : info.name === "wasm" && info.blasCore ? `CPU (WebAssembly + OpenBLAS ${info.blasCore.split(" ")[0]} kernels)`
    : info.name === "wasm" ? `CPU (WebAssembly only, several times slower — ${info.notices.find((n) => n.startsWith("native kernels:")) ?? "native kernels: not loaded"}; npm run doctor)`
    : "CPU (plain JavaScript: slow)";
  return `[medrel] running on ${what}, ${threads}, ${info.cpu}`;
}

/** Everything about the backend (doctor, benches): kernels, OpenBLAS, denormals, and why the others did not load. */
export function describeBackendDetails(info: BackendInfo): string[] {
  return [
    `backend: ${info.name}${info.kernels.length ? ` + ${info.kernels.join(", ")}` : ""}; ${info.threads} thread(s)`,
    `CPU: ${info.cpu}`,
    `numerics: ${info.numerics}`,
    ...(info.blas ? [`OpenBLAS: ${info.blas}`, `OpenBLAS core: ${info.blasCore ?? "?"}`] : []),
    `denormal floats: ${info.denormalsFlushed ? "flushed to zero in every kernel thread (FTZ|DAZ)" : "not flushed (no native kernels)"}`,
    ...info.notices.map((n) => `not available: ${n}`),
  ];
}
