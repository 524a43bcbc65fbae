/**
 * The throughput bench's result files (one per CPU model: bench/results/throughput/<cpu>.json) and the numbers
 * derived from them: the sizes, per-step statistics (median, IQR), FLOPs per step from the model shapes,
 * best-vs-best and equal-threads ratios, and the printed lines. bench/throughput.ts writes them,
 * bench/readme-table.ts reads them.
 */
import type { BlasCoreChoice } from "../src/backend/cpu";

export interface BenchSize {
  name: string;
  layers: number;
  hidden: number;
  heads: number;
  inter: number;
  seq: number;
  batch: number;
  vocab: number;
}

export const SIZES: Record<string, BenchSize> = {
  tiny: { name: "tiny", layers: 2, hidden: 128, heads: 2, inter: 512, seq: 96, batch: 32, vocab: 4000 },
  small: { name: "small", layers: 4, hidden: 256, heads: 4, inter: 1024, seq: 96, batch: 32, vocab: 4000 },
  base: { name: "base", layers: 12, hidden: 768, heads: 12, inter: 3072, seq: 128, batch: 8, vocab: 4000 },
};

/** classifier width of both sides (src/data/labels NUM_LABELS) */
export const BENCH_LABELS = 10;

export interface Stats {
  median: number;
  q1: number;
  q3: number;
  /** every timed step, seconds */
  samples: number[];
}

/** One configuration, one fresh process: what it asked for, what it saw, and its per-step times. */
export interface ConfigRun {
  side: "tfjs" | "torch";
  /** tfjs: BLAS threads (MEDREL_BLAS_THREADS); torch: OPENBLAS_NUM_THREADS */
  blasThreads: number;
  /** torch only: torch.set_num_threads */
  torchThreads?: number;
  /** tfjs only: false for the pure-WASM reference (MEDREL_NATIVE=0) */
  native?: boolean;
  seq: number;
  /** how the thread counts were read back, and what they were */
  verified?: string;
  train?: Stats;
  trainCpu?: Stats;
  eval?: Stats;
  evalCpu?: Stats;
  loss?: number;
  rssMb?: number;
  /** torch.mm 1024^3 in this process (torch only), GFLOP/s */
  sgemmGflops?: number;
  /**
   * the OpenBLAS core this process ran and who chose it: tfjs, our addon loader; torch, OpenBLAS itself (variable
   * unset), the user's OPENBLAS_CORETYPE, or the bench setting the core our loader selects ("medrel")
   */
  blasCore?: BlasCoreChoice;
  /** denormal floats flushed to zero: tfjs, as the addon reports it; torch, torch.set_flush_denormal(True) */
  denormalsFlushed?: boolean;
  wallSeconds: number;
  /** set when the process failed or ran past the time limit (limitError); no times then */
  error?: string;
}

export interface SizeResult {
  size: BenchSize;
  flops: { train: number; eval: number };
  runs: ConfigRun[];
}

export interface Machine {
  /** /proc/cpuinfo's model name: results are only comparable on the same one */
  cpu: string;
  cores: number;
  memoryGiB: number;
  loadavgStart: number[];
  loadavgEnd: number[];
  /** OPENBLAS_*, OMP_*, GOTO_*, MEDREL_* as the bench found them */
  env: Record<string, string>;
  /** our side's OpenBLAS core and who chose it (undefined: not recorded) */
  blasCore?: BlasCoreChoice;
  /** whether our kernels ran with denormals flushed to zero (undefined: not recorded) */
  denormalsFlushed?: boolean;
}

export interface ThroughputResult {
  schema: 2;
  date: string;
  command: string;
  quick: boolean;
  machine: Machine;
  versions: Record<string, string>;
  settings: Record<string, { warmup: number; steps: number; evalWarmup: number; evalBatches: number }>;
  /** the addon's sgemm on a 1024^3 product, per thread count */
  sgemm: Array<{ threads: number; gflops: Stats }>;
  sizes: SizeResult[];
  /** `small` at other sequence lengths, each side's fastest configuration at its own length */
  seq: SizeResult[];
  totalSeconds: number;
  /** each configuration's process was stopped after this many seconds */
  limitSeconds?: number;
  /** how a file of an older schema was carried into this one */
  migrated?: string;
}

/** The variables that set threads or kernels (OPENBLAS_*, OMP_*, GOTO_*, MEDREL_*), as a result file records them. */
export function kernelEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k, v]) => /^(OPENBLAS_|OMP_|GOTO_|MEDREL_)/.test(k) && v !== undefined) as [string, string][]);
}

/** The marker our addon loader sets beside an OPENBLAS_CORETYPE it chose (src/backend/cpu.ts). */
const OUR_CORE = "MEDREL_OPENBLAS_CORETYPE";

/** A configuration's error when the bench stopped it at the time limit. */
export const limitError = (seconds: number): string => `stopped at the ${seconds} s limit`;

// ------------------------------------------------------------------------------------------------
// CPU names

/** "Intel(R) Xeon(R) Platinum 8480C CPU @ 2.00GHz" -> "Intel Xeon Platinum 8480C"; "AMD EPYC 7B13 64-Core Processor" -> "AMD EPYC 7B13" */
export function cpuShortName(model: string): string {
  const short = model
    .replace(/\((R|TM|tm|r)\)/g, "")
    .replace(/\s+CPU\b.*$/, "")
    .replace(/\s+@.*$/, "")
    .replace(/\s+\d+-Core Processor$|\s+Processor$/i, "")
    .replace(/\s+/g, " ")
    .trim();
  return short || model.trim() || "unknown CPU";
}

/** The file name of a CPU's results: "intel-xeon-platinum-8480c", "amd-epyc". */
export function cpuSlug(model: string): string {
  return cpuShortName(model).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "unknown-cpu";
}

/** Who chose an OpenBLAS core, in words. */
export function coreWords(c: BlasCoreChoice): string {
  if (c.source === "user") return `OPENBLAS_CORETYPE=${c.core ?? "?"} set in the environment`;
  if (c.source === "medrel") return `selected by medrel (OpenBLAS 0.3.21 would fall back to ${c.fallback ?? "an older core"})`;
  return "OpenBLAS's own choice";
}

// ------------------------------------------------------------------------------------------------
// older files

/** A schema-1 file as bench/throughput.ts wrote it before it recorded cores and denormals. */
export type ThroughputResultV1 = Omit<ThroughputResult, "schema"> & { schema: 1 };

/**
 * Schema 1 -> 2 without touching a number: our side's core from the OpenBLAS line it recorded (chosen by the
 * environment when OPENBLAS_CORETYPE was set, unless our loader's marker says it was ours), each torch run's from the architecture
 * threadpoolctl read back; torch_step.py did not flush denormals then. Whether our kernels flushed is not recorded.
 */
export function upgradeResult(r: ThroughputResultV1 | ThroughputResult): ThroughputResult {
  if (r.schema === 2) return r;
  const set = r.machine.env.OPENBLAS_CORETYPE || undefined;
  const setBy = r.machine.env[OUR_CORE] === set ? "medrel" : "user";
  const ours = /core (\w+)/.exec(r.versions.openblas ?? "")?.[1];
  const blasCore: BlasCoreChoice | undefined = set ? { source: setBy, core: set } : ours ? { source: "openblas", core: ours } : undefined;
  const run = (c: ConfigRun): ConfigRun => {
    if (c.side === "tfjs") return c.native === false || !blasCore ? c : { ...c, blasCore };
    const arch = /OpenBLAS \S+ \((\w+)\)/.exec(c.verified ?? "")?.[1];
    const core: BlasCoreChoice | undefined = arch ? { source: set ? setBy : "openblas", core: arch } : undefined;
    return { ...c, ...(core ? { blasCore: core } : {}), denormalsFlushed: false };
  };
  const sizes = (list: SizeResult[]): SizeResult[] => list.map((sr) => ({ ...sr, runs: sr.runs.map(run) }));
  return { ...r, schema: 2, machine: { ...r.machine, ...(blasCore ? { blasCore } : {}) }, sizes: sizes(r.sizes), seq: sizes(r.seq) };
}

// ------------------------------------------------------------------------------------------------
// statistics and FLOPs

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function stats(samples: number[]): Stats {
  if (samples.length === 0) throw new Error("stats: no samples");
  const s = [...samples].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), q1: quantile(s, 0.25), q3: quantile(s, 0.75), samples };
}

/**
 * Multiply-adds ×2 of one step from the shapes: the encoder's dense layers over every token (QKV, output,
 * FFN: 4H² + 2HI per layer), attention's QKᵀ and PV (4·T·H per token per layer), pooler and classifier on
 * one row per example. Training is forward + backward = 3× forward. Embedding lookups, softmax, LayerNorm,
 * GELU and the optimizer are not counted.
 */
export function stepFlops(s: BenchSize, labels = BENCH_LABELS): { train: number; eval: number } {
  const { layers: L, hidden: H, inter: I, seq: T, batch: B } = s;
  const dense = L * (4 * H * H + 2 * H * I);
  const tokens = B * T;
  const forward = 2 * dense * tokens + 4 * B * L * T * T * H + 2 * B * (H * H + H * labels);
  return { train: 3 * forward, eval: forward };
}

// ------------------------------------------------------------------------------------------------
// derived numbers

export type Phase = "train" | "eval";

const coreSuffix = (r: ConfigRun): string => (r.side === "torch" && r.blasCore?.core ? `, core ${r.blasCore.core}` : "");

export function runLabel(r: ConfigRun): string {
  if (r.side === "torch") return `torch OpenBLAS ${r.blasThreads}, torch ${r.torchThreads}${coreSuffix(r)}`;
  return r.native === false ? "tfjs pure WASM" : `tfjs ${r.blasThreads} BLAS thread${r.blasThreads > 1 ? "s" : ""}`;
}

/** the most threads any pool of this configuration runs */
const maxThreads = (r: ConfigRun): number => Math.max(r.blasThreads, r.torchThreads ?? 1);

/** the fastest successful run of a side (optionally only those whose every pool is ≤ maxPool threads) */
export function fastest(runs: ConfigRun[], side: ConfigRun["side"], phase: Phase, maxPool = Infinity): ConfigRun | undefined {
  const ok = runs.filter((r) => r.side === side && r[phase] && r.native !== false && maxThreads(r) <= maxPool);
  return ok.sort((a, b) => (a[phase] as Stats).median - (b[phase] as Stats).median)[0];
}

export interface Comparison {
  ratio: number;
  tfjs: ConfigRun;
  torch: ConfigRun;
}

/** tfjs time / torch time: each side's fastest configuration (with maxPool: at most that many threads per pool) */
export function compare(runs: ConfigRun[], phase: Phase, maxPool = Infinity): Comparison | undefined {
  const tfjs = fastest(runs, "tfjs", phase, maxPool);
  const torch = fastest(runs, "torch", phase, maxPool);
  if (!tfjs || !torch) return undefined;
  return { ratio: (tfjs[phase] as Stats).median / (torch[phase] as Stats).median, tfjs, torch };
}

/** the addon's 1024^3 sgemm rate at this thread count (GFLOP/s), if measured */
export function sgemmPeak(r: ThroughputResult, threads: number): number | undefined {
  return r.sgemm.find((g) => g.threads === threads)?.gflops.median;
}

// ------------------------------------------------------------------------------------------------
// printed lines

const ms = (s: number): string => (s * 1000).toFixed(s < 0.1 ? 1 : 0);
const r2 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(2));

function configWords(r: ConfigRun): string {
  return r.side === "torch" ? `OpenBLAS ${r.blasThreads}, torch ${r.torchThreads}${coreSuffix(r)}` : `${r.blasThreads} thread${r.blasThreads > 1 ? "s" : ""}`;
}

/** `best-vs-best SIZE: ratio R (tfjs X ms/step, N threads; torch Y ms/step, OpenBLAS a, torch b)` */
export function bestLine(name: string, runs: ConfigRun[], phase: Phase): string {
  const c = compare(runs, phase);
  const what = phase === "train" ? "best-vs-best" : "eval best-vs-best";
  const unit = phase === "train" ? "ms/step" : "ms/batch";
  if (!c) return `${what} ${name}: n/a (a side has no successful run)`;
  return (
    `${what} ${name}: ratio ${r2(c.ratio)} (tfjs ${ms((c.tfjs[phase] as Stats).median)} ${unit}, ${configWords(c.tfjs)}; ` +
    `torch ${ms((c.torch[phase] as Stats).median)} ${unit}, ${configWords(c.torch)})`
  );
}

/** `equal-threads SIZE: ratio R1 (1 thread) / R2 (2 threads)`: each side's fastest with every pool ≤ n threads */
export function equalLine(name: string, runs: ConfigRun[], phase: Phase, threads = [...new Set(runs.filter((r) => r.side === "tfjs").map((r) => r.blasThreads))].sort((a, b) => a - b)): string {
  const parts = threads.map((n) => `${r2(compare(runs, phase, n)?.ratio)} (${n} thread${n > 1 ? "s" : ""})`);
  return `${phase === "train" ? "equal-threads" : "eval equal-threads"} ${name}: ratio ${parts.join(" / ")}`;
}

/** achieved GFLOP/s of our fastest training step against the addon's sgemm at the same thread count */
export function flopsLine(result: ThroughputResult, sr: SizeResult): string {
  const best = fastest(sr.runs, "tfjs", "train");
  if (!best?.train) return `GFLOP/s ${sr.size.name}: n/a`;
  const achieved = sr.flops.train / best.train.median / 1e9;
  const peak = sgemmPeak(result, best.blasThreads);
  const share = peak ? ` = ${Math.round((100 * achieved) / peak)}% of sgemm ${peak.toFixed(1)} GFLOP/s at ${best.blasThreads} thread(s)` : "";
  return `GFLOP/s ${sr.size.name}: tfjs step ${achieved.toFixed(1)} GFLOP/s (${(sr.flops.train / 1e9).toFixed(2)} GFLOP/step)${share}`;
}

/** one line per configuration: median and IQR of train step and eval batch */
export function runLine(r: ConfigRun): string {
  if (r.error || !r.train || !r.eval) return `${runLabel(r).padEnd(40)} failed: ${r.error ?? "no times"}`;
  const iqr = (s: Stats): string => `${ms(s.median)} ms [${ms(s.q1)}–${ms(s.q3)}]`;
  return `${runLabel(r).padEnd(40)} train ${iqr(r.train)}, eval ${iqr(r.eval)}, RSS ${Math.round(r.rssMb ?? 0)} MB  (${r.verified ?? ""})`;
}

export function seqLine(seq: SizeResult[], phase: Phase): string {
  const parts = seq.map((sr) => {
    const c = compare(sr.runs, phase);
    return c ? `T=${sr.size.seq} ${r2(c.ratio)} (${ms((c.tfjs[phase] as Stats).median)} vs ${ms((c.torch[phase] as Stats).median)} ms)` : `T=${sr.size.seq} n/a`;
  });
  return `${phase === "train" ? "seq" : "eval seq"} ${seq[0]?.size.name ?? ""}: ${parts.join("; ")}`;
}

/** every summary line of a result, in print order */
export function summaryLines(result: ThroughputResult): string[] {
  const lines: string[] = [];
  for (const g of result.sgemm) lines.push(`sgemm 1024^3 (addon, ${g.threads} thread${g.threads > 1 ? "s" : ""}): ${g.gflops.median.toFixed(1)} GFLOP/s`);
  for (const sr of result.sizes) {
    lines.push(bestLine(sr.size.name, sr.runs, "train"), equalLine(sr.size.name, sr.runs, "train"));
    lines.push(bestLine(sr.size.name, sr.runs, "eval"), equalLine(sr.size.name, sr.runs, "eval"));
    lines.push(flopsLine(result, sr));
  }
  if (result.seq.length) {
    // the size's own length (all its configurations) joins the sweep
    const own = result.sizes.filter((sr) => sr.size.name === result.seq[0].size.name);
    const all = [...own, ...result.seq].sort((a, b) => a.size.seq - b.size.seq);
    lines.push(seqLine(all, "train"), seqLine(all, "eval"));
  }
  return lines;
}

// ------------------------------------------------------------------------------------------------
// PyTorch's OpenBLAS cores

/** The environment without an OPENBLAS_CORETYPE our loader set (and its markers): a child decides anew. */
export function withoutOurCore(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  if (out.OPENBLAS_CORETYPE === "" || (out.OPENBLAS_CORETYPE !== undefined && out[OUR_CORE] === out.OPENBLAS_CORETYPE)) delete out.OPENBLAS_CORETYPE;
  for (const k of Object.keys(out)) if (k.startsWith(OUR_CORE)) delete out[k];
  return out;
}

/**
 * The OpenBLAS cores PyTorch runs under, each its own configuration (Debian's torch runs its products on the system
 * OpenBLAS, which reads OPENBLAS_CORETYPE at import): the user's value when one is set, and always OpenBLAS's own
 * choice and the core our loader selects when it would replace that choice (`decide`: src/backend/cpu.ts
 * decideBlasCore on a copy of the environment without the user's value), one configuration per distinct core; the
 * fastest counts. A user's OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU (some environments set it) would otherwise
 * hold PyTorch to AVX2 kernels and flatter every ratio (on a Zen 5: 205 / 1087 ms per step against its best 145 / 595).
 */
export function torchCores(env: NodeJS.ProcessEnv, decide: (copy: NodeJS.ProcessEnv) => BlasCoreChoice): BlasCoreChoice[] {
  const clean = withoutOurCore(env);
  const user = clean.OPENBLAS_CORETYPE;
  delete clean.OPENBLAS_CORETYPE;
  const c = decide({ ...clean });
  const found: BlasCoreChoice[] = [...(user !== undefined ? [{ source: "user" as const, core: user }] : []), ...(c.source !== "medrel" ? [{ source: "openblas" as const, core: c.core }] : [{ source: "openblas" as const, core: c.fallback }, c])];
  return found.filter((x, i) => found.findIndex((y) => (y.core ?? "").toLowerCase() === (x.core ?? "").toLowerCase()) === i);
}

/** OPENBLAS_CORETYPE for a process that is to run this core (undefined: leave it unset, OpenBLAS chooses). */
export const coreEnv = (c: BlasCoreChoice): string | undefined => (c.source === "openblas" ? undefined : c.core);
