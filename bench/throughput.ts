/**
 * npm run bench:throughput — our training step and inference batch against PyTorch 1.13 on this machine, each
 * side in its best configuration, every configuration in a fresh process, one after another (never interleaved).
 *
 *   tfjs  (bench/tfjs_step.ts):  MEDREL_BLAS_THREADS ∈ {1, 2}, the product model, loss and AdamW
 *   torch (bench/torch_step.py): OPENBLAS_NUM_THREADS ∈ {1, 2} (set before `import torch`: Debian's torch has no
 *         MKL, its products run on the system OpenBLAS) × torch.set_num_threads ∈ {1, 2}; both read back
 *
 * Sizes tiny, small (T=96, batch 32) and base (L=12, H=768, T=128, batch 8), vocab 4,000; then `small` at
 * T = 64, 128, 256 with each side's fastest configuration. Before them, the addon's sgemm on 1024^3 at 1 and
 * 2 threads. Per size it prints
 *   best-vs-best SIZE: ratio R (tfjs X ms/step, N threads; torch Y ms/step, OpenBLAS a, torch b)
 *   equal-threads SIZE: ratio R1 (1 thread) / R2 (2 threads)   (each side's fastest with every pool ≤ n threads)
 * the same two for eval, and our step's GFLOP/s against the sgemm rate; ratio = tfjs time / torch time.
 * The raw results go to bench/results/throughput-<date>.json and bench/results/throughput.json (the file the
 * README's table is rendered from: bench/readme-table.ts).
 *
 * Options: --sizes tiny,small,base  --seq 64,128,256|none  --threads 1,2  --steps N (timed train steps; eval 2N)
 *   --quick (tiny only, 1 warm-up + 3 steps, no seq line; writes bench/results/throughput-quick.json only)
 *   --profile (per-kernel times of one tfjs step)  --pure-wasm (also tfjs without the addon)  --out FILE
 * The full default run takes ~14 minutes on an idle 2-core machine (base ~8, small ~2, the T sweep ~2, tiny
 * under 1); run it on an idle machine: a loaded one makes every number (and the 2-thread ones most) meaningless.
 * It ends with the README table rendered from the file it wrote (bench/readme-table.ts).
 */
import { spawn, execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import type { KernelTime } from "../src/backend/profile";
import { renderReadmeTable } from "./readme-table";
import type { StepSpec } from "./tfjs_step";
import {
  BENCH_LABELS,
  SIZES,
  runLine,
  stats,
  stepFlops,
  summaryLines,
  fastest,
  type BenchSize,
  type ConfigRun,
  type SizeResult,
  type Stats,
  type ThroughputResult,
} from "./throughput-results";

export { SIZES };

const ROOT = path.resolve(__dirname, "..");
const RESULTS = path.join(ROOT, "bench", "results");

interface Settings {
  warmup: number;
  steps: number;
  evalWarmup: number;
  evalBatches: number;
}

interface Options {
  sizes: BenchSize[];
  seq: number[];
  threads: number[];
  quick: boolean;
  stepsOverride?: number;
  profile: boolean;
  pureWasm: boolean;
  out?: string;
}

/** steps per size: enough timed ones for a median and IQR, few enough for ~15 minutes in all */
function settingsFor(s: BenchSize, o: Options): Settings {
  if (o.quick) return { warmup: 1, steps: o.stepsOverride ?? 3, evalWarmup: 1, evalBatches: 2 * (o.stepsOverride ?? 3) };
  const base: Settings = s.name === "base" ? { warmup: 2, steps: 10, evalWarmup: 2, evalBatches: 10 } : s.seq !== 96 ? { warmup: 3, steps: 10, evalWarmup: 3, evalBatches: 20 } : { warmup: 3, steps: 15, evalWarmup: 3, evalBatches: 30 };
  return o.stepsOverride ? { ...base, steps: o.stepsOverride, evalBatches: 2 * o.stepsOverride } : base;
}

// ------------------------------------------------------------------------------------------------
// child processes

/** run a command to completion; its last stdout line that parses as JSON, or the error */
function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ out?: Record<string, unknown>; error?: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    p.on("close", (code) => {
      const line = stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"));
      if (code === 0 && line) return resolve({ out: JSON.parse(line) as Record<string, unknown> });
      const why = stderr.trim().split("\n").slice(-3).join(" | ") || `exit code ${code}`;
      resolve({ error: why.slice(0, 400) });
    });
  });
}

/** the environment both sides start from: no inherited thread settings of ours or torch's */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MEDREL_BLAS_THREADS", "MEDREL_NATIVE", "MEDREL_BACKEND"]) delete env[k];
  return env;
}

async function runTfjs(size: BenchSize, threads: number, native: boolean, st: Settings, profile: boolean): Promise<ConfigRun> {
  const spec: StepSpec = { size, ...st, native, profile };
  const env = { ...cleanEnv(), MEDREL_BACKEND: "wasm", MEDREL_BLAS_THREADS: String(threads), ...(native ? {} : { MEDREL_NATIVE: "0" }) };
  const t0 = performance.now();
  const { out, error } = await runJson(process.execPath, [...process.execArgv, path.join(__dirname, "tfjs_step.ts"), JSON.stringify(spec)], env);
  const run: ConfigRun = { side: "tfjs", blasThreads: threads, native, seq: size.seq, wallSeconds: (performance.now() - t0) / 1000 };
  if (!out) return { ...run, error };
  if (native && out.blasThreads !== threads) return { ...run, error: `asked for ${threads} BLAS threads, the addon runs ${String(out.blasThreads)}` };
  if (out.profile) printProfile(out.profile as { train: KernelTime[]; eval: KernelTime[] });
  const verified = native ? `addon getThreads() = ${String(out.blasThreads)}; ${String(out.blas)}` : "pure WASM (MEDREL_NATIVE=0)";
  return { ...run, verified, ...pick(out, ["train", "trainCpu", "eval", "evalCpu", "loss", "rssMb"]) };
}

async function runTorch(size: BenchSize, openblas: number, torchThreads: number, st: Settings): Promise<ConfigRun> {
  const spec = { ...size, labels: BENCH_LABELS, torch_threads: torchThreads, warmup: st.warmup, steps: st.steps, eval_warmup: st.evalWarmup, eval_batches: st.evalBatches };
  const env = { ...cleanEnv(), OPENBLAS_NUM_THREADS: String(openblas) };
  const t0 = performance.now();
  const { out, error } = await runJson("/usr/bin/python3", [path.join(__dirname, "torch_step.py"), JSON.stringify(spec)], env);
  const run: ConfigRun = { side: "torch", blasThreads: openblas, torchThreads, seq: size.seq, wallSeconds: (performance.now() - t0) / 1000 };
  if (!out) return { ...run, error };
  const th = out.threads as { openblas_seen: number | null; torch: number; verified_with: string };
  const blas = out.blas as { architecture?: string } | null;
  const verified = `${th.verified_with}: OpenBLAS ${th.openblas_seen ?? "?"} (${blas?.architecture ?? "?"}), torch ${th.torch}`;
  const st2 = (k: string): Stats => stats(out[k] as number[]);
  return { ...run, verified, train: st2("train_s"), trainCpu: st2("train_cpu_s"), eval: st2("eval_s"), evalCpu: st2("eval_cpu_s"), loss: out.loss as number, rssMb: out.rss_mb as number, sgemmGflops: out.sgemm_gflops as number };
}

function pick(o: Record<string, unknown>, keys: string[]): Partial<ConfigRun> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<ConfigRun>;
}

function printProfile(p: { train: KernelTime[]; eval: KernelTime[] }): void {
  for (const [what, list] of [["train step", p.train], ["eval batch", p.eval]] as const) {
    const total = list.reduce((a, k) => a + k.ms, 0);
    console.log(`    kernels of one ${what} (${total.toFixed(1)} ms in ${list.reduce((a, k) => a + k.calls, 0)} calls): ${list.slice(0, 12).map((k) => `${k.kernel} ${k.ms.toFixed(1)}`).join(", ")}`);
  }
}

// ------------------------------------------------------------------------------------------------
// the run

async function benchSize(size: BenchSize, o: Options, log: (r: ConfigRun) => void): Promise<SizeResult> {
  const st = settingsFor(size, o);
  console.log(`\n== ${size.name}: L=${size.layers} H=${size.hidden} heads=${size.heads} I=${size.inter} T=${size.seq} batch=${size.batch} vocab=${size.vocab}; ${st.warmup}+${st.steps} train steps, ${st.evalWarmup}+${st.evalBatches} eval batches per configuration`);
  const runs: ConfigRun[] = [];
  const add = (r: ConfigRun): void => {
    runs.push(r);
    log(r);
  };
  // sides alternate so a slow drift of the machine does not land on one side only
  for (const n of o.threads) {
    add(await runTfjs(size, n, true, st, o.profile));
    for (const m of o.threads) add(await runTorch(size, n, m, st));
  }
  if (o.pureWasm) add(await runTfjs(size, 1, false, st, false));
  return { size, flops: stepFlops(size), runs };
}

/** `small` at other lengths: each side's fastest configuration at T=96 */
async function benchSeq(small: SizeResult, o: Options, log: (r: ConfigRun) => void): Promise<SizeResult[]> {
  const tfjs = fastest(small.runs, "tfjs", "train");
  const torch = fastest(small.runs, "torch", "train");
  if (!tfjs || !torch) return [];
  console.log(`\n== ${small.size.name} at T = ${o.seq.join(", ")} (tfjs ${tfjs.blasThreads} thread(s); torch OpenBLAS ${torch.blasThreads}, torch ${torch.torchThreads})`);
  const out: SizeResult[] = [];
  for (const T of o.seq) {
    const size = { ...small.size, seq: T };
    const st = settingsFor(size, o);
    const runs = [await runTfjs(size, tfjs.blasThreads, true, st, false), await runTorch(size, torch.blasThreads, torch.torchThreads ?? 1, st)];
    runs.forEach(log);
    out.push({ size, flops: stepFlops(size), runs });
  }
  return out;
}

async function sgemm(threads: number[]): Promise<ThroughputResult["sgemm"]> {
  const out: ThroughputResult["sgemm"] = [];
  for (const n of threads) {
    const r = await runJson(process.execPath, [...process.execArgv, path.join(__dirname, "tfjs_step.ts"), "--sgemm", "1024"], { ...cleanEnv(), MEDREL_BLAS_THREADS: String(n) });
    if (r.out) out.push({ threads: n, gflops: r.out.gflops as Stats });
    else console.log(`sgemm at ${n} thread(s): ${r.error}`);
  }
  return out;
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "n/a";
  }
}

function versions(sizes: SizeResult[]): Record<string, string> {
  const wasmPkg = JSON.parse(fs.readFileSync(require.resolve("@tensorflow/tfjs-backend-wasm/package.json"), "utf8")) as { version: string };
  const torchRun = sizes.flatMap((s) => s.runs).find((r) => r.side === "torch" && r.verified);
  const addonRun = sizes.flatMap((s) => s.runs).find((r) => r.side === "tfjs" && r.native !== false && r.verified);
  const dirty = sh("git", ["status", "--porcelain", "--", "src", "bench"]) ? " (uncommitted changes in src/ or bench/)" : "";
  return {
    node: process.version,
    tfjs: tf.version.tfjs,
    "tfjs-backend-wasm": wasmPkg.version,
    torch: sh("/usr/bin/python3", ["-c", "import torch; print(torch.__version__)"]),
    python: sh("/usr/bin/python3", ["--version"]),
    openblas: addonRun?.verified?.split("; ").slice(1).join("; ") ?? "n/a",
    "torch threads seen": torchRun?.verified ?? "n/a",
    addon: `medrel_native.c ${sh("git", ["hash-object", "src/backend/native/medrel_native.c"]).slice(0, 12)}`,
    commit: sh("git", ["rev-parse", "--short", "HEAD"]) + dirty,
  };
}

function machine(loadStart: number[]): ThroughputResult["machine"] {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(OPENBLAS_|OMP_|GOTO_|MEDREL_)/.test(k)) as [string, string][]);
  return { cpu: os.cpus()[0]?.model ?? "?", cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), loadavgStart: loadStart, loadavgEnd: os.loadavg(), env };
}

function parseArgs(argv: string[]): Options {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes("--quick");
  const sizes = (opt("sizes") ?? (quick ? "tiny" : "tiny,small,base")).split(",").map((n) => {
    const s = SIZES[n];
    if (!s) throw new Error(`--sizes: unknown size "${n}" (${Object.keys(SIZES).join(", ")})`);
    return s;
  });
  const seqArg = opt("seq") ?? (quick ? "none" : "64,128,256");
  const seq = seqArg === "none" ? [] : seqArg.split(",").map(Number);
  const threads = (opt("threads") ?? "1,2").split(",").map(Number);
  for (const n of [...seq, ...threads]) if (!(Number.isInteger(n) && n > 0)) throw new Error(`--seq/--threads: "${n}" is not a positive integer`);
  const steps = opt("steps");
  return { sizes, seq, threads, quick, stepsOverride: steps ? Number(steps) : undefined, profile: argv.includes("--profile"), pureWasm: argv.includes("--pure-wasm"), out: opt("out") };
}

function write(result: ThroughputResult, o: Options): string[] {
  fs.mkdirSync(RESULTS, { recursive: true });
  const text = JSON.stringify(result, null, 1) + "\n";
  const files = o.out ? [o.out] : o.quick ? [path.join(RESULTS, "throughput-quick.json")] : [path.join(RESULTS, `throughput-${result.date.slice(0, 10)}.json`), path.join(RESULTS, "throughput.json")];
  for (const f of files) fs.writeFileSync(f, text);
  return files;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const loadStart = os.loadavg();
  if (loadStart[0] > 0.5 * os.cpus().length) console.log(`note: load average ${loadStart[0].toFixed(1)} on ${os.cpus().length} cores: this machine is busy and the times will be too`);
  const log = (r: ConfigRun): void => console.log(runLine(r) + `  [${r.wallSeconds.toFixed(0)} s]`);
  const sg = await sgemm(o.threads);
  const sizes: SizeResult[] = [];
  for (const s of o.sizes) sizes.push(await benchSize(s, o, log));
  const small = sizes.find((s) => s.size.name === "small");
  const seq = small && o.seq.length ? await benchSeq(small, o, log) : [];
  const settings = Object.fromEntries([...sizes, ...seq].map((s) => [`${s.size.name}@T${s.size.seq}`, settingsFor(s.size, o)]));
  const result: ThroughputResult = {
    schema: 1,
    date: new Date().toISOString(),
    command: `npm run bench:throughput -- ${process.argv.slice(2).join(" ")}`.trim(),
    quick: o.quick,
    machine: machine(loadStart),
    versions: versions(sizes),
    settings,
    sgemm: sg,
    sizes,
    seq,
    totalSeconds: (performance.now() - t0) / 1000,
  };
  console.log("");
  for (const line of summaryLines(result)) console.log(line);
  console.log(`\nwrote ${write(result, o).map((f) => path.relative(ROOT, f)).join(", ")}; total ${(result.totalSeconds / 60).toFixed(1)} min`);
  if (!o.quick && !o.out) console.log(`\nREADME table (npx tsx bench/readme-table.ts):\n\n${renderReadmeTable(result)}`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
