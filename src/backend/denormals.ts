/**
 * What denormal floats (below 1.2e-38) cost on this CPU where nothing flushes them: the same product timed with
 * normal and with denormal-range inputs. The native kernels flush them (pool.h); pure WebAssembly cannot (its
 * float semantics are IEEE's, and it has no control register), so `npm run doctor` measures what the WASM fallback
 * pays: on the Intel Xeons of issue #23 a product with denormal inputs took 160× as long.
 */
import { spawnSync } from "node:child_process";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./select";

export interface DenormalCost {
  backend: string;
  normalMs: number;
  denormalMs: number;
  /** denormal time / normal time */
  ratio: number;
}

function timeMatMul(scale: number, n: number, reps: number): number {
  const a = tf.randomUniform([n, n], 0.5, 1, "float32", 1).mul(scale);
  const b = tf.randomUniform([n, n], 0.5, 1, "float32", 2);
  tf.matMul(a, b).dispose(); // warm-up
  const t = performance.now();
  for (let i = 0; i < reps; i++) tf.matMul(a, b).dataSync();
  const ms = (performance.now() - t) / reps;
  tf.dispose([a, b]);
  return ms;
}

/** Time a 256³ product on the current backend with inputs near 1 and near 1e-39 (denormal). */
export async function measureDenormalCost(n = 256, reps = 5): Promise<DenormalCost> {
  const info = await initBackend({ verbose: false });
  const normalMs = timeMatMul(1, n, reps);
  const denormalMs = timeMatMul(1e-39, n, reps);
  return { backend: info.kernels.length ? `${info.name} + ${info.kernels[0]}` : info.name, normalMs, denormalMs, ratio: denormalMs / normalMs };
}

/** The same in a child process on pure WASM (our kernels off), as the fallback without the addon runs. */
export function measurePureWasmDenormalCost(): DenormalCost | { error: string } {
  const r = spawnSync(process.execPath, [...process.execArgv, __filename], {
    env: { ...process.env, MEDREL_NATIVE: "0", MEDREL_WASM_KERNELS: "0", MEDREL_BACKEND: "wasm" },
    encoding: "utf8",
    timeout: 60_000,
  });
  const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as DenormalCost;
  } catch {
    return { error: (r.stderr || r.error?.message || "no output").split("\n")[0].slice(0, 160) };
  }
}

if (require.main === module) {
  measureDenormalCost().then((c) => console.log(JSON.stringify(c)));
}
