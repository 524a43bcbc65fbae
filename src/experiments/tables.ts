/**
 * One call per study table for notebooks and `npm start`: run (or load) the grid, then return our table
 * beside the study's, the per-class table and chart, and which runs are missing.
 */
import type { DataFrame } from "danfojs-node";
import {
  modelTable,
  encodingTable,
  weightedLossTable,
  augmentationTable,
  perClassTable,
  perClassF1Chart,
  type RunRecord,
  type PlotlyFigure,
} from "../report";
import type { ExperimentConfig, DataSpec } from "./config";
import { gridJobs, collectRuns, tableSeeds, type TableName, type Job, type CollectedRuns } from "./grids";
import { runJobs, type GridRunOptions } from "./run";
import type { RunResult } from "./store";
import type { PresetName } from "./presets";
import { runBaseline, BASELINE_VARIANT } from "./baseline";

export interface TableRequest {
  preset: PresetName;
  data?: DataSpec;
  seeds?: readonly number[];
  /** run the missing runs (default true); false only assembles what exists */
  run?: boolean;
  override?: Partial<ExperimentConfig>;
  runsDir?: string;
  progress?: GridRunOptions["progress"];
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
  runs: (RunResult & { variant: string; seed: number })[];
  missing: Job[];
}

function build(table: TableName, records: RunRecord[]): DataFrame {
  switch (table) {
    case "models":
      return modelTable(records);
    case "encodings":
      return encodingTable(records);
    case "loss":
      return weightedLossTable(records);
    case "augmentation":
      return augmentationTable(records);
  }
}

/** Run (or load) one study table's grid and assemble it. */
export async function reproduceTable(table: TableName, req: TableRequest): Promise<TableResult> {
  const { seeds, jobs } = tableJobs(table, req);
  if (req.run ?? true) await runJobs(jobs, { runsDir: req.runsDir, progress: req.progress });
  return assemble(table, jobs, seeds, collectRuns(jobs, req.runsDir), req);
}

function tableJobs(table: TableName, req: Omit<TableRequest, "run">): { seeds: readonly number[]; jobs: Job[] } {
  const seeds = req.seeds ?? tableSeeds(table);
  return { seeds, jobs: gridJobs(table, { preset: req.preset, data: req.data, seeds, override: req.override }) };
}

function assemble(table: TableName, jobs: Job[], seeds: readonly number[], collected: CollectedRuns, req: TableRequest): TableResult {
  const { runs, missing } = collected;
  const split: "test" | "dev" = runs.length > 0 && runs.every((r) => r.metrics.test) ? "test" : "dev";
  const pick = (m: RunResult["metrics"]) => (split === "test" && m.test ? m.test : m.dev);
  const records: RunRecord[] = runs.map((r) => ({ variant: r.variant, seed: r.seed, metrics: pick(r.metrics), split }));
  if (table === "models" && (req.run ?? true) && jobs.length > 0) {
    // the no-pretraining baseline row: what the encoder buys
    for (const seed of seeds) {
      const b = runBaseline({ ...jobs[0].config, seed }, { runsDir: req.runsDir });
      const m = split === "test" && b.metrics.test ? b.metrics.test : b.metrics.dev;
      records.push({ variant: BASELINE_VARIANT, seed, metrics: m, split });
    }
  }
  if (records.length === 0) throw new Error(`table ${table}: no runs exist yet (run it, or check the preset and data)`);
  return {
    table,
    split,
    frame: build(table, records),
    perClass: perClassTable(records),
    chart: perClassF1Chart(records),
    records,
    runs,
    missing,
  };
}

/**
 * The table assembled from runs that already exist, or null when none do (nothing is trained). Notebooks use it to
 * show a grid that is too long to run inside them — the study-data tables, run once from a terminal.
 */
export async function cachedTable(table: TableName, req: Omit<TableRequest, "run">): Promise<TableResult | null> {
  const { seeds, jobs } = tableJobs(table, req);
  const collected = collectRuns(jobs, req.runsDir);
  return collected.runs.length === 0 ? null : assemble(table, jobs, seeds, collected, { ...req, run: false });
}
