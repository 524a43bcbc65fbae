/**
 * Product precision of a run: "f32" (float32 products, OpenBLAS) or "bf16" (the dense products' operands rounded to
 * bfloat16, their sums and every other kernel in float32: PyTorch's CPU autocast for linear layers, with float32
 * outputs). bf16 runs in oneDNN's gemm_bf16bf16f32 on a CPU with AVX512_BF16 or AMX (about twice OpenBLAS's float32
 * rate there); elsewhere the same rounding is emulated through OpenBLAS (no faster). Attention's per-head products stay
 * float32. Set per run (experiments/run.ts) from its config; everything else runs float32.
 */
import * as fs from "node:fs";
import { loadNative } from "./native";
import * as tf from "@tensorflow/tfjs";

export type Precision = "f32" | "bf16";
export const PRECISIONS: readonly Precision[] = ["f32", "bf16"];

/** What runs a precision's products: "f32", "bf16" (oneDNN) or "bf16-emulated" (rounded operands, OpenBLAS). */
export type PrecisionEngine = "f32" | "bf16" | "bf16-emulated";

export interface PrecisionInUse {
  engine: PrecisionEngine;
  /** in words: "openblas", "onednn 2.6.3", "emulated (no AVX512_BF16 / AMX)"; why bf16 did not run, when it did not */
  detail: string;
}

/** Whether this CPU multiplies bfloat16 in hardware (AVX512_BF16 or AMX-BF16): where the `quick` preset picks bf16. */
export function cpuHasBf16(cpuinfo = readCpuinfo()): boolean {
  return /\b(avx512_bf16|amx_bf16)\b/.test(cpuinfo);
}

function readCpuinfo(): string {
  try {
    return fs.readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return "";
  }
}

/**
 * Make the addon's products run at `p` until the next call. Without the addon (pure WASM, tfjs-node) products are
 * float32 whatever is asked, and the answer says so: the run records what ran, not what was asked.
 */
export function usePrecision(p: Precision): PrecisionInUse {
  const addon = tf.getBackend() === "wasm" ? loadNative().addon : undefined;
  if (!addon) return { engine: "f32", detail: p === "f32" ? "backend's own" : "bf16 asked for, but the native kernels are not active: float32 products" };
  const r = addon.setPrecision(p === "bf16" ? 1 : 0);
  if (r.precision === 0) return { engine: "f32", detail: r.engine };
  return { engine: r.precision === 1 ? "bf16" : "bf16-emulated", detail: r.engine };
}
