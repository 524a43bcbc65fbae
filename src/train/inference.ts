/** Inference: class probabilities, predictions and metrics of a fine-tuned model (no dropout, no gradients). */
import * as tf from "@tensorflow/tfjs";
import type { Encoded } from "../encoding/types";
import { classificationMetrics, type Metrics } from "../metrics";
import type { BertForRelationClassification } from "../model";
import { batchInputs, collate, lengthSortedBatches, validateEncoded } from "./batching";
import { crossEntropy, type CrossEntropyOptions } from "./loss";

type Model = BertForRelationClassification;

/** Rows per inference batch when none is given. */
export const EVAL_BATCH_SIZE = 64;

export interface PredictOptions {
  batchSize?: number;
}

/** A model's output on a set of rows (a saved row with its text and labels is a runs/record Prediction). */
export interface ClassProbs {
  /** softmax probabilities, one row per input row, in input order */
  probs: number[][];
  /** argmax class per row (first on ties) */
  preds: number[];
}

async function predictRaw(model: Model, set: readonly Encoded[], batchSize: number): Promise<ClassProbs & { logits: Float32Array }> {
  validateEncoded(set, "set", model.numLabels, false);
  const C = model.numLabels;
  const logits = new Float32Array(set.length * C);
  const probs: number[][] = new Array<number[]>(set.length);
  const preds: number[] = new Array<number>(set.length);
  for (const idx of lengthSortedBatches(set, batchSize)) {
    const batch = collate(set, idx, model.config.pad_token_id);
    const [lg, pr] = tf.tidy(() => {
      const l = model.forward(batchInputs(batch), { training: false }).logits;
      return [l, tf.softmax(l)];
    });
    const [lv, pv] = await Promise.all([lg.data(), pr.data()]);
    tf.dispose([lg, pr]);
    idx.forEach((row, b) => {
      logits.set(lv.subarray(b * C, (b + 1) * C), row * C);
      const p = Array.from(pv.subarray(b * C, (b + 1) * C));
      probs[row] = p;
      let best = 0;
      for (let c = 1; c < C; c++) if (p[c] > p[best]) best = c;
      preds[row] = best;
    });
  }
  await checkFinite(model, probs);
  return { logits, probs, preds };
}

/**
 * Outputs that are NaN would read as class 0 with no confidence: say so instead, naming the weights that are not
 * finite (a diverged training run, a damaged checkpoint) when there are any.
 */
async function checkFinite(model: Model, probs: number[][]): Promise<void> {
  const bad = probs.reduce((n, p) => n + (p.every(Number.isFinite) ? 0 : 1), 0);
  if (bad === 0) return;
  const named: string[] = [];
  for (const [key, v] of model.params) {
    const t = tf.tidy(() => tf.logicalNot(tf.isFinite(v)).sum());
    const n = (await t.data())[0];
    t.dispose();
    if (n > 0) named.push(`${key} (${n} of ${v.size})`);
  }
  const why = named.length ? `weights that are NaN or infinite: ${named.slice(0, 5).join(", ")}${named.length > 5 ? `, and ${named.length - 5} more` : ""}` : "every weight is finite, so an input or an overflow in the forward pass";
  throw new Error(`the model's outputs are NaN for ${bad} of ${probs.length} rows; no prediction can be made (${why})`);
}

/** Class probabilities and predictions. */
export async function predict(model: Model, set: readonly Encoded[], opts: PredictOptions = {}): Promise<ClassProbs> {
  const { probs, preds } = await predictRaw(model, set, opts.batchSize ?? EVAL_BATCH_SIZE);
  return { probs, preds };
}

export interface EvaluateOptions extends PredictOptions {
  /** loss options for the reported loss (default: plain mean cross-entropy) */
  loss?: CrossEntropyOptions;
}

export interface Evaluation extends ClassProbs {
  metrics: Metrics;
  /** the loss over the whole set at once (a weighted mean divides by the set's total weight) */
  loss: number;
}

/** Metrics, predictions and loss on a labelled set. */
export async function evaluate(model: Model, set: readonly Encoded[], opts: EvaluateOptions = {}): Promise<Evaluation> {
  validateEncoded(set, "set", model.numLabels, true);
  const { logits, probs, preds } = await predictRaw(model, set, opts.batchSize ?? EVAL_BATCH_SIZE);
  const labels = set.map((r) => r.label as number);
  const lossT = tf.tidy(() =>
    crossEntropy(tf.tensor2d(logits, [set.length, model.numLabels]), tf.tensor1d(labels, "int32"), opts.loss ?? { reduction: "mean" }),
  );
  const loss = (await lossT.data())[0];
  lossT.dispose();
  return { metrics: classificationMetrics(labels, preds, { numLabels: model.numLabels }), preds, probs, loss };
}
