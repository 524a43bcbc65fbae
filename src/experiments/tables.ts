/**
 * One call per study table for notebooks and `npm start`: run (or load) the grid, then return our table beside the
 * study's, the per-class table and chart, the readings, and which runs are missing.
 */
import type { DataFrame } from "danfojs-node";
import { compareVariants, metricValue, summarize, type ComparisonLine, type Metrics, type MetricRow } from "../metrics";
import {
  studyTableFrame,
  perClassTable,
  perClassF1Chart,
  perClassChangeChart,
  formatComparison,
  formatVariation,
  formatInterval,
  noVerdictReason,
  readingVerdict,
  signedPoints,
  verdictPhrase,
  dropEmptyColumns,
  perClassShifts,
  studyMetric,
  type PlotlyFigure,
} from "../report";
import * as fs from "node:fs";
import * as path from "node:path";
import { reportedSplit, scoresOf, type RunRecord } from "../runs/record";
import type { ConfigOverride, DataSpec, ExperimentConfig } from "../runs/config";
import { gridJobs, type Job } from "./grids";
import { existingRuns, runJobs, type GridRunOptions } from "./run";
import type { PresetName } from "./presets";
import { ENSEMBLE_VARIANT, TABLE_SPECS, tableComparisons, type Comparison, type TableName } from "./study-tables";
import { ensembleRow, type EnsembleResult } from "./ensemble";
import { describeEncoder } from "./encoders";
import { gridProgress, readResultsFile, studyResultsDir, type GridJobRef, type RejectedRun, type ResultsFile } from "./results";

export interface TableRequest {
  preset: PresetName;
  data?: DataSpec;
  seeds?: readonly number[];
  override?: ConfigOverride;
  runsDir?: string;
  progress?: GridRunOptions["progress"];
  /** only these rows of the table (e.g. the spec's demoVariants) */
  variants?: readonly string[];
}

/** A run's score as a table reads it (scoresOf makes them from the runs; readings take hand-made ones too). */
type Score = { variant: string; seed: number; metrics: Metrics; split?: string };

/** What a table shows, however its runs were found: ours beside the study's, per class, readings, progress. */
interface TableView {
  table: TableName;
  /** split the numbers come from: "test" when every run has a test split, else "dev" */
  split: "test" | "dev";
  /** ours beside the study's (study and Variation columns from data/study-tables.json) */
  frame: DataFrame;
  perClass: DataFrame;
  chart: PlotlyFigure;
  records: Score[];
  /** every variant of the grid (with or without runs), in the spec's order */
  variants: string[];
  /** the comparisons the spec names, as sentences (tableReadings) */
  readings: string[];
  /** the table in 2–4 plain sentences (tableSummary) */
  summary: string[];
  /** seeds per variant */
  seeds: Record<string, number[]>;
  /** runs present of the grid's jobs (distinct config hashes): a partial table says "n of N runs" */
  progress: { done: number; total: number };
  /** the encoder of the table's baseline runs, in words (describeEncoder): every verdict is about it */
  encoder: string;
}

/** Where a table's runs come from: run folders (a grid trained or cached here) or a shipped results file. */
interface TableSources {
  runs: { runs: (RunRecord & { variant: string })[]; missing: Job[] };
  /** `runs` are those believed; `rejected` those left out of every number here, each named with its field */
  shipped: {
    file: string;
    meta: Omit<ResultsFile, "runs">;
    runs: (RunRecord & { variant: string })[];
    missing: GridJobRef[];
    rejected: RejectedRun[];
    /** the models table's computed ensemble row (its records are among `records`), or why it is absent; other tables: undefined */
    ensemble?: EnsembleResult;
  };
}

/** One study table of ours: `TableResult<"runs">` from a grid's run folders, `TableResult<"shipped">` from results/study. */
export type TableResult<S extends keyof TableSources = keyof TableSources> = S extends keyof TableSources
  ? TableView & { source: S } & TableSources[S]
  : never;

/** The table's jobs for a request (its spec's seeds unless the request names others). */
export function tableJobs(table: TableName, req: TableRequest): Job[] {
  return gridJobs(table, { preset: req.preset, data: req.data, seeds: req.seeds ?? TABLE_SPECS[table].seeds, override: req.override, variants: req.variants });
}

/** Run (or load) one study table's grid and assemble it. */
export async function reproduceTable(table: TableName, req: TableRequest): Promise<TableResult<"runs">> {
  const jobs = tableJobs(table, req);
  const runs = await runJobs(jobs, { runsDir: req.runsDir, progress: req.progress });
  return assemble(table, jobs, runs, []);
}

/** The demo grid of a table (its spec's demo rows): what `npm start` trains and the notebooks show after the study's data. */
export function demoTable(table: TableName, preset: PresetName, opts: Pick<TableRequest, "runsDir" | "progress" | "seeds"> = {}): Promise<TableResult<"runs">> {
  return reproduceTable(table, { ...opts, preset, variants: TABLE_SPECS[table].demoVariants });
}

/**
 * The table assembled from runs that already exist, or null when none do (nothing is trained). Notebooks use it to
 * show a grid that is too long to run inside them.
 */
export async function cachedTable(table: TableName, req: TableRequest): Promise<TableResult<"runs"> | null> {
  const jobs = tableJobs(table, req);
  const { runs, missing } = existingRuns(jobs, req.runsDir);
  return runs.length === 0 ? null : assemble(table, jobs, runs, missing);
}

/** Ours beside the study's, laid out as the study's slide (the spec's key and orientation); columns with no run dropped. */
export function studyFrame(table: TableName, records: readonly Score[]): DataFrame {
  const spec = TABLE_SPECS[table];
  return dropEmptyColumns(studyTableFrame(spec.studyKey, records, { aliases: spec.aliases, orientation: spec.studyOrientation }));
}

function assemble(table: TableName, jobs: Job[], runs: (RunRecord & { variant: string })[], missing: Job[]): TableResult<"runs"> {
  const split = reportedSplit(runs);
  const records = scoresOf(runs, split);
  if (records.length === 0) throw new Error(`table ${table}: no runs exist yet (run it, or check the preset and data)`);
  const view = tableView(table, split, records, [...new Set(jobs.map((j) => j.variant))], gridProgress(jobs, new Set(runs.map((r) => r.hash))), tableEncoder(table, runs));
  return { ...view, source: "runs", runs, missing };
}

/** The encoders of a table's runs, short (describeEncoder), baseline's first: what its verdicts are measured on. */
function tableEncoder(table: TableName, runs: readonly { variant?: string; config: ExperimentConfig }[]): string {
  const baseline = TABLE_SPECS[table].baseline;
  const ordered = [...runs.filter((r) => r.variant === baseline), ...runs.filter((r) => r.variant !== baseline)];
  // one description per distinct model (each reads its checkpoint's config.json), not one per run
  const models = new Map(ordered.map((r) => [JSON.stringify(r.config.model), r.config.model] as const));
  const names = [...new Set([...models.values()].map((m) => describeEncoder(m, { short: true })))];
  return names.length ? names.join("; ") : "an encoder its results file does not record";
}

/** The parts every table result has, from its scores: frames, chart, readings, summary, seeds per variant. */
function tableView(table: TableName, split: "test" | "dev", records: Score[], variants: string[], progress: TableView["progress"], encoder: string): TableView {
  const seeds = Object.fromEntries(variants.map((v) => [v, records.filter((r) => r.variant === v).map((r) => r.seed)]));
  const scored = { table, records, variants, encoder };
  return {
    table,
    split,
    frame: studyFrame(table, records),
    perClass: perClassTable(records),
    chart: perClassF1Chart(records),
    records,
    variants,
    readings: tableReadings(scored),
    summary: tableSummary(scored),
    seeds,
    progress,
    encoder,
  };
}

/**
 * The table's readings: each comparison its spec names (every variant against the baseline by default), on each of
 * its metrics, beyond seed noise or not. Variants are the table's (those in `variants`, default the records');
 * a comparison naming a variant the table does not have throws.
 */
export function tableComparisonLines(table: TableName, records: readonly Score[], variants?: readonly string[]): ComparisonLine[] {
  const spec = TABLE_SPECS[table];
  const names = variants ?? [...new Set(records.map((r) => r.variant))];
  return tableComparisons(spec, names).flatMap((c) => spec.metrics.map((m) => compareVariants(records, c.a, c.b, m, c.test)));
}

/** The readings of a table result as sentences, each against the study's own difference where its table has one. */
export function tableReadings(r: Pick<TableView, "table" | "records" | "variants" | "encoder">): string[] {
  return tableComparisonLines(r.table, r.records, r.variants).map((c) => formatComparison(c, { reference: studyDifference(r.table, c.metric, c), encoder: r.encoder }));
}

/** "+0.27 (95% interval −1.40 … +1.95): rules out the study's +3.53", or why there is no verdict. */
function differenceWords(table: TableName, c: ComparisonLine): string {
  const verdict = verdictPhrase(c, readingVerdict(c, studyDifference(table, c.metric, c)));
  if (noVerdictReason(c)) return `${formatVariation(c.diff)}: ${verdict}`;
  return `${signedPoints(c.diff)} (95% interval ${formatInterval(c.ci)}): ${verdict}`;
}

/** "Entity_marked2 +0.27 (95% interval −1.40 … +1.95): rules out the study's +3.53". */
const shortLine = (table: TableName, c: ComparisonLine): string => `${c.b} ${differenceWords(table, c)}`;

/** The study's own b − a on a metric, from data/study-tables.json, when its table has both. */
export function studyDifference(table: TableName, metric: MetricRow, c: Pick<Comparison, "a" | "b">): number | undefined {
  const spec = TABLE_SPECS[table];
  const v = (variant: string) => studyMetric(spec.studyKey, spec.studyOrientation, variant, metric);
  const [a, b] = [v(c.a), v(c.b)];
  return a === undefined || b === undefined ? undefined : b - a;
}

/**
 * A table result in 2–4 plain sentences, computed from its runs: the ranking on the table's first metric, which
 * comparisons are beyond seed noise, the largest per-class gain and loss of the study's own comparison, and
 * whether ours points the study's way. Notebooks print these instead of hand-typed numbers.
 */
export function tableSummary(r: Pick<TableView, "table" | "records" | "variants" | "encoder">): string[] {
  const spec = TABLE_SPECS[r.table];
  const metric = spec.metrics[0];
  const present = r.variants.filter((v) => r.records.some((x) => x.variant === v));
  if (present.length === 0) return [`No runs of the ${spec.title.toLowerCase()} table yet.`];
  const perVariant = present.map((v) => r.records.filter((x) => x.variant === v).length);
  const seeds = Math.min(...perVariant) === Math.max(...perVariant) ? `${perVariant[0]} seeds` : `${Math.min(...perVariant)}–${Math.max(...perVariant)} seeds per variant`;
  const split = r.records[0].split ?? "reported";
  const mean = (v: string) => summarize(r.records.filter((x) => x.variant === v).map((x) => metricValue(x.metrics, metric))).mean;
  const ranked = [...present].sort((x, y) => mean(y) - mean(x)).map((v) => `${v} ${mean(v).toFixed(2)}`);
  const out = [
    `Measured on ${r.encoder}: every verdict below is about ${r.encoder.includes(";") ? "these models" : "this encoder"}, not about the study's base-size encoders.`,
    `${metric} on the ${split} split, mean over ${seeds}, best first: ${ranked.join("; ")}.`,
  ];
  const lines = tableComparisonLines(r.table, r.records, r.variants).filter((c) => c.metric === metric && c.seeds[0] > 0 && c.seeds[1] > 0);
  for (const a of [...new Set(lines.map((c) => c.a))]) {
    out.push(`Against ${a} on ${metric}: ${lines.filter((c) => c.a === a).map((c) => shortLine(r.table, c)).join("; ")}.`);
  }
  const h = spec.headline;
  if (h && present.includes(h.a) && present.includes(h.b)) {
    const shifts = perClassShifts(r.records, h.a, h.b);
    const up = shifts[0];
    const down = shifts[shifts.length - 1];
    const fmt = (s: typeof up) => `${s.label} ${formatVariation(s.diff)} (${s.a.toFixed(2)} → ${s.b.toFixed(2)})`;
    out.push(
      `Per class, ${h.b} against ${h.a} gains most on ${fmt(up)}` + (down.diff < 0 ? ` and loses most on ${fmt(down)}.` : "; no class loses F1."),
    );
    const study = studyDifference(r.table, metric, h);
    if (study !== undefined) {
      const c = compareVariants(r.records, h.a, h.b, metric);
      out.push(`The study's table has ${h.b} − ${h.a} = ${formatVariation(study)} ${metric} (one run each); ours is ${differenceWords(r.table, c)}.`);
    }
  }
  return out;
}

/** The variant of a table's headline comparison (the study's own, e.g. Weighted Loss), or the table's baseline. */
export function headlineVariant(table: TableName): string {
  const spec = TABLE_SPECS[table];
  return spec.headline?.b ?? spec.baseline;
}

/**
 * Per-class F1 of the table's headline comparison (the study's own, b − a) with its 95% interval, or null without
 * both; its caption gives the whole comparison's verdict in the words of the readings, and the encoder.
 */
export function headlineChangeChart(r: Pick<TableView, "table" | "records" | "encoder">): PlotlyFigure | null {
  const h = TABLE_SPECS[r.table].headline;
  if (!h || ![h.a, h.b].every((v) => r.records.some((x) => x.variant === v))) return null;
  const metric = TABLE_SPECS[r.table].metrics[0];
  const verdict = differenceWords(r.table, compareVariants(r.records, h.a, h.b, metric));
  const title = `Per-class F1 change, ${h.b} − ${h.a} (points, 95% interval over seeds; ★ = hard class)<br><sub>${metric} ${verdict}; on ${r.encoder}</sub>`;
  return perClassChangeChart(r.records, h.a, [h.b], { title, height: 520 });
}

// ---- shipped results (results/study) as the notebooks show them ------------------------------

/** Load results/study/<table>.json (or another folder's), checked; null when it is not there or holds no run yet. */
export function loadResults(table: TableName, dir = studyResultsDir()): TableResult<"shipped"> | null {
  const file = path.resolve(dir, `${table}.json`);
  if (!fs.existsSync(file)) return null;
  const { runs: entries, records: runs, rejected, ...meta } = readResultsFile(file, table);
  if (runs.length === 0 && rejected.length > 0) {
    throw new Error(`${rejected.map((r) => r.message).join("\n")}\nno run of ${path.relative(process.cwd(), file)} proves itself; restore it from git (git checkout -- ${path.relative(process.cwd(), file)}) or re-export it`);
  }
  if (runs.length === 0) return null;
  const split = entries[0].split;
  // the models table's ensemble row is computed from two of its rows' shipped predictions (no run of its own)
  const ensemble = table === "models" ? ensembleRow(path.dirname(file), runs, split) : undefined;
  const records: Score[] = [...scoresOf(runs, split), ...(ensemble?.seeds ?? [])];
  // every variant of the grid, in its order, with runs or not (a partial table's readings say which have none yet)
  const variants = [...new Set([...meta.grid.map((g) => g.variant), ...runs.map((r) => r.variant)]), ...(ensemble?.seeds.length ? [ENSEMBLE_VARIANT] : [])];
  const have = new Set(runs.map((r) => r.hash));
  const missing = meta.grid.filter((g) => !have.has(g.hash));
  const view = tableView(table, split, records, variants, gridProgress(meta.grid, have), tableEncoder(table, runs));
  return { ...view, source: "shipped", file, meta, runs, missing, rejected, ...(ensemble ? { ensemble } : {}) };
}
