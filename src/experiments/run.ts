/**
 * Run one experiment end to end: data -> (augmentation) -> tokenizer -> encodings -> model -> train ->
 * evaluate dev/test -> run folder. A run whose folder exists is loaded, not retrained, unless forced.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendInfo } from "../backend/select";
import { loadDataset, loadRows, formatLoadReport, type LoadReport } from "../data/load";
import { DEMO_DIR } from "../data/demo";
import { LABEL_NAMES, labelIndex, NUM_LABELS } from "../data/labels";
import type { Dataset, Row } from "../data/types";
import { RelationTokenizer, buildCharTokenizer, encodeDataset } from "../encoding";
import type { Encoded } from "../encoding/types";
import { BertForRelationClassification, loadPretrained, outOfFoldNgramProbs, parseConfig, presetConfig as modelPresetConfig, saveCheckpoint } from "../model";
import { augmentTrain, chooseHardClasses, studyBatchSampler } from "../augment";
import { train, evaluate, computeClassWeights, classCounts, type TrainConfig, type ClassWeightSpec } from "../train";
import { Rng } from "../random";
import type { ExperimentConfig } from "./config";
import { configHash, parseExperimentConfig } from "./config";
import { CKPT_SUFFIX, DEFAULT_RUNS_DIR, cleanIncompleteRuns, loadRun, RunWriter, type RunResult, type RunInfo, type Prediction } from "./store";

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
}

/** Resolve a DataSpec to splits (with the load report). Test split may be empty. */
export function loadExperimentData(cfg: ExperimentConfig): { dataset: Dataset; report: LoadReport | null; notes: string[] } {
  const d = cfg.data;
  if (d.kind === "demo" || d.kind === "dir") {
    const dir = d.kind === "demo" ? DEMO_DIR : path.resolve(d.dir);
    const ds = loadDataset(dir, { mode: "lenient" });
    return { dataset: ds, report: ds.report, notes: [formatLoadReport(ds.report, { maxPerKind: 3 })] };
  }
  const tr = loadRows(path.resolve(d.train), { mode: "lenient" });
  const dv = loadRows(path.resolve(d.dev), { mode: "lenient" });
  const te = d.test ? loadRows(path.resolve(d.test), { mode: "lenient" }) : null;
  const notes = [tr, dv, ...(te ? [te] : [])].map((r) => formatLoadReport(r.report, { maxPerKind: 3 }));
  return {
    dataset: { train: tr.rows, dev: dv.rows, test: te ? te.rows : [], source: d.train },
    report: null,
    notes,
  };
}

/** A label-stratified, seeded subset of at most n rows (n = 0: all). */
export function capRows(rows: Row[], n: number, seed: number): Row[] {
  if (n <= 0 || rows.length <= n) return rows;
  const byLabel = new Map<string, Row[]>();
  for (const r of rows) {
    const list = byLabel.get(r.r) ?? [];
    list.push(r);
    byLabel.set(r.r, list);
  }
  const rng = new Rng(seed ^ 0x5eed);
  const out: Row[] = [];
  const groups = [...byLabel.values()].map((g) => rng.shuffle([...g]));
  for (let i = 0; out.length < n; i++) {
    let any = false;
    for (const g of groups) {
      if (i < g.length && out.length < n) {
        out.push(g[i]);
        any = true;
      }
    }
    if (!any) break;
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
  const notes: string[] = [];
  const dir = m.kind === "checkpoint" ? m.dir : m.pretrained;
  if (dir) {
    if (!fs.existsSync(dir)) {
      throw new Error(`model folder not found: ${dir} (put a Hugging Face checkpoint there; see models/README.md)`);
    }
    const tokenizer = RelationTokenizer.fromDir(dir);
    const res = await loadPretrained(dir, {
      numLabels: NUM_LABELS,
      pooling: cfg.pooling,
      seed: cfg.seed,
      vocabSize: tokenizer.vocabSize,
      ignoreMismatchedHead: true,
    });
    notes.push(...res.notes, `loaded ${res.weightsFile}; ${res.missingKeys.length} keys initialised, ${res.unexpectedKeys.length} unused`);
    return { model: res.model, tokenizer, tokenizerDir: dir, notes };
  }
  // no checkpoint: a character vocabulary from the training sentences, random init
  const texts = train.flatMap((r) => [r.sentence, r.h, r.t]);
  const tokenizer = buildCharTokenizer(texts, { minFreq: 1 });
  const tokDir = path.join(tmpDir, "tokenizer");
  tokenizer.save(tokDir);
  const shapeFile = m.kind === "preset" && m.shapeFrom ? path.join(m.shapeFrom, "config.json") : null;
  const config = shapeFile
    ? { ...parseConfig(JSON.parse(fs.readFileSync(shapeFile, "utf8")), shapeFile), vocab_size: tokenizer.vocabSize }
    : { ...modelPresetConfig(m.kind === "preset" ? m.preset : "tiny", tokenizer.vocabSize) };
  config.max_position_embeddings = Math.max(config.max_position_embeddings, cfg.maxLength);
  const model = new BertForRelationClassification(config, { numLabels: NUM_LABELS, pooling: cfg.pooling, seed: cfg.seed });
  const shape = `L=${config.num_hidden_layers}/H=${config.hidden_size}`;
  notes.push(`random init (${shapeFile ? `${shape} from ${shapeFile}` : `${m.kind === "preset" ? m.preset : "?"}, ${shape}`}), character vocabulary of ${tokenizer.vocabSize} from train`);
  return { model, tokenizer, tokenizerDir: tokDir, notes };
}

function classWeightSpec(cfg: ExperimentConfig, trainLabels: number[]): ClassWeightSpec {
  const l = cfg.loss;
  switch (l.scheme) {
    case "none":
      return { scheme: "none" };
    case "manual":
      return { scheme: "manual", weights: l.manual ?? {} };
    case "hard_classes": {
      if (!l.devF1) throw new Error("loss.scheme hard_classes needs loss.devF1 (per-class dev F1 of a previous run)");
      return { scheme: "hard_classes", perClassF1: LABEL_NAMES.map((n) => l.devF1?.[n] ?? 0), alpha: l.alpha };
    }
    case "inverse":
    case "sqrt_inverse":
      return { scheme: l.scheme, counts: classCounts(trainLabels) };
    case "effective_number":
      return { scheme: "effective_number", counts: classCounts(trainLabels), beta: l.beta };
  }
}

function parameterCount(model: BertForRelationClassification): number {
  let n = 0;
  for (const v of model.params.values()) n += v.size;
  return n;
}

function predictionRows(rows: Row[], preds: number[], probs: number[][]): Prediction[] {
  return rows.map((r, i) => ({
    id: r.id,
    label: r.r,
    pred: LABEL_NAMES[preds[i]],
    probs: probs[i].map((p) => Math.round(p * 1e6) / 1e6),
  }));
}

/** Run (or load) one experiment. */
export async function runExperiment(input: ExperimentConfig, opts: RunOptions = {}): Promise<RunResult> {
  const cfg = parseExperimentConfig(input);
  const hash = configHash(cfg);
  const finalDir = opts.out ? path.resolve(opts.out) : path.join(opts.runsDir ?? DEFAULT_RUNS_DIR, hash);
  if (!opts.force) {
    const cached = loadRun(finalDir);
    if (cached && configHash(cached.config) === hash) {
      if (opts.verbose ?? true) console.log(`[medrel] run ${hash}: loaded from ${finalDir} (not retrained)`);
      return cached;
    }
  }
  const backend: BackendInfo = await initBackend({ verbose: false });
  const started = Date.now();
  const writer = new RunWriter(finalDir);
  try {
    const { dataset, notes: dataNotes } = loadExperimentData(cfg);
    let trainRows = capRows(dataset.train, cfg.maxTrainRows, cfg.seed);
    const devRows = capRows(dataset.dev, cfg.maxEvalRows, cfg.seed);
    const testRows = capRows(dataset.test, cfg.maxEvalRows, cfg.seed);
    let augmentReport: unknown;
    if (cfg.augment) {
      const hard = chooseHardClasses({ rule: cfg.augment.hardRule, trainLabels: trainRows.map((r) => labelIndex(r.r)) });
      const res = augmentTrain(
        trainRows,
        {
          hardClasses: hard,
          strategies: cfg.augment.strategies,
          multiplier: cfg.augment.multiplier,
          seed: cfg.seed,
        },
        { dev: devRows, test: testRows },
      );
      trainRows = res.rows;
      augmentReport = res.report;
    }
    const prep = await prepareModel(cfg, trainRows, writer.tmp);
    const encOpts = { encoding: cfg.encoding, maxLength: cfg.maxLength, faithful: cfg.faithful } as const;
    const trainEnc: Encoded[] = encodeDataset(prep.tokenizer, trainRows, encOpts).encoded;
    const devEnc: Encoded[] = encodeDataset(prep.tokenizer, devRows, encOpts).encoded;
    const testEnc: Encoded[] = testRows.length ? encodeDataset(prep.tokenizer, testRows, encOpts).encoded : [];

    const trainLabels = trainEnc.map((e) => e.label as number);
    // the teacher scores each training row with a model that never saw it (cross-fitting)
    const teacherProbs = cfg.distill
      ? outOfFoldNgramProbs(trainRows, { seed: cfg.seed, folds: cfg.distill.folds })
      : undefined;
    const weights = cfg.loss.scheme === "none" ? null : computeClassWeights(classWeightSpec(cfg, trainLabels));
    const tc: TrainConfig = {
      epochs: cfg.epochs,
      batchSize: cfg.batchSize,
      lr: cfg.lr,
      weightDecay: cfg.weightDecay,
      warmupRatio: cfg.warmupRatio,
      schedule: cfg.schedule,
      stepGamma: 0.5,
      maxGradNorm: cfg.maxGradNorm,
      classWeights: weights,
      lossReduction: cfg.loss.reduction,
      labelSmoothing: cfg.loss.labelSmoothing,
      focalGamma: cfg.loss.focalGamma,
      seed: cfg.seed,
      earlyStoppingPatience: cfg.earlyStoppingPatience,
      evalBatchSize: 64,
      layerwiseLrDecay: cfg.layerwiseLrDecay,
      sampler: cfg.sampler === "study" ? studyBatchSampler(trainLabels) : undefined,
      // an interrupted run resumes from its last finished epoch (weights, AdamW state, step) when re-run
      checkpointDir: `${finalDir}${CKPT_SUFFIX}`,
      checkpointTokenizerDir: prep.tokenizerDir ?? undefined,
      distill: cfg.distill && teacherProbs ? { alpha: cfg.distill.alpha, temperature: cfg.distill.temperature, teacherProbs } : undefined,
    };
    const t0 = Date.now();
    const result = await train(prep.model, trainEnc, devEnc, tc, { progress: opts.progress ?? "auto" });
    const trainSeconds = (Date.now() - t0) / 1000;

    const t1 = Date.now();
    const dev = await evaluate(prep.model, devEnc);
    const test = testEnc.length ? await evaluate(prep.model, testEnc) : null;
    const evalSeconds = (Date.now() - t1) / 1000;

    const info: RunInfo = {
      backend: backend.name,
      kernels: backend.kernels,
      threads: backend.threads,
      startedAt: new Date(started).toISOString(),
      seconds: { total: (Date.now() - started) / 1000, train: trainSeconds, eval: evalSeconds },
      trainRows: trainRows.length,
      devRows: devRows.length,
      testRows: testRows.length,
      vocabSize: prep.tokenizer.vocabSize,
      parameters: parameterCount(prep.model),
      bestEpoch: result.bestEpoch,
      dataReport: [...dataNotes, ...prep.notes],
      augmentReport,
      classWeights: weights,
      resumedFromEpoch: result.resumedFromEpoch,
      node: process.version,
    };
    writer.json("config.json", cfg);
    writer.json("metrics.json", { dev: dev.metrics, test: test ? test.metrics : null });
    writer.json("confusion.json", { labels: LABEL_NAMES, dev: dev.metrics.confusion, test: test?.metrics.confusion ?? null });
    writer.json("history.json", result.history);
    writer.json("run.json", info);
    writer.jsonl("predictions-dev.jsonl", predictionRows(devRows, dev.preds, dev.probs));
    if (test) writer.jsonl("predictions-test.jsonl", predictionRows(testRows, test.preds, test.probs));
    await saveCheckpoint(prep.model, path.join(writer.tmp, "model"), {
      tokenizerDir: prep.tokenizerDir ?? undefined,
      extra: { hash, encoding: cfg.encoding, faithful: cfg.faithful, maxLength: cfg.maxLength },
    });
    prep.model.dispose();
    writer.commit();
    fs.rmSync(`${finalDir}${CKPT_SUFFIX}`, { recursive: true, force: true });
    const loaded = loadRun(finalDir);
    if (!loaded) throw new Error(`run folder ${finalDir} incomplete after writing`);
    return loaded;
  } catch (e) {
    writer.abort();
    const msg = e instanceof Error ? e.message : String(e);
    if (backend.name === "wasm" && /memory access out of bounds|Aborted\(\)|Out of memory/i.test(msg)) {
      // the WASM heap tops out at 4 GiB (weights + gradients + activations; the model recomputes layers to fit)
      throw new Error(
        `the WASM backend ran out of its 4 GiB heap (${msg.split("\n")[0]}): lower batchSize or maxLength, ` +
          `use a smaller model, or install @tensorflow/tfjs-node / use a GPU (npm run doctor)`,
      );
    }
    throw e;
  } finally {
    // keep the backend's memory flat across many runs in one process (grids)
    tf.disposeVariables();
  }
}

export interface GridRunOptions extends RunOptions {
  /** called after each job (done, total, the job's run) */
  onJob?: (done: number, total: number, run: RunResult) => void;
}

/**
 * Run (or load) every job, in order. Runs that exist are loaded; a grid killed mid-way and re-run
 * redoes only the missing runs. Leftovers of killed runs are cleaned first.
 */
export async function runJobs<J extends { config: ExperimentConfig }>(
  jobs: J[],
  opts: GridRunOptions = {},
): Promise<(RunResult & Omit<J, "config">)[]> {
  cleanIncompleteRuns(opts.runsDir ?? DEFAULT_RUNS_DIR);
  const out: (RunResult & Omit<J, "config">)[] = [];
  const seen = new Map<string, RunResult>();
  let done = 0;
  for (const job of jobs) {
    const h = configHash(job.config);
    const run = seen.get(h) ?? (await runExperiment(job.config, { ...opts, out: undefined, verbose: false }));
    seen.set(h, run);
    const { config: _omit, ...rest } = job;
    out.push({ ...run, ...rest });
    opts.onJob?.(++done, jobs.length, run);
  }
  return out;
}
