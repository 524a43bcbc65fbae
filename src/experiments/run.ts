/**
 * Run one experiment end to end: data -> (augmentation) -> tokenizer -> encodings -> model -> train ->
 * evaluate -> run folder. A run whose folder exists is loaded, not retrained, unless forced; one process at a
 * time trains a given run (the others wait for it and load its result).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../backend/select";
import { loadDataset, loadRows, formatLoadReport, type LoadMode, type LoadReport } from "../data/load";
import { DEMO_DIR } from "../data/demo";
import { LABEL_NAMES, labelIndex, NUM_LABELS } from "../data/labels";
import type { Dataset, Row } from "../data/types";
import { RelationTokenizer, buildCharTokenizer, encodeDataset } from "../encoding";
import type { Encoded } from "../encoding/types";
import { BertForRelationClassification, loadPretrained, outOfFoldNgramProbs, parseConfig, shapeConfig, saveCheckpoint } from "../model";
import { augmentTrain, chooseHardClasses, studyBatchSampler } from "../augment";
import { train, evaluate, computeClassWeights, classCounts, createProgress, DEFAULT_TRAIN_CONFIG, type TrainConfig, type ClassWeightSpec, type TrainResult, type Evaluation } from "../train";
import { notebookProgress } from "../report/progress";
import { Rng } from "../random";
import type { ExperimentConfig } from "./config";
import { configHash, fromProjectPath, parseExperimentConfig } from "./config";
import { selectionSplit } from "../data/selection";
import { CKPT_SUFFIX, DEFAULT_RUNS_DIR, cleanIncompleteRuns, ensureFolder, isRunOf, loadRun, lockRun, runDir, RunWriter, type RunResult, type RunInfo, type Prediction, type SplitMetrics } from "./store";

export interface RunOptions {
  /** retrain even when a complete run folder exists */
  force?: boolean;
  /** folder holding run folders (default runs/) */
  runsDir?: string;
  /** write the run exactly here instead of runsDir/<hash> */
  out?: string;
  /** progress display: "auto" (terminal bar / notebook display / one line per epoch) or false */
  progress?: "auto" | false;
  /** print one line when a cached run is loaded (default true) */
  verbose?: boolean;
  /** fail on the first bad data row instead of skipping and reporting it */
  strict?: boolean;
  /** receives the data's load report (counts per reason and the first lines of each) when a run trains */
  onDataReport?: (text: string) => void;
  /** the config's hash when the caller already has it */
  hash?: string;
  /** what the progress display calls this run (default "run <hash>") */
  label?: string;
  /** save resumable state mid-epoch at least this often (default 600 s); a killed run resumes from the last save */
  checkpointSeconds?: number;
  /** runs shipped in results files (results.ts shippedRuns), taken as done when their folder is not on this machine */
  shipped?: ReadonlyMap<string, RunResult>;
}

export interface ExperimentData {
  dataset: Dataset;
  /** one load report per file or folder read */
  reports: LoadReport[];
}

/** A split with no usable row: the file, how many rows were read and why each was rejected. */
function emptySplitError(split: string, report: LoadReport): Error {
  const why = Object.entries(report.droppedByKind).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ");
  const first = report.issues.filter((i) => i.dropped).slice(0, 3).map((i) => `\n  ${i.message}`).join("");
  return new Error(`${split} split ${report.files.map((f) => f.file).join(", ") || report.source}: no usable rows (${report.read} read${why ? `; rejected: ${why}` : ""})${first}`);
}

/** Resolve a DataSpec to splits (with load reports); train and dev must keep at least one row. Test may be empty. */
export function loadExperimentData(cfg: Pick<ExperimentConfig, "data">, mode: LoadMode = "lenient"): ExperimentData {
  const d = cfg.data;
  if (d.kind === "demo" || d.kind === "dir") {
    const ds = loadDataset(d.kind === "demo" ? DEMO_DIR : fromProjectPath(d.dir), { mode });
    for (const split of ["train", "dev"] as const) {
      if (ds[split].length === 0) {
        const file = ds.report.files.find((f) => f.split === split);
        throw emptySplitError(split, { ...ds.report, source: file?.file ?? ds.report.source, read: file?.read ?? 0, files: file ? [file] : [], issues: ds.report.issues.filter((i) => i.file === file?.file) });
      }
    }
    return { dataset: ds, reports: [ds.report] };
  }
  const load = (split: string, f: string): { rows: Row[]; report: LoadReport } => {
    const res = loadRows(fromProjectPath(f), { mode });
    if (res.rows.length === 0 && split !== "test") throw emptySplitError(split, res.report);
    return res;
  };
  const tr = load("train", d.train);
  const dv = load("dev", d.dev);
  const te = d.test ? load("test", d.test) : null;
  return {
    dataset: { train: tr.rows, dev: dv.rows, test: te ? te.rows : [], source: d.train },
    reports: [tr.report, dv.report, ...(te ? [te.report] : [])],
  };
}

/** The load reports as the terminal shows them: counts per reason and the first lines of each. */
export function formatDataReport(data: ExperimentData, maxPerKind = 3): string {
  return data.reports.map((r) => formatLoadReport(r, { maxPerKind })).join("\n");
}

/** A label-stratified, seeded subset of at most n rows (n = 0: all). */
export function capRows(rows: Row[], n: number, seed: number): Row[] {
  if (n <= 0 || rows.length <= n) return rows;
  const byLabel = new Map<string, Row[]>();
  for (const r of rows) {
    const list = byLabel.get(r.r);
    if (list) list.push(r);
    else byLabel.set(r.r, [r]);
  }
  const rng = new Rng(seed ^ 0x5eed);
  const groups = [...byLabel.values()].map((g) => rng.shuffle([...g]));
  const out: Row[] = [];
  for (let i = 0; out.length < n && groups.some((g) => i < g.length); i++) {
    for (const g of groups) if (i < g.length && out.length < n) out.push(g[i]);
  }
  return out;
}

interface Prepared {
  model: BertForRelationClassification;
  tokenizer: RelationTokenizer;
  tokenizerDir: string | null;
  notes: string[];
}

async function prepareModel(cfg: ExperimentConfig, train: Row[], tmpDir: string): Promise<Prepared> {
  const m = cfg.model;
  const configured = m.kind === "checkpoint" ? m.dir : m.pretrained;
  const dir = configured ? fromProjectPath(configured) : null;
  if (dir) {
    if (!fs.existsSync(dir)) throw new Error(`model folder not found: ${dir} (put a Hugging Face checkpoint there; see models/README.md)`);
    const tokenizer = RelationTokenizer.fromDir(dir);
    const res = await loadPretrained(dir, { numLabels: NUM_LABELS, pooling: cfg.pooling, seed: cfg.seed, vocabSize: tokenizer.vocabSize, ignoreMismatchedHead: true });
    const notes = [...res.notes, `loaded ${res.weightsFile}; ${res.missingKeys.length} keys initialised, ${res.unexpectedKeys.length} unused`];
    return { model: res.model, tokenizer, tokenizerDir: dir, notes };
  }
  // no checkpoint: a character vocabulary from the training sentences, random init
  const tokenizer = buildCharTokenizer(train.flatMap((r) => [r.sentence, r.h, r.t]), { minFreq: 1 });
  const tokDir = path.join(tmpDir, "tokenizer");
  tokenizer.save(tokDir);
  const shapeFile = m.kind === "preset" && m.shapeFrom ? path.join(fromProjectPath(m.shapeFrom), "config.json") : null;
  const config = shapeFile
    ? { ...parseConfig(JSON.parse(fs.readFileSync(shapeFile, "utf8")), shapeFile), vocab_size: tokenizer.vocabSize }
    : { ...shapeConfig(m.kind === "preset" ? m.preset : "tiny", tokenizer.vocabSize) };
  config.max_position_embeddings = Math.max(config.max_position_embeddings, cfg.maxLength);
  const model = new BertForRelationClassification(config, { numLabels: NUM_LABELS, pooling: cfg.pooling, seed: cfg.seed });
  const shape = `L=${config.num_hidden_layers}/H=${config.hidden_size}`;
  const from = shapeFile ? `${shape} from ${shapeFile}` : `${m.kind === "preset" ? m.preset : "?"}, ${shape}`;
  return { model, tokenizer, tokenizerDir: tokDir, notes: [`random init (${from}), character vocabulary of ${tokenizer.vocabSize} from train`] };
}

/**
 * The class-weight spec of a config. `hard_classes` without per-class F1 takes it from the same config trained
 * without class weights, on the selection split (that run is loaded from the cache, or trained first).
 */
async function classWeightSpec(cfg: ExperimentConfig, fitLabels: number[], opts: RunOptions): Promise<ClassWeightSpec> {
  const l = cfg.loss;
  switch (l.scheme) {
    case "none":
      return { scheme: "none" };
    case "manual":
      return { scheme: "manual", weights: l.manual ?? {} };
    case "hard_classes": {
      const f1 = l.devF1 ?? selectionF1(await referenceRun(cfg, opts));
      return { scheme: "hard_classes", perClassF1: LABEL_NAMES.map((n) => f1[n] ?? 0), alpha: l.alpha };
    }
    case "inverse":
    case "sqrt_inverse":
      return { scheme: l.scheme, counts: classCounts(fitLabels) };
    case "effective_number":
      return { scheme: "effective_number", counts: classCounts(fitLabels), beta: l.beta };
  }
}

function selectionF1(run: RunResult): Record<string, number> {
  const pc = run.metrics.selection?.per_class;
  if (!pc) throw new Error(`loss.scheme hard_classes: the unweighted reference run ${run.dir} has no selection metrics`);
  return Object.fromEntries(Object.entries(pc).map(([k, c]) => [k, c.f1]));
}

/** The same config trained without class weights: where `hard_classes` reads which classes are hard. */
function referenceRun(cfg: ExperimentConfig, opts: RunOptions): Promise<RunResult> {
  const loss = { ...cfg.loss, scheme: "none" as const, alpha: undefined, devF1: undefined, beta: undefined, manual: undefined };
  return runExperiment({ ...cfg, loss }, { runsDir: opts.runsDir, progress: opts.progress, shipped: opts.shipped, verbose: false, label: "the unweighted reference of a hard_classes run" });
}

/** What a run needs besides its config to train: computed weights, a sampler, where checkpoints go, the teacher. */
export type TrainExtras = Pick<TrainConfig, "classWeights" | "sampler" | "checkpointDir" | "checkpointTokenizerDir" | "checkpointEverySeconds" | "distill">;

/** The trainer's config: DEFAULT_TRAIN_CONFIG, overridden by the experiment's hyperparameters (same names) and the extras. */
export function toTrainConfig(cfg: ExperimentConfig, extras: TrainExtras): TrainConfig {
  const { epochs, batchSize, lr, weightDecay, warmupRatio, schedule, maxGradNorm, seed, earlyStoppingPatience, layerwiseLrDecay } = cfg;
  return {
    ...DEFAULT_TRAIN_CONFIG,
    ...{ epochs, batchSize, lr, weightDecay, warmupRatio, schedule, maxGradNorm, seed, earlyStoppingPatience, layerwiseLrDecay },
    lossReduction: cfg.loss.reduction,
    labelSmoothing: cfg.loss.labelSmoothing,
    focalGamma: cfg.loss.focalGamma,
    ...extras,
  };
}

function predictionRows(rows: Row[], ev: Evaluation): Prediction[] {
  return rows.map((r, i) => ({
    id: r.id,
    sentence: r.sentence,
    h: r.h,
    t: r.t,
    label: r.r,
    pred: LABEL_NAMES[ev.preds[i]],
    probs: ev.probs[i].map((p) => Math.round(p * 1e6) / 1e6),
  }));
}

/** The rows of one run: `fit` trains, `selection` chooses the epoch, `dev` and `test` are only reported. */
interface RunRows {
  fit: Row[];
  selection: Row[];
  dev: Row[];
  test: Row[];
  augmentReport?: unknown;
}

/** Row caps, the selection split (the dev split, or a slice of train), then train-only augmentation of the fit rows. */
function runRows(cfg: ExperimentConfig, dataset: Dataset): RunRows {
  const train = capRows(dataset.train, cfg.maxTrainRows, cfg.seed);
  const dev = capRows(dataset.dev, cfg.maxEvalRows, cfg.seed);
  const test = capRows(dataset.test, cfg.maxEvalRows, cfg.seed);
  const sel = cfg.selection;
  if (sel === "auto") throw new Error("selection \"auto\" must be resolved by parseExperimentConfig first");
  const { fit, selection } = sel.from === "dev" ? { fit: train, selection: dev } : selectionSplit(train, sel);
  if (!cfg.augment) return { fit, selection, dev, test };
  const hardClasses = chooseHardClasses({ rule: cfg.augment.hardRule, trainLabels: fit.map((r) => labelIndex(r.r)) });
  const res = augmentTrain(fit, { hardClasses, strategies: cfg.augment.strategies, multiplier: cfg.augment.multiplier, seed: cfg.seed }, { dev: [...selection, ...dev], test });
  return { fit: res.rows, selection, dev, test, augmentReport: res.report };
}

/** Train one run into `writer`'s temp folder and return what it will hold once committed. */
async function trainRun(cfg: ExperimentConfig, hash: string, finalDir: string, writer: RunWriter, opts: RunOptions): Promise<RunResult> {
  const backend = await initBackend({ verbose: false });
  const started = Date.now();
  const data = loadExperimentData(cfg, opts.strict ? "strict" : "lenient");
  opts.onDataReport?.(formatDataReport(data));
  const rows = runRows(cfg, data.dataset);
  const prep = await prepareModel(cfg, rows.fit, writer.tmp);
  const enc = (rs: Row[]): Encoded[] => (rs.length ? encodeDataset(prep.tokenizer, rs, { encoding: cfg.encoding, maxLength: cfg.maxLength, faithful: cfg.faithful }).encoded : []);
  const [fitEnc, selectionEnc, devEnc, testEnc] = [enc(rows.fit), enc(rows.selection), enc(rows.dev), enc(rows.test)];
  const fitLabels = fitEnc.map((e) => e.label as number);
  const weights = cfg.loss.scheme === "none" ? null : computeClassWeights(await classWeightSpec(cfg, fitLabels, opts));
  const tc = toTrainConfig(cfg, {
    classWeights: weights,
    sampler: cfg.sampler === "study" ? studyBatchSampler(fitLabels, { batches: cfg.samplerEpoch }) : undefined,
    // an interrupted run resumes from its last finished epoch (weights, AdamW state, step) when re-run
    checkpointDir: `${finalDir}${CKPT_SUFFIX}`,
    // a long epoch (a base model at 300 tokens: hours) also saves mid-epoch, so a killed run loses minutes, not an epoch
    checkpointEverySeconds: opts.checkpointSeconds ?? 600,
    checkpointTokenizerDir: prep.tokenizerDir ?? undefined,
    distill: teacher(cfg, rows.fit, weights),
  });
  const t0 = Date.now();
  const progress = opts.progress === false ? false : createProgress({ label: opts.label ?? `run ${hash}`, notebook: notebookProgress });
  const result: TrainResult = await train(prep.model, fitEnc, selectionEnc, tc, { progress });
  const t1 = Date.now();
  const selection = await evaluate(prep.model, selectionEnc);
  // selecting on dev (the data has a test split): the same rows, scored once
  const dev = rows.selection === rows.dev ? selection : await evaluate(prep.model, devEnc);
  const test = testEnc.length ? await evaluate(prep.model, testEnc) : null;
  const info: RunInfo = {
    backend: backend.name,
    kernels: backend.kernels,
    threads: backend.threads,
    cpu: backend.cpu,
    blasCore: backend.blasCore,
    denormalsFlushed: backend.denormalsFlushed,
    startedAt: new Date(started).toISOString(),
    seconds: { total: (Date.now() - started) / 1000, train: (t1 - t0) / 1000, eval: (Date.now() - t1) / 1000 },
    trainRows: rows.fit.length,
    selectionRows: rows.selection.length,
    devRows: rows.dev.length,
    testRows: rows.test.length,
    vocabSize: prep.tokenizer.vocabSize,
    parameters: prep.model.numParameters(),
    bestEpoch: result.bestEpoch,
    dataReport: [formatDataReport(data), ...prep.notes],
    augmentReport: rows.augmentReport,
    classWeights: weights,
    teacherClassWeights: cfg.distill?.classWeighted && weights ? weights : null,
    resumedFromEpoch: result.resumedFromEpoch,
    node: process.version,
  };
  const metrics: SplitMetrics = { selection: selection.metrics, dev: dev.metrics, test: test ? test.metrics : null };
  writer.json("config.json", cfg);
  writer.json("metrics.json", metrics);
  writer.json("confusion.json", { labels: LABEL_NAMES, selection: selection.metrics.confusion, dev: dev.metrics.confusion, test: test?.metrics.confusion ?? null });
  writer.json("history.json", result.history);
  writer.json("run.json", info);
  writer.jsonl("predictions-selection.jsonl", predictionRows(rows.selection, selection));
  writer.jsonl("predictions-dev.jsonl", predictionRows(rows.dev, dev));
  if (test) writer.jsonl("predictions-test.jsonl", predictionRows(rows.test, test));
  await saveCheckpoint(prep.model, path.join(writer.tmp, "model"), {
    tokenizerDir: prep.tokenizerDir ?? undefined,
    extra: { hash, encoding: cfg.encoding, faithful: cfg.faithful, maxLength: cfg.maxLength },
  });
  prep.model.dispose();
  return { hash, dir: finalDir, config: cfg, metrics, history: result.history, info };
}

/**
 * The distillation teacher for the fit rows: the n-gram model cross-fitted on them (it never scores a row it saw),
 * fitted with the student's class weights when the config says so.
 */
function teacher(cfg: ExperimentConfig, fit: Row[], weights: number[] | null): TrainExtras["distill"] {
  const d = cfg.distill;
  if (!d) return undefined;
  const classWeights = d.classWeighted && weights ? weights : undefined;
  const teacherProbs = outOfFoldNgramProbs(fit, { seed: cfg.seed, folds: d.folds, classWeights });
  return { alpha: d.alpha, temperature: d.temperature, teacherProbs };
}

/** Run (or load) one experiment. */
export async function runExperiment(input: ExperimentConfig, opts: RunOptions = {}): Promise<RunResult> {
  const cfg = parseExperimentConfig(input);
  const hash = opts.hash ?? configHash(cfg);
  const runsDir = opts.runsDir ?? DEFAULT_RUNS_DIR;
  const finalDir = opts.out ? path.resolve(opts.out) : runDir(hash, runsDir);
  // a folder is loaded only when it proves itself: sealed files unchanged (loadRun), config.json hashing to `hash`
  const cached = (): RunResult | undefined => {
    const run = opts.force ? undefined : loadRun(finalDir);
    if (run && isRunOf(run, hash)) return { ...run, hash };
    return opts.force || opts.out ? undefined : opts.shipped?.get(hash);
  };
  const hit = cached();
  if (hit) {
    if (opts.verbose ?? true) console.log(`[medrel] run ${hash}: loaded from ${finalDir} (not retrained)`);
    return hit;
  }
  ensureFolder(path.dirname(finalDir), opts.out ? "--out's parent folder" : opts.runsDir ? "runs folder" : process.env.MEDREL_RUNS_DIR ? "MEDREL_RUNS_DIR" : "runs folder");
  const release = await lockRun(finalDir, (holder) => console.log(`[medrel] run ${hash}: another process is training it (${holder}); waiting for its result`));
  try {
    const done = cached();
    if (done) return done;
    cleanIncompleteRuns(path.dirname(finalDir));
    const writer = new RunWriter(finalDir, hash);
    try {
      const run = await trainRun(cfg, hash, finalDir, writer, opts);
      const kept = writer.commit();
      if (kept.length) console.warn(`[medrel] run ${hash}: kept ${kept.length} file(s) you added to ${finalDir} in the new run folder: ${kept.join(", ")}`);
      fs.rmSync(`${finalDir}${CKPT_SUFFIX}`, { recursive: true, force: true });
      return run;
    } catch (e) {
      writer.abort();
      throw explainOutOfMemory(withPath(e, finalDir));
    } finally {
      // keep the backend's memory flat across many runs in one process (grids)
      tf.disposeVariables();
    }
  } finally {
    release();
  }
}

/** A system error (a full disk: ENOSPC) names the run folder it was writing when its message names none. */
function withPath(e: unknown, dir: string): unknown {
  const err = e as NodeJS.ErrnoException;
  return err && typeof err.code === "string" && !(err.message ?? "").includes(path.sep) ? new Error(`${dir}: ${err.message}`) : e;
}

/** The WASM heap tops out at 4 GiB (weights + gradients + activations; the model recomputes layers to fit): say what to change. */
function explainOutOfMemory(e: unknown): unknown {
  const msg = e instanceof Error ? e.message : String(e);
  if (tf.getBackend() !== "wasm" || !/memory access out of bounds|Aborted\(\)|Out of memory/i.test(msg)) return e;
  return new Error(
    `the WASM backend ran out of its 4 GiB heap (${msg.split("\n")[0]}): lower batchSize or maxLength, use a smaller model, ` +
      `or install @tensorflow/tfjs-node / use a GPU (npm run doctor)`,
  );
}

/** A job's run, with the job's own fields (variant, seed, …) beside it. */
export type JobRun<J> = RunResult & Omit<J, "config">;

export interface GridRunOptions extends RunOptions {
  /** called after each job (done, total, the job's run) */
  onJob?: (done: number, total: number, run: RunResult) => void;
}

/**
 * Run (or load) every job, in order, and return the runs. Runs that exist are loaded; a grid killed mid-way and
 * re-run redoes only the missing runs.
 */
export async function runJobs<J extends { config: ExperimentConfig; hash: string; variant?: string; seed?: number; table?: string; label?: string }>(
  jobs: J[],
  opts: GridRunOptions = {},
): Promise<JobRun<J>[]> {
  const out: JobRun<J>[] = [];
  const seen = new Map<string, RunResult>();
  for (const job of jobs) {
    // what the progress display is titled: the job's own label, else its table, variant and seed
    const label = job.label ?? (job.variant !== undefined ? `${job.table ? `${job.table} table · ` : ""}${job.variant}, seed ${job.seed} (run ${job.hash})` : undefined);
    const run = seen.get(job.hash) ?? (await runExperiment(job.config, { ...opts, out: undefined, verbose: false, hash: job.hash, label }));
    seen.set(job.hash, run);
    const { config: _omit, ...rest } = job;
    out.push({ ...run, ...rest });
    opts.onJob?.(out.length, jobs.length, run);
  }
  return out;
}

/** The runs that already exist for these jobs (nothing is trained), and the jobs that have none yet. */
export function existingRuns<J extends { hash: string; config: ExperimentConfig }>(
  jobs: J[],
  runsDir = DEFAULT_RUNS_DIR,
  shipped?: ReadonlyMap<string, RunResult>,
): { runs: JobRun<J>[]; missing: J[] } {
  const runs: JobRun<J>[] = [];
  const missing: J[] = [];
  for (const job of jobs) {
    const r = loadRun(runDir(job.hash, runsDir)) ?? shipped?.get(job.hash);
    const { config: _omit, ...rest } = job;
    if (r && isRunOf(r, job.hash)) runs.push({ ...r, ...rest });
    else missing.push(job);
  }
  return { runs, missing };
}
