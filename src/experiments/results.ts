/**
 * Shipped results: a table's grid written as one JSON file (results/study/<table>.json) plus compact predictions per
 * run (results/study/predictions/<hash>-<split>.jsonl). Each run carries its full saved config and the content
 * fingerprints its hash was made from, so
 *   - `npm run experiment -- --config <that config>` re-runs it and gets the same numbers;
 *   - a later `reproduce` on any machine takes each shipped run whose hash matches as done (the grid survives a new
 *     machine through git) and trains only what is missing;
 *   - the notebooks show the study-data tables, error analysis and playground from these files without training.
 * A file may be partial ("n of N runs"). Every file is validated on load: schema, and each run's hash recomputed
 * from its config and recorded fingerprints; a message names the file and what is wrong.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { loadRows } from "../data/load";
import type { Metrics } from "../metrics";
import type { ExperimentConfig } from "../runs/config";
import { PROJECT_ROOT, configHashParts, dataFiles, dataFingerprint, hashOfParts, parseExperimentConfig } from "../runs/config";
import { reportedMetrics, reportedSplit, type Prediction, type PredictionSplit, type ResultRun, type RunRecord, type ShippedInfo } from "../runs/record";
import { loadPredictions } from "../runs/predictions";
import type { PredictionSource } from "../report";
import { STUDY_SEEDS, TABLE_SPECS, TABLE_NAMES, type TableName } from "./study-tables";
import { RunProblem, checkRunMetrics, checkRunSpec, gridProblem, matchSpec, type RejectedRun } from "./results-checks";

export type { RejectedRun } from "./results-checks";

/** The results format this code writes and reads (1: runs without fingerprints or predictions, before 2026-12-06). */
export const RESULTS_FORMAT = 2;

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
    `(two cores: run it with --shard 1/2 and with --shard 2/2 in two terminals, each with MEDREL_BLAS_THREADS=1, without --export, then once more as above to export). The demo grid below is shown meanwhile.`,
  ].join("\n");
}

/**
 * How much of a grid is done: its jobs counted as distinct config hashes (a run that is a row of two tables, or two
 * rows of one, counts once), done when `done` has the hash. Tables, the README's progress line and export all count so.
 */
export function gridProgress(grid: readonly { hash: string }[], done: ReadonlySet<string>): { done: number; total: number } {
  const hashes = new Set(grid.map((g) => g.hash));
  return { done: [...hashes].filter((h) => done.has(h)).length, total: hashes.size };
}

// ---- the file format --------------------------------------------------------------------------

/** A job of the grid a file belongs to: what "n of N runs" counts. */
export interface GridJobRef {
  variant: string;
  seed: number;
  hash: string;
}

export interface ResultsFile {
  format?: number;
  table: TableName;
  /** the command that produced the file */
  command: string;
  generatedAt: string;
  /** wall time of the whole grid that produced it (all tables of the command), seconds */
  gridSeconds?: number;
  /** format 2: every job of the grid, done or not */
  grid?: GridJobRef[];
  runs: ResultRun[];
}

const num = z.number().finite();
const MetricsSchema = z.object({
  per_class: z.record(z.string(), z.object({ precision: num, recall: num, f1: num, support: num })),
  macro_precision: num,
  macro_recall: num,
  macro_f1: num,
  micro_f1: num,
  f1_range: num,
  accuracy: num,
  confusion: z.array(z.array(num)),
  n: num,
});
const RunSchema = z.object({
  variant: z.string().min(1),
  seed: z.number().int(),
  hash: z.string().regex(/^[0-9a-f]{12}$/).nullable(),
  split: z.enum(["dev", "test"]),
  config: z.record(z.string(), z.unknown()).nullable(),
  metrics: MetricsSchema,
  selection: z.object({ micro_f1: num, macro_f1: num, f1_range: num }).optional(),
  seconds: num.optional(),
  identity: z.object({ data: z.object({ kind: z.string(), content: z.string() }), model: z.record(z.string(), z.unknown()) }).optional(),
  splits: z.object({ selection: MetricsSchema.optional(), dev: MetricsSchema, test: MetricsSchema.nullable() }).optional(),
  history: z.array(z.record(z.string(), z.unknown())).optional(),
  info: z.record(z.string(), z.unknown()).optional(),
  predictions: z.partialRecord(z.enum(["selection", "dev", "test"]), z.string().regex(/^[0-9a-f]{64}$/)).optional(),
});
const FileSchema = z.object({
  format: z.number().int().optional(),
  table: z.enum(TABLE_NAMES as [TableName, ...TableName[]]),
  command: z.string(),
  generatedAt: z.string(),
  gridSeconds: num.optional(),
  grid: z.array(z.object({ variant: z.string(), seed: z.number().int(), hash: z.string() })).optional(),
  runs: z.array(RunSchema),
});

/** A results file that is not what this code wrote: the file and what is wrong with it. */
export class ResultsFileError extends Error {
  constructor(file: string, problem: string) {
    super(`${path.relative(process.cwd(), file) || file}: ${problem}`);
    this.name = "ResultsFileError";
  }
}

/** A results file as read: the runs believed, and each run left out with the reason (file, run, field). */
export type CheckedResults = ResultsFile & { rejected: RejectedRun[] };

/**
 * Read and check one results file. Whole-file problems throw (JSON, schema, the table it claims, a grid that is not
 * its table's); a run that does not prove itself (results-checks.ts: its hash, its table's job, its metrics against
 * its own confusion matrix and predictions, a duplicate, another split) is left out of `runs` and listed in `rejected`.
 */
export function readResultsFile(file: string, table?: TableName): CheckedResults {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new ResultsFileError(file, `not readable as JSON (${(e as Error).message}); restore it from git (git checkout -- ${path.relative(PROJECT_ROOT, file)}) or re-export it`);
  }
  const res = FileSchema.safeParse(raw);
  if (!res.success) {
    const i = res.error.issues[0];
    throw new ResultsFileError(file, `field ${i.path.join(".") || "(root)"}: ${i.message}${res.error.issues.length > 1 ? ` (and ${res.error.issues.length - 1} more problems)` : ""}`);
  }
  const parsed = res.data as unknown as ResultsFile;
  if (table && parsed.table !== table) throw new ResultsFileError(file, `holds the ${parsed.table} table, not ${table}`);
  if ((parsed.format ?? 1) > RESULTS_FORMAT) throw new ResultsFileError(file, `format ${parsed.format} is newer than this code reads (${RESULTS_FORMAT}); update the project`);
  const format2 = (parsed.format ?? 1) >= 2;
  if (format2 && !parsed.grid) throw new ResultsFileError(file, "field grid: missing (a format-2 file lists every job of its grid)");
  const rel = path.relative(PROJECT_ROOT, file);
  const rejected: RejectedRun[] = [];
  const reject = (run: ResultRun, i: number, problem: string): void => {
    rejected.push({ index: i, variant: run.variant, seed: run.seed, hash: run.hash, message: `${path.relative(process.cwd(), file) || file}: runs[${i}] (${run.variant}, seed ${run.seed}${run.hash ? `, ${run.hash}` : ""}): ${problem}` });
  };
  // each run on its own: its hash, its numbers
  const configs = new Map<number, ExperimentConfig>();
  parsed.runs.forEach((run, i) => {
    try {
      const cfg = checkRunHash(file, run, i, format2);
      checkRunMetrics(run, path.join(path.dirname(file), "predictions"), format2);
      if (cfg) configs.set(i, cfg);
    } catch (e) {
      if (!(e instanceof RunProblem)) throw e;
      reject(run, i, e.message);
    }
  });
  // then against its table: the spec's job for its variant and seed, once, in the file's grid, on the file's split
  const checked = [...configs].map(([i, config]) => ({ i, run: parsed.runs[i], config }));
  const spec = matchSpec(parsed.table, checked.map(({ run, config }) => ({ variant: run.variant, seed: run.seed, config })));
  const first = new Map<string, number>();
  const grid = new Map((parsed.grid ?? []).map((g) => [g.hash, g] as const));
  parsed.runs.forEach((run, i) => {
    if (rejected.some((r) => r.index === i)) return;
    try {
      const cfg = configs.get(i);
      if (spec && cfg) checkRunSpec(parsed.table, spec, run, cfg);
      const twin = first.get(`${run.hash}\0${run.variant}\0${run.seed}`);
      if (twin !== undefined) throw new RunProblem(`duplicates runs[${twin}] (the same run listed twice)`);
      first.set(`${run.hash}\0${run.variant}\0${run.seed}`, i);
      const g = run.hash ? grid.get(run.hash) : undefined;
      if (format2 && run.hash && (!g || g.variant !== run.variant || g.seed !== run.seed)) {
        throw new RunProblem(`hash: not the file's grid job for ${run.variant}, seed ${run.seed}${g ? ` (the grid has ${run.hash} as ${g.variant}, seed ${g.seed})` : ""}`);
      }
      const split = parsed.runs.find((_r, k) => !rejected.some((x) => x.index === k))?.split;
      if (split && run.split !== split) throw new RunProblem(`split: reports ${run.split}, but the file's other runs report ${split} (one table, one split)`);
    } catch (e) {
      if (!(e instanceof RunProblem)) throw e;
      reject(run, i, e.message);
    }
  });
  rejected.sort((a, b) => a.index - b.index);
  const runs = parsed.runs.filter((_, i) => !rejected.some((r) => r.index === i));
  if (format2 && spec) {
    const trusted = runs.flatMap((run) => {
      const i = parsed.runs.indexOf(run);
      return run.hash && run.identity && configs.has(i) ? [{ variant: run.variant, seed: run.seed, hash: run.hash, config: configs.get(i)!, identity: run.identity }] : [];
    });
    const problem = gridProblem(parsed.table, spec, parsed.grid ?? [], trusted);
    if (problem) throw new ResultsFileError(file, `${problem}; the file was edited: restore it from git (git checkout -- ${rel}) or re-export it`);
  }
  return { ...parsed, runs, rejected };
}

/**
 * A run with a hash must carry its config, and (format 2) the hash recomputed from it and its fingerprints must
 * match; returns the checked config (format 2), or undefined.
 */
function checkRunHash(file: string, run: ResultRun, i: number, format2: boolean): ExperimentConfig | undefined {
  if (run.hash === null) return undefined;
  if (!run.config) throw new RunProblem(`config: missing, though the run has hash ${run.hash}`);
  if (!run.identity) {
    if (format2) throw new RunProblem("identity: missing (a format-2 run records the fingerprints its hash was made from)");
    return undefined; // format 1: no fingerprints recorded, so nothing to recompute
  }
  let cfg: ExperimentConfig;
  try {
    cfg = parseExperimentConfig(run.config, `${file} runs[${i}]`);
  } catch (e) {
    throw new RunProblem(`config: not valid (${(e as Error).message})`);
  }
  if (cfg.seed !== run.seed) throw new RunProblem(`seed: ${run.seed}, but its config says seed ${cfg.seed}`);
  const { data: _d, model: _m, ...settings } = cfg;
  const recomputed = hashOfParts({ settings, ...run.identity });
  if (recomputed !== run.hash) {
    throw new RunProblem(`its config and fingerprints hash to ${recomputed}, not ${run.hash} (the file was edited); restore it from git or re-export it`);
  }
  return cfg;
}

// ---- writing ----------------------------------------------------------------------------------

/** A finished run of a grid as export sees it (a run folder, or a run shipped earlier). */
export type ExportRun = RunRecord & { variant: string; seed: number };

const round3 = (p: number): number => Math.round(p * 1000) / 1000;

/** predictions/<hash>-<split>.jsonl: id, gold, predicted and probabilities to 3 decimals (sentences stay in the data). */
function writeCompactPredictions(dir: string, run: ExportRun, split: PredictionSplit): string | undefined {
  const file = path.join(dir, "predictions", `${run.hash}-${split}.jsonl`);
  if (run.shipped) {
    // shipped earlier: its file travels with it when the export goes to another folder (a file proves itself there)
    const digest = run.shipped.predictions?.[split];
    const from = path.join(path.dirname(run.dir), "predictions", `${run.hash}-${split}.jsonl`);
    if (digest && path.resolve(from) !== path.resolve(file) && fs.existsSync(from)) writeShipped(file, fs.readFileSync(from, "utf8"));
    return digest;
  }
  if (!fs.existsSync(path.join(run.dir, `predictions-${split}.jsonl`))) return undefined;
  const rows = loadPredictions(run.dir, split).map((p) => JSON.stringify({ id: p.id, label: p.label, pred: p.pred, probs: p.probs.map(round3) }));
  const text = rows.join("\n") + "\n";
  writeShipped(file, text);
  return sha256(text);
}

/**
 * Write one file of a results folder whole (a temp file renamed over it, removed when the write fails), or make the
 * folder (text null); a failure (read-only folder, full disk) names the file and the reason.
 */
function writeShipped(file: string, text: string | null): void {
  const tmp = `${file}.tmp-medrel-${process.pid}`;
  try {
    fs.mkdirSync(text === null ? file : path.dirname(file), { recursive: true });
    if (text === null) return;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    if (text !== null && fs.existsSync(tmp)) fs.rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    throw new Error(`--export: cannot write ${path.relative(process.cwd(), file) || file} (${err.code ?? "error"}: ${err.message}); a read-only folder or a full disk?`);
  }
}

const sha256 = (text: string | Buffer): string => createHash("sha256").update(text).digest("hex");

function shippedInfo(run: RunRecord): ShippedInfo {
  const i = run.info;
  return {
    backend: i.backend,
    threads: i.threads,
    cpu: i.cpu,
    blasCore: i.blasCore,
    numerics: i.numerics,
    startedAt: i.startedAt,
    seconds: i.seconds,
    bestEpoch: i.bestEpoch,
    trainRows: i.trainRows,
    selectionRows: i.selectionRows,
    devRows: i.devRows,
    testRows: i.testRows,
    node: i.node,
  };
}

/** One finished run as a results-file entry, its compact predictions written beside. */
export function resultRun(dir: string, run: ExportRun, split: "dev" | "test"): ResultRun {
  // a shipped run is written back as the job it stands for here: one run can be a row of two tables (the quick
  // preset's run is Entity_marked2, the pretrained model and Weighted+Aug), and the shipped map holds one of its names
  if (run.shipped) {
    for (const s of Object.keys(run.shipped.predictions ?? {}) as PredictionSplit[]) writeCompactPredictions(dir, run, s);
    return { ...run.shipped, variant: run.variant, seed: run.seed };
  }
  const { data, model } = configHashParts(run.config);
  const identity = { data, model };
  const predictions: Partial<Record<PredictionSplit, string>> = {};
  for (const s of ["selection", split] as PredictionSplit[]) {
    const digest = writeCompactPredictions(dir, run, s);
    if (digest) predictions[s] = digest;
  }
  return {
    variant: run.variant,
    seed: run.seed,
    hash: run.hash,
    split,
    config: run.config,
    metrics: reportedMetrics(run, split),
    selection: run.metrics.selection ? pickHeadline(run.metrics.selection) : undefined,
    seconds: run.info.seconds.total,
    identity,
    splits: run.metrics,
    history: run.history,
    info: shippedInfo(run),
    predictions,
  };
}

function pickHeadline(m: Metrics): Pick<Metrics, "micro_f1" | "macro_f1" | "f1_range"> {
  return { micro_f1: m.micro_f1, macro_f1: m.macro_f1, f1_range: m.f1_range };
}

export interface ExportRequest {
  table: TableName;
  /** every job of the table's grid */
  grid: readonly GridJobRef[];
  /** the jobs that are done (run folders or shipped runs) */
  runs: readonly ExportRun[];
  command: string;
  gridSeconds?: number;
  /** drop the runs of the file already there that this export does not carry (another grid's, or ones left out); default: refuse */
  replace?: boolean;
}

/** An export that would drop runs of the results file already there: nothing was written. */
export class ExportConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExportConflictError";
  }
}

/**
 * What writing `table` into `dir` keeping only the runs `keep` (by hash) would drop of the file already there: every
 * run it holds, believed or left out, that `keep` lacks; a file that does not read counts as dropped whole. Undefined
 * when nothing would be lost.
 */
export function exportDrops(dir: string, table: TableName, keep: ReadonlySet<string>): string | undefined {
  const out = path.join(dir, `${table}.json`);
  if (!fs.existsSync(out)) return undefined;
  const rel = path.relative(process.cwd(), out) || out;
  let old: CheckedResults;
  try {
    old = readResultsFile(out, table);
  } catch (e) {
    return `${rel} is there but does not read (${(e as Error).message}), so writing it would lose what it holds`;
  }
  const gone = [...old.runs, ...old.rejected].filter((r) => !r.hash || !keep.has(r.hash));
  if (gone.length === 0) return undefined;
  const bad = old.rejected.filter((r) => !r.hash || !keep.has(r.hash));
  const named = gone.slice(0, 3).map((r) => `${r.variant} seed ${r.seed}${r.hash ? ` (${r.hash})` : ""}`).join(", ");
  return (
    `${rel} holds ${gone.length} run(s) this export would drop (${named}${gone.length > 3 ? ", …" : ""}): ` +
    (bad.length ? `${bad.length} of them do not prove themselves (${bad[0].message}); ` : "") +
    `the file was written by \`${old.command}\`, another grid or data than this export's`
  );
}

/**
 * One shipped run of a results file by its hash ("results/study/loss.json#251bcd44b080"): its config re-makes it
 * (`npm run experiment -- --config FILE#HASH`) and its splits are what the re-made run should match.
 */
export function shippedRun(ref: string): ResultRun & { hash: string; config: ExperimentConfig } {
  const m = /^(.+\.json)#([0-9a-f]{12})$/.exec(ref);
  if (!m) throw new Error(`${ref}: expected a results file and a run's hash, e.g. results/study/loss.json#251bcd44b080`);
  const [, file, hash] = m;
  const { runs, rejected } = readResultsFile(path.resolve(file));
  const bad = rejected.find((r) => r.hash === hash);
  if (bad) throw new ResultsFileError(path.resolve(file), `run ${hash} does not prove itself, so nothing is compared with it: ${bad.message}`);
  const run = runs.find((r) => r.hash === hash);
  if (!run || !run.config) {
    const some = runs.filter((r) => r.hash).slice(0, 3).map((r) => `${r.hash} (${r.variant}, seed ${r.seed})`);
    throw new ResultsFileError(path.resolve(file), `no run ${hash} with a config in it${some.length ? `; its runs include ${some.join(", ")}` : ""}`);
  }
  return run as ResultRun & { hash: string; config: ExperimentConfig };
}

/** Whether the results file at `out` already holds `file` but for its date (then an export leaves it alone: no churn in git). */
function sameExceptDate(out: string, file: ResultsFile): boolean {
  if (!fs.existsSync(out)) return false;
  try {
    const old = JSON.parse(fs.readFileSync(out, "utf8")) as ResultsFile;
    return JSON.stringify({ ...old, generatedAt: "" }) === JSON.stringify({ ...file, generatedAt: "" });
  } catch {
    return false; // unreadable: rewrite it
  }
}

/** What to do when an export would drop shipped runs. */
export const EXPORT_CONFLICT_HINT =
  "Export into another folder (--export DIR), restore the file from git (git checkout -- FILE), or pass --replace to drop those runs on purpose.";

/** Write <dir>/<table>.json (and the runs' compact predictions), partial or whole, unless only its date would change; returns the file. */
export function exportResults(dir: string, req: ExportRequest): { file: string; done: number; total: number } {
  const drops = req.replace ? undefined : exportDrops(dir, req.table, new Set(req.runs.map((r) => r.hash)));
  if (drops) throw new ExportConflictError(`${drops}. Nothing was written. ${EXPORT_CONFLICT_HINT}`);
  writeShipped(dir, null);
  const split = reportedSplit(req.runs);
  const runs = req.runs.map((r) => resultRun(dir, r, split));
  const file: ResultsFile = {
    format: RESULTS_FORMAT,
    table: req.table,
    command: req.command,
    generatedAt: new Date().toISOString(),
    gridSeconds: req.gridSeconds,
    grid: req.grid.map(({ variant, seed, hash }) => ({ variant, seed, hash })),
    runs,
  };
  const out = path.join(dir, `${req.table}.json`);
  if (!sameExceptDate(out, file)) {
    writeShipped(out, JSON.stringify(file, null, 1) + "\n");
  }
  return { file: out, ...gridProgress(req.grid, new Set(req.runs.map((r) => r.hash))) };
}

// ---- shipped runs as done ---------------------------------------------------------------------

/** A shipped run standing in for its run folder: what a grid needs to count it done and to read its metrics. */
function asRunRecord(file: string, run: ResultRun): RunRecord | undefined {
  if (!run.hash || !run.config || !run.splits || !run.info) return undefined;
  const info = { ...run.info, kernels: [], vocabSize: 0, parameters: 0, dataReport: [], classWeights: null };
  return { hash: run.hash, dir: file, config: run.config, metrics: run.splits, history: run.history ?? [], info, shipped: run };
}

/**
 * Every shipped run of a results folder by hash (format-2 runs only: they carry all splits), checked on load. A grid
 * takes these as done when their run folder is not on this machine.
 */
export function shippedRuns(dir = studyResultsDir()): Map<string, RunRecord> {
  const out = new Map<string, RunRecord>();
  if (!fs.existsSync(dir)) return out;
  for (const t of TABLE_NAMES) {
    const file = path.join(dir, `${t}.json`);
    if (!fs.existsSync(file)) continue;
    const { runs, rejected } = readResultsFile(file, t);
    // a run left out is not taken as done: a grid trains it again (or export refuses to drop it)
    for (const r of rejected) console.warn(`[medrel] left out: ${r.message}`);
    for (const run of runs) {
      const r = asRunRecord(file, run);
      if (r) out.set(r.hash, r);
    }
  }
  return out;
}

/** A finished run's predictions on one split: from its folder, or for a shipped run from its results folder (sentences joined back). */
export function savedPredictions(run: RunRecord, split: PredictionSplit): Prediction[] {
  return run.shipped ? shippedPredictions(run.shipped, split, path.dirname(run.dir)) : loadPredictions(run.dir, split);
}

/** Where a finished run's predictions on one split are, for report.errorAnalysisHtml: its folder (read when needed), or a shipped run's rows. */
export function predictionSource(run: RunRecord, split: PredictionSplit): PredictionSource {
  return run.shipped ? { split, rows: savedPredictions(run, split) } : { dir: run.dir };
}

/** Whether savedPredictions(run, split) has something to read. */
export function hasSavedPredictions(run: RunRecord, split: PredictionSplit): boolean {
  return run.shipped ? run.shipped.predictions?.[split] !== undefined : fs.existsSync(path.join(run.dir, `predictions-${split}.jsonl`));
}

/**
 * A shipped run's predictions on one split with their sentences joined back from the data file by id (the file
 * ships id, gold, predicted and probabilities only). The compact file's digest and each row's gold label are checked.
 */
export function shippedPredictions(run: ResultRun, split: PredictionSplit, dir = studyResultsDir()): Prediction[] {
  const digest = run.predictions?.[split];
  if (!run.hash || !run.config || !digest) throw new Error(`${run.variant}, seed ${run.seed}: no shipped ${split} predictions`);
  const file = path.join(dir, "predictions", `${run.hash}-${split}.jsonl`);
  if (!fs.existsSync(file)) throw new ResultsFileError(file, "missing (it ships beside its results file)");
  const text = fs.readFileSync(file);
  if (sha256(text) !== digest) throw new ResultsFileError(file, "its content does not match the digest its results file records (edited or truncated); restore it from git");
  const missing = sentencesProblem(run, split);
  if (missing) throw new ResultsFileError(file, missing);
  const rows = sentencesById(run.config, split);
  return text
    .toString("utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((line, i) => {
      const p = JSON.parse(line) as { id: string; label: string; pred: string; probs: number[] };
      const r = rows.get(p.id);
      if (!r) throw new ResultsFileError(file, `line ${i + 1}: id ${p.id} is not in the ${split} data (${dataSource(run.config!, split)})`);
      if (r.r !== p.label) throw new ResultsFileError(file, `line ${i + 1}: id ${p.id} has gold ${p.label} but the data says ${r.r}: the data changed since these results were made`);
      return { id: p.id, sentence: r.sentence, h: r.h, t: r.t, label: p.label, pred: p.pred, probs: p.probs };
    });
}

/**
 * Why a shipped run's sentences cannot be joined to its predictions on this machine, or undefined when they can: the
 * data file is not here (a clone without the study's data), or the data here is not the data the run was made on (its
 * fingerprint differs from the one the results file records), so the rows with its ids would be other sentences.
 */
export function sentencesProblem(run: ResultRun, split: PredictionSplit): string | undefined {
  if (!run.config) return `${run.variant}, seed ${run.seed}: no config, so no data to join its predictions to`;
  const cfg = parseExperimentConfig(run.config);
  const files = dataFiles(cfg.data);
  const f = split === "selection" ? files.train : files[split];
  const where = cfg.data.kind === "dir" ? cfg.data.dir : JSON.stringify(cfg.data);
  if (!f) {
    return (
      `the sentences of these predictions are in the ${split} split of ${where}, which is not on this machine; every number shown comes ` +
      `from results/study alone. To see the sentences, put the study's data beside the project (${where}: study_train.jsonl, study_val.jsonl; README, "The study's data")`
    );
  }
  const here = dataFingerprint(cfg.data);
  if (run.identity && here !== run.identity.data.content) {
    return (
      `${where} on this machine is not the data run ${run.hash} was made on (fingerprint ${here}, the results file records ${run.identity.data.content}): ` +
      `the rows with its ids could be other sentences, so none is shown; restore the study's data as it was`
    );
  }
  return undefined;
}

/** The data file a split's rows come from (the selection slice is part of train). */
function dataSource(cfg: ExperimentConfig, split: PredictionSplit): string {
  const files = dataFiles(parseExperimentConfig(cfg).data);
  const f = split === "selection" ? files.train : files[split];
  if (!f) throw new Error(`the ${split} split of ${JSON.stringify(cfg.data)} has no file on this machine`);
  return f;
}

const rowsMemo = new Map<string, Map<string, { sentence: string; h: string; t: string; r: string }>>();

function sentencesById(cfg: ExperimentConfig, split: PredictionSplit) {
  const f = dataSource(cfg, split);
  let m = rowsMemo.get(f);
  if (!m) {
    m = new Map(loadRows(f, { mode: "lenient" }).rows.map((r) => [r.id, { sentence: r.sentence, h: r.h, t: r.t, r: r.r }]));
    rowsMemo.set(f, m);
  }
  return m;
}

/** How much of each table's grid a results folder holds (a table whose file is absent is left out). */
export function resultsProgress(dir = studyResultsDir()): { table: TableName; done: number; total: number; grid: GridJobRef[]; runs: ResultRun[]; rejected: RejectedRun[] }[] {
  return TABLE_NAMES.flatMap((table) => {
    const file = path.resolve(dir, `${table}.json`);
    if (!fs.existsSync(file)) return [];
    const { grid = [], runs, rejected } = readResultsFile(file, table);
    const have = new Set(runs.map((r) => r.hash).filter((h): h is string => h !== null));
    return [{ table, ...gridProgress(grid, have), grid, runs, rejected }];
  });
}
