/**
 * npm run reproduce -- --table models|encodings|loss|augmentation|all [--preset quick|study] [--data-dir DIR]
 *                      [--shard i/n] [--seeds N] [--variants A,B] [--export DIR] [--strict] [--runs-dir DIR]
 * Runs (or loads) the grid behind each study table and prints our numbers beside the study's; --export writes
 * each table's runs as <DIR>/<table>.json (results/study/ for the study's data).
 */
import * as path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import {
  TABLE_NAMES,
  TABLE_SPECS,
  gridJobs,
  describeTableSeeds,
  shardJobs,
  parseShard,
  runJobs,
  reproduceTable,
  loadExperimentData,
  formatDataReport,
  tableResultsFile,
  writeResultsFile,
  existingRuns,
  DEFAULT_RUNS_DIR,
  type TableName,
  type PresetName,
  type Job,
} from "../experiments";
import { formatGridTable } from "../report/summary";
import { runMain, choiceArg } from "./common";
import { resolveData } from "./experiment";

interface Flags {
  table: TableName | "all";
  preset: PresetName;
  dataDir?: string;
  shard?: string;
  seeds?: number;
  variants?: string;
  quiet?: boolean;
  export?: string;
  strict?: boolean;
  runsDir?: string;
}

export interface ReproduceOptions {
  tables: TableName[];
  preset: PresetName;
  dataDir?: string;
  shard?: { index: number; count: number };
  /** seeds 0..n-1 for every table; undefined = each table's default (its spec's seeds) */
  seeds?: number;
  /** train only these rows of the table(s) (e.g. Basic1 and Entity_marked2 of a long study-data grid) */
  variants?: readonly string[];
  /** only the per-run lines, no tables (for worker shards) */
  quiet?: boolean;
  /** write each table's runs to <export>/<table>.json (every run of the grid must exist) */
  export?: string;
  /** fail on the first bad data row */
  strict?: boolean;
  runsDir?: string;
}

/** Keep the jobs of the named variants; a name that no selected table has is an error that lists the valid ones. */
export function selectVariants(jobs: readonly Job[], variants: readonly string[]): Job[] {
  const known = [...new Set(jobs.map((j) => j.variant))];
  const unknown = variants.filter((v) => !known.includes(v));
  if (unknown.length > 0) {
    throw new Error(`--variants: unknown ${unknown.map((v) => `"${v}"`).join(", ")}; this table has ${known.map((v) => `"${v}"`).join(", ")}`);
  }
  return jobs.filter((j) => variants.includes(j.variant));
}

/** The grid of each table that reproduce runs: the demo runs each table's demo rows (npm start's grid), a data folder every row. */
export function reproduceGrid(o: Pick<ReproduceOptions, "tables" | "preset" | "dataDir" | "seeds">) {
  const data = resolveData({ dataDir: o.dataDir });
  const seeds = o.seeds === undefined ? undefined : Array.from({ length: o.seeds }, (_, i) => i);
  const rows = (t: TableName): readonly string[] | undefined => (data ? undefined : TABLE_SPECS[t].demoVariants);
  const byTable = new Map<TableName, Job[]>(o.tables.map((t) => [t, gridJobs(t, { preset: o.preset, data, seeds, variants: rows(t) })]));
  return { data, seeds, byTable };
}

/** Run the grids of the given tables (this shard's part) and print each table from whatever runs exist. */
export async function reproduce(o: ReproduceOptions): Promise<void> {
  const { data, seeds, byTable } = reproduceGrid(o);
  const runsDir = o.runsDir ? path.resolve(o.runsDir) : DEFAULT_RUNS_DIR;
  const all = [...byTable.values()].flat();
  const mine = shardJobs(o.variants ? selectVariants(all, o.variants) : all, o.shard);
  const distinct = mine.filter((j) => j.kind === "run").length;
  const teachers = mine.length - distinct;
  console.log(
    `[medrel] reproduce ${o.tables.join(", ")} (preset ${o.preset}, ${seeds ? seeds.length : o.tables.map((t) => `${t} ${TABLE_SPECS[t].seeds.length}`).join(", ")} seeds)` +
      `${o.variants ? `, variants ${o.variants.join(", ")}` : ""}${o.shard ? `, shard ${o.shard.index}/${o.shard.count}` : ""}: ${distinct} distinct runs${teachers ? ` and ${teachers} n-gram teachers` : ""}`,
  );
  if (all.length > 0 && !o.quiet) console.log(formatDataReport(loadExperimentData(all[0].config, o.strict ? "strict" : "lenient")));
  const t0 = Date.now();
  await runJobs(mine, {
    runsDir,
    strict: o.strict,
    onTeacher: (t) => console.log(`[medrel] ${t.hash}: n-gram teacher of ${t.rows} training rows ready`),
    onJob: (done, total, run) =>
      console.log(`[medrel] ${done}/${total} ${run.hash} selection Macro-F1 ${(100 * (run.metrics.selection ?? run.metrics.dev).macro_f1).toFixed(2)} (${run.info.seconds.total.toFixed(0)} s)`),
  });
  const gridSeconds = (Date.now() - t0) / 1000;
  console.log(`[medrel] grid done in ${gridSeconds.toFixed(0)} s (${(gridSeconds / 60).toFixed(1)} min)`);
  if (o.export) await exportTables(o, byTable, { runsDir, gridSeconds, data, seeds });
  if (o.quiet) return;
  for (const [t, jobs] of byTable) {
    const { runs, missing } = existingRuns(jobs, runsDir);
    console.log("\n" + formatGridTable(t, runs, missing.length));
  }
}

/** Write each table's runs (all must exist: run every shard first) as <export>/<table>.json. */
async function exportTables(
  o: ReproduceOptions,
  byTable: Map<TableName, Job[]>,
  ctx: { runsDir: string; gridSeconds: number; data: ReturnType<typeof resolveData>; seeds?: number[] },
): Promise<void> {
  const command = `npm run reproduce -- ${process.argv.slice(2).join(" ")}`;
  for (const [t, jobs] of byTable) {
    const { missing } = existingRuns(jobs, ctx.runsDir);
    if (missing.length) throw new Error(`--export: table ${t} has ${missing.length} runs missing (run every shard first), e.g. ${missing[0].variant} seed ${missing[0].seed}`);
    const r = await reproduceTable(t, { preset: o.preset, data: ctx.data, seeds: ctx.seeds, runsDir: ctx.runsDir, progress: false, variants: [...new Set(jobs.map((j) => j.variant))] });
    const file = writeResultsFile(path.resolve(o.export!), tableResultsFile(r, { command, gridSeconds: ctx.gridSeconds }));
    console.log(`[medrel] exported ${r.records.length} runs of ${t} to ${path.relative(process.cwd(), file)}`);
  }
}

function seedCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--seeds must be a positive integer (seeds 0..n-1), got "${v}"`);
  return n;
}

async function main(): Promise<void> {
  const program = new Command("reproduce")
    .description("Re-run the study's tables (grids over seeds), cached by config hash")
    .requiredOption("--table <t>", `one of ${[...TABLE_NAMES, "all"].join(", ")}`, choiceArg("--table", [...TABLE_NAMES, "all"] as const))
    .option("--preset <p>", "quick | study | smoke", choiceArg("--preset", ["quick", "study", "smoke"] as const), "quick")
    .option("--data-dir <dir>", "a folder laid out as the study's (train.jsonl, val.jsonl, test.jsonl): every row of each table; default: the demo data, each table's demo rows")
    .option("--shard <i/n>", "run only shard i of n (e.g. 1/4); tables use whatever runs exist")
    .option("--seeds <n>", `seeds per variant (0..n-1); default ${describeTableSeeds()}`, seedCount)
    .option("--variants <list>", "comma-separated rows of the table to run (e.g. Basic1,Entity_marked2); the table still shows the others' runs that exist")
    .option("--export <dir>", "write each table's runs, with their full configs, to <dir>/<table>.json")
    .option("--strict", "fail on the first bad data row instead of skipping and reporting it")
    .option("--runs-dir <dir>", "folder of run folders (default $MEDREL_RUNS_DIR, else runs/; a shared folder for a cluster)")
    .option("--quiet", "print only one line per run (no tables)")
    .showHelpAfterError();
  program.parse();
  const f = program.opts<Flags>();
  await reproduce({
    tables: f.table === "all" ? [...TABLE_NAMES] : [f.table],
    preset: f.preset,
    dataDir: f.dataDir,
    shard: f.shard ? parseShard(f.shard) : undefined,
    seeds: f.seeds,
    variants: f.variants?.split(",").map((v) => v.trim()).filter((v) => v.length > 0),
    quiet: f.quiet,
    export: f.export,
    strict: f.strict,
    runsDir: f.runsDir,
  });
}

if (require.main === module) runMain(main);
