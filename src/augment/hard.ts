/**
 * Which classes count as "hard" (oversampled by the priority sampler, augmented by augmentTrain).
 *
 * Rules:
 * - "study" (the default): the study's fixed pair 并发症 (4) and 相关（导致） (8), the pairs its authors
 *   found most confused with 临床表现 and 病因. The study data is exactly balanced, so frequency
 *   cannot pick them.
 * - "lowest_dev_f1": the k classes with the lowest dev F1 of a first run (`devPerClassF1`).
 * - "lowest_frequency": the k classes with the fewest train rows, among classes present in train
 *   (`trainLabels`); a class with no rows cannot be oversampled or augmented.
 * k defaults to 2 (the study's pair size). Ties go to the lower class index, so on the balanced study
 * split "lowest_frequency" degenerates to classes 0 and 1 — one more reason "study" is the default.
 * Returns class indices (src/data/labels.ts order), ascending.
 */
import { LABEL_NAMES, NUM_LABELS, STUDY_HARD_CLASSES, labelIndex, normalizeLabel, type Label } from "../data/labels";
import { AugmentConfigError } from "./errors";

export type HardClassRule = "study" | "lowest_dev_f1" | "lowest_frequency";
export const HARD_CLASS_RULES: readonly HardClassRule[] = ["study", "lowest_dev_f1", "lowest_frequency"];
export const DEFAULT_HARD_CLASS_RULE: HardClassRule = "study";

export interface ChooseHardClassesOptions {
  rule?: HardClassRule;
  /** how many classes the data-driven rules pick; default 2 */
  k?: number;
  /** dev F1 per class: an array indexed by class, or a map keyed by label (any accepted spelling) */
  devPerClassF1?: readonly number[] | Readonly<Record<string, number>>;
  /** train labels, as class indices or label strings */
  trainLabels?: readonly (number | string)[];
}

function toIndex(field: string, v: number | string): number {
  if (typeof v === "number") {
    if (!Number.isInteger(v) || v < 0 || v >= NUM_LABELS) {
      throw new AugmentConfigError(field, `${v} is not a class index in [0, ${NUM_LABELS - 1}]`);
    }
    return v;
  }
  const l = normalizeLabel(v);
  if (!l) throw new AugmentConfigError(field, `unknown label "${v}"`);
  return labelIndex(l);
}

/** k lowest scores, ties to the lower class index; result ascending by class index */
function lowestK(scores: Map<number, number>, k: number): number[] {
  return [...scores]
    .sort((a, b) => a[1] - b[1] || a[0] - b[0])
    .slice(0, k)
    .map(([c]) => c)
    .sort((a, b) => a - b);
}

export function chooseHardClasses(opts: ChooseHardClassesOptions = {}): number[] {
  const rule = opts.rule ?? DEFAULT_HARD_CLASS_RULE;
  const k = opts.k ?? 2;
  if (!Number.isInteger(k) || k < 1 || k > NUM_LABELS) {
    throw new AugmentConfigError("k", `${k} is not an integer in [1, ${NUM_LABELS}]`);
  }
  switch (rule) {
    case "study":
      return STUDY_HARD_CLASSES.map(labelIndex).sort((a, b) => a - b);
    case "lowest_dev_f1": {
      const f1 = opts.devPerClassF1;
      if (!f1) throw new AugmentConfigError("devPerClassF1", `rule "lowest_dev_f1" needs the dev per-class F1 of a first run`);
      const scores = new Map<number, number>();
      const entries: [number | string, number][] = Array.isArray(f1)
        ? (f1 as readonly number[]).map((v, c) => [c, v] as [number, number])
        : Object.entries(f1);
      for (const [c, v] of entries) {
        const i = toIndex(`devPerClassF1[${String(c)}]`, c);
        if (typeof v !== "number" || !Number.isFinite(v)) {
          throw new AugmentConfigError(`devPerClassF1[${String(c)}]`, `${String(v)} is not a finite number`);
        }
        scores.set(i, v);
      }
      if (scores.size < k) throw new AugmentConfigError("devPerClassF1", `has ${scores.size} classes, fewer than k = ${k}`);
      return lowestK(scores, k);
    }
    case "lowest_frequency": {
      const ys = opts.trainLabels;
      if (!ys || ys.length === 0) throw new AugmentConfigError("trainLabels", `rule "lowest_frequency" needs the train labels`);
      const counts = new Map<number, number>();
      ys.forEach((y, i) => {
        const c = toIndex(`trainLabels[${i}]`, y);
        counts.set(c, (counts.get(c) ?? 0) + 1);
      });
      if (counts.size < k) throw new AugmentConfigError("trainLabels", `has ${counts.size} classes, fewer than k = ${k}`);
      return lowestK(counts, k);
    }
    default:
      throw new AugmentConfigError("rule", `"${String(rule)}" is not one of ${HARD_CLASS_RULES.join(", ")}`);
  }
}

/** Class indices -> label strings (for reports and augmentTrain). */
export function hardClassLabels(indices: readonly number[]): Label[] {
  return indices.map((i) => LABEL_NAMES[toIndex("hardClasses", i)]);
}
