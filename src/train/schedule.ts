/**
 * Learning-rate schedules, as multipliers of the base rate at optimizer update `step` (0-based: the
 * number of updates already applied, which is how Hugging Face's LambdaLR schedules count) and epoch.
 * - linear:   HF get_linear_schedule_with_warmup — step/warmup during warmup, then linear to 0 at totalSteps.
 * - constant: HF get_constant_schedule_with_warmup — warmup, then 1.
 * - step:     torch StepLR(step_size = 1 epoch, gamma) — gamma^epoch (the study: 0.5, halving every
 *             epoch), times the warmup ramp when warmupSteps > 0.
 * Note HF's linear warmup gives the very first update a rate of 0; we keep that to match it.
 */
import { TrainConfigError } from "./errors";

export type ScheduleName = "linear" | "step" | "constant";
export const SCHEDULE_NAMES: readonly ScheduleName[] = ["linear", "step", "constant"];

export interface ScheduleOptions {
  schedule: ScheduleName;
  /** total number of optimizer updates in the run (linear decay reaches 0 there) */
  totalSteps: number;
  warmupSteps: number;
  /** StepLR's gamma (per epoch); only for "step" */
  stepGamma?: number;
}

/** HF TrainingArguments: warmup steps = ceil(totalSteps · warmupRatio). */
export function warmupStepsFor(totalSteps: number, warmupRatio: number): number {
  if (!(warmupRatio >= 0 && warmupRatio <= 1)) {
    throw new TrainConfigError("warmupRatio", `must be in [0, 1], got ${warmupRatio}`);
  }
  return Math.ceil(totalSteps * warmupRatio);
}

export function lrMultiplier(opts: ScheduleOptions, step: number, epoch: number): number {
  const { totalSteps, warmupSteps } = opts;
  const warm = step < warmupSteps ? step / Math.max(1, warmupSteps) : 1;
  switch (opts.schedule) {
    case "linear":
      if (step < warmupSteps) return warm;
      return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
    case "constant":
      return warm;
    case "step": {
      const gamma = opts.stepGamma ?? 0.5;
      if (!(gamma > 0)) throw new TrainConfigError("stepGamma", `must be > 0, got ${gamma}`);
      return warm * gamma ** epoch;
    }
    default:
      throw new TrainConfigError("schedule", `unknown schedule "${String(opts.schedule)}" (${SCHEDULE_NAMES.join(", ")})`);
  }
}

/** Learning rate at (step, epoch) for a base rate. */
export function scheduledLr(baseLr: number, opts: ScheduleOptions, step: number, epoch: number): number {
  return baseLr * lrMultiplier(opts, step, epoch);
}
