/**
 * The README's speed table, rendered from a bench:throughput result file (default bench/results/throughput.json):
 *   npx tsx bench/readme-table.ts [file]
 * scripts/readme.ts puts it in README.md's "speed" block; test/readme.test.ts checks README.md holds exactly this text.
 */
import * as fs from "fs";
import * as path from "path";
import { compare, fastest, sgemmPeak, type ConfigRun, type Phase, type SizeResult, type Stats, type ThroughputResult } from "./throughput-results";

export const RESULT_FILE = path.join(__dirname, "results", "throughput.json");

export const TABLE_HEADER =
  "| size (layers/hidden/T/batch) | tfjs train ms/step (threads) | PyTorch train ms/step (OpenBLAS, torch threads) | train ratio best-vs-best | train ratio at 1 / 2 threads | eval ratio best-vs-best | eval ratio at 1 / 2 threads | tfjs step GFLOP/s (% of sgemm) |";

const f2 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(2));
const msOf = (r: ConfigRun, phase: Phase): string => ((r[phase] as Stats).median * 1000).toFixed(0);

function row(result: ThroughputResult, sr: SizeResult, label: string): string {
  const s = sr.size;
  const train = compare(sr.runs, "train");
  const evalC = compare(sr.runs, "eval");
  const eq = (phase: Phase): string => `${f2(compare(sr.runs, phase, 1)?.ratio)} / ${f2(compare(sr.runs, phase, 2)?.ratio)}`;
  const best = fastest(sr.runs, "tfjs", "train");
  let gflops = "–";
  if (best?.train) {
    const achieved = sr.flops.train / best.train.median / 1e9;
    const peak = sgemmPeak(result, best.blasThreads);
    gflops = `${achieved.toFixed(0)}${peak ? ` (${Math.round((100 * achieved) / peak)}%)` : ""}`;
  }
  const tfjsCell = train ? `${msOf(train.tfjs, "train")} (${train.tfjs.blasThreads})` : "–";
  const torchCell = train ? `${msOf(train.torch, "train")} (${train.torch.blasThreads}, ${train.torch.torchThreads})` : "–";
  const shape = `${label} (${s.layers}/${s.hidden}/${s.seq}/${s.batch})`;
  return `| ${shape} | ${tfjsCell} | ${torchCell} | ${f2(train?.ratio)} | ${eq("train")} | ${f2(evalC?.ratio)} | ${eq("eval")} | ${gflops} |`;
}

/** The Markdown table (header, rows per size and per extra sequence length, and a caption line). */
export function renderReadmeTable(result: ThroughputResult): string {
  if (result.quick) throw new Error("renderReadmeTable: a --quick result is not for the README (run npm run bench:throughput)");
  const lines = [TABLE_HEADER, "|---|---:|---:|---:|---:|---:|---:|---:|"];
  for (const sr of result.sizes) lines.push(row(result, sr, sr.size.name));
  for (const sr of result.seq) lines.push(row(result, sr, `${sr.size.name}, T=${sr.size.seq}`));
  const m = result.machine;
  const sg = result.sgemm.map((g) => `${g.gflops.median.toFixed(0)}`).join(" / ");
  // both sides run the same OpenBLAS: its kernel (forced by OPENBLAS_CORETYPE where set) decides the sgemm rate
  const core = /core (\w+)/.exec(result.versions.openblas ?? "")?.[1];
  const env = Object.entries(m.env).filter(([k]) => k.startsWith("OPENBLAS_")).map(([k, v]) => `${k}=${v}`);
  const blas = `OpenBLAS${core ? ` core ${core}` : ""}${env.length ? ` (${env.join(", ")})` : ""}`;
  lines.push(
    "",
    `Ratio = tfjs time / PyTorch ${result.versions.torch} time (below 1: we are faster); each side's fastest configuration, ` +
      `"at n threads": every thread pool ≤ n. Median of the timed steps, each configuration in a fresh process. ` +
      `Measured ${result.date.slice(0, 10)} on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB (load average ${m.loadavgStart[0].toFixed(1)} at the start), ` +
      `${blas}: sgemm 1024³ ${sg} GFLOP/s at ${result.sgemm.map((g) => g.threads).join(" / ")} thread(s); ` +
      `\`npm run bench:throughput\` (${(result.totalSeconds / 60).toFixed(0)} min) wrote bench/results/throughput.json.`,
  );
  return lines.join("\n");
}

export function readResult(file = RESULT_FILE): ThroughputResult {
  const r = JSON.parse(fs.readFileSync(file, "utf8")) as ThroughputResult;
  if (r.schema !== 1) throw new Error(`${file}: schema ${String(r.schema)}, expected 1`);
  return r;
}

if (require.main === module) {
  try {
    console.log(renderReadmeTable(readResult(process.argv[2] ?? RESULT_FILE)));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
