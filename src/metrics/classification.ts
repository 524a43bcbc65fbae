/**
 * Classification metrics with scikit-learn's semantics (precision_recall_fscore_support with
 * average=None / "macro" / "micro", labels = every class even when absent, confusion_matrix).
 *
 * Zero-division convention: a ratio whose denominator is 0 (precision of a class never predicted,
 * recall of a class absent from y_true, F1 of a class with tp = fp = fn = 0) takes the value
 * `zeroDivision`, default 0 — sklearn's zero_division=0; its default "warn" also yields 0.
 * Per-class F1 is 2·tp / (2·tp + fp + fn), which equals 2PR/(P+R) and matches sklearn 1.2 and ≥1.3
 * for both zero_division settings. Macro-F1 is the mean of per-class F1 (sklearn), NOT the F1 of macro P/R.
 */
import { LABEL_NAMES, NUM_LABELS } from "../data/labels";

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** number of true instances of the class */
  support: number;
}

export interface Metrics {
  /** keyed by label name, in label order */
  per_class: Record<string, ClassScores>;
  macro_precision: number;
  macro_recall: number;
  macro_f1: number;
  micro_f1: number;
  /** best class F1 − worst class F1, over classes present in y_true (all classes when none is) */
  f1_range: number;
  accuracy: number;
  /** rows = true class, columns = predicted class */
  confusion: number[][];
  n: number;
}

export interface MetricsOptions {
  /** number of classes; default labels.length when labels are given, else 10 */
  numLabels?: number;
  /** class names used as per_class keys; default LABEL_NAMES */
  labels?: readonly string[];
  /** value of a 0/0 ratio; default 0 (sklearn zero_division=0) */
  zeroDivision?: 0 | 1;
}

/** Bad metric inputs: mismatched lengths, labels out of range, inconsistent options. */
export class MetricsInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetricsInputError";
  }
}

function checkLabels(name: string, ys: ArrayLike<number>, numLabels: number): void {
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (!Number.isInteger(y) || y < 0 || y >= numLabels) {
      throw new MetricsInputError(
        `${name}[${i}] = ${y} is not a class index in [0, ${numLabels - 1}]`,
      );
    }
  }
}

/** sklearn.metrics.confusion_matrix(yTrue, yPred, labels=range(numLabels)): rows = true, cols = pred. */
export function confusionMatrix(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numLabels: number = NUM_LABELS,
): number[][] {
  if (!Number.isInteger(numLabels) || numLabels < 1) {
    throw new MetricsInputError(`numLabels must be a positive integer, got ${numLabels}`);
  }
  if (yTrue.length !== yPred.length) {
    throw new MetricsInputError(
      `yTrue and yPred differ in length: ${yTrue.length} vs ${yPred.length}`,
    );
  }
  checkLabels("yTrue", yTrue, numLabels);
  checkLabels("yPred", yPred, numLabels);
  const cm: number[][] = Array.from({ length: numLabels }, () => new Array<number>(numLabels).fill(0));
  for (let i = 0; i < yTrue.length; i++) cm[yTrue[i]][yPred[i]]++;
  return cm;
}

/** Precision, recall, F1 per class and their macro/micro averages, sklearn-style. */
export function classificationMetrics(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  opts: MetricsOptions = {},
): Metrics {
  const labels = opts.labels ?? (opts.numLabels === undefined || opts.numLabels === NUM_LABELS ? LABEL_NAMES : undefined);
  const numLabels = opts.numLabels ?? labels?.length ?? NUM_LABELS;
  const names = labels ?? Array.from({ length: numLabels }, (_, i) => String(i));
  if (names.length !== numLabels) {
    throw new MetricsInputError(`labels has ${names.length} names but numLabels is ${numLabels}`);
  }
  if (new Set(names).size !== names.length) {
    throw new MetricsInputError(`labels contains duplicate names`);
  }
  const zd = opts.zeroDivision ?? 0;
  if (zd !== 0 && zd !== 1) throw new MetricsInputError(`zeroDivision must be 0 or 1, got ${zd}`);
  if (yTrue.length === 0) throw new MetricsInputError("no samples: yTrue and yPred are empty");

  const confusion = confusionMatrix(yTrue, yPred, numLabels);
  const div = (a: number, b: number): number => (b === 0 ? zd : a / b);

  const per_class: Record<string, ClassScores> = {};
  let sumP = 0, sumR = 0, sumF = 0, tpAll = 0, fpAll = 0, fnAll = 0;
  const presentF1: number[] = [];
  const allF1: number[] = [];
  for (let c = 0; c < numLabels; c++) {
    const tp = confusion[c][c];
    let support = 0, predicted = 0;
    for (let k = 0; k < numLabels; k++) {
      support += confusion[c][k];
      predicted += confusion[k][c];
    }
    const fp = predicted - tp;
    const fn = support - tp;
    const precision = div(tp, predicted);
    const recall = div(tp, support);
    const f1 = div(2 * tp, 2 * tp + fp + fn);
    per_class[names[c]] = { precision, recall, f1, support };
    sumP += precision;
    sumR += recall;
    sumF += f1;
    tpAll += tp;
    fpAll += fp;
    fnAll += fn;
    allF1.push(f1);
    if (support > 0) presentF1.push(f1);
  }
  const rangeOver = presentF1.length > 0 ? presentF1 : allF1;
  const n = yTrue.length;
  return {
    per_class,
    macro_precision: sumP / numLabels,
    macro_recall: sumR / numLabels,
    macro_f1: sumF / numLabels,
    micro_f1: div(2 * tpAll, 2 * tpAll + fpAll + fnAll),
    f1_range: Math.max(...rangeOver) - Math.min(...rangeOver),
    accuracy: tpAll / n,
    confusion,
    n,
  };
}

/** Index of the largest value (first one on ties, like numpy.argmax). */
export function argmax(xs: ArrayLike<number>): number {
  if (xs.length === 0) throw new MetricsInputError("argmax of an empty array");
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** Row-wise argmax of a row-major [rows × numCols] matrix (e.g. a flat probs/logits buffer). */
export function argmaxRows(flat: ArrayLike<number>, numCols: number): number[] {
  if (!Number.isInteger(numCols) || numCols < 1 || flat.length % numCols !== 0) {
    throw new MetricsInputError(`argmaxRows: length ${flat.length} is not a multiple of ${numCols}`);
  }
  const out: number[] = [];
  for (let r = 0; r * numCols < flat.length; r++) {
    let best = 0;
    const o = r * numCols;
    for (let c = 1; c < numCols; c++) if (flat[o + c] > flat[o + best]) best = c;
    out.push(best);
  }
  return out;
}

/**
 * The metrics a confusion matrix stands for (rows = true, columns = predicted), by the same code as
 * classificationMetrics, so a stored Metrics record can be checked against its own matrix to the last bit.
 */
export function metricsFromConfusion(confusion: readonly (readonly number[])[], labels: readonly string[] = LABEL_NAMES): Metrics {
  const k = labels.length;
  if (confusion.length !== k || confusion.some((row) => row.length !== k)) throw new MetricsInputError(`confusion: expected a ${k}×${k} matrix`);
  const yTrue: number[] = [];
  const yPred: number[] = [];
  confusion.forEach((row, t) =>
    row.forEach((count, p) => {
      if (!Number.isInteger(count) || count < 0 || count > 1e8) throw new MetricsInputError(`confusion[${t}][${p}] = ${count} is not a count`);
      for (let i = 0; i < count; i++) {
        yTrue.push(t);
        yPred.push(p);
      }
    }),
  );
  return classificationMetrics(yTrue, yPred, { labels });
}

/**
 * The first field where two Metrics records differ ("macro_f1: 0.9432 vs 0.8932"), comparing every number (per class
 * too, and the confusion matrix) to within `tol`; undefined when they agree.
 */
export function metricsDifference(a: Metrics, b: Metrics, tol = 1e-9): string | undefined {
  const near = (x: number, y: number) => Math.abs(x - y) <= tol;
  for (const f of ["macro_f1", "micro_f1", "macro_precision", "macro_recall", "f1_range", "accuracy", "n"] as const) {
    if (!near(a[f], b[f])) return `${f}: ${a[f]} vs ${b[f]}`;
  }
  const classes = [...new Set([...Object.keys(a.per_class), ...Object.keys(b.per_class)])];
  for (const c of classes) {
    const [x, y] = [a.per_class[c], b.per_class[c]];
    if (!x || !y) return `per_class.${c}: ${x ? "present" : "absent"} vs ${y ? "present" : "absent"}`;
    for (const f of ["f1", "precision", "recall", "support"] as const) if (!near(x[f], y[f])) return `per_class.${c}.${f}: ${x[f]} vs ${y[f]}`;
  }
  for (let t = 0; t < Math.max(a.confusion.length, b.confusion.length); t++) {
    const [x, y] = [a.confusion[t] ?? [], b.confusion[t] ?? []];
    for (let p = 0; p < Math.max(x.length, y.length); p++) if (x[p] !== y[p]) return `confusion[${t}][${p}]: ${x[p]} vs ${y[p]}`;
  }
  return undefined;
}
