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
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import type { Metrics } from "../metrics";
import { ConfigError, ConfigOverrideSchema, PROJECT_ROOT, configHashParts, hashOfParts, parseExperimentConfig, type ValidConfig } from "../runs/config";
import { reportedMetrics, reportedSplit, type PredictionSplit, type RunInfo, type RunRecord } from "../runs/record";
import { compactPredictionsFile, compactPredictionsText, hasSavedPredictions, savedPredictions } from "../runs/predictions";
import { STUDY_SEEDS, TABLE_SPECS, TABLE_NAMES, type TableName } from "./study-tables";
import { RunProblem, checkRunMetrics, checkRunSpec, gridProblem, matchSpec, type GridJobRef, type GridRecipe, type RejectedRun, type ResultsFile } from "./results-checks";

export type { GridJobRef, GridRecipe, RejectedRun, ResultsFile } from "./results-checks";

/** One run as a results file ships it: the file's format only (read, it is a RunRecord: asRunRecord). */
type ResultRun = ResultsFile["runs"][number];

/** The results format this code writes and reads (every shipped file is format 2: its runs stand in for their folders). */
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

// ---- the file format: its schema (its types are results-checks.ts's) ------------------------

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
  hash: z.string().regex(/^[0-9a-f]{12}$/),
  split: z.enum(["dev", "test"]),
  config: z.record(z.string(), z.unknown()),
  metrics: MetricsSchema,
  selection: z.object({ micro_f1: num, macro_f1: num, f1_range: num }).optional(),
  seconds: num,
  identity: z.object({ data: z.object({ kind: z.string(), content: z.string() }), model: z.record(z.string(), z.unknown()) }),
  splits: z.object({ selection: MetricsSchema.optional(), dev: MetricsSchema, test: MetricsSchema.nullable() }),
  history: z.array(z.record(z.string(), z.unknown())),
  info: z.record(z.string(), z.unknown()),
  predictions: z.partialRecord(z.enum(["selection", "dev", "test"]), z.string().regex(/^[0-9a-f]{64}$/)),
});
const FileSchema = z.object({
  format: z.number().int(),
  table: z.enum(TABLE_NAMES as [TableName, ...TableName[]]),
  command: z.string(),
  generatedAt: z.string(),
  gridSeconds: num.optional(),
  grid: z.array(z.object({ variant: z.string(), seed: z.number().int(), hash: z.string() })),
  runs: z.array(RunSchema),
  override: ConfigOverrideSchema.optional(),
  seeds: z.record(z.string(), z.number().int().positive()).optional(),
});

/** A results file that is not what this code wrote: the file and what is wrong with it. */
export class ResultsFileError extends Error {
  constructor(file: string, problem: string) {
    super(`${path.relative(process.cwd(), file) || file}: ${problem}`);
    this.name = "ResultsFileError";
  }
}

/**
 * A results file as read: the entries believed (`runs`, the file's own shape), each as the RunRecord that stands in for
 * its folder (`records`, in the same order), and each entry left out with the reason (file, run, field).
 */
export type CheckedResults = ResultsFile & { records: (RunRecord & { variant: string })[]; rejected: RejectedRun[] };

/**
 * Read and check one results file. Whole-file problems throw (JSON, schema, the table it claims, a grid that is not
 * its table's); a run that does not prove itself (results-checks.ts: its hash, its table's job, its metrics against
 * its own confusion matrix and predictions, a duplicate, another split) is left out of `runs` and listed in `rejected`.
 */
export function readResultsFile(file: string, table?: TableName): CheckedResults {
  const memo = resultsMemo.get(file);
  const st = fs.statSync(file, { throwIfNoEntry: false });
  const key = st ? `${st.size}\0${st.mtimeMs}` : "";
  if (memo && memo.key === key && (!table || memo.read.table === table)) return memo.read;
  const read = readResults(file, table);
  resultsMemo.set(file, { key, read });
  return read;
}

const resultsMemo = new Map<string, { key: string; read: CheckedResults }>();

function readResults(file: string, table?: TableName): CheckedResults {
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
  if (parsed.format > RESULTS_FORMAT) throw new ResultsFileError(file, `format ${parsed.format} is newer than this code reads (${RESULTS_FORMAT}); update the project`);
  if (parsed.format < RESULTS_FORMAT) throw new ResultsFileError(file, `format ${parsed.format} is older than this code reads (${RESULTS_FORMAT}: runs that carry their fingerprints and predictions); re-export it`);
  const rel = path.relative(PROJECT_ROOT, file);
  const rejected: RejectedRun[] = [];
  const reject = (run: ResultRun, i: number, problem: string): void => {
    rejected.push({ index: i, variant: run.variant, seed: run.seed, hash: run.hash, message: `${path.relative(process.cwd(), file) || file}: runs[${i}] (${run.variant}, seed ${run.seed}, ${run.hash}): ${problem}` });
  };
  // each run on its own: its hash, its numbers
  const configs = new Map<number, ValidConfig>();
  parsed.runs.forEach((run, i) => {
    try {
      const cfg = checkRunHash(file, run, i);
      checkRunMetrics(run, path.dirname(file));
      configs.set(i, cfg);
    } catch (e) {
      if (!(e instanceof RunProblem)) throw e;
      reject(run, i, e.message);
    }
  });
  // then against its table: the spec's job for its variant and seed, once, in the file's grid, on the file's split
  const checked = [...configs].map(([i, config]) => ({ i, run: parsed.runs[i], config }));
  let spec: ReturnType<typeof matchSpec>;
  try {
    spec = matchSpec(parsed.table, checked.map(({ run, config }) => ({ variant: run.variant, seed: run.seed, config })), { override: parsed.override, seeds: parsed.seeds });
  } catch (e) {
    // the spec's rows with the file's override are not a valid config: the file's recipe is wrong, not one run
    if (e instanceof ConfigError) throw new ResultsFileError(file, `override ${JSON.stringify(parsed.override)}: ${e.message}`);
    throw e;
  }
  const first = new Map<string, number>();
  const grid = new Map(parsed.grid.map((g) => [g.hash, g] as const));
  parsed.runs.forEach((run, i) => {
    if (rejected.some((r) => r.index === i)) return;
    try {
      const cfg = configs.get(i);
      if (spec && cfg) checkRunSpec(parsed.table, spec, run, cfg);
      const twin = first.get(`${run.hash}\0${run.variant}\0${run.seed}`);
      if (twin !== undefined) throw new RunProblem(`duplicates runs[${twin}] (the same run listed twice)`);
      first.set(`${run.hash}\0${run.variant}\0${run.seed}`, i);
      const g = grid.get(run.hash);
      if (!g || g.variant !== run.variant || g.seed !== run.seed) {
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
  const records = runs.map((run) => asRunRecord(file, run, configs.get(parsed.runs.indexOf(run))!));
  if (spec) {
    const trusted = runs.map((run, k) => ({ variant: run.variant, seed: run.seed, hash: run.hash, config: records[k].config, identity: run.identity }));
    const problem = gridProblem(parsed.table, spec, parsed.grid, trusted);
    if (problem) throw new ResultsFileError(file, `${problem}; the file was edited: restore it from git (git checkout -- ${rel}) or re-export it`);
  }
  return { ...parsed, runs, records, rejected };
}

/**
 * A run's config, validated (where a shipped config comes in from a file, once): the hash recomputed from it and the
 * fingerprints the run records must be the run's.
 */
function checkRunHash(file: string, run: ResultRun, i: number): ValidConfig {
  let cfg: ValidConfig;
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

/** predictions/<hash>-<split>.jsonl: id, gold, predicted and probabilities to 3 decimals (sentences stay in the data). */
function writeCompactPredictions(dir: string, run: RunRecord, split: PredictionSplit): string | undefined {
  const file = compactPredictionsFile(dir, run.hash, split);
  if (run.shipped) {
    // shipped earlier: its file travels with it when the export goes to another folder (a file proves itself there)
    const digest = run.shipped.predictions[split];
    const from = compactPredictionsFile(path.dirname(run.shipped.file), run.hash, split);
    if (digest && path.resolve(from) !== path.resolve(file) && fs.existsSync(from)) writeShipped(file, fs.readFileSync(from, "utf8"));
    return digest;
  }
  if (!hasSavedPredictions(run, split)) return undefined;
  const { text, sha256: digest } = compactPredictionsText(savedPredictions(run, split));
  writeShipped(file, text);
  return digest;
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

function shippedInfo(run: RunRecord): ResultRun["info"] {
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

/** One finished run of a grid (its table row named) as a results-file entry, its compact predictions written beside. */
function resultRun(dir: string, run: RunRecord & { variant: string }, split: "dev" | "test"): ResultRun {
  // a shipped run is written back as the entry it was read from, as the job it stands for here: one run can be a row
  // of two tables (the quick preset's run is Entity_marked2, the pretrained model and Weighted+Aug)
  if (run.shipped) {
    for (const s of Object.keys(run.shipped.predictions) as PredictionSplit[]) writeCompactPredictions(dir, run, s);
    const entry = readResultsFile(run.shipped.file).runs.find((r) => r.hash === run.hash)!;
    return { ...entry, variant: run.variant, seed: run.config.seed };
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
    seed: run.config.seed,
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
  /** the jobs that are done (run folders or shipped runs), each with its table row */
  runs: readonly (RunRecord & { variant: string })[];
  command: string;
  gridSeconds?: number;
  /** drop the runs of the file already there that this export does not carry (another grid's, or ones left out); default: refuse */
  replace?: boolean;
  /** how the grid's jobs were made besides the spec (a study plan's override and seeds per variant), recorded in the file */
  recipe?: GridRecipe;
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
  const gone = [...old.runs, ...old.rejected].filter((r) => !keep.has(r.hash));
  if (gone.length === 0) return undefined;
  const bad = old.rejected.filter((r) => !keep.has(r.hash));
  const named = gone.slice(0, 3).map((r) => `${r.variant} seed ${r.seed} (${r.hash})`).join(", ");
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
export function shippedRun(ref: string): RunRecord & { variant: string } {
  const m = /^(.+\.json)#([0-9a-f]{12})$/.exec(ref);
  if (!m) throw new Error(`${ref}: expected a results file and a run's hash, e.g. results/study/loss.json#251bcd44b080`);
  const [, file, hash] = m;
  const { records, rejected } = readResultsFile(path.resolve(file));
  const bad = rejected.find((r) => r.hash === hash);
  if (bad) throw new ResultsFileError(path.resolve(file), `run ${hash} does not prove itself, so nothing is compared with it: ${bad.message}`);
  const run = records.find((r) => r.hash === hash);
  if (!run) {
    const some = records.slice(0, 3).map((r) => `${r.hash} (${r.variant}, seed ${r.config.seed})`);
    throw new ResultsFileError(path.resolve(file), `no run ${hash} with a config in it${some.length ? `; its runs include ${some.join(", ")}` : ""}`);
  }
  return run as RunRecord & { variant: string };
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
    // only a plan's grid writes them: files without a plan stay byte for byte as before
    ...(req.recipe?.override ? { override: req.recipe.override } : {}),
    ...(req.recipe?.seeds ? { seeds: req.recipe.seeds } : {}),
  };
  const out = path.join(dir, `${req.table}.json`);
  if (!sameExceptDate(out, file)) {
    writeShipped(out, JSON.stringify(file, null, 1) + "\n");
  }
  return { file: out, ...gridProgress(req.grid, new Set(req.runs.map((r) => r.hash))) };
}

// ---- shipped runs as done ---------------------------------------------------------------------

/** A believed entry as the RunRecord that stands in for its folder (its config as validated when the file was read). */
function asRunRecord(file: string, run: ResultRun, config: ValidConfig): RunRecord & { variant: string } {
  const info: RunInfo = { ...run.info, kernels: [], vocabSize: 0, parameters: 0, dataReport: [], classWeights: null };
  return {
    hash: run.hash,
    config,
    metrics: run.splits,
    history: run.history,
    info,
    shipped: { file, predictions: run.predictions, identity: run.identity },
    variant: run.variant,
  };
}

/** Every shipped run of a results folder by hash, checked on load. A grid takes these as done when their run folder is not on this machine. */
export function shippedRuns(dir = studyResultsDir()): Map<string, RunRecord> {
  const out = new Map<string, RunRecord>();
  if (!fs.existsSync(dir)) return out;
  for (const t of TABLE_NAMES) {
    const file = path.join(dir, `${t}.json`);
    if (!fs.existsSync(file)) continue;
    const { records, rejected } = readResultsFile(file, t);
    // a run left out is not taken as done: a grid trains it again (or export refuses to drop it)
    for (const r of rejected) console.warn(`[medrel] left out: ${r.message}`);
    for (const r of records) out.set(r.hash, r);
  }
  return out;
}

/** How much of each table's grid a results folder holds (a table whose file is absent is left out). */
export function resultsProgress(dir = studyResultsDir()): { table: TableName; done: number; total: number; grid: GridJobRef[]; runs: ResultsFile["runs"]; rejected: RejectedRun[] }[] {
  return TABLE_NAMES.flatMap((table) => {
    const file = path.resolve(dir, `${table}.json`);
    if (!fs.existsSync(file)) return [];
    const { grid, runs, rejected } = readResultsFile(file, table);
    const have = new Set(runs.map((r) => r.hash));
    return [{ table, ...gridProgress(grid, have), grid, runs, rejected }];
  });
}
