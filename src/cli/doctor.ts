/**
 * npm run doctor: which TensorFlow.js backend loads, the GPU it sees, the native CPU kernels,
 * Jupyter/tslab, and what is missing with how to fix it.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { initBackend, describeBackend, type BackendName } from "../backend/select";
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

  const order: BackendName[] = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"];
  const info = await initBackend({ verbose: false });
  for (const c of checks) {
    console.log(`${c.ok ? "ok  " : "--  "} ${c.name}: ${c.detail}${!c.ok && c.fix ? `\n      fix: ${c.fix}` : ""}`);
  }
  console.log(`\nbackend order: ${order.join(" > ")} (force one with MEDREL_BACKEND=<name>)`);
  console.log(describeBackend(info));
}

if (require.main === module) runMain(main);
