/**
 * The trainer's resumable state under `checkpointDir` (last/ + best/, see checkpoint.ts): what an epoch boundary
 * writes and what a re-run reads back to continue exactly where the interrupted run stopped.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { BertForRelationClassification, SaveCheckpointOptions } from "../model";
import { CHECKPOINT_FILES, completeFolder, readModelWeights, saveModelFolder, writeFolder } from "./checkpoint";
import { CheckpointError } from "./errors";
import type { AdamW } from "./optimizer";
import type { EpochRow } from "./progress";
import type { TrainConfig } from "./config";

type Model = BertForRelationClassification;

const STATE_VERSION = 1;

/** Where the loop stands after an epoch: enough, with the weights and AdamW moments, to resume exactly. */
export interface LoopPosition {
  /** epochs completed */
  epochsDone: number;
  globalStep: number;
  history: EpochRow[];
  bestEpoch: number;
  bestDevMacroF1: number;
  epochsWithoutImprovement: number;
  stoppedEarly: boolean;
  /** mid-epoch save: batches of epoch `epochsDone` already trained, and their summed loss and rows (0 at epoch ends) */
  stepInEpoch?: number;
  partialLoss?: number;
  partialRows?: number;
}

interface TrainerState extends LoopPosition {
  version: number;
  totalSteps: number;
  /** all randomness derives from (seed, stream, index): this is the whole RNG state */
  rng: { seed: number; nextEpoch: number; nextStep: number };
  config: Record<string, unknown>;
}

/** TrainConfig fields that do not shape the training trajectory (where things go, how they are evaluated). */
const NOT_TRAJECTORY = new Set<keyof TrainConfig>([
  "evalBatchSize",
  "sampler",
  "samplerByEpoch",
  "checkpointDir",
  "checkpointTokenizerDir",
  "checkpointEverySteps",
  "checkpointEverySeconds",
  "distill",
]);

/** The fields that shape the training trajectory: what a resumed run must share with its checkpoint. */
export function trajectoryFingerprint(cfg: TrainConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { layerwiseLrDecay: 1, bucketChunkBatches: 50 };
  for (const [k, v] of Object.entries(cfg)) if (!NOT_TRAJECTORY.has(k as keyof TrainConfig) && v !== undefined) out[k] = v;
  // a resumed run must distil from the same teacher
  if (cfg.distill) {
    const p = cfg.distill.teacherProbs;
    const digest = createHash("sha256").update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength)).digest("hex").slice(0, 16);
    out.distill = { alpha: cfg.distill.alpha, temperature: cfg.distill.temperature, teacher: `${p.length}:${digest}` };
  }
  return out;
}

function saveOpts(cfg: TrainConfig, epoch: number, devMacroF1: number): SaveCheckpointOptions {
  return { tokenizerDir: cfg.checkpointTokenizerDir, extra: { epoch, devMacroF1, trainer: "medrel.train" } };
}

/**
 * Write last/ (weights, AdamW moments, state): at an epoch end (and best/ for a new best epoch), or mid-epoch
 * (pos.stepInEpoch > 0) so that a long epoch killed half-way resumes from its last save, not its start.
 */
export async function saveProgress(dir: string, model: Model, optimizer: AdamW, cfg: TrainConfig, pos: LoopPosition, totalSteps: number, isBest: boolean): Promise<void> {
  const midEpoch = (pos.stepInEpoch ?? 0) > 0;
  const epoch = midEpoch ? pos.epochsDone : pos.epochsDone - 1;
  const f1 = midEpoch ? NaN : pos.history[epoch].devMacroF1;
  const state: TrainerState = {
    ...pos,
    version: STATE_VERSION,
    totalSteps,
    rng: { seed: cfg.seed, nextEpoch: pos.epochsDone, nextStep: pos.globalStep },
    config: trajectoryFingerprint(cfg),
  };
  await writeFolder(path.join(dir, "last"), async (tmp) => {
    await saveModelFolder(model, tmp, saveOpts(cfg, epoch, f1));
    await optimizer.save(path.join(tmp, CHECKPOINT_FILES.optimizer));
    fs.writeFileSync(path.join(tmp, CHECKPOINT_FILES.state), JSON.stringify(state, null, 1));
  });
  if (isBest) await writeFolder(path.join(dir, "best"), (tmp) => saveModelFolder(model, tmp, saveOpts(cfg, epoch, f1)));
}

/** The epoch recorded in best/config.json by saveOpts, undefined when there is none. */
function bestEpochOnDisk(bestDir: string): number | undefined {
  const dir = completeFolder(bestDir, "config.json");
  if (!dir) return undefined;
  try {
    const raw = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as { medrel?: { extra?: { epoch?: unknown } } };
    const e = raw.medrel?.extra?.epoch;
    return typeof e === "number" ? e : undefined;
  } catch {
    return undefined;
  }
}

function readState(file: string): TrainerState {
  let s: TrainerState;
  try {
    s = JSON.parse(fs.readFileSync(file, "utf8")) as TrainerState;
  } catch (e) {
    throw new CheckpointError(file, `unreadable trainer state (${(e as Error).message})`);
  }
  if (s.version !== STATE_VERSION) throw new CheckpointError(file, `trainer state version ${s.version}, expected ${STATE_VERSION}`);
  return s;
}

/**
 * A position this run can have reached: never more epochs than its config trains, one history row per epoch done,
 * never more steps than it plans. A state that claims otherwise (an edited epochsDone: 999) would count an
 * unfinished run as done: it is refused, naming the file and what to do.
 */
function checkPosition(s: TrainerState, cfg: TrainConfig, stateFile: string, dir: string): void {
  const fresh = `; this checkpoint cannot be trusted: delete ${dir} to train the run afresh`;
  const int = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
  if (!int(s.epochsDone) || s.epochsDone > cfg.epochs) throw new CheckpointError(stateFile, `epochsDone ${JSON.stringify(s.epochsDone)} is not between 0 and this run's ${cfg.epochs} epochs${fresh}`);
  if (!Array.isArray(s.history) || s.history.length !== s.epochsDone) {
    throw new CheckpointError(stateFile, `epochsDone ${s.epochsDone}, but its history holds ${Array.isArray(s.history) ? s.history.length : "no"} epochs${fresh}`);
  }
  if (!int(s.globalStep) || s.globalStep > s.totalSteps) throw new CheckpointError(stateFile, `step ${JSON.stringify(s.globalStep)} is beyond the ${s.totalSteps} steps the run plans${fresh}`);
  const stepInEpoch = s.stepInEpoch ?? 0;
  if (!int(stepInEpoch) || (stepInEpoch > 0 && s.epochsDone >= cfg.epochs)) throw new CheckpointError(stateFile, `stepInEpoch ${JSON.stringify(stepInEpoch)} is not a position in an unfinished epoch${fresh}`);
  if (!Number.isInteger(s.bestEpoch) || s.bestEpoch < -1 || s.bestEpoch >= s.epochsDone) throw new CheckpointError(stateFile, `bestEpoch ${JSON.stringify(s.bestEpoch)} is not one of its ${s.epochsDone} epochs done${fresh}`);
}

/** Assign tensors (stored layout, keyed like model.params) to the model's variables, then dispose them. */
function assignWeights(model: Model, weights: Map<string, tf.Tensor>): void {
  for (const [k, v] of model.params) v.assign(weights.get(k)!);
  for (const t of weights.values()) t.dispose();
}

export interface Resumed {
  from: string;
  position: LoopPosition;
  /** the best epoch's weights (stored layout), when one exists */
  best?: Map<string, tf.Tensor>;
}

/**
 * Continue from `dir`/last when it holds a checkpoint: the model and optimizer get its weights and moments, and the
 * loop its position. Undefined when there is nothing to resume. A checkpoint written with another trajectory
 * (config, data, sampler) is refused.
 */
export async function resumeTraining(dir: string, model: Model, optimizer: AdamW, cfg: TrainConfig, totalSteps: number): Promise<Resumed | undefined> {
  const from = completeFolder(path.join(dir, "last"), CHECKPOINT_FILES.state);
  if (!from) return undefined;
  const stateFile = path.join(from, CHECKPOINT_FILES.state);
  const s = readState(stateFile);
  const fingerprint = trajectoryFingerprint(cfg);
  const diff = Object.keys({ ...s.config, ...fingerprint }).filter((k) => JSON.stringify(s.config[k]) !== JSON.stringify(fingerprint[k]));
  if (diff.length) throw new CheckpointError(stateFile, `was written with a different config (${diff.join(", ")}); use another checkpointDir`);
  if (s.totalSteps !== totalSteps) throw new CheckpointError(stateFile, `planned ${s.totalSteps} steps, this run plans ${totalSteps} (different data or sampler?)`);
  checkPosition(s, cfg, stateFile, dir);
  assignWeights(model, readModelWeights(model, from));
  optimizer.load(path.join(from, CHECKPOINT_FILES.optimizer));
  if (optimizer.stepCount !== s.globalStep) throw new CheckpointError(from, `optimizer step ${optimizer.stepCount} ≠ trainer step ${s.globalStep}`);
  const position: LoopPosition = {
    epochsDone: s.epochsDone,
    globalStep: s.globalStep,
    history: s.history,
    bestEpoch: s.bestEpoch,
    bestDevMacroF1: s.bestDevMacroF1 ?? -Infinity,
    epochsWithoutImprovement: s.epochsWithoutImprovement,
    stoppedEarly: s.stoppedEarly,
    stepInEpoch: s.stepInEpoch ?? 0,
    partialLoss: s.partialLoss ?? 0,
    partialRows: s.partialRows ?? 0,
  };
  if (s.bestEpoch < 0) return { from, position };
  const bestDir = path.join(dir, "best");
  const onDisk = bestEpochOnDisk(bestDir);
  if (s.bestEpoch === s.epochsDone - 1 && !(s.stepInEpoch ?? 0)) {
    // last/ is written before best/, so when the last epoch was the best, best/ may lag behind: rewrite it
    if (onDisk !== s.bestEpoch) await writeFolder(bestDir, (tmp) => saveModelFolder(model, tmp, saveOpts(cfg, s.bestEpoch, s.bestDevMacroF1)));
    return { from, position, best: new Map([...model.params].map(([k, v]) => [k, tf.clone(v)])) };
  }
  if (onDisk !== s.bestEpoch) throw new CheckpointError(bestDir, `holds epoch ${onDisk ?? "none"}, but ${stateFile} says the best epoch is ${s.bestEpoch}`);
  return { from, position, best: readModelWeights(model, bestDir) };
}
