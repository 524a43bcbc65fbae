/**
 * Per-class loss weights (a number per label, label-index order), as pure functions.
 * The study's data are balanced, so its weights target *hard* classes, not rare ones; the
 * frequency-based schemes are here for imbalanced data (e.g. CMeIE) and comparison.
 *
 * Schemes:
 * - none:             all 1.
 * - manual:           a per-label map, 1 (or `defaultWeight`) elsewhere. The study: 2.0 for 并发症 and 相关（导致）.
 * - hard_classes:     from a previous run's dev per-class F1: w_c = 1 + α·(1 − F1_c), α default 1
 *                     (not normalised: a perfect class keeps 1, a class at F1 0 gets 1 + α).
 * - inverse:          w_c ∝ 1 / n_c, normalised to mean 1.
 * - sqrt_inverse:     w_c ∝ 1 / √n_c, normalised to mean 1.
 * - effective_number: Cui et al. (2019) "Class-Balanced Loss": w_c ∝ (1 − β) / (1 − β^n_c), β default 0.999,
 *                     normalised to mean 1 (the paper normalises to sum K, the same thing).
 * Frequency schemes: a class absent from the counts (n_c = 0) gets weight 1 and the mean-1
 * normalisation runs over the present classes (its weight never matters for the training loss).
 */
import { Label, LABEL_NAMES, NUM_LABELS, normalizeLabel, STUDY_HARD_CLASSES } from "../data/labels";
import type { Metrics } from "../metrics";
import { TrainConfigError } from "./errors";

export type ClassWeightScheme = "none" | "manual" | "hard_classes" | "inverse" | "sqrt_inverse" | "effective_number";
export const CLASS_WEIGHT_SCHEMES: readonly ClassWeightScheme[] = [
  "none",
  "manual",
  "hard_classes",
  "inverse",
  "sqrt_inverse",
  "effective_number",
];

/** Label (any accepted spelling) or label index → weight. */
export type ManualWeights = Record<string, number> | Map<string | number, number>;

export type ClassWeightSpec =
  | { scheme: "none" }
  | { scheme: "manual"; weights: ManualWeights; defaultWeight?: number }
  | { scheme: "hard_classes"; perClassF1: number[] | Metrics; alpha?: number }
  | { scheme: "inverse"; counts: number[] }
  | { scheme: "sqrt_inverse"; counts: number[] }
  | { scheme: "effective_number"; counts: number[]; beta?: number };

/** The study's weights: 2.0 for the hard classes 并发症 (4) and 相关（导致） (8), 1.0 for the rest. */
export const STUDY_MANUAL_WEIGHTS: Readonly<Record<Label, number>> = Object.fromEntries(
  STUDY_HARD_CLASSES.map((l) => [l, 2.0]),
) as Record<Label, number>;

function checkWeights(ws: number[], field: string): number[] {
  ws.forEach((w, i) => {
    if (!(Number.isFinite(w) && w >= 0)) throw new TrainConfigError(field, `weight of class ${i} is ${w}; weights must be finite and ≥ 0`);
  });
  return ws;
}

/** Occurrences of each label index in `labels` (length numLabels). */
export function classCounts(labels: ArrayLike<number>, numLabels: number = NUM_LABELS): number[] {
  const out = new Array<number>(numLabels).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numLabels) {
      throw new TrainConfigError("classWeights", `label[${i}] = ${y} is not in [0, ${numLabels - 1}]`);
    }
    out[y]++;
  }
  return out;
}

export function noneWeights(numLabels: number = NUM_LABELS): number[] {
  return new Array<number>(numLabels).fill(1);
}

function labelKeyToIndex(key: string | number, numLabels: number): number {
  if (typeof key === "number" || /^\d+$/.test(key)) {
    const i = Number(key);
    if (i >= 0 && i < numLabels) return i;
    throw new TrainConfigError("classWeights", `manual weight for index ${key} outside [0, ${numLabels - 1}]`);
  }
  const l = normalizeLabel(key);
  const i = l === undefined ? -1 : LABEL_NAMES.indexOf(l);
  if (i < 0 || i >= numLabels) throw new TrainConfigError("classWeights", `manual weight for unknown label "${key}"`);
  return i;
}

export function manualWeights(
  weights: ManualWeights,
  defaultWeight = 1,
  numLabels: number = NUM_LABELS,
): number[] {
  const out = new Array<number>(numLabels).fill(defaultWeight);
  const entries = weights instanceof Map ? [...weights] : Object.entries(weights);
  for (const [k, w] of entries) out[labelKeyToIndex(k, numLabels)] = w;
  return checkWeights(out, "classWeights");
}

/** Per-class F1 in label order, from an array or a Metrics object (per_class is in label order). */
function f1Array(src: number[] | Metrics): number[] {
  return Array.isArray(src) ? src : Object.values(src.per_class).map((s) => s.f1);
}

export function hardClassWeights(perClassF1: number[] | Metrics, alpha = 1): number[] {
  const f1 = f1Array(perClassF1);
  if (!(alpha >= 0)) throw new TrainConfigError("classWeights", `hard_classes alpha must be ≥ 0, got ${alpha}`);
  return checkWeights(
    f1.map((f, i) => {
      if (!(f >= 0 && f <= 1)) throw new TrainConfigError("classWeights", `F1 of class ${i} is ${f}, not in [0, 1]`);
      return 1 + alpha * (1 - f);
    }),
    "classWeights",
  );
}

/** Apply raw(n_c) to present classes, normalise those to mean 1, give absent classes 1. */
function frequencyWeights(counts: number[], raw: (n: number) => number): number[] {
  counts.forEach((n, i) => {
    if (!(Number.isInteger(n) && n >= 0)) throw new TrainConfigError("classWeights", `count of class ${i} is ${n}`);
  });
  const present = counts.map((n) => n > 0);
  const k = present.filter(Boolean).length;
  if (k === 0) throw new TrainConfigError("classWeights", "all class counts are 0");
  const w = counts.map((n, i) => (present[i] ? raw(n) : 0));
  const mean = w.reduce((a, b) => a + b, 0) / k;
  return checkWeights(w.map((x, i) => (present[i] ? x / mean : 1)), "classWeights");
}

export function inverseFrequencyWeights(counts: number[]): number[] {
  return frequencyWeights(counts, (n) => 1 / n);
}

export function sqrtInverseFrequencyWeights(counts: number[]): number[] {
  return frequencyWeights(counts, (n) => 1 / Math.sqrt(n));
}

export function effectiveNumberWeights(counts: number[], beta = 0.999): number[] {
  if (!(beta >= 0 && beta < 1)) throw new TrainConfigError("classWeights", `effective_number beta must be in [0, 1), got ${beta}`);
  // (1 − β)/(1 − β^n); β = 0 gives 1 for every class (no re-weighting)
  return frequencyWeights(counts, (n) => (1 - beta) / (1 - beta ** n));
}

/** Weights for any scheme, length numLabels (frequency/F1 inputs must already have that length). */
export function computeClassWeights(spec: ClassWeightSpec, numLabels: number = NUM_LABELS): number[] {
  let out: number[];
  switch (spec.scheme) {
    case "none":
      out = noneWeights(numLabels);
      break;
    case "manual":
      out = manualWeights(spec.weights, spec.defaultWeight ?? 1, numLabels);
      break;
    case "hard_classes":
      out = hardClassWeights(spec.perClassF1, spec.alpha ?? 1);
      break;
    case "inverse":
      out = inverseFrequencyWeights(spec.counts);
      break;
    case "sqrt_inverse":
      out = sqrtInverseFrequencyWeights(spec.counts);
      break;
    case "effective_number":
      out = effectiveNumberWeights(spec.counts, spec.beta ?? 0.999);
      break;
    default:
      throw new TrainConfigError(
        "classWeights",
        `unknown scheme "${(spec as { scheme: string }).scheme}" (${CLASS_WEIGHT_SCHEMES.join(", ")})`,
      );
  }
  if (out.length !== numLabels) {
    throw new TrainConfigError("classWeights", `${spec.scheme} gave ${out.length} weights, expected ${numLabels}`);
  }
  return out;
}
