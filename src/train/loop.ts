/**
 * The training loop: AdamW + schedule + global-norm clipping over dynamically padded batches, an evaluation on the
 * selection set every epoch, early stopping on its Macro-F1, the best epoch's weights restored at the end, and
 * resumable checkpoints (state.ts).
 *
 * Reproducibility: every random choice is derived from `cfg.seed` by position — epoch e's sampler gets
 * `new Rng(deriveSeed(seed, SAMPLER_STREAM, e))`, step s's dropout seed is `deriveSeed(seed, DROPOUT_STREAM, s)` —
 * so the RNG state at an epoch boundary is (seed, epoch, step) and a resumed run replays exactly what the
 * uninterrupted run would have done.
 */
import * as tf from "@tensorflow/tfjs";
import type { Encoded } from "../encoding/types";
import type { Metrics } from "../metrics";
import { Rng, deriveSeed } from "../random";
import type { BertForRelationClassification } from "../model";
import { type Batch, batchInputs, bucketedSampler, collate, validateEncoded } from "./batching";
import { TrainConfigError, TrainDataError } from "./errors";
import { evaluate } from "./inference";
import { crossEntropy, distillationLoss, type CrossEntropyOptions } from "./loss";
import { AdamW, clipByGlobalNorm, layerwiseLrMultipliers } from "./optimizer";
import { createProgress, type EpochRow, type Progress, type ProgressMode, type StepProgress } from "./progress";
import { lrMultiplier, type ScheduleOptions, warmupStepsFor } from "./schedule";
import { resumeTraining, saveProgress, type LoopPosition } from "./state";
import type { TrainConfig } from "./config";

type Model = BertForRelationClassification;

export interface TrainResult {
  history: EpochRow[];
  /** 0-based epoch whose weights the model holds on return; -1 when no epoch ran */
  bestEpoch: number;
  bestDevMacroF1: number;
  totalSeconds: number;
  totalSteps: number;
  stoppedEarly: boolean;
  /** epochs already done in the checkpoint this run resumed from (0 = fresh start) */
  resumedFromEpoch: number;
  /** where totalSeconds went: optimizer steps (mid-epoch saves included), each epoch's selection evaluation, end-of-epoch checkpoints */
  phases: { steps: number; selection: number; checkpoints: number };
}

export interface TrainHooks {
  /** a Progress, a mode for createProgress, or false for none; default "auto" */
  progress?: Progress | ProgressMode | false;
  /** after each optimizer step (loss already read back) */
  onStep?: (p: StepProgress) => void;
  /** after each epoch's evaluation and checkpoint; throwing aborts training (the checkpoint stays) */
  onEpochEnd?: (row: EpochRow, devMetrics: Metrics) => void | Promise<void>;
}

export const SAMPLER_STREAM = 1;
export const DROPOUT_STREAM = 2;

/** What every epoch shares: the model, its optimizer, the data and the schedule. */
interface Loop {
  model: Model;
  cfg: TrainConfig;
  trainSet: readonly Encoded[];
  vars: tf.Variable[];
  nameToKey: Map<string, string>;
  optimizer: AdamW;
  sched: ScheduleOptions;
  lossOpts: CrossEntropyOptions;
  progress: Progress;
  onStep?: TrainHooks["onStep"];
}

/** Every epoch's batches, fixed up front (the linear schedule needs the total step count), each checked. */
function planEpochs(cfg: TrainConfig, trainSet: readonly Encoded[]): number[][][] {
  const fallback = bucketedSampler(trainSet, { batchSize: cfg.batchSize, chunkBatches: cfg.bucketChunkBatches });
  return Array.from({ length: cfg.epochs }, (_, e) => {
    const plan = (cfg.samplerByEpoch?.(e) ?? cfg.sampler ?? fallback)(e, new Rng(deriveSeed(cfg.seed, SAMPLER_STREAM, e)));
    if (plan.length === 0) throw new TrainConfigError("sampler", `epoch ${e}: the sampler returned no batches`);
    plan.forEach((b, j) => {
      if (b.length === 0) throw new TrainConfigError("sampler", `epoch ${e}: batch ${j} is empty`);
      const bad = b.find((i) => !(Number.isInteger(i) && i >= 0 && i < trainSet.length));
      if (bad !== undefined) throw new TrainConfigError("sampler", `epoch ${e}: batch ${j} holds row ${bad}, outside [0, ${trainSet.length - 1}]`);
    });
    return plan;
  });
}

/** The loop's fixed parts: trainable variables by HF key, AdamW (with layer-wise decay), the schedule. */
function setUp(model: Model, trainSet: readonly Encoded[], cfg: TrainConfig, totalSteps: number, progress: Progress): Loop {
  const nameToKey = new Map<string, string>();
  for (const [k, v] of model.params) nameToKey.set(v.name, k);
  const vars = model.trainableVariables();
  for (const v of vars) {
    if (!nameToKey.has(v.name)) throw new TrainConfigError("model", `trainable variable "${v.name}" is not in model.params`);
  }
  const trainable = new Map([...model.params].filter(([, v]) => vars.includes(v)));
  const decay = cfg.layerwiseLrDecay ?? 1;
  const optimizer = new AdamW(trainable, {
    lr: cfg.lr,
    weightDecay: cfg.weightDecay,
    lrMultipliers: decay === 1 ? undefined : layerwiseLrMultipliers(trainable.keys(), decay),
  });
  const sched: ScheduleOptions = { schedule: cfg.schedule, totalSteps, warmupSteps: warmupStepsFor(totalSteps, cfg.warmupRatio), stepGamma: cfg.stepGamma };
  const lossOpts: CrossEntropyOptions = { classWeights: cfg.classWeights, reduction: cfg.lossReduction, labelSmoothing: cfg.labelSmoothing, focalGamma: cfg.focalGamma };
  return { model, cfg, trainSet, vars, nameToKey, optimizer, sched, lossOpts, progress };
}

/** The teacher's probability rows of one batch, as a [B, C] tensor. */
function teacherBatch(probs: Float32Array, rows: readonly number[], C: number): tf.Tensor2D {
  const out = new Float32Array(rows.length * C);
  rows.forEach((r, b) => out.set(probs.subarray(r * C, (r + 1) * C), b * C));
  return tf.tensor2d(out, [rows.length, C]);
}

/** One optimizer update on one batch; returns the batch loss. */
async function step(L: Loop, rows: readonly number[], lr: number, dropoutSeed: number): Promise<number> {
  const { model, cfg } = L;
  const C = model.numLabels;
  const batch: Batch = collate(L.trainSet, rows, model.config.pad_token_id);
  const lossT = tf.tidy(() => {
    const inputs = batchInputs(batch);
    const labels = tf.tensor1d(batch.labels!, "int32");
    const teacher = cfg.distill ? teacherBatch(cfg.distill.teacherProbs, rows, C) : null;
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.forward(inputs, { training: true, dropoutSeed }).logits;
      const hard = crossEntropy(logits, labels, L.lossOpts);
      if (!teacher || !cfg.distill) return hard;
      const weighting = cfg.classWeights ? { classWeights: cfg.classWeights, labels, reduction: cfg.lossReduction } : undefined;
      return distillationLoss(logits, teacher, hard, cfg.distill, weighting);
    }, L.vars);
    const byKey = new Map<string, tf.Tensor>();
    for (const [name, g] of Object.entries(grads)) byKey.set(L.nameToKey.get(name)!, g);
    L.optimizer.step(clipByGlobalNorm(byKey, cfg.maxGradNorm).grads, lr);
    return value;
  });
  const loss = (await lossT.data())[0];
  lossT.dispose();
  return loss;
}

/** Where an epoch starts: batch `from` of its plan, with the loss and rows of the batches before it (a mid-epoch resume). */
interface EpochStart {
  globalStep: number;
  from: number;
  lossSum: number;
  rows: number;
}

/**
 * The optimizer steps of one epoch from `start`; `save(batchesDone, lossSum, rows, globalStep)` is called mid-epoch
 * when a checkpoint is due. Returns the epoch's mean loss, rows seen, last lr and the step count after it.
 */
async function trainEpoch(
  L: Loop,
  epoch: number,
  plan: number[][],
  start: EpochStart,
  save?: (done: number, lossSum: number, rows: number, globalStep: number) => Promise<void>,
): Promise<{ loss: number; seen: number; lr: number; globalStep: number; seconds: number; started: number }> {
  const { cfg } = L;
  const t0 = Date.now();
  L.progress.startEpoch(epoch, cfg.epochs, plan.length);
  let { lossSum, rows: seen, globalStep } = start;
  let lr = cfg.lr;
  let lastSave = { step: globalStep, time: t0 };
  for (let j = start.from; j < plan.length; j++) {
    lr = cfg.lr * lrMultiplier(L.sched, globalStep, epoch);
    const loss = await step(L, plan[j], lr, deriveSeed(cfg.seed, DROPOUT_STREAM, globalStep));
    if (!Number.isFinite(loss)) throw new TrainDataError(`epoch ${epoch} step ${globalStep}: training loss is ${loss} (lr ${lr}); lower lr or check the labels`);
    globalStep++;
    lossSum += loss;
    seen += plan[j].length;
    const secs = (Date.now() - t0) / 1000;
    const sp: StepProgress = {
      epoch,
      epochs: cfg.epochs,
      step: j + 1,
      stepsInEpoch: plan.length,
      globalStep,
      totalSteps: L.sched.totalSteps,
      loss: lossSum / (j + 1),
      lr,
      samplesPerSec: secs > 0 ? (seen - start.rows) / secs : 0,
      epochSeconds: secs,
    };
    L.progress.update(sp);
    L.onStep?.(sp);
    const due = (cfg.checkpointEverySteps !== undefined && globalStep - lastSave.step >= cfg.checkpointEverySteps) ||
      (cfg.checkpointEverySeconds !== undefined && Date.now() - lastSave.time >= 1000 * cfg.checkpointEverySeconds);
    if (save && due && j + 1 < plan.length) {
      await save(j + 1, lossSum, seen, globalStep);
      lastSave = { step: globalStep, time: Date.now() };
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  return { loss: lossSum / plan.length, seen, lr, globalStep, seconds, started: t0 };
}

function resolveProgress(p: TrainHooks["progress"]): Progress {
  if (p === false) return createProgress({ mode: "silent" });
  return typeof p === "object" ? p : createProgress({ mode: p ?? "auto" });
}

/**
 * Fine-tune `model` on `trainSet`, evaluating on `devSet` (the selection set) after every epoch. On return the model
 * holds the weights of the epoch with the best selection Macro-F1.
 */
export async function train(model: Model, trainSet: readonly Encoded[], devSet: readonly Encoded[], cfg: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const t0 = Date.now();
  const C = model.numLabels;
  validateEncoded(trainSet, "trainSet", C, true);
  validateEncoded(devSet, "devSet", C, true);
  if (cfg.classWeights && cfg.classWeights.length !== C) throw new TrainConfigError("classWeights", `has ${cfg.classWeights.length} weights, the model has ${C} labels`);
  if (cfg.distill && cfg.distill.teacherProbs.length !== trainSet.length * C) {
    throw new TrainConfigError("distill", `teacherProbs covers ${cfg.distill.teacherProbs.length / C} rows, trainSet has ${trainSet.length}`);
  }
  const plans = planEpochs(cfg, trainSet);
  const totalSteps = plans.reduce((a, p) => a + p.length, 0);
  const L: Loop = { ...setUp(model, trainSet, cfg, totalSteps, resolveProgress(hooks.progress)), onStep: hooks.onStep };
  let pos: LoopPosition = { epochsDone: 0, globalStep: 0, history: [], bestEpoch: -1, bestDevMacroF1: -Infinity, epochsWithoutImprovement: 0, stoppedEarly: false };
  // the best epoch's weights, kept in memory (clones share data with the variables until these change)
  let best: Map<string, tf.Tensor> | undefined;
  const phases = { steps: 0, selection: 0, checkpoints: 0 };
  const replaceBest = (m: Map<string, tf.Tensor>): void => {
    if (best) for (const t of best.values()) t.dispose();
    best = m;
  };
  try {
    const resumed = cfg.checkpointDir ? await resumeTraining(cfg.checkpointDir, model, L.optimizer, cfg, totalSteps) : undefined;
    if (resumed) {
      pos = resumed.position;
      if (resumed.best) replaceBest(resumed.best);
      const mid = pos.stepInEpoch ? ` and ${pos.stepInEpoch} batches of epoch ${pos.epochsDone + 1}` : "";
      L.progress.note(`resumed from ${resumed.from}: ${pos.epochsDone}/${cfg.epochs} epochs done${mid}, step ${pos.globalStep}`);
    }
    for (let epoch = pos.epochsDone; epoch < cfg.epochs && !pos.stoppedEarly; epoch++) {
      const resumeMid = epoch === pos.epochsDone ? pos : undefined;
      const start: EpochStart = { globalStep: pos.globalStep, from: resumeMid?.stepInEpoch ?? 0, lossSum: resumeMid?.partialLoss ?? 0, rows: resumeMid?.partialRows ?? 0 };
      const at = pos;
      const saveMid = cfg.checkpointDir
        ? (done: number, lossSum: number, rows: number, globalStep: number): Promise<void> =>
            saveProgress(cfg.checkpointDir!, model, L.optimizer, cfg, { ...at, globalStep, stepInEpoch: done, partialLoss: lossSum, partialRows: rows }, totalSteps, false)
        : undefined;
      const e = await trainEpoch(L, epoch, plans[epoch], start, saveMid);
      phases.steps += e.seconds;
      const evStarted = Date.now();
      const ev = await evaluate(model, devSet, { batchSize: cfg.evalBatchSize, loss: L.lossOpts });
      phases.selection += (Date.now() - evStarted) / 1000;
      const row: EpochRow = {
        epoch,
        step: e.globalStep,
        trainLoss: e.loss,
        devLoss: ev.loss,
        devMacroF1: ev.metrics.macro_f1,
        devMicroF1: ev.metrics.micro_f1,
        lr: e.lr,
        // the epoch's wall time, its evaluation included
        seconds: (Date.now() - e.started) / 1000,
        samplesPerSec: e.seconds > 0 ? e.seen / e.seconds : 0,
      };
      const isBest = row.devMacroF1 > pos.bestDevMacroF1;
      const bad = isBest ? 0 : pos.epochsWithoutImprovement + 1;
      pos = {
        epochsDone: epoch + 1,
        globalStep: e.globalStep,
        history: [...pos.history, row],
        bestEpoch: isBest ? epoch : pos.bestEpoch,
        bestDevMacroF1: isBest ? row.devMacroF1 : pos.bestDevMacroF1,
        epochsWithoutImprovement: bad,
        stoppedEarly: cfg.earlyStoppingPatience > 0 && bad >= cfg.earlyStoppingPatience && epoch < cfg.epochs - 1,
      };
      const saveStarted = Date.now();
      if (isBest) replaceBest(new Map([...model.params].map(([k, v]) => [k, tf.clone(v)])));
      if (cfg.checkpointDir) await saveProgress(cfg.checkpointDir, model, L.optimizer, cfg, pos, totalSteps, isBest);
      phases.checkpoints += (Date.now() - saveStarted) / 1000;
      L.progress.endEpoch(row, cfg.epochs, isBest);
      await hooks.onEpochEnd?.(row, ev.metrics);
      if (pos.stoppedEarly) L.progress.note(`early stopping: no better selection Macro-F1 for ${bad} epoch(s); best epoch ${pos.bestEpoch + 1}`);
    }
    if (best) for (const [k, v] of model.params) v.assign(best.get(k)!);
    return {
      history: pos.history,
      bestEpoch: pos.bestEpoch,
      bestDevMacroF1: pos.bestEpoch >= 0 ? pos.bestDevMacroF1 : NaN,
      totalSeconds: (Date.now() - t0) / 1000,
      totalSteps,
      stoppedEarly: pos.stoppedEarly,
      resumedFromEpoch: resumed ? resumed.position.epochsDone : 0,
      phases,
    };
  } finally {
    L.progress.stop();
    L.optimizer.dispose();
    if (best) for (const t of best.values()) t.dispose();
  }
}
