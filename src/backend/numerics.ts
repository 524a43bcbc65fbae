/**
 * The kernel numerics a run ran with, as one short string recorded in its run.json (`info.numerics`): two runs of one
 * config agree digit for digit only when their numerics agree (and, for OpenBLAS, the CPU runs the same core). A
 * re-make under other numerics is compared within seed noise instead (experiments/remake.ts).
 */
import * as tf from "@tensorflow/tfjs";
import type { PrecisionInUse } from "./precision";

/**
 * How the addon splits a product into OpenBLAS calls (pool.c par_sgemm: ≤ 8 chunks of whole 16-row blocks, ≥ 64³
 * multiply-adds each, fixed by the shape alone). OpenBLAS's bits depend on the shape of each call
 * (bench/chunking/bits.sh), so any change to that split (the small-M chunking fix of #23/#34) changes the numbers
 * of every run: bump this with it.
 */
export const PRODUCT_CHUNKING = "chunk-v1";

/** What the n-gram baseline runs on: plain JavaScript doubles, no kernels. */
export const NGRAM_NUMERICS = "f64 · js";

/** The parts of a backend that decide its numerics (select.ts's BackendInfo has them), and tf's version. */
export interface NumericsParts {
  name: string;
  blas?: string;
  blasCore?: string;
  denormalsFlushed: boolean;
  tfjs: string;
}

/**
 * "f32 · openblas 0.3.21 Cooperlake · ftz · chunk-v1" (WASM with our OpenBLAS addon; "bf16 onednn 2.6.3 · openblas …" or
 * "bf16-emulated · openblas …" at bf16 products), "f32 · tfjs-wasm 4.22.0 ·
 * xnnpack" (without it), "f32 · tfjs-node 4.22.0", "f32 · tfjs-node-gpu 4.22.0", "f32 · tfjs-cpu 4.22.0".
 * Thread counts are not part of it: the addon's chunks do not depend on them.
 */
export function numericsString(p: NumericsParts, precision?: PrecisionInUse): string {
  if (p.name === "wasm" && p.blas) {
    const version = /OpenBLAS (\S+)/.exec(p.blas)?.[1] ?? "?";
    const core = p.blasCore?.split(" ")[0] ?? /core (\w+)/.exec(p.blas)?.[1] ?? "?";
    // bf16: the dense products in oneDNN (or emulated); attention's products and every other kernel as in f32
    const products = precision?.engine === "bf16" ? `bf16 ${precision.detail}` : (precision?.engine ?? "f32");
    return [products, `openblas ${version} ${core}`, p.denormalsFlushed ? "ftz" : "denormals", PRODUCT_CHUNKING].join(" · ");
  }
  if (p.name === "wasm") return `f32 · tfjs-wasm ${p.tfjs} · xnnpack`;
  if (p.name === "tensorflow") return `f32 · tfjs-node ${p.tfjs}`;
  if (p.name === "tensorflow-gpu") return `f32 · tfjs-node-gpu ${p.tfjs}`;
  return `f32 · tfjs-cpu ${p.tfjs}`;
}

/** The numerics of an initialised backend (at the product precision in use, float32 unless given). */
export function backendNumerics(info: Omit<NumericsParts, "tfjs">, precision?: PrecisionInUse): string {
  return numericsString({ ...info, tfjs: tf.version_core }, precision);
}
