/**
 * The README's speed table, rendered from the bench:throughput result of every CPU model measured (one file per
 * CPU: bench/results/throughput/<cpu>.json, written by `npm run bench:throughput` on that CPU; a run on another
 * CPU adds its rows and keeps these):
 *   npx tsx bench/readme-table.ts [file ...]
 * scripts/readme.ts puts it in README.md's "speed" block; test/readme.test.ts checks README.md holds exactly this text.
 */
import * as fs from "fs";
import * as path from "path";
import {
  compare,
  coreWords,
  cpuShortName,
  cpuSlug,
  fastest,
  runLabel,
  sgemmPeak,
  upgradeResult,
  type ConfigRun,
  type Phase,
  type SizeResult,
  type Stats,
  type ThroughputResult,
  type ThroughputResultV1,
} from "./throughput-results";

/** one file per CPU model, named by cpuSlug(machine.cpu) */
export const RESULT_DIR = path.join(__dirname, "results", "throughput");
const REL_DIR = "bench/results/throughput";

export const TABLE_HEADER =
  "| CPU | size (layers/hidden/T/batch) | tfjs train ms/step (threads) | PyTorch train ms/step (OpenBLAS threads, torch threads, core) | train ratio best-vs-best | train ratio at 1 / 2 threads | eval ratio best-vs-best | eval ratio at 1 / 2 threads | tfjs step GFLOP/s (% of sgemm) |";

const f2 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(2));
const msOf = (r: ConfigRun, phase: Phase): string => ((r[phase] as Stats).median * 1000).toFixed(0);

/** a side's fastest training time with its configuration, or "–" with why none of its configurations has times */
function sideCell(runs: ConfigRun[], side: ConfigRun["side"]): string {
  const best = fastest(runs, side, "train");
  if (best && side === "tfjs") return `${msOf(best, "train")} (${best.blasThreads})`;
  if (best) return `${msOf(best, "train")} (${best.blasThreads}, ${best.torchThreads}${best.blasCore?.core ? `, ${best.blasCore.core}` : ""})`;
  const why = [...new Set(runs.filter((r) => r.side === side && r.native !== false && r.error).map((r) => r.error))];
  return why.length ? `– (${why.join("; ")})` : "–";
}

function row(result: ThroughputResult, sr: SizeResult, label: string): string {
  const s = sr.size;
  const eq = (phase: Phase): string => `${f2(compare(sr.runs, phase, 1)?.ratio)} / ${f2(compare(sr.runs, phase, 2)?.ratio)}`;
  const best = fastest(sr.runs, "tfjs", "train");
  let gflops = "–";
  if (best?.train) {
    const achieved = sr.flops.train / best.train.median / 1e9;
    const peak = sgemmPeak(result, best.blasThreads);
    gflops = `${achieved.toFixed(0)}${peak ? ` (${Math.round((100 * achieved) / peak)}%)` : ""}`;
  }
  const shape = `${label} (${s.layers}/${s.hidden}/${s.seq}/${s.batch})`;
  const cells = [cpuShortName(result.machine.cpu), shape, sideCell(sr.runs, "tfjs"), sideCell(sr.runs, "torch")];
  cells.push(f2(compare(sr.runs, "train")?.ratio), eq("train"), f2(compare(sr.runs, "eval")?.ratio), eq("eval"), gflops);
  return `| ${cells.join(" | ")} |`;
}

const allRuns = (r: ThroughputResult): Array<{ sr: SizeResult; run: ConfigRun }> => [...r.sizes, ...r.seq].flatMap((sr) => sr.runs.map((run) => ({ sr, run })));

/** whether denormals were flushed on each side, as recorded */
function denormalWords(result: ThroughputResult): string {
  const ours = result.machine.denormalsFlushed;
  const torch = [...new Set(allRuns(result).filter(({ run }) => run.side === "torch" && run.train).map(({ run }) => run.denormalsFlushed))];
  const oursWords = ours === undefined ? "not recorded for our kernels" : ours ? "flushed to zero in our kernels" : "not flushed in our kernels";
  const torchWords = torch.length === 1 && torch[0] === true ? "flushed in PyTorch (torch.set_flush_denormal)" : torch.length === 1 && torch[0] === false ? "not flushed in PyTorch" : "not recorded for PyTorch";
  return `Denormal floats: ${oursWords}, ${torchWords}.`;
}

/** One CPU's caption: machine, date and load, OpenBLAS cores and who chose them, settings, sgemm, denormals, what has no times. */
function caption(result: ThroughputResult): string {
  const m = result.machine;
  const short = cpuShortName(m.cpu);
  const ourCore = m.blasCore ? `core ${m.blasCore.core ?? "?"}, ${coreWords(m.blasCore)}` : "core not recorded";
  const env = Object.entries(m.env).filter(([k]) => /^(OPENBLAS_|OMP_|GOTO_)/.test(k) && k !== "OPENBLAS_CORETYPE").map(([k, v]) => `${k}=${v}`);
  const torchCores = [...new Map(allRuns(result).filter(({ run }) => run.side === "torch" && run.blasCore?.core).map(({ run }) => [run.blasCore!.core, run.blasCore!])).values()];
  const torchWords = torchCores.length ? `under core${torchCores.length > 1 ? "s" : ""} ${torchCores.map((c) => `${c.core} (${coreWords(c)})`).join(" and ")}` : "core not recorded";
  const sg = result.sgemm.map((g) => g.gflops.median.toFixed(0)).join(" / ");
  const failed = allRuns(result).filter(({ run }) => run.error).map(({ sr, run }) => `${sr.size.name} T=${sr.size.seq} ${runLabel(run)} (${run.error})`);
  return (
    `- **${short}** (${short === m.cpu ? "" : `${m.cpu}, `}${m.cores} cores, ${m.memoryGiB} GiB): measured ${result.date.slice(0, 10)} (load average ${m.loadavgStart[0].toFixed(1)} at the start) ` +
    `by \`${result.command.replace(/ --$/, "")}\` in ${(result.totalSeconds / 60).toFixed(0)} min, ${REL_DIR}/${cpuSlug(m.cpu)}.json. ` +
    `Our OpenBLAS ${ourCore}${env.length ? ` (also ${env.join(", ")})` : ""}: sgemm 1024³ ${sg} GFLOP/s at ${result.sgemm.map((g) => g.threads).join(" / ")} thread(s). ` +
    `PyTorch ${result.versions.torch ?? "?"} ${torchWords}. ${denormalWords(result)}` +
    (failed.length ? ` No times: ${failed.join("; ")}.` : "")
  );
}

/** The Markdown table (a row per CPU and size, then per extra sequence length) and a caption per CPU. */
export function renderReadmeTable(results: ThroughputResult[]): string {
  if (!results.length) throw new Error("renderReadmeTable: no results");
  for (const r of results) if (r.quick) throw new Error(`renderReadmeTable: the ${r.machine.cpu} result is a --quick one, not for the README (run npm run bench:throughput)`);
  const lines = [TABLE_HEADER, "|---|---|---:|---:|---:|---:|---:|---:|---:|"];
  for (const r of results) {
    for (const sr of r.sizes) lines.push(row(r, sr, sr.size.name));
    for (const sr of r.seq) lines.push(row(r, sr, `${sr.size.name}, T=${sr.size.seq}`));
  }
  lines.push(
    "",
    `Ratio = tfjs time / PyTorch time (below 1: we are faster); each side's fastest configuration on that CPU: threads, and for PyTorch ` +
      `also OpenBLAS's kernels (its own choice and, where our loader replaces that, the core it selects; a core set in the environment alone); ` +
      `"at n threads": every thread pool ≤ n. ` +
      `Median of the timed steps, each configuration in a fresh process. Per CPU:`,
    "",
    ...results.map(caption),
  );
  return lines.join("\n");
}

/** A result file of either schema, as schema 2 (throughput-results upgradeResult: no number changes). */
export function readResult(file: string): ThroughputResult {
  const r = JSON.parse(fs.readFileSync(file, "utf8")) as ThroughputResultV1 | ThroughputResult;
  if (r.schema !== 1 && r.schema !== 2) throw new Error(`${file}: schema ${String((r as { schema: unknown }).schema)}, expected 1 or 2`);
  return upgradeResult(r);
}

/** Every CPU's result in `dir`, oldest measurement first; a file must be named after the CPU it holds. */
export function readResults(dir = RESULT_DIR): ThroughputResult[] {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];
  const results = files.map((f) => {
    const r = readResult(path.join(dir, f));
    const want = `${cpuSlug(r.machine.cpu)}.json`;
    if (f !== want) throw new Error(`${path.join(dir, f)}: holds the results of "${r.machine.cpu}", whose file is ${want}`);
    return r;
  });
  return results.sort((a, b) => a.date.localeCompare(b.date));
}

if (require.main === module) {
  try {
    const files = process.argv.slice(2);
    console.log(renderReadmeTable(files.length ? files.map(readResult) : readResults()));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
