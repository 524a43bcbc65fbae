/**
 * Shipped results: a table's runs written as one small JSON file (results/study/<table>.json), each run with its
 * full saved config, so `npm run experiment -- --config <that config>` re-runs it and gets the same numbers, and
 * the notebooks show the study-data tables from these files without training anything.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DataFrame } from "danfojs-node";
import type { Metrics, RunRecord } from "../metrics";
import { studyTableFrame, perClassTable, perClassF1Chart, dropEmptyColumns, type PlotlyFigure } from "../report";
import type { ExperimentConfig } from "./config";
import { PROJECT_ROOT } from "./config";
import { STUDY_SEEDS, TABLE_SPECS, type TableName } from "./study-tables";
import { tableReadings, tableSummary, type TableResult } from "./tables";

/** Where the study-data results are committed. */
export const STUDY_RESULTS_DIR = path.join(PROJECT_ROOT, "results", "study");

/** Where loadResults looks by default: MEDREL_RESULTS_DIR (a stand-in folder: development, the test suite) or results/study. */
export function studyResultsDir(): string {
  return process.env.MEDREL_RESULTS_DIR ? path.resolve(process.env.MEDREL_RESULTS_DIR) : STUDY_RESULTS_DIR;
}

/** The command that writes results/study/<table>.json (the study's data, every row of the table, STUDY_SEEDS). */
export function studyResultsCommand(table: TableName | "all"): string {
  return `npm run reproduce -- --table ${table} --data-dir ../shared/data --seeds ${STUDY_SEEDS.length} --export results/study`;
}

/** What a notebook says when a table's study-data results are not there: which file, and the exact command. */
export function missingResultsMessage(table: TableName, dir = studyResultsDir()): string {
  const file = path.join(dir, `${table}.json`);
  return [
    `No study-data results for the ${TABLE_SPECS[table].title.toLowerCase()} table yet: ${path.relative(PROJECT_ROOT, file) || file} is missing.`,
    `They are the grid on the study's data (../shared/data, train → val), every row of the table × ${STUDY_SEEDS.length} seeds — hours on a CPU, so it runs once from a terminal in the project folder, not in a notebook:`,
    `  ${studyResultsCommand(table)}`,
    `(two cores: run it with --shard 1/2 and with --shard 2/2 in two terminals, without --export, then once more as above to export). The demo grid below is shown meanwhile.`,
  ].join("\n");
}

export interface ResultRun {
  variant: string;
  seed: number;
  /** the run folder's name (configHash); null for the n-gram baseline, which is not a run folder */
  hash: string | null;
  /** the split `metrics` are from */
  split: "dev" | "test";
  /** the run's full saved config (null for the n-gram baseline) */
  config: ExperimentConfig | null;
  metrics: Metrics;
  /** the split the best epoch was chosen on, when there was one */
  selection?: Pick<Metrics, "micro_f1" | "macro_f1" | "f1_range">;
  /** seconds the run took to train and evaluate */
  seconds?: number;
}

export interface ResultsFile {
  table: TableName;
  /** the command that produced the file */
  command: string;
  generatedAt: string;
  /** wall time of the whole grid that produced it (all tables of the command), seconds */
  gridSeconds?: number;
  runs: ResultRun[];
}

/** A table result as a results file. */
export function tableResultsFile(r: TableResult, meta: { command: string; gridSeconds?: number }): ResultsFile {
  const runs: ResultRun[] = r.runs.map((run) => ({
    variant: run.variant,
    seed: run.seed,
    hash: run.hash,
    split: r.split,
    config: run.config,
    metrics: (r.split === "test" ? run.metrics.test : null) ?? run.metrics.dev,
    selection: run.metrics.selection ? pickHeadline(run.metrics.selection) : undefined,
    seconds: run.info.seconds.total,
  }));
  const ngram = r.records.filter((x) => !r.runs.some((run) => run.variant === x.variant && run.seed === x.seed));
  for (const x of ngram) runs.push({ variant: x.variant, seed: x.seed, hash: null, split: r.split, config: null, metrics: x.metrics });
  return { table: r.table, command: meta.command, generatedAt: new Date().toISOString(), gridSeconds: meta.gridSeconds, runs };
}

function pickHeadline(m: Metrics): Pick<Metrics, "micro_f1" | "macro_f1" | "f1_range"> {
  return { micro_f1: m.micro_f1, macro_f1: m.macro_f1, f1_range: m.f1_range };
}

export function writeResultsFile(dir: string, file: ResultsFile): string {
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, `${file.table}.json`);
  fs.writeFileSync(out, JSON.stringify(file, null, 1) + "\n");
  return out;
}

/** A shipped table as the notebooks show it: ours beside the study's, per class, and the readings. */
export interface ShippedTable {
  table: TableName;
  file: string;
  meta: Omit<ResultsFile, "runs">;
  split: "dev" | "test";
  frame: DataFrame;
  perClass: DataFrame;
  chart: PlotlyFigure;
  records: RunRecord[];
  variants: string[];
  readings: string[];
  /** the table in 2–4 plain sentences (tableSummary) */
  summary: string[];
  /** seeds per variant */
  seeds: Record<string, number[]>;
  runs: ResultRun[];
  /** runs present vs the full grid (variants × seeds), while the grid is still running */
  progress?: { done: number; total: number };
}

/** Load results/study/<table>.json (or another folder's, relative to the working folder), or null when it is not there. */
export function loadResults(table: TableName, dir = studyResultsDir()): ShippedTable | null {
  const file = path.resolve(dir, `${table}.json`);
  if (!fs.existsSync(file)) return null;
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as ResultsFile;
  const { runs, ...meta } = parsed;
  const split = runs[0]?.split ?? "dev";
  const records: RunRecord[] = runs.map((r) => ({ variant: r.variant, seed: r.seed, metrics: r.metrics, split: r.split }));
  const variants = [...new Set(runs.map((r) => r.variant))];
  const seeds = Object.fromEntries(variants.map((v) => [v, runs.filter((r) => r.variant === v).map((r) => r.seed)]));
  return {
    table,
    file,
    meta,
    split,
    frame: dropEmptyColumns(studyTableFrame(TABLE_SPECS[table].studyKey, records, { aliases: TABLE_SPECS[table].aliases })),
    perClass: perClassTable(records),
    chart: perClassF1Chart(records),
    records,
    variants,
    readings: tableReadings({ table, records, variants }),
    summary: tableSummary({ table, records, variants }),
    seeds,
    runs,
  };
}
