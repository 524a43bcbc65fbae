/**
 * Run one experiment end to end: data -> (augmentation) -> tokenizer -> encodings -> model -> train ->
 * evaluate -> run folder. A run whose folder exists is loaded, not retrained, unless forced; one process at a
 * time trains a given run (the others wait for it and load its result). What a run reads from other jobs (its
 * n-gram teacher, the unweighted reference of `hard_classes`) is made, or loaded, first, as jobs of their own.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendInfo } from "../backend/select";
import { usePrecision } from "../backend/precision";
import { backendNumerics } from "../backend/numerics";
import { LABEL_NAMES, NUM_LABELS } from "../data/labels";
import type { Row } from "../data/types";
import type { LoadMode } from "../data/checks";
import { RelationTokenizer, buildCharTokenizer, encodeDataset } from "../encoding";
import type { Encoded } from "../encoding/types";
import { BertForRelationClassification, loadPretrained, parseConfig, shapeConfig, saveCheckpoint } from "../model";
import { lengthAlignedSampler, studyBatchSampler, type BatchSampler } from "../augment";
import { train, evaluate, computeClassWeights, createProgress, toTrainConfig, type TrainExtras, type TrainResult } from "../train";
import { notebookProgress } from "../report/progress";
import { fromProjectPath, parseExperimentConfig, type ExperimentConfig, type ValidConfig } from "../runs/config";
import type { RunInfo, RunRecord, RunSeconds, SplitMetrics } from "../runs/record";
import { predictionRows } from "../runs/predictions";
import { CKPT_SUFFIX, DEFAULT_RUNS_DIR, cleanIncompleteRuns, ensureFolder, isRunOf, loadRun, lockRun, runDir, RunWriter } from "../runs/store";
import { classWeightSpec, fitLabels, formatDataReport, loadExperimentData, runRows, type Fitted, type RunRows } from "./rows";
import { fitNgram } from "./baseline";
import { makeTeacher, rowsDigest, type TeacherFit, type TeacherRecord, type TeacherSpec } from "./teacher";
import { gridPlan, runJob, type GridJob, type Job, type RunJob, type TeacherJob } from "./grids";

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
  shipped?: ReadonlyMap<string, RunRecord>;
}

interface Prepared {
  model: BertForRelationClassification;
  tokenizer: RelationTokenizer;
  tokenizerDir: string | null;
  notes: string[];
}

async function prepareModel(cfg: ValidConfig, train: Row[], tmpDir: string): Promise<Prepared> {
  const m = cfg.model;
  const configured = m.kind === "checkpoint" ? m.dir : m.kind === "preset" ? m.pretrained : null;
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

/** What a run reads from the jobs made before it (RunJob.needs). */
export interface RunInputs {
  reference?: RunRecord;
  teacher?: TeacherRecord;
}

/** The distillation options of a run: its teacher's probabilities, checked to be fitted on the rows this run trains on. */
function distillFrom(cfg: ValidConfig, fit: readonly Row[], teacher?: TeacherRecord): TrainExtras["distill"] {
  const d = cfg.distill;
  if (!d) return undefined;
  if (!teacher) throw new Error("distill: this run reads its n-gram teacher, a job of its own (runJob names it); make it first");
  if (teacher.rows !== fit.length || teacher.fit !== rowsDigest(fit)) {
    throw new Error(`${teacher.dir}: the teacher was fitted on other rows (${teacher.rows}, digest ${teacher.fit}) than this run trains on (${fit.length}, digest ${rowsDigest(fit)})`);
  }
  return { alpha: d.alpha, temperature: d.temperature, teacherProbs: teacher.probs };
}

/** The study's balanced-then-priority batches, length-aligned when the config asks (less padding, same quotas). */
function studySampler(cfg: ValidConfig, fitEnc: readonly Encoded[]): BatchSampler {
  const labels = fitEnc.map((e) => e.label as number);
  const study = studyBatchSampler(labels, { batches: cfg.samplerEpoch });
  return cfg.lengthAligned ? lengthAlignedSampler(study, labels, fitEnc.map((e) => e.inputIds.length)) : study;
}

/** Fine-tune an encoder on a run's rows, score it, and save it into `writer`'s temp folder (model/). */
async function fitEncoder(job: RunJob, finalDir: string, writer: RunWriter, opts: RunOptions, rows: RunRows, inputs: RunInputs): Promise<Fitted> {
  const backend = await initBackend({ verbose: false });
  // the run's product precision until it ends (float32 again after, for whatever the process does next)
  const precision = usePrecision(job.config.precision ?? "f32");
  try {
    return await fitEncoderAt(backendNumerics(backend, precision), backend, job, finalDir, writer, opts, rows, inputs);
  } finally {
    usePrecision("f32");
  }
}

async function fitEncoderAt(numerics: string, backend: BackendInfo, job: RunJob, finalDir: string, writer: RunWriter, opts: RunOptions, rows: RunRows, inputs: RunInputs): Promise<Fitted> {
  const { config: cfg, hash, label } = job;
  const started = Date.now();
  const prep = await prepareModel(cfg, rows.fit, writer.tmp);
  const prepared = Date.now();
  const enc = (rs: Row[]): Encoded[] => (rs.length ? encodeDataset(prep.tokenizer, rs, { encoding: cfg.encoding, maxLength: cfg.maxLength, faithful: cfg.faithful }).encoded : []);
  const [fitEnc, selectionEnc, devEnc, testEnc] = [enc(rows.fit), enc(rows.selection), enc(rows.dev), enc(rows.test)];
  const encoded = Date.now();
  const weights = cfg.loss.scheme === "none" ? null : computeClassWeights(classWeightSpec(cfg.loss, fitLabels(rows.fit), inputs.reference));
  const tc = toTrainConfig(cfg, {
    classWeights: weights,
    sampler: cfg.sampler === "study" ? studySampler(cfg, fitEnc) : undefined,
    // an interrupted run resumes from its last finished epoch (weights, AdamW state, step) when re-run
    checkpointDir: `${finalDir}${CKPT_SUFFIX}`,
    // a long epoch (a base model at 300 tokens: hours) also saves mid-epoch, so a killed run loses minutes, not an epoch
    checkpointEverySeconds: opts.checkpointSeconds ?? 600,
    checkpointTokenizerDir: prep.tokenizerDir ?? undefined,
    distill: distillFrom(cfg, rows.fit, inputs.teacher),
  });
  const t0 = Date.now();
  const progress = opts.progress === false ? false : createProgress({ label: label ?? `run ${hash}`, notebook: notebookProgress });
  const result: TrainResult = await train(prep.model, fitEnc, selectionEnc, tc, { progress });
  const t1 = Date.now();
  const selection = await evaluate(prep.model, selectionEnc);
  // selecting on dev (the data has a test split): the same rows, scored once
  const dev = rows.selection === rows.dev ? selection : await evaluate(prep.model, devEnc);
  const test = testEnc.length ? await evaluate(prep.model, testEnc) : null;
  const ended = Date.now();
  await saveCheckpoint(prep.model, path.join(writer.tmp, "model"), {
    tokenizerDir: prep.tokenizerDir ?? undefined,
    extra: { hash, encoding: cfg.encoding, faithful: cfg.faithful, maxLength: cfg.maxLength },
  });
  const s = (ms: number): number => ms / 1000;
  const seconds: RunSeconds = {
    total: s(ended - started),
    train: s(t1 - t0),
    eval: s(ended - t1),
    model: s(prepared - started),
    encode: s(encoded - prepared),
    ...result.phases,
    // the model's weights here; trainRun adds the run folder's other files
    write: s(Date.now() - ended),
  };
  const info = {
    backend: backend.name,
    kernels: backend.kernels,
    threads: backend.threads,
    cpu: backend.cpu,
    blasCore: backend.blasCore,
    denormalsFlushed: backend.denormalsFlushed,
    numerics,
    startedAt: new Date(started).toISOString(),
    seconds,
    trainRows: rows.fit.length,
    selectionRows: rows.selection.length,
    devRows: rows.dev.length,
    testRows: rows.test.length,
    vocabSize: prep.tokenizer.vocabSize,
    parameters: prep.model.numParameters(),
    bestEpoch: result.bestEpoch,
    dataReport: prep.notes,
    augmentReport: rows.augmentReport,
    classWeights: weights,
    teacherClassWeights: cfg.distill?.classWeighted && weights ? weights : null,
    resumedFromEpoch: result.resumedFromEpoch,
    node: process.version,
  };
  prep.model.dispose();
  const metrics: SplitMetrics = { selection: selection.metrics, dev: dev.metrics, test: test ? test.metrics : null };
  const predictions: Fitted["predictions"] = { selection: { rows: rows.selection, out: selection }, dev: { rows: rows.dev, out: dev }, ...(test ? { test: { rows: rows.test, out: test } } : {}) };
  return { metrics, history: result.history, info, predictions };
}

/** Train one run (an encoder, or the n-gram baseline) into `writer`'s temp folder and return what it will hold once committed. */
async function trainRun(job: RunJob, finalDir: string, writer: RunWriter, opts: RunOptions, inputs: RunInputs): Promise<RunRecord> {
  const { config: cfg, hash } = job;
  const t0 = Date.now();
  const data = loadExperimentData(cfg, loadMode(opts));
  const dataReport = formatDataReport(data);
  opts.onDataReport?.(dataReport);
  const rows = runRows(cfg, data.dataset);
  const dataSeconds = (Date.now() - t0) / 1000;
  const fitted = cfg.model.kind === "ngram" ? fitNgram(rows, cfg.seed) : await fitEncoder(job, finalDir, writer, opts, rows, inputs);
  const { metrics, history, predictions } = fitted;
  const t1 = Date.now();
  writer.json("config.json", cfg);
  writer.json("metrics.json", metrics);
  writer.json("confusion.json", { labels: LABEL_NAMES, selection: metrics.selection?.confusion, dev: metrics.dev.confusion, test: metrics.test?.confusion ?? null });
  writer.json("history.json", history);
  for (const split of ["selection", "dev", "test"] as const) {
    const p = predictions[split];
    if (p) writer.jsonl(`predictions-${split}.jsonl`, predictionRows(p.rows, p.out));
  }
  // run.json last, so that its write phase covers every other file
  const s = fitted.info.seconds;
  // the data's load report first, then the model's notes on it
  const info: RunInfo = { ...fitted.info, dataReport: [dataReport, ...fitted.info.dataReport], seconds: { ...s, data: dataSeconds, write: (s.write ?? 0) + (Date.now() - t1) / 1000 } };
  writer.json("run.json", info);
  return { hash, dir: finalDir, config: cfg, metrics, history, info };
}

/** Run (or load) one experiment; the jobs it reads (runJob's needs) are made, or loaded, first. */
export async function runExperiment(input: ExperimentConfig, opts: RunOptions = {}): Promise<RunRecord> {
  return runConfig(parseExperimentConfig(input), opts);
}

/** Run (or load) the experiment of a config validated at its edge (the CLI's flags and file, a grid's job). */
export async function runConfig(config: ValidConfig, opts: RunOptions = {}): Promise<RunRecord> {
  return makeRun(runJob(config, opts.label, opts.hash), opts, making(opts));
}

/** Train (or load) the run of a job; `inputs` makes what it reads, called only when it has to train. */
async function trainOrLoad(job: RunJob, opts: RunOptions, inputs: () => Promise<RunInputs>): Promise<RunRecord> {
  const { hash } = job;
  const runsDir = opts.runsDir ?? DEFAULT_RUNS_DIR;
  const finalDir = opts.out ? path.resolve(opts.out) : runDir(hash, runsDir);
  // a folder is loaded only when it proves itself: sealed files unchanged (loadRun), config.json hashing to `hash`
  const cached = (): RunRecord | undefined => {
    const run = opts.force ? undefined : loadRun(finalDir);
    if (run && isRunOf(run, hash)) return { ...run, hash };
    return opts.force || opts.out ? undefined : opts.shipped?.get(hash);
  };
  const hit = cached();
  if (hit) {
    if (opts.verbose ?? true) console.log(`[medrel] run ${hash}: loaded from ${finalDir} (not retrained)`);
    return hit;
  }
  // what it reads (its teacher, its reference run) is made before its lock is taken, each under its own
  const given = await inputs();
  ensureRunsFolder(path.dirname(finalDir), opts);
  const release = await lockRun(finalDir, (holder) => console.log(`[medrel] run ${hash}: another process is training it (${holder}); waiting for its result`));
  try {
    const done = cached();
    if (done) return done;
    cleanIncompleteRuns(path.dirname(finalDir));
    const writer = new RunWriter(finalDir, hash);
    try {
      const run = await trainRun(job, finalDir, writer, opts, given);
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

/** How a run and its teacher load their data: failing on the first bad row, or skipping and reporting it. */
function loadMode(opts: RunOptions): LoadMode {
  return opts.strict ? "strict" : "lenient";
}

/** Make the folder a run (or teacher) is written into, naming it as the user gave it when it cannot be a folder. */
function ensureRunsFolder(dir: string, opts: RunOptions): void {
  ensureFolder(dir, opts.out ? "--out's parent folder" : opts.runsDir ? "runs folder" : process.env.MEDREL_RUNS_DIR ? "MEDREL_RUNS_DIR" : "runs folder");
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

/** The jobs made so far in one call, by hash: a job that several runs read is made, or loaded, once. */
interface Making {
  /** the options of the jobs that others read (their runs folder, progress, strictness; never --out or --force) */
  deps: RunOptions;
  runs: Map<string, Promise<RunRecord>>;
  teachers: Map<string, Promise<TeacherRecord>>;
}

function making(opts: RunOptions): Making {
  const { runsDir, progress, strict, checkpointSeconds, shipped } = opts;
  return { deps: { runsDir, progress, strict, checkpointSeconds, shipped, verbose: false }, runs: new Map(), teachers: new Map() };
}

function memo<T>(made: Map<string, Promise<T>>, hash: string, make: () => Promise<T>): Promise<T> {
  let p = made.get(hash);
  if (!p) made.set(hash, (p = make()));
  return p;
}

/** Make (or load) a run job; what it reads is made first with the dependency options. */
function makeRun(job: RunJob, opts: RunOptions, m: Making): Promise<RunRecord> {
  return memo(m.runs, job.hash, () =>
    trainOrLoad(job, opts, async () => ({
      reference: job.needs.reference && (await makeRun(job.needs.reference, m.deps, m)),
      teacher: job.needs.teacher && (await makeTeacherJob(job.needs.teacher, m)),
    })),
  );
}

function makeTeacherJob(job: TeacherJob, m: Making): Promise<TeacherRecord> {
  const reference = job.needs.reference;
  return memo(m.teachers, job.hash, async () => {
    ensureRunsFolder(m.deps.runsDir ?? DEFAULT_RUNS_DIR, m.deps);
    return makeTeacher(job.spec, job.hash, {
      runsDir: m.deps.runsDir,
      reference: reference && (() => makeRun(reference, m.deps, m)),
      fit: (ref) => teacherFit(job.spec, m.deps, ref),
    });
  });
}

/** What a teacher is fitted on: its runs' training rows, loaded as they load them, and their loss's class weights. */
function teacherFit(spec: TeacherSpec, opts: RunOptions, reference?: RunRecord): TeacherFit {
  const fit = runRows(spec, loadExperimentData(spec, loadMode(opts)).dataset).fit;
  return { rows: fit, classWeights: spec.weights && computeClassWeights(classWeightSpec(spec.weights, fitLabels(fit), reference)) };
}

/** A job's run as the one record type: the table row a grid's job runs it as (its variant) named on it. */
type RunOf<J> = J extends { variant: string } ? RunRecord & { variant: string } : RunRecord;

function jobRun<J>(run: RunRecord, job: J): RunOf<J> {
  const variant = (job as { variant?: string }).variant;
  return (variant === undefined ? run : { ...run, variant }) as RunOf<J>;
}

export interface GridRunOptions extends RunOptions {
  /** called after each run job (done, total, the job's run) */
  onJob?: (done: number, total: number, run: RunRecord) => void;
  /** called after each teacher the grid fits or loads */
  onTeacher?: (teacher: TeacherRecord) => void;
}

/** What the progress display calls a job: its own label, else its table, variant and seed. */
function jobLabel(job: RunJob & Partial<Pick<Job, "table" | "variant" | "seed">>): string | undefined {
  return job.label ?? (job.variant !== undefined ? `${job.table ? `${job.table} table · ` : ""}${job.variant}, seed ${job.seed} (run ${job.hash})` : undefined);
}

/** A teacher is fitted only for a run that still has to train (a grid whose runs exist, or were shipped, loads them without it). */
function teacherWanted(teacher: TeacherJob, plan: readonly GridJob[], opts: RunOptions): boolean {
  const done = (hash: string): boolean => opts.shipped?.has(hash) === true || loadRun(runDir(hash, opts.runsDir ?? DEFAULT_RUNS_DIR)) !== undefined;
  return plan.some((j) => j.kind === "run" && j.needs.teacher?.hash === teacher.hash && !done(j.hash));
}

/**
 * Run (or load) every job of the grid's plan (gridPlan: each job once, after what it reads), and return the runs of
 * the given run jobs, in order. Runs that exist are loaded; a grid killed mid-way and re-run redoes only the
 * missing runs.
 */
export async function runJobs<J extends GridJob>(jobs: readonly J[], opts: GridRunOptions = {}): Promise<RunOf<Extract<J, RunJob>>[]> {
  const m = making(opts);
  const plan = gridPlan(jobs);
  const total = plan.filter((j) => j.kind === "run").length;
  let done = 0;
  for (const job of plan) {
    if (job.kind === "teacher") {
      if (teacherWanted(job, plan, opts)) opts.onTeacher?.(await makeTeacherJob(job, m));
      continue;
    }
    // the job carries its label (the progress display's name for it), as runConfig's and every need's do
    const run = await makeRun({ ...job, label: jobLabel(job) }, { ...opts, out: undefined, verbose: false }, m);
    opts.onJob?.(++done, total, run);
  }
  const out: RunOf<Extract<J, RunJob>>[] = [];
  for (const job of jobs) {
    if (job.kind !== "run") continue;
    out.push(jobRun(await m.runs.get(job.hash)!, job as Extract<J, RunJob>));
  }
  return out;
}

/** The runs that already exist for these jobs (run folders, or runs shipped in results files; nothing is trained), and the jobs that have none yet. */
export function existingRuns<J extends { hash: string; config: ValidConfig }>(jobs: J[], runsDir = DEFAULT_RUNS_DIR, shipped?: ReadonlyMap<string, RunRecord>): { runs: RunOf<J>[]; missing: J[] } {
  const runs: RunOf<J>[] = [];
  const missing: J[] = [];
  for (const job of jobs) {
    const r = loadRun(runDir(job.hash, runsDir)) ?? shipped?.get(job.hash);
    if (r && isRunOf(r, job.hash)) runs.push(jobRun(r, job));
    else missing.push(job);
  }
  return { runs, missing };
}
