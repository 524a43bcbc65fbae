/**
 * One call per study table for notebooks and `npm start`: run (or load) the grid, then return our table beside the
 * study's, the per-class table and chart, the readings, and which runs are missing.
 */
import type { DataFrame } from "danfojs-node";
import { compareVariants, type ComparisonLine, type RunRecord } from "../metrics";
import { studyTableFrame, perClassTable, perClassF1Chart, formatComparison, type PlotlyFigure } from "../report";
import type { DataSpec, ExperimentConfig } from "./config";
import { gridJobs, type Job } from "./grids";
import { existingRuns, runJobs, type GridRunOptions, type JobRun } from "./run";
import type { PresetName } from "./presets";
import { runBaseline } from "./baseline";
import { NGRAM_VARIANT, TABLE_SPECS, tableComparisons, type TableName } from "./study-tables";

export interface TableRequest {
  preset: PresetName;
  data?: DataSpec;
  seeds?: readonly number[];
  override?: Partial<ExperimentConfig>;
  runsDir?: string;
  progress?: GridRunOptions["progress"];
  /** only these rows of the table (e.g. the spec's demoVariants) */
  variants?: readonly string[];
}

export interface TableResult {
  table: TableName;
  /** split the numbers come from: "test" when every run has a test split, else "dev" */
  split: "test" | "dev";
  /** ours beside the study's (study and Variation columns from data/study-tables.json) */
  frame: DataFrame;
  perClass: DataFrame;
  chart: PlotlyFigure;
  records: RunRecord[];
  /** every variant of the grid (with or without runs), in the spec's order */
  variants: string[];
  runs: JobRun<Job>[];
  missing: Job[];
}

/** The table's jobs for a request (its spec's seeds unless the request names others). */
export function tableJobs(table: TableName, req: TableRequest): Job[] {
  return gridJobs(table, { preset: req.preset, data: req.data, seeds: req.seeds ?? TABLE_SPECS[table].seeds, override: req.override, variants: req.variants });
}

/** Run (or load) one study table's grid and assemble it. */
export async function reproduceTable(table: TableName, req: TableRequest): Promise<TableResult> {
  const jobs = tableJobs(table, req);
  const runs = await runJobs(jobs, { runsDir: req.runsDir, progress: req.progress });
  return assemble(table, jobs, runs, [], req, true);
}

/** The demo grid of a table (its spec's demo rows): what `npm start` trains and the notebooks show after the study's data. */
export function demoTable(table: TableName, preset: PresetName, opts: Pick<TableRequest, "runsDir" | "progress" | "seeds"> = {}): Promise<TableResult> {
  return reproduceTable(table, { ...opts, preset, variants: TABLE_SPECS[table].demoVariants });
}

/**
 * The table assembled from runs that already exist, or null when none do (nothing is trained). Notebooks use it to
 * show a grid that is too long to run inside them.
 */
export async function cachedTable(table: TableName, req: TableRequest): Promise<TableResult | null> {
  const jobs = tableJobs(table, req);
  const { runs, missing } = existingRuns(jobs, req.runsDir);
  return runs.length === 0 ? null : assemble(table, jobs, runs, missing, req, false);
}

/** The split a set of runs is reported on: test when every run has one, else dev. */
export function reportedSplit(runs: readonly { metrics: { test: unknown } }[]): "test" | "dev" {
  return runs.length > 0 && runs.every((r) => r.metrics.test) ? "test" : "dev";
}

function assemble(table: TableName, jobs: Job[], runs: JobRun<Job>[], missing: Job[], req: TableRequest, trainBaseline: boolean): TableResult {
  const spec = TABLE_SPECS[table];
  const split = reportedSplit(runs);
  const records: RunRecord[] = runs.map((r) => ({ variant: r.variant, seed: r.seed, metrics: (split === "test" ? r.metrics.test : null) ?? r.metrics.dev, split }));
  if (spec.ngramRow && trainBaseline && jobs.length > 0) {
    for (const seed of new Set(jobs.map((j) => j.seed))) {
      const b = runBaseline({ ...jobs[0].config, seed }, { runsDir: req.runsDir });
      records.push({ variant: NGRAM_VARIANT, seed, metrics: (split === "test" ? b.metrics.test : null) ?? b.metrics.dev, split });
    }
  }
  if (records.length === 0) throw new Error(`table ${table}: no runs exist yet (run it, or check the preset and data)`);
  const variants = [...new Set([...jobs.map((j) => j.variant), ...records.map((r) => r.variant)])];
  return {
    table,
    split,
    frame: studyTableFrame(spec.studyKey, records, { aliases: spec.aliases }),
    perClass: perClassTable(records),
    chart: perClassF1Chart(records),
    records,
    variants,
    runs,
    missing,
  };
}

/**
 * The table's readings: each comparison its spec names (every variant against the baseline by default), on each of
 * its metrics, beyond seed noise or not. Variants are the table's (those in `variants`, default the records');
 * a comparison naming a variant the table does not have throws.
 */
export function tableComparisonLines(table: TableName, records: readonly RunRecord[], variants?: readonly string[]): ComparisonLine[] {
  const spec = TABLE_SPECS[table];
  const names = variants ?? [...new Set(records.map((r) => r.variant))];
  return tableComparisons(spec, names).flatMap((c) => spec.metrics.map((m) => compareVariants(records, c.a, c.b, m, c.test)));
}

/** The readings of a table result as sentences. */
export function tableReadings(r: Pick<TableResult, "table" | "records" | "variants">): string[] {
  return tableComparisonLines(r.table, r.records, r.variants).map(formatComparison);
}
