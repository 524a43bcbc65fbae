/**
 * npm run doctor: which TensorFlow.js backend loads, the GPU it sees, the native CPU kernels,
 * Jupyter/tslab, and what is missing with how to fix it.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { initBackend, describeBackend, describeBackendDetails, type BackendName } from "../backend/select";
import { measurePureWasmDenormalCost } from "../backend/denormals";
import { STUDY_DATA_DIR, TABLE_NAMES, loadResults, studyResultsCommand } from "../experiments";
import { runMain } from "./common";
import { localKernelEnv } from "../tools/notebooks";
import { CHECKOUT_TSLAB, resolveKernelArgv0 } from "../tools/jupyter-server";

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

function sh(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { stdio: "pipe", timeout: 20_000 }).toString().trim();
  } catch {
    return undefined;
  }
}

function tryRequire(pkg: string): { ok: boolean; detail: string } {
  try {
    require(pkg);
    return { ok: true, detail: "loads" };
  } catch (e) {
    return { ok: false, detail: (e instanceof Error ? e.message : String(e)).split("\n")[0].slice(0, 160) };
  }
}

async function main(): Promise<void> {
  const checks: Check[] = [];
  const gpu = sh("nvidia-smi", ["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]);
  checks.push({
    name: "NVIDIA GPU",
    ok: gpu !== undefined,
    detail: gpu ?? "nvidia-smi not found or no GPU visible",
    fix: gpu ? undefined : "CPU training only; on a CUDA machine use environment/gpu/Dockerfile",
  });
  const cudart11 = sh("sh", ["-c", "ldconfig -p | grep -c 'libcudart.so.11.0'"]);
  const cudnn8 = sh("sh", ["-c", "ldconfig -p | grep -c 'libcudnn.so.8'"]);
  if (gpu) {
    checks.push({
      name: "CUDA 11.x runtime + cuDNN 8 (what libtensorflow 2.9.1 in tfjs-node-gpu 4.22 links against)",
      ok: Number(cudart11 ?? 0) > 0 && Number(cudnn8 ?? 0) > 0,
      detail: `libcudart.so.11.0: ${Number(cudart11 ?? 0) > 0 ? "found" : "missing"}, libcudnn.so.8: ${Number(cudnn8 ?? 0) > 0 ? "found" : "missing"}`,
      fix: "CUDA 12 machines cannot load tfjs-node-gpu (tfjs #8362, #8505): use environment/gpu/Dockerfile (CUDA 11.8 + cuDNN 8)",
    });
  }
  // without a GPU, tfjs-node-gpu is not even tried (as initBackend does): loading both registers every kernel twice
  for (const pkg of gpu ? ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] : ["@tensorflow/tfjs-node"]) {
    const r = tryRequire(pkg);
    checks.push({
      name: pkg,
      ok: r.ok,
      detail: r.detail,
      fix: r.ok
        ? undefined
        : `optional; needs internet at install: npm install-scripts approve ${pkg} && npm rebuild ${pkg} (downloads libtensorflow)`,
    });
  }
  const addon = path.resolve(__dirname, "..", "backend", "native", "build", "Release");
  const built = fs.existsSync(addon) && fs.readdirSync(addon).some((f) => f.endsWith(".node"));
  checks.push({
    name: "native OpenBLAS kernels (src/backend/native)",
    ok: built,
    detail: built ? `built in ${addon}` : "not built",
    fix: built ? undefined : "apt-get install libopenblas-dev g++ make, then bash src/backend/native/build.sh",
  });
  const jup = sh("jupyter", ["nbconvert", "--version"]);
  checks.push({ name: "jupyter nbconvert", ok: jup !== undefined, detail: jup ?? "missing", fix: "npm run setup (as root) installs jupyter-nbconvert python3-nbclient python3-ipykernel" });
  const nb = sh("jupyter", ["notebook", "--version"]);
  checks.push({ name: "jupyter notebook (npm run notebook)", ok: nb !== undefined, detail: nb ?? "missing", fix: "npm run setup (as root) installs jupyter-notebook" });
  // the kernel this checkout's notebooks start (its JUPYTER_PATH), not whichever clone registered one last
  let spec: string | undefined;
  try {
    spec = resolveKernelArgv0({ ...process.env, ...localKernelEnv() });
  } catch {
    spec = undefined;
  }
  checks.push({
    name: "tslab kernel (this checkout's)",
    ok: spec === CHECKOUT_TSLAB,
    detail: spec ?? "not found",
    fix: "npm ci, then npm run notebook -- --register-kernel (npm run setup does both)",
  });
  const torch = sh("/usr/bin/python3", ["-c", "import torch; print(torch.__version__)"]);
  checks.push({ name: "python3-torch (benches, parity fixtures)", ok: torch !== undefined, detail: torch ?? "missing", fix: "apt-get install python3-torch" });

  checks.push(...projectChecks());
  const order: BackendName[] = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"];
  const info = await initBackend({ verbose: false });
  checks.push(denormalCheck(info.denormalsFlushed));
  for (const c of checks) {
    console.log(`${c.ok ? "ok  " : "--  "} ${c.name}: ${c.detail}${!c.ok && c.fix ? `\n      fix: ${c.fix}` : ""}`);
  }
  console.log(`\nbackend order: ${order.join(" > ")} (force one with MEDREL_BACKEND=<name>)`);
  for (const line of describeBackendDetails(info)) console.log(`  ${line}`);
  console.log(describeBackend(info));
}

/** The study's data beside the project and the shipped results (how much of the grid they hold). */
function projectChecks(): Check[] {
  const files = ["study_train.jsonl", "study_val.jsonl"].map((f) => path.join(STUDY_DATA_DIR, f));
  const missing = files.filter((f) => !fs.existsSync(f));
  const data: Check = {
    name: "the study's data (../shared/data)",
    ok: missing.length === 0,
    detail: missing.length === 0 ? `${STUDY_DATA_DIR}: study_train.jsonl, study_val.jsonl` : `missing: ${missing.join(", ")}`,
    fix: "put the study's splits beside the project (../shared/data/study_train.jsonl, study_val.jsonl); the demo data works without them",
  };
  const tables = TABLE_NAMES.map((t) => {
    try {
      const r = loadResults(t);
      return r ? `${t} ${r.progress.done}/${r.progress.total}` : `${t} missing`;
    } catch (e) {
      return `${t} unreadable (${(e as Error).message.slice(0, 120)})`;
    }
  });
  const complete = tables.every((x) => /^\w+ (\d+)\/\1$/.test(x));
  const results: Check = {
    name: "study-data results (results/study, runs per table)",
    ok: complete,
    detail: tables.join(", "),
    fix: `the notebooks show what is there; the rest: ${studyResultsCommand("all")}`,
  };
  return [data, results];
}

/** Denormals: flushed by the native kernels; what pure WebAssembly (the fallback) pays for them on this CPU. */
function denormalCheck(flushed: boolean): Check {
  const c = measurePureWasmDenormalCost();
  const cost = "error" in c ? `not measured (${c.error})` : `a pure-WASM 256³ product takes ${c.denormalMs.toFixed(1)} ms with denormal inputs vs ${c.normalMs.toFixed(1)} ms (${c.ratio.toFixed(1)}×)`;
  return {
    name: "denormal floats",
    ok: flushed,
    detail: `${flushed ? "flushed to zero by the native kernels" : "NOT flushed (no native kernels)"}; on this CPU ${cost}`,
    fix: "build the native kernels (npm run setup): WebAssembly cannot flush denormals, and some CPUs take a microcode assist for each",
  };
}

if (require.main === module) runMain(main);
