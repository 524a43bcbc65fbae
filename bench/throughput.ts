/**
 * npm run bench:throughput — our training step and inference batch against PyTorch 1.13 on this machine, each
 * side in its best configuration, every configuration in a fresh process, one after another (never interleaved).
 *
 *   tfjs  (bench/tfjs_step.ts):  MEDREL_BLAS_THREADS ∈ {1, 2}, the product model, loss and AdamW; OpenBLAS's core
 *         as our addon loader chooses it (src/backend/cpu.ts), and also the user's OPENBLAS_CORETYPE when one is set
 *   torch (bench/torch_step.py): OPENBLAS_NUM_THREADS ∈ {1, 2} (set before `import torch`: Debian's torch has no
 *         MKL, its products run on the system OpenBLAS) × torch.set_num_threads ∈ {1, 2} × OpenBLAS core: its own
 *         choice, the core our loader selects where it would replace that (a CPU OpenBLAS 0.3.21 does not know), and
 *         the user's OPENBLAS_CORETYPE when set (a Haswell set for an AVX-512 CPU must not hold PyTorch to AVX2);
 *         denormals flushed (torch.set_flush_denormal) as ours are; threads and core read back
 *
 * Sizes tiny, small (T=96, batch 32) and base (L=12, H=768, T=128, batch 8), vocab 4,000; then `small` at
 * T = 64, 128, 256 with each side's fastest configuration. Before them, the addon's sgemm on 1024^3 at 1 and
 * 2 threads. Every line starts with the CPU's name; a configuration prints a line when it starts and when it
 * ends, and is stopped after --limit-s seconds (recorded as "stopped at the N s limit"; the bench goes on).
 * Per size it prints
 *   best-vs-best SIZE: ratio R (tfjs X ms/step, N threads; torch Y ms/step, OpenBLAS a, torch b, core C)
 *   equal-threads SIZE: ratio R1 (1 thread) / R2 (2 threads)   (each side's fastest with every pool ≤ n threads)
 * the same two for eval, and our step's GFLOP/s against the sgemm rate; ratio = tfjs time / torch time.
 * Results per CPU model: bench/results/throughput/<cpu>.json (the README's table shows every such file, a row
 * per CPU and size: bench/readme-table.ts) when the run measured every size, and the raw
 * bench/results/throughput-<date>-<cpu>.json always.
 *
 * Options: --sizes tiny,small,base  --seq 64,128,256|none  --threads 1,2  --steps N (timed train steps; eval 2N)
 *   --limit-s S (per configuration; default 300, --quick 120)
 *   --quick (tiny only, 1 warm-up + 3 steps, no seq line; writes bench/results/throughput-quick.json only)
 *   --profile (per-kernel times of one tfjs step)  --pure-wasm (also tfjs without the addon)  --out FILE
 * The full default run took 17 minutes on an idle 2-core AMD EPYC (totalSeconds in bench/results/throughput/amd-epyc.json),
 * more where PyTorch runs under two cores; run it on an idle machine: a loaded one makes every number
 * (and the 2-thread ones most) meaningless.
 */
import { spawn, execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { cpuLevel, cpuModel, decideBlasCore, type BlasCoreChoice } from "../src/backend/cpu";
import { addonCandidates } from "../src/backend/native";
import type { KernelTime } from "../src/backend/profile";
import { RESULT_DIR, readResults, renderReadmeTable } from "./readme-table";
import type { StepSpec } from "./tfjs_step";
import {
  BENCH_LABELS,
  SIZES,
  coreEnv,
  coreWords,
  cpuShortName,
  cpuSlug,
  limitError,
  runLabel,
  runLine,
  stats,
  stepFlops,
  summaryLines,
  fastest,
  kernelEnv,
  torchCores,
  withoutOurCore,
  type BenchSize,
  type ConfigRun,
  type SizeResult,
  type Stats,
  type ThroughputResult,
} from "./throughput-results";

export { SIZES };

const ROOT = path.resolve(__dirname, "..");
const RESULTS = path.join(ROOT, "bench", "results");
/** the sizes a run must measure for its file to become this CPU's rows in the README */
const README_SIZES = ["tiny", "small", "base"];

const CPU = cpuModel();
/** every line names the CPU: logs from several machines stay apart */
const say = (line = ""): void => console.log(line ? `[${cpuShortName(CPU)}] ${line}` : "");

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
  /** seconds one configuration's process may run */
  limitS: number;
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

/** run a command to completion or to the time limit (then killed); its last stdout line that parses as JSON, or the error */
export function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv, limitS: number): Promise<{ out?: Record<string, unknown>; error?: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let stopped = false;
    const timer = setTimeout(() => {
      stopped = true;
      p.kill("SIGKILL");
    }, limitS * 1000);
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    p.on("error", (e) => {
      clearTimeout(timer);
      resolve({ error: `${cmd}: ${e.message}` });
    });
    p.on("close", (code) => {
      clearTimeout(timer);
      if (stopped) return resolve({ error: limitError(limitS) });
      const line = stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"));
      if (code === 0 && line) return resolve({ out: JSON.parse(line) as Record<string, unknown> });
      const why = stderr.trim().split("\n").slice(-3).join(" | ") || `exit code ${code}`;
      resolve({ error: why.slice(0, 400) });
    });
  });
}

/** the environment both sides start from: no inherited thread settings of ours or torch's, no core our loader chose */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = withoutOurCore(process.env);
  for (const k of ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MEDREL_BLAS_THREADS", "MEDREL_NATIVE", "MEDREL_BACKEND"]) delete env[k];
  return env;
}

/** one configuration: a line when it starts, one when it ends (a slow machine never looks hung) */
async function measure(size: BenchSize, planned: ConfigRun, o: Options, go: () => Promise<ConfigRun>): Promise<ConfigRun> {
  const where = `${size.name} T=${size.seq}`;
  say(`${where}: ${runLabel(planned)} started (limit ${o.limitS} s)`);
  const r = await go();
  say(`${where}: ${runLine(r)}  [${r.wallSeconds.toFixed(0)} s]`);
  return r;
}

/**
 * Our side's OpenBLAS cores: the user's OPENBLAS_CORETYPE when one is set (the product keeps it), and our loader's own
 * decision without it — each side at its best, as PyTorch's cores are (torchCores).
 */
function ourCores(): ("user" | "loader")[] {
  return withoutOurCore(process.env).OPENBLAS_CORETYPE !== undefined ? ["user", "loader"] : ["loader"];
}

function runTfjs(size: BenchSize, threads: number, native: boolean, st: Settings, o: Options, profile: boolean, core: "user" | "loader" = "loader"): Promise<ConfigRun> {
  const run: ConfigRun = { side: "tfjs", blasThreads: threads, native, seq: size.seq, wallSeconds: 0 };
  return measure(size, run, o, async () => {
    const spec: StepSpec = { size, ...st, native, profile };
    const env: NodeJS.ProcessEnv = { ...cleanEnv(), MEDREL_BACKEND: "wasm", MEDREL_BLAS_THREADS: String(threads), ...(native ? {} : { MEDREL_NATIVE: "0" }) };
    if (core === "loader") delete env.OPENBLAS_CORETYPE;
    const t0 = performance.now();
    const { out, error } = await runJson(process.execPath, [...process.execArgv, path.join(__dirname, "tfjs_step.ts"), JSON.stringify(spec)], env, o.limitS);
    run.wallSeconds = (performance.now() - t0) / 1000;
    if (!out) return { ...run, error };
    if (native && out.blasThreads !== threads) return { ...run, error: `asked for ${threads} BLAS threads, the addon runs ${String(out.blasThreads)}` };
    if (out.profile) printProfile(out.profile as { train: KernelTime[]; eval: KernelTime[] });
    const verified = native ? `addon getThreads() = ${String(out.blasThreads)}; ${String(out.blas)}` : "pure WASM (MEDREL_NATIVE=0)";
    return { ...run, verified, ...pick(out, ["train", "trainCpu", "eval", "evalCpu", "loss", "rssMb", "blasCore", "denormalsFlushed"]) };
  });
}

function runTorch(size: BenchSize, openblas: number, torchThreads: number, core: BlasCoreChoice, st: Settings, o: Options): Promise<ConfigRun> {
  const run: ConfigRun = { side: "torch", blasThreads: openblas, torchThreads, seq: size.seq, blasCore: core, wallSeconds: 0 };
  return measure(size, run, o, async () => {
    const spec = { ...size, labels: BENCH_LABELS, torch_threads: torchThreads, flush_denormal: true, warmup: st.warmup, steps: st.steps, eval_warmup: st.evalWarmup, eval_batches: st.evalBatches };
    // the core is this configuration's: unset (OpenBLAS chooses) or named
    const env: NodeJS.ProcessEnv = { ...cleanEnv(), OPENBLAS_NUM_THREADS: String(openblas) };
    delete env.OPENBLAS_CORETYPE;
    const set = coreEnv(core);
    const t0 = performance.now();
    const { out, error } = await runJson("/usr/bin/python3", [path.join(__dirname, "torch_step.py"), JSON.stringify(spec)], set ? { ...env, OPENBLAS_CORETYPE: set } : env, o.limitS);
    run.wallSeconds = (performance.now() - t0) / 1000;
    if (!out) return { ...run, error };
    const th = out.threads as { openblas_seen: number | null; torch: number; verified_with: string };
    const seen = (out.blas as { architecture?: string } | null)?.architecture;
    // the core OpenBLAS reports once loaded; where it cannot be read back, the one asked for (said so)
    const blasCore = seen ? { ...core, core: seen } : core;
    const asked = set && seen && seen.toLowerCase() !== set.toLowerCase() ? `; asked for core ${set}` : "";
    const verified = `${th.verified_with}: OpenBLAS ${th.openblas_seen ?? "?"} (${seen ?? `core not read back, OPENBLAS_CORETYPE=${set ?? "unset"}`}${asked}), torch ${th.torch}`;
    const st2 = (k: string): Stats => stats(out[k] as number[]);
    return { ...run, blasCore, denormalsFlushed: out.denormals_flushed === true, verified, train: st2("train_s"), trainCpu: st2("train_cpu_s"), eval: st2("eval_s"), evalCpu: st2("eval_cpu_s"), loss: out.loss as number, rssMb: out.rss_mb as number, sgemmGflops: out.sgemm_gflops as number };
  });
}

function pick(o: Record<string, unknown>, keys: string[]): Partial<ConfigRun> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined && o[k] !== null).map((k) => [k, o[k]])) as Partial<ConfigRun>;
}

function printProfile(p: { train: KernelTime[]; eval: KernelTime[] }): void {
  for (const [what, list] of [["train step", p.train], ["eval batch", p.eval]] as const) {
    const total = list.reduce((a, k) => a + k.ms, 0);
    say(`  kernels of one ${what} (${total.toFixed(1)} ms in ${list.reduce((a, k) => a + k.calls, 0)} calls): ${list.slice(0, 12).map((k) => `${k.kernel} ${k.ms.toFixed(1)}`).join(", ")}`);
  }
}

/** PyTorch's cores (throughput-results torchCores): our loader's decision asked on a copy of this environment */
function planTorchCores(): BlasCoreChoice[] {
  const addon = addonCandidates().find((f) => fs.existsSync(f));
  const cores = torchCores(process.env, (copy) => (addon ? decideBlasCore(addon, copy, cpuLevel()) : { source: "openblas" }));
  const words = cores.map((c) => `${c.core ?? "?"} (${coreWords(c)})`);
  say(`PyTorch runs under OpenBLAS core${cores.length > 1 ? "s" : ""} ${words.join(" and ")}${cores.length > 1 ? "; its faster counts" : ""}`);
  return cores;
}

// ------------------------------------------------------------------------------------------------
// the run

async function benchSize(size: BenchSize, o: Options, cores: BlasCoreChoice[]): Promise<SizeResult> {
  const st = settingsFor(size, o);
  say();
  say(`== ${size.name}: L=${size.layers} H=${size.hidden} heads=${size.heads} I=${size.inter} T=${size.seq} batch=${size.batch} vocab=${size.vocab}; ${st.warmup}+${st.steps} train steps, ${st.evalWarmup}+${st.evalBatches} eval batches per configuration`);
  const runs: ConfigRun[] = [];
  // sides alternate so a slow drift of the machine does not land on one side only
  for (const n of o.threads) {
    for (const c of ourCores()) runs.push(await runTfjs(size, n, true, st, o, o.profile, c));
    for (const m of o.threads) for (const core of cores) runs.push(await runTorch(size, n, m, core, st, o));
  }
  if (o.pureWasm) runs.push(await runTfjs(size, 1, false, st, o, false));
  return { size, flops: stepFlops(size), runs };
}

/** `small` at other lengths: each side's fastest configuration at T=96 (PyTorch's under its faster core) */
async function benchSeq(small: SizeResult, o: Options): Promise<SizeResult[]> {
  const tfjs = fastest(small.runs, "tfjs", "train");
  const torch = fastest(small.runs, "torch", "train");
  if (!tfjs || !torch) return [];
  const core = torch.blasCore ?? { source: "openblas" };
  say();
  say(`== ${small.size.name} at T = ${o.seq.join(", ")} (tfjs ${tfjs.blasThreads} thread(s); torch OpenBLAS ${torch.blasThreads}, torch ${torch.torchThreads}, core ${core.core ?? "?"})`);
  const out: SizeResult[] = [];
  for (const T of o.seq) {
    const size = { ...small.size, seq: T };
    const st = settingsFor(size, o);
    const runs = [await runTfjs(size, tfjs.blasThreads, true, st, o, false, tfjs.blasCore?.source === "user" ? "user" : "loader"), await runTorch(size, torch.blasThreads, torch.torchThreads ?? 1, core, st, o)];
    out.push({ size, flops: stepFlops(size), runs });
  }
  return out;
}

async function sgemm(o: Options): Promise<{ rates: ThroughputResult["sgemm"]; blasCore?: BlasCoreChoice }> {
  const rates: ThroughputResult["sgemm"] = [];
  let blasCore: BlasCoreChoice | undefined;
  for (const n of o.threads) {
    say(`sgemm 1024^3 (addon, ${n} thread(s)) started (limit ${o.limitS} s)`);
    const r = await runJson(process.execPath, [...process.execArgv, path.join(__dirname, "tfjs_step.ts"), "--sgemm", "1024"], { ...cleanEnv(), MEDREL_BLAS_THREADS: String(n) }, o.limitS);
    if (!r.out) {
      say(`sgemm 1024^3 (addon, ${n} thread(s)): ${r.error}`);
      continue;
    }
    rates.push({ threads: n, gflops: r.out.gflops as Stats });
    blasCore = (r.out.blasCore as BlasCoreChoice | null) ?? blasCore;
    say(`sgemm 1024^3 (addon, ${n} thread(s)): ${(r.out.gflops as Stats).median.toFixed(1)} GFLOP/s (${String(r.out.blas)})`);
  }
  return { rates, blasCore };
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

/** the machine, and our side's OpenBLAS core and denormal flushing as its processes reported them */
function machine(loadStart: number[], sizes: SizeResult[], sgemmCore: BlasCoreChoice | undefined): ThroughputResult["machine"] {
  const env = kernelEnv();
  const ours = sizes.flatMap((s) => s.runs).find((r) => r.side === "tfjs" && r.native !== false && r.train);
  const blasCore = ours?.blasCore ?? sgemmCore;
  return {
    cpu: CPU,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavgStart: loadStart,
    loadavgEnd: os.loadavg(),
    env,
    ...(blasCore ? { blasCore } : {}),
    ...(ours?.denormalsFlushed !== undefined ? { denormalsFlushed: ours.denormalsFlushed } : {}),
  };
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
  const limitS = Number(opt("limit-s") ?? (quick ? 120 : 300));
  if (!(Number.isFinite(limitS) && limitS > 0)) throw new Error(`--limit-s: "${opt("limit-s")}" is not a positive number of seconds`);
  return { sizes, seq, threads, quick, stepsOverride: steps ? Number(steps) : undefined, limitS, profile: argv.includes("--profile"), pureWasm: argv.includes("--pure-wasm"), out: opt("out") };
}

/** the files a run writes: --out; the quick file; or the dated raw file, and this CPU's file when every size was measured */
function outFiles(result: ThroughputResult, o: Options): { files: string[]; cpuFile?: string } {
  if (o.out) return { files: [o.out] };
  if (o.quick) return { files: [path.join(RESULTS, "throughput-quick.json")] };
  const slug = cpuSlug(result.machine.cpu);
  const raw = path.join(RESULTS, `throughput-${result.date.slice(0, 10)}-${slug}.json`);
  if (!README_SIZES.every((n) => o.sizes.some((s) => s.name === n))) return { files: [raw] };
  const cpuFile = path.join(RESULT_DIR, `${slug}.json`);
  return { files: [raw, cpuFile], cpuFile };
}

function write(result: ThroughputResult, o: Options): { files: string[]; cpuFile?: string } {
  const w = outFiles(result, o);
  const text = JSON.stringify(result, null, 1) + "\n";
  for (const f of w.files) {
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, text);
  }
  return w;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const loadStart = os.loadavg();
  say(`${CPU}, ${os.cpus().length} cores; each configuration in its own process, stopped after ${o.limitS} s`);
  if (loadStart[0] > 0.5 * os.cpus().length) say(`note: load average ${loadStart[0].toFixed(1)} on ${os.cpus().length} cores: this machine is busy and the times will be too`);
  const sg = await sgemm(o);
  const cores = planTorchCores();
  const sizes: SizeResult[] = [];
  for (const s of o.sizes) sizes.push(await benchSize(s, o, cores));
  const small = sizes.find((s) => s.size.name === "small");
  const seq = small && o.seq.length ? await benchSeq(small, o) : [];
  const settings = Object.fromEntries([...sizes, ...seq].map((s) => [`${s.size.name}@T${s.size.seq}`, settingsFor(s.size, o)]));
  const result: ThroughputResult = {
    schema: 2,
    date: new Date().toISOString(),
    command: `npm run bench:throughput -- ${process.argv.slice(2).join(" ")}`.trim(),
    quick: o.quick,
    machine: machine(loadStart, sizes, sg.blasCore),
    versions: versions(sizes),
    settings,
    sgemm: sg.rates,
    sizes,
    seq,
    totalSeconds: (performance.now() - t0) / 1000,
    limitSeconds: o.limitS,
  };
  say();
  for (const line of summaryLines(result)) say(line);
  const w = write(result, o);
  say();
  const shown = (f: string): string => (path.resolve(f).startsWith(ROOT + path.sep) ? path.relative(ROOT, f) : path.resolve(f));
  say(`wrote ${w.files.map(shown).join(", ")}; total ${(result.totalSeconds / 60).toFixed(1)} min`);
  if (!o.quick && !o.out && !w.cpuFile) say(`(this CPU's README rows come from a run of every size: ${README_SIZES.join(", ")}; this one was kept as the raw file only)`);
  if (w.cpuFile) console.log(`\nREADME table, every CPU (npm run readme puts it in README.md):\n\n${renderReadmeTable(readResults())}`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
