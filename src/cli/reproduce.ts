/**
 * npm run reproduce -- --table models|encodings|loss|augmentation|all [--preset quick|study] [--data-dir DIR]
 *                      [--shard i/n] [--seeds N | --plan FILE] [--variants A,B] [--export DIR | --results-dir DIR] [--strict] [--runs-dir DIR]
 * Runs (or loads) the grid behind each study table and prints our numbers beside the study's; --export writes
 * each table's runs as <DIR>/<table>.json (results/study/ for the study's data). --plan FILE (results/study-plan.json)
 * gives each row its planned seeds and every job the plan's override; the files record both, and each encoder
 * strength has its own folder (results/study-<name>/, today's grid staying in results/study/): shards that do not
 * export name it with --results-dir, so the runs git carried there count as done.
 */
import * as path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import {
  TABLE_NAMES,
  TABLE_SPECS,
  STUDY_SEEDS,
  seedRange,
  readPlanGrid,
  gridJobs,
  describeTableSeeds,
  shardJobs,
  parseShard,
  runJobs,
  loadExperimentData,
  formatDataReport,
  exportResults,
  exportDrops,
  ExportConflictError,
  EXPORT_CONFLICT_HINT,
  shippedRuns,
  studyResultsDir,
  existingRuns,
  type TableName,
  type PresetName,
  type Job,
  type RunJob,
  type TeacherRecord,
  type GridRecipe,
} from "../experiments";
import { ensureFolder, DEFAULT_RUNS_DIR, type RunRecord } from "../runs";
import { formatDuration } from "../train/progress";
import { formatGridTable } from "../report/summary";
import { runMain, choiceArg } from "./common";
import { resolveData } from "./experiment";

interface Flags {
  table: TableName | "all";
  preset: PresetName;
  dataDir?: string;
  shard?: string;
  seeds?: number;
  plan?: string;
  variants?: string;
  quiet?: boolean;
  export?: string;
  strict?: boolean;
  runsDir?: string;
  resultsDir?: string;
  train?: boolean;
  replace?: boolean;
}

export interface ReproduceOptions {
  tables: TableName[];
  preset: PresetName;
  dataDir?: string;
  shard?: { index: number; count: number };
  /** seeds 0..n-1 for every table; undefined = each table's default (its spec's seeds) */
  seeds?: number;
  /** a study plan file (results/study-plan.json): each row's planned seeds and the plan's override for every job; not with `seeds` */
  plan?: string;
  /** train only these rows of the table(s) (e.g. Basic1 and Entity_marked2 of a long study-data grid) */
  variants?: readonly string[];
  /** only the per-run lines, no tables (for worker shards) */
  quiet?: boolean;
  /** write each table's finished runs to <export>/<table>.json (a partial file names what is missing) */
  export?: string;
  /** false: train nothing, only load and export what exists (e.g. while shards still run) */
  train?: boolean;
  /** fail on the first bad data row */
  strict?: boolean;
  runsDir?: string;
  /** let --export drop runs of the files there that this grid does not make (default: refuse, naming them) */
  replace?: boolean;
  /** the results folder whose shipped runs count as done: default `export`'s, else results/study (MEDREL_RESULTS_DIR) */
  resultsDir?: string;
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

/**
 * The grid of each table that reproduce runs: the demo runs each table's demo rows (npm start's grid), a data folder
 * every row; with a plan, each row its planned seeds and every job the plan's override. `recipes` is what each
 * table's results file records of that (none without a plan).
 */
export function reproduceGrid(o: Pick<ReproduceOptions, "tables" | "preset" | "dataDir" | "seeds" | "plan">) {
  if (o.plan !== undefined && o.seeds !== undefined) throw new InvalidArgumentError(`--plan ${o.plan} fixes the seeds of each row; --seeds cannot be given with it`);
  const plan = o.plan === undefined ? undefined : readPlanGrid(o.plan);
  const data = resolveData({ dataDir: o.dataDir });
  const seeds = o.seeds === undefined ? undefined : seedRange(o.seeds);
  const rows = (t: TableName): readonly string[] | undefined => (data ? undefined : TABLE_SPECS[t].demoVariants);
  const byTable = new Map<TableName, Job[]>();
  const recipes = new Map<TableName, GridRecipe>();
  for (const t of o.tables) {
    if (!plan) {
      byTable.set(t, gridJobs(t, { preset: o.preset, data, seeds, variants: rows(t) }));
      continue;
    }
    const planned = plan.seeds[t];
    if (!planned) throw new Error(`--plan ${o.plan}: no seeds for the ${t} table (it plans ${Object.keys(plan.seeds).join(", ")})`);
    let jobs: Job[];
    try {
      jobs = gridJobs(t, { preset: o.preset, data, seeds: planned, variants: rows(t), override: plan.override });
    } catch (e) {
      throw new Error(`--plan ${o.plan}: ${(e as Error).message}`);
    }
    byTable.set(t, jobs);
    // the seeds of the file's own rows, as the plan gives them
    const own = new Set(jobs.map((j) => j.variant));
    recipes.set(t, { ...(plan.override ? { override: plan.override } : {}), seeds: Object.fromEntries(Object.entries(planned).filter(([v]) => own.has(v))) });
  }
  return { data, seeds, byTable, recipes };
}

/** Run the grids of the given tables (this shard's part) and print each table from whatever runs exist. */
export async function reproduce(o: ReproduceOptions): Promise<void> {
  if (o.export && o.resultsDir && path.resolve(o.export) !== path.resolve(o.resultsDir)) {
    throw new InvalidArgumentError(`--export ${o.export} and --results-dir ${o.resultsDir}: an export takes the runs of its own folder as done; give one folder`);
  }
  const { seeds, byTable, recipes } = reproduceGrid(o);
  const runsDir = o.runsDir ? path.resolve(o.runsDir) : DEFAULT_RUNS_DIR;
  if (o.export) {
    ensureFolder(path.resolve(o.export), "--export");
    // before any training: a file there of another grid would lose its runs (checked again on the runs that exist)
    if (!o.replace) refuseDrops(path.resolve(o.export), [...byTable].map(([t, jobs]) => [t, new Set(jobs.map((j) => j.hash))]));
  }
  // runs shipped in results files count as done: a grid continues on a new machine from what git carried
  const shipped = shippedRuns(path.resolve(o.export ?? o.resultsDir ?? studyResultsDir()));
  const all = [...byTable.values()].flat();
  const mine = shardJobs(o.variants ? selectVariants(all, o.variants) : all, o.shard);
  const runJobsOfMine = mine.filter((j): j is RunJob => j.kind === "run");
  const distinct = new Set(runJobsOfMine.map((j) => j.hash));
  const teachers = mine.length - runJobsOfMine.length;
  const done = [...distinct].filter((h) => shipped.has(h)).length;
  console.log(
    `[medrel] reproduce ${o.tables.join(", ")} (preset ${o.preset}, ${o.plan ? `the seeds and override of ${o.plan}` : `${seeds ? seeds.length : o.tables.map((t) => `${t} ${TABLE_SPECS[t].seeds.length}`).join(", ")} seeds`})` +
      `${o.variants ? `, variants ${o.variants.join(", ")}` : ""}${o.shard ? `, shard ${o.shard.index}/${o.shard.count}` : ""}: ${distinct.size} distinct runs` +
      (teachers ? ` and ${teachers} n-gram teachers` : "") +
      (done ? `, ${done} of the runs shipped in results files (taken as done)` : ""),
  );
  if (all.length > 0 && !o.quiet) console.log(formatDataReport(loadExperimentData(all[0].config, o.strict ? "strict" : "lenient")));
  const t0 = Date.now();
  const onTeacher = (t: TeacherRecord): void => console.log(`[medrel] ${t.hash}: n-gram teacher of ${t.rows} training rows ready`);
  if (o.train !== false) await runJobs(mine, { runsDir, strict: o.strict, shipped, onTeacher, onJob: jobLogger(runJobsOfMine) });
  const gridSeconds = (Date.now() - t0) / 1000;
  if (o.train !== false) console.log(`[medrel] grid done in ${gridSeconds.toFixed(0)} s (${(gridSeconds / 60).toFixed(1)} min)`);
  if (o.export) exportTables(o, byTable, { runsDir, shipped, recipes, gridSeconds: o.train !== false ? gridSeconds : undefined });
  if (o.quiet) return;
  for (const [t, jobs] of byTable) {
    const { runs, missing } = existingRuns(jobs, runsDir, shipped);
    console.log("\n" + formatGridTable(t, runs, missing.length));
  }
}

/** One line per finished job, with the ETA of this process's remaining runs (mean seconds of the runs it trained). */
function jobLogger(jobs: readonly RunJob[]): (n: number, total: number, run: RunRecord) => void {
  const t0 = Date.now();
  const seen = new Set<string>();
  let trained = 0;
  return (n, total, run) => {
    const fresh = !seen.has(run.hash) && !run.shipped && Date.parse(run.info.startedAt) >= t0;
    seen.add(run.hash);
    if (fresh) trained++;
    const left = new Set(jobs.slice(n).map((j) => j.hash).filter((h) => !seen.has(h))).size;
    const eta = trained > 0 && left > 0 ? `; ${left} runs left, ETA ${formatDuration(((Date.now() - t0) / 1000 / trained) * left)}` : "";
    const took = run.shipped ? "shipped" : fresh ? `${run.info.seconds.total.toFixed(0)} s` : "cached";
    console.log(`[medrel] ${n}/${total} ${run.hash} selection Macro-F1 ${(100 * (run.metrics.selection ?? run.metrics.dev).macro_f1).toFixed(2)} (${took}${eta})`);
  };
}

/**
 * Write each table's finished runs (run folders here, or shipped earlier) as <export>/<table>.json with their compact
 * predictions; a table with runs missing is written partial and the missing ones are named.
 */
function exportTables(
  o: ReproduceOptions,
  byTable: Map<TableName, Job[]>,
  ctx: { runsDir: string; shipped: ReadonlyMap<string, RunRecord>; recipes: ReadonlyMap<TableName, GridRecipe>; gridSeconds?: number },
): void {
  const command = `npm run reproduce -- ${process.argv.slice(2).filter((a) => a !== "--no-train" && a !== "--replace").join(" ")}`;
  const found = new Map([...byTable].map(([t, jobs]) => [t, existingRuns(jobs, ctx.runsDir, ctx.shipped)]));
  // every table is checked before any is written: a refused export leaves the folder as it was
  if (!o.replace) refuseDrops(path.resolve(o.export!), [...found].map(([t, f]) => [t, new Set(f.runs.map((r) => r.hash))]));
  for (const [t, jobs] of byTable) {
    const { runs, missing } = found.get(t)!;
    // a table with no finished run is written too: its grid says what "n of N" counts
    const res = exportResults(path.resolve(o.export!), { table: t, grid: jobs, runs, command, gridSeconds: ctx.gridSeconds, replace: o.replace, recipe: ctx.recipes.get(t) });
    const names = [...new Set(missing.map((m) => `${m.variant} seed ${m.seed}`))];
    console.log(
      `[medrel] exported ${res.done} of ${res.total} runs of ${t} to ${path.relative(process.cwd(), res.file)}` +
        (names.length ? `; missing: ${names.slice(0, 6).join(", ")}${names.length > 6 ? ` and ${names.length - 6} more` : ""}` : ""),
    );
  }
}

/** Throw when exporting would drop runs of a results file already in `dir` (each table's kept hashes given). */
function refuseDrops(dir: string, keep: [TableName, Set<string>][]): void {
  const drops = keep.map(([t, hashes]) => exportDrops(dir, t, hashes)).filter((d): d is string => d !== undefined);
  if (drops.length) throw new ExportConflictError(`--export ${path.relative(process.cwd(), dir) || dir}: ${drops.join("; ")}. Nothing was written. ${EXPORT_CONFLICT_HINT}`);
}

/** --variants A,B as a list; a list that names no row (e.g. ",") is an error, not a grid of nothing. */
function variantList(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const list = v.split(",").map((x) => x.trim()).filter((x) => x.length > 0);
  if (list.length === 0) throw new InvalidArgumentError(`--variants "${v}" names no row of the table (e.g. --variants Basic1,Entity_marked2)`);
  return list;
}

/** The most seeds per variant a grid may ask for. */
export const MAX_SEEDS = 1000;

function seedCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--seeds must be a positive integer (seeds 0..n-1), got "${v}"`);
  // checked before any work: every seed is a job of every row, listed up front
  if (n > MAX_SEEDS) throw new InvalidArgumentError(`--seeds ${v}: at most ${MAX_SEEDS} seeds per variant (the study runs ${STUDY_SEEDS.length})`);
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
    .option("--plan <file>", "a study plan (results/study-plan.json): each row its planned seeds (0..n-1), every job the plan's override; the exported files record both. Not with --seeds")
    .option("--variants <list>", "comma-separated rows of the table to run (e.g. Basic1,Entity_marked2); the table still shows the others' runs that exist")
    .option("--export <dir>", "write each table's finished runs (full configs, compact predictions) to <dir>/<table>.json; a partial grid is written partial and the missing runs named. Runs already in <dir> count as done")
    .option("--no-train", "train nothing: load and export (or show) the runs that exist, e.g. while shards still run")
    .option("--strict", "fail on the first bad data row instead of skipping and reporting it")
    .option("--results-dir <dir>", "the results folder whose shipped runs count as done when not exporting (a strength's, e.g. results/study-electra, for shards of a --plan grid); default results/study")
    .option("--runs-dir <dir>", "folder of run folders (default $MEDREL_RUNS_DIR, else runs/; a shared folder for a cluster)")
    .option("--replace", "let --export drop the runs of a results file there that this grid does not make (another data set or preset, or runs that do not prove themselves); default: refuse and name them")
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
    plan: f.plan,
    variants: variantList(f.variants),
    quiet: f.quiet,
    export: f.export,
    strict: f.strict,
    runsDir: f.runsDir,
    resultsDir: f.resultsDir,
    train: f.train,
    replace: f.replace,
  });
}

if (require.main === module) runMain(main);
