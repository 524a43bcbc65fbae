/**
 * Cross-entropy for relation classification, PyTorch-compatible.
 *
 * Per row i with label y_i, log-probabilities logp = log_softmax(logits) and class weights w (default all 1):
 *   nll_i    = -logp[i, y_i]
 *   row_i    = (1 - eps) * w[y_i] * nll_i + (eps / C) * sum_c w[c] * (-logp[i, c])     (label smoothing eps)
 *   row_i   *= (1 - p[i, y_i])^gamma                                                    (focal, gamma > 0)
 * Reduction:
 *   "weighted_mean" (default): sum_i row_i / sum_i w[y_i] — PyTorch CrossEntropyLoss(weight=w), what the study ran
 *   "mean":                    sum_i row_i / N            — the formula the study's report writes
 * Without class weights both are the plain mean. With eps > 0 and weights, "weighted_mean" equals
 * torch.nn.functional.cross_entropy(weight=w, label_smoothing=eps) exactly (same per-class weighting of the
 * smoothing term). The focal factor is not detached (Lin et al. 2017).
 */
import * as tf from "@tensorflow/tfjs";

export type LossReduction = "weighted_mean" | "mean";

export interface CrossEntropyOptions {
  classWeights?: number[] | null;
  reduction?: LossReduction;
  labelSmoothing?: number;
  focalGamma?: number;
}

export class LossInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`crossEntropy ${field}: ${message}`);
    this.name = "LossInputError";
  }
}

export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, opts: CrossEntropyOptions = {}): tf.Scalar {
  const reduction = opts.reduction ?? "weighted_mean";
  const eps = opts.labelSmoothing ?? 0;
  const gamma = opts.focalGamma ?? 0;
  if (logits.rank !== 2) throw new LossInputError("logits", `expected rank 2 [N, C], got [${logits.shape.join(", ")}]`);
  const [N, C] = logits.shape;
  if (labels.rank !== 1 || labels.shape[0] !== N) throw new LossInputError("labels", `expected shape [${N}], got [${labels.shape.join(", ")}]`);
  if (labels.dtype !== "int32") throw new LossInputError("labels", `expected int32, got ${labels.dtype}`);
  if (N === 0) throw new LossInputError("logits", "empty batch");
  if (reduction !== "weighted_mean" && reduction !== "mean") throw new LossInputError("reduction", `unknown "${String(reduction)}"`);
  if (!(eps >= 0 && eps <= 1)) throw new LossInputError("labelSmoothing", `must be in [0, 1], got ${eps}`);
  if (!(gamma >= 0)) throw new LossInputError("focalGamma", `must be >= 0, got ${gamma}`);
  const w = opts.classWeights ?? null;
  if (w !== null && (w.length !== C || !w.every((x) => Number.isFinite(x) && x >= 0))) {
    throw new LossInputError("classWeights", `expected ${C} finite non-negative weights, got [${w.join(", ")}]`);
  }
  const y = labels.dataSync();
  for (let i = 0; i < y.length; i++) {
    if (!(y[i] >= 0 && y[i] < C)) throw new LossInputError("labels", `label ${y[i]} at row ${i} is outside [0, ${C})`);
  }

  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits, -1);
    const oneHot = tf.oneHot(labels, C).toFloat();
    const nll = tf.neg(tf.sum(tf.mul(oneHot, logp), 1)); // [N]
    const wVec = w === null ? tf.ones([C]) : tf.tensor1d(w, "float32");
    const wRow = tf.sum(tf.mul(oneHot, wVec), 1); // w[y_i], [N]
    let rows = tf.mul(wRow, nll);
    if (eps > 0) {
      const smooth = tf.neg(tf.sum(tf.mul(logp, wVec), 1));
      rows = tf.add(tf.mul(1 - eps, rows), tf.mul(eps / C, smooth));
    }
    if (gamma > 0) {
      const pTrue = tf.exp(tf.neg(nll));
      rows = tf.mul(tf.pow(tf.sub(1, pTrue), gamma), rows);
    }
    const denom = reduction === "weighted_mean" ? tf.sum(wRow) : tf.scalar(N);
    return tf.div(tf.sum(rows), denom) as tf.Scalar;
  });
}

export interface DistillOptions {
  /** weight of the distillation term; the hard-label loss gets 1 − alpha (Hinton et al. 2015) */
  alpha: number;
  /** softmax temperature applied to both teacher and student */
  temperature: number;
}

/**
 * Knowledge distillation: (1 − α) · hardLoss + α · T² · mean_i KL(p_teacher,i^T ‖ softmax(logits_i / T)); with
 * class weights the mean becomes Σ w[y_i] KL_i / Σ w[y_i] (or / N), so a weighted loss weighs both terms.
 * `teacherProbs` are the teacher's class probabilities at T = 1 ([N, C], rows sum to 1); softened here as
 * p^(1/T) renormalised, which equals softmax(z / T) of the teacher's logits. T² keeps the soft term's gradient
 * scale independent of T.
 */
export function distillationLoss(
  logits: tf.Tensor2D,
  teacherProbs: tf.Tensor2D,
  hardLoss: tf.Scalar,
  opts: DistillOptions,
  /** class weights applied to the soft term too: row i counts w[y_i], reduced like crossEntropy's `reduction` */
  weighting?: { classWeights: number[]; labels: tf.Tensor1D; reduction: LossReduction },
): tf.Scalar {
  const { alpha, temperature: T } = opts;
  if (!(alpha >= 0 && alpha <= 1)) throw new LossInputError("distill.alpha", `must be in [0, 1], got ${alpha}`);
  if (!(T > 0)) throw new LossInputError("distill.temperature", `must be > 0, got ${T}`);
  if (teacherProbs.rank !== 2 || teacherProbs.shape[0] !== logits.shape[0] || teacherProbs.shape[1] !== logits.shape[1]) {
    throw new LossInputError("teacherProbs", `expected shape [${logits.shape.join(", ")}], got [${teacherProbs.shape.join(", ")}]`);
  }
  return tf.tidy(() => {
    // soften the teacher in log space (probabilities can underflow to 0: floor them before the log)
    const logPt = tf.logSoftmax(tf.div(tf.log(tf.maximum(teacherProbs, 1e-12)), T), -1);
    const logPs = tf.logSoftmax(tf.div(logits, T), -1);
    const klRows = tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs)), 1); // [N]
    let kl: tf.Tensor = tf.mean(klRows);
    if (weighting) {
      const wRow = tf.gather(tf.tensor1d(weighting.classWeights, "float32"), weighting.labels);
      const denom = weighting.reduction === "weighted_mean" ? tf.sum(wRow) : tf.scalar(logits.shape[0]);
      kl = tf.div(tf.sum(tf.mul(wRow, klRows)), denom);
    }
    return tf.add(tf.mul(1 - alpha, hardLoss), tf.mul(alpha * T * T, kl)) as tf.Scalar;
  });
}
