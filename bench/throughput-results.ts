/**
 * The throughput bench's result file (bench/results/throughput.json) and the numbers derived from it: the
 * sizes, per-step statistics (median, IQR), FLOPs per step from the model shapes, best-vs-best and
 * equal-threads ratios, and the printed lines. bench/throughput.ts writes it, bench/readme-table.ts reads it.
 */

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
  wallSeconds: number;
  /** set when the process failed; no times then */
  error?: string;
}

export interface SizeResult {
  size: BenchSize;
  flops: { train: number; eval: number };
  runs: ConfigRun[];
}

export interface ThroughputResult {
  schema: 1;
  date: string;
  command: string;
  quick: boolean;
  machine: { cpu: string; cores: number; memoryGiB: number; loadavgStart: number[]; loadavgEnd: number[]; env: Record<string, string> };
  versions: Record<string, string>;
  settings: Record<string, { warmup: number; steps: number; evalWarmup: number; evalBatches: number }>;
  /** the addon's sgemm on a 1024^3 product, per thread count */
  sgemm: Array<{ threads: number; gflops: Stats }>;
  sizes: SizeResult[];
  /** `small` at other sequence lengths, each side's fastest configuration at its own length */
  seq: SizeResult[];
  totalSeconds: number;
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

export function runLabel(r: ConfigRun): string {
  if (r.side === "torch") return `torch OpenBLAS ${r.blasThreads}, torch ${r.torchThreads}`;
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
  return r.side === "torch" ? `OpenBLAS ${r.blasThreads}, torch ${r.torchThreads}` : `${r.blasThreads} thread${r.blasThreads > 1 ? "s" : ""}`;
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
  if (r.error || !r.train || !r.eval) return `  ${runLabel(r).padEnd(30)} failed: ${r.error ?? "no times"}`;
  const iqr = (s: Stats): string => `${ms(s.median)} ms [${ms(s.q1)}–${ms(s.q3)}]`;
  return `  ${runLabel(r).padEnd(30)} train ${iqr(r.train)}, eval ${iqr(r.eval)}, RSS ${Math.round(r.rssMb ?? 0)} MB  (${r.verified ?? ""})`;
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
