/**
 * npm run reproduce -- --table models|encodings|loss|augmentation|all [--preset quick|study]
 *                      [--data-dir DIR] [--shard i/n] [--seeds N] [--variants A,B]
 * Runs (or loads) the grid behind each study table and prints our numbers beside the study's.
 */
import { Command } from "commander";
import {
  TABLE_NAMES,
  TABLE_SPECS,
  gridJobs,
  describeTableSeeds,
  shardJobs,
  parseShard,
  runJobs,
  existingRuns,
  type TableName,
  type PresetName,
  type Job,
} from "../experiments";
import { formatGridTable } from "../report/summary";
import { runMain, intArg, choiceArg } from "./common";
import { resolveData } from "./experiment";

interface Flags {
  table: TableName | "all";
  preset: PresetName;
  dataDir?: string;
  shard?: string;
  seeds?: number;
  variants?: string;
  quiet?: boolean;
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

/** Run the grids of the given tables (this shard's part) and print each table from whatever runs exist. */
export async function reproduce(o: ReproduceOptions): Promise<void> {
  const data = resolveData({ dataDir: o.dataDir });
  const seeds = o.seeds === undefined ? undefined : Array.from({ length: o.seeds }, (_, i) => i);
  const byTable = new Map<TableName, Job[]>();
  for (const t of o.tables) byTable.set(t, gridJobs(t, { preset: o.preset, data, seeds }));
  const all = [...byTable.values()].flat();
  const mine = shardJobs(o.variants ? selectVariants(all, o.variants) : all, o.shard);
  const distinct = new Set(mine.map((j) => j.hash)).size;
  console.log(
    `[medrel] reproduce ${o.tables.join(", ")} (preset ${o.preset}, ${seeds ? seeds.length : o.tables.map((t) => `${t} ${TABLE_SPECS[t].seeds.length}`).join(", ")} seeds)` +
      `${o.variants ? `, variants ${o.variants.join(", ")}` : ""}${o.shard ? `, shard ${o.shard.index}/${o.shard.count}` : ""}: ${distinct} distinct runs`,
  );
  const t0 = Date.now();
  await runJobs(mine, {
    onJob: (done, total, run) =>
      console.log(`[medrel] ${done}/${total} ${run.hash} dev Macro-F1 ${(100 * run.metrics.dev.macro_f1).toFixed(2)} (${run.info.seconds.total.toFixed(0)} s)`),
  });
  console.log(`[medrel] grid done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (o.quiet) return;
  for (const [t, jobs] of byTable) {
    const { runs, missing } = existingRuns(jobs);
    console.log("\n" + formatGridTable(t, runs, missing.length));
  }
}

async function main(): Promise<void> {
  const program = new Command("reproduce")
    .description("Re-run the study's tables (grids over seeds), cached by config hash")
    .requiredOption("--table <t>", `one of ${[...TABLE_NAMES, "all"].join(", ")}`, choiceArg("--table", [...TABLE_NAMES, "all"] as const))
    .option("--preset <p>", "quick | study | smoke", choiceArg("--preset", ["quick", "study", "smoke"] as const), "quick")
    .option("--data-dir <dir>", "a folder laid out as the study's (train.jsonl, val.jsonl, test.jsonl); default: the demo data")
    .option("--shard <i/n>", "run only shard i of n (e.g. 1/4); tables use whatever runs exist")
    .option("--seeds <n>", `seeds per variant (0..n-1); default ${describeTableSeeds()}`, intArg("--seeds"))
    .option("--variants <list>", "comma-separated rows of the table to run (e.g. Basic1,Entity_marked2); the table still shows the others' runs that exist")
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
  });
}

if (require.main === module) runMain(main);
