/**
 * npm run bench:grid — the unit a user waits for: whole fine-tunings of the study's data, run as `reproduce` runs a
 * grid (gridJobs → shardJobs → runJobs, one process per shard, MEDREL_BLAS_THREADS each), from a fresh temporary runs
 * folder (nothing cached, nothing shipped). Records runs per hour, where each run's time went (its run.json's
 * info.seconds, its n-gram teacher's teacher.json) and the machine (CPU, OpenBLAS core, numerics, cores, load
 * average at start and end), appended to bench/results/grid/<cpu>.json; the README's speed section leads with it.
 *
 *   npm run bench:grid -- [--shards 2] [--threads 1] [--jobs 4] [--preset quick|smoke] [--seed-from 1000] [--precision bf16]
 *                         [--table encodings] [--variant Basic1,Entity_marked2] [--data-dir ../shared/data] [--out FILE]
 *                         [--set '{"lengthAligned":true}'] (fields over the preset before the rows, as a plan's override)
 *
 * Seeds start far from the shipped ones (0..n-1), so no run is taken from results/study. Measure on an idle
 * machine: anything beside it shares the cores, and the load average in the file says so.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { choiceArg, runMain } from "../src/cli/common";
import { resolveData } from "../src/cli/experiment";
import { gridJobs, parseShard, presetConfig, runJobs, shardJobs, PRESET_NAMES, TABLE_NAMES, type PresetName, type TableName } from "../src/experiments";
import { type RunRecord } from "../src/runs";
import type { RunSeconds } from "../src/runs";
import { cpuModel } from "../src/backend/cpu";
import { PRECISIONS, type Precision } from "../src/backend/precision";
import { parseConfigOverride, type ConfigOverride } from "../src/runs/config";
import { cpuSlug } from "./throughput-results";

const ROOT = path.resolve(__dirname, "..");
export const GRID_RESULTS_DIR = path.join(ROOT, "bench", "results", "grid");

/** The phases a run's wall time is made of, in the order a run goes through them (RunSeconds' fields, and its teacher's). */
export const GRID_PHASES = ["teacher", "data", "model", "encode", "steps", "selection", "checkpoints", "eval", "write", "other"] as const;
export type GridPhase = (typeof GRID_PHASES)[number];

export interface GridRun {
  hash: string;
  seed: number;
  shard: number;
  seconds: RunSeconds;
  samplesPerSec: number[];
}

/** One bench:grid measurement. */
export interface GridEntry {
  command: string;
  date: string;
  preset: PresetName;
  table: TableName;
  variant: string;
  seeds: number[];
  shards: number;
  threads: number;
  /** the jobs' product precision (absent in entries made before it was recorded: f32) */
  precision?: Precision;
  /** fields set over the preset (bench:grid --set), absent when none */
  set?: ConfigOverride;
  /** `cpuid`: "family 25 model 17" (/proc/cpuinfo): "AMD EPYC" names Zen 4 and Zen 5 alike */
  machine: { cpu: string; cpuid?: string; cores: number; blasCore?: string; numerics?: string; node: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  wallSeconds: number;
  runsPerHour: number;
  /**
   * process-seconds per run (shards × wall / runs), by phase: each run's own (run.json), its teacher's fit (teacher.json)
   * spread over the runs, and `other` = the rest (process start, backend set-up, a shard idle at the end)
   */
  perRun: Record<GridPhase, number>;
  teachers: { hash: string; seconds: number }[];
  runs: GridRun[];
}

interface Options {
  shards: number;
  threads: number;
  jobs: number;
  preset: PresetName;
  seedFrom: number;
  table: TableName;
  variant: string;
  dataDir: string;
  out?: string;
  /** the jobs' product precision (absent: the preset's) */
  precision?: Precision;
  /** fields over the preset before the table's rows are derived (a plan's override; JSON on the command line) */
  set?: ConfigOverride;
}

const positive = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a positive integer, got "${v}"`);
  return n;
};

/** --set's JSON, validated (commander prints the error under the option's name). */
function parseOverride(v: string): ConfigOverride {
  try {
    return parseConfigOverride(v, "--set");
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** The rows the bench runs ("Basic1,Entity_marked2": a comma-separated list). */
const variantsOf = (o: Pick<Options, "variant">): string[] => o.variant.split(",").map((v) => v.trim()).filter(Boolean);

/**
 * The bench's jobs: the first `jobs` of (seed from seedFrom) × (its variants), seed by seed. Variants that read the
 * same training rows share a seed's n-gram teacher, as a grid's rows do (the next grid's 100 runs fit 42 teachers).
 */
function benchJobs(o: Options) {
  const variants = variantsOf(o);
  const seeds = Array.from({ length: Math.ceil(o.jobs / variants.length) }, (_, i) => o.seedFrom + i);
  const grid = gridJobs(o.table, { preset: o.preset, data: resolveData({ dataDir: o.dataDir }), seeds, variants, override: benchOverride(o) });
  const runs = grid.filter((j) => j.kind === "run").sort((a, b) => a.seed - b.seed || variants.indexOf(a.variant) - variants.indexOf(b.variant)).slice(0, o.jobs);
  return grid.filter((j) => j.kind !== "run" || runs.includes(j));
}

/** The plan-style override the jobs run under: --set's fields, and --precision over them. */
function benchOverride(o: Pick<Options, "set" | "precision">): ConfigOverride | undefined {
  const out: ConfigOverride = { ...o.set, ...(o.precision ? { precision: o.precision } : {}) };
  return Object.keys(out).length ? out : undefined;
}

/** One shard: its part of the grid, exactly as `reproduce --shard i/n` runs it. */
async function worker(o: Options, shard: string, runsDir: string): Promise<void> {
  const mine = shardJobs(benchJobs(o), parseShard(shard));
  await runJobs(mine, { runsDir, onJob: (n, total, run) => console.log(`[medrel] bench:grid shard ${shard}: ${n}/${total} ${run.hash} in ${run.info.seconds.total.toFixed(0)} s`) });
}

/** Run one shard's process to its end; rejects on a non-zero exit. */
function spawnShard(args: string[], threads: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", __filename, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"],
      // one line per epoch with its ETA (a grid of quick runs takes a quarter of an hour); a line costs nothing beside a step
      env: { ...process.env, MEDREL_BLAS_THREADS: String(threads), MEDREL_PROGRESS: "lines" },
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`bench:grid shard ${args.join(" ")} exited with code ${code}`))));
  });
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, "utf8")) as T;

/** Where the process-seconds of the grid went, per run (GridEntry.perRun). */
export function perRunPhases(runs: readonly Pick<GridRun, "seconds">[], teacherSeconds: number, processSeconds: number): Record<GridPhase, number> {
  const n = Math.max(1, runs.length);
  const sum = (k: Exclude<GridPhase, "teacher" | "other">): number => runs.reduce((a, r) => a + (r.seconds[k] ?? 0), 0) / n;
  const own = { data: sum("data"), model: sum("model"), encode: sum("encode"), steps: sum("steps"), selection: sum("selection"), checkpoints: sum("checkpoints"), eval: sum("eval"), write: sum("write") };
  const teacher = teacherSeconds / n;
  const known = teacher + Object.values(own).reduce((a, b) => a + b, 0);
  return { teacher, ...own, other: Math.max(0, processSeconds / n - known) };
}

async function measure(o: Options): Promise<void> {
  const jobs = benchJobs(o);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-bench-grid-"));
  const runsDir = path.join(work, "runs");
  const common = [...(o.precision ? ["--precision", o.precision] : []), ...(o.set ? ["--set", JSON.stringify(o.set)] : []), "--preset", o.preset, "--jobs", String(o.jobs), "--seed-from", String(o.seedFrom), "--table", o.table, "--variant", o.variant, "--data-dir", o.dataDir, "--runs-dir", runsDir];
  const loadAverageAtStart = os.loadavg();
  console.log(`[medrel] bench:grid: ${o.jobs} ${o.preset} runs of ${o.table} · ${o.variant} on ${o.shards} shard(s) × ${o.threads} thread(s) (load average ${loadAverageAtStart[0].toFixed(1)}), into ${runsDir}`);
  const t0 = Date.now();
  try {
    await Promise.all(Array.from({ length: o.shards }, (_, i) => spawnShard([...common, "--worker", `${i + 1}/${o.shards}`], o.threads)));
    const wallSeconds = (Date.now() - t0) / 1000;
    const loadAverageAtEnd = os.loadavg();
    const shardOf = new Map(Array.from({ length: o.shards }, (_, i) => shardJobs(jobs, { index: i + 1, count: o.shards }).map((j) => [j.hash, i + 1] as const)).flat());
    const records = jobs.filter((j) => j.kind === "run").map((j) => ({ job: j, info: readJson<RunRecord["info"]>(path.join(runsDir, j.hash, "run.json")), history: readJson<RunRecord["history"]>(path.join(runsDir, j.hash, "history.json")) }));
    const runs: GridRun[] = records.map(({ job, info, history }) => ({ hash: job.hash, seed: job.seed, shard: shardOf.get(job.hash) ?? 0, seconds: info.seconds, samplesPerSec: history.map((h) => h.samplesPerSec) }));
    const teachers = fs.readdirSync(runsDir).filter((d) => d.startsWith("teacher-")).map((d) => ({ hash: d, seconds: readJson<{ seconds: number }>(path.join(runsDir, d, "teacher.json")).seconds }));
    const first = records[0]?.info;
    const entry: GridEntry = {
      command: `npm run bench:grid -- ${process.argv.slice(2).join(" ")}`.trim(),
      date: new Date(t0).toISOString(),
      preset: o.preset,
      table: o.table,
      variant: o.variant,
      seeds: runs.map((r) => r.seed),
      shards: o.shards,
      threads: o.threads,
      precision: o.precision ?? o.set?.precision ?? presetConfig(o.preset).precision ?? "f32",
      ...(o.set ? { set: o.set } : {}),
      machine: { cpu: first?.cpu ?? cpuModel(), cpuid: cpuFamily(), cores: os.availableParallelism(), blasCore: first?.blasCore, numerics: first?.numerics, node: process.version, loadAverageAtStart, loadAverageAtEnd },
      wallSeconds,
      runsPerHour: (3600 * runs.length) / wallSeconds,
      perRun: perRunPhases(runs, teachers.reduce((a, t) => a + t.seconds, 0), o.shards * wallSeconds),
      teachers,
      runs,
    };
    const file = o.out ?? path.join(GRID_RESULTS_DIR, `${cpuSlug(entry.machine.cpu)}${entry.machine.cpuid ? `-${entry.machine.cpuid.replace(/ /g, "-")}` : ""}.json`);
    appendEntry(file, entry);
    console.log(`[medrel] bench:grid: ${runs.length} runs in ${wallSeconds.toFixed(0)} s: ${entry.runsPerHour.toFixed(1)} runs per hour on ${entry.machine.cpu} (${o.shards} × ${o.threads}); ${phaseWords(entry.perRun)}; appended to ${path.relative(ROOT, file)}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The CPU's family and model as /proc/cpuinfo gives them ("family 25 model 17"), or undefined off Linux. */
function cpuFamily(): string | undefined {
  try {
    const info = fs.readFileSync("/proc/cpuinfo", "utf8");
    const family = /^cpu family\s*:\s*(\d+)/m.exec(info)?.[1];
    const model = /^model\s*:\s*(\d+)/m.exec(info)?.[1];
    return family && model ? `family ${family} model ${model}` : undefined;
  } catch {
    return undefined;
  }
}

/** "steps 80 s, selection 6 s, …" (process-seconds per run, the phases over half a second). */
export function phaseWords(p: Record<GridPhase, number>): string {
  return GRID_PHASES.filter((k) => p[k] >= 0.5).map((k) => `${k} ${p[k].toFixed(0)} s`).join(", ") || "every phase under half a second";
}

/** A per-CPU file holds every measurement on that CPU, oldest first. */
export function readGridFile(file: string): GridEntry[] {
  return fs.existsSync(file) ? (readJson<{ entries: GridEntry[] }>(file).entries ?? []) : [];
}

/**
 * The README's grid-speed block: per CPU and layout, the latest quick-preset measurement (smoke runs test the
 * bench, they measure nothing a user waits for); undefined while `dir` holds none.
 */
export function renderGridBlock(dir = GRID_RESULTS_DIR): string | undefined {
  const entries = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort().flatMap((f) => readGridFile(path.join(dir, f))) : [];
  const latest = new Map<string, GridEntry>();
  for (const e of entries.filter((x) => x.preset === "quick")) latest.set(`${e.machine.cpu}|${e.machine.cpuid}|${e.shards}|${e.threads}|${e.precision ?? "f32"}|${e.table}|${e.variant}|${JSON.stringify(e.set ?? {})}`, e);
  if (latest.size === 0) return undefined;
  const min = (s: number): string => (s / 60).toFixed(1);
  const rows = [...latest.values()].map((e) => {
    const p = e.perRun;
    const perRun = GRID_PHASES.reduce((a, k) => a + p[k], 0);
    return (
      `| ${e.machine.cpu}${e.machine.cpuid ? ` (${e.machine.cpuid})` : ""} | ${e.precision ?? "f32"}${e.set ? ` · \`${JSON.stringify(e.set)}\`` : ""} | ${e.shards} × ${e.threads} | **${e.runsPerHour.toFixed(1)}** | ${e.runs.length} (${e.table}: ${e.variant}; ${e.teachers.length} teacher${e.teachers.length === 1 ? "" : "s"}) | ${min(perRun)} | ${min(p.teacher)} | ${min(p.data + p.model + p.encode)} | ${min(p.steps)} | ` +
      `${min(p.selection + p.eval)} | ${min(p.checkpoints + p.write)} | ${min(p.other)} | ${e.machine.loadAverageAtStart[0].toFixed(1)} / ${e.machine.loadAverageAtEnd[0].toFixed(1)} | ${e.date.slice(0, 10)} |`
    );
  });
  return [
    "| CPU | products · fields set | shards × BLAS threads | quick fine-tunings per hour | runs | process-min per run | teacher | data, model, encoding | training steps | evaluation (per epoch + final) | checkpoints, writing | other | load average start / end | measured |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ...rows,
    "",
    "Whole quick-preset fine-tunings of the study's data (the rows named, seeds from 1000; rows of one seed share its n-gram teacher, as a grid's do: the next grid's 100 runs fit 42), run as `reproduce` runs a grid from an empty runs folder, by " +
      "`npm run bench:grid -- --shards S --threads T [--precision bf16] [--set JSON]` (bench/results/grid/<cpu>.json, each run's phases from its run.json). Process-minutes per run = shards × wall time / runs, " +
      "split into phases; other = process start, backend set-up and a shard idle at the end. " +
      "Rows differ in work, not only in speed: the encodings table's rows train with the study's balanced sampler (batches drawn across lengths: about a third of each one padding, unless `lengthAligned` deals each class's rows out by length), the loss table's Regular Loss row is the quick preset itself (length-bucketed batches); compare a row only with rows of the same table. " +
      "`--set` (the column beside products) runs the jobs under a plan-style override, e.g. the next grid's.",
  ].join("\n");
}

function appendEntry(file: string, entry: GridEntry): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ entries: [...readGridFile(file), entry] }, null, 1) + "\n");
}

async function main(): Promise<void> {
  const program = new Command("bench:grid")
    .description("Runs per hour of whole fine-tunings, run as reproduce runs a grid, and where each run's time goes")
    .option("--shards <n>", "processes side by side (reproduce --shard i/n)", positive("--shards"), 2)
    .option("--threads <n>", "MEDREL_BLAS_THREADS of each shard", positive("--threads"), 1)
    .option("--jobs <n>", "fine-tunings in all (seeds seed-from … seed-from + n − 1)", positive("--jobs"), 4)
    .option("--preset <p>", PRESET_NAMES.join(" | "), choiceArg("--preset", PRESET_NAMES), "quick")
    .option("--seed-from <n>", "first seed (far from the shipped 0 … 4, so nothing is taken from results/study)", positive("--seed-from"), 1000)
    .option("--table <t>", TABLE_NAMES.join(" | "), choiceArg("--table", TABLE_NAMES), "encodings")
    .option("--variant <names>", "the table's rows to run, comma-separated (each seed's rows share its n-gram teacher, as in a grid)", "Basic1,Entity_marked2")
    .option("--data-dir <dir>", "the data (a folder laid out as the study's)", path.join(ROOT, "..", "shared", "data"))
    .option("--precision <p>", `the jobs' product precision: ${PRECISIONS.join(" | ")} (default: the preset's, f32)`, choiceArg("--precision", PRECISIONS))
    .option("--set <json>", "fields over the preset before the rows are derived, as a plan's override (null drops one)", parseOverride)
    .option("--out <file>", "append to this file instead of bench/results/grid/<cpu>.json")
    .option("--worker <i/n>", "(internal) run shard i of n")
    .option("--runs-dir <dir>", "(internal) the shards' runs folder")
    .showHelpAfterError();
  program.parse();
  const o = program.opts<Options & { worker?: string; runsDir?: string }>();
  if (o.worker) return worker(o, o.worker, o.runsDir!);
  return measure(o);
}

if (require.main === module) runMain(main);
