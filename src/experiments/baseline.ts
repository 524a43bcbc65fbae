/**
 * The no-pretraining baseline row of every model table as an ordinary run (model `{kind: "ngram"}`): a character
 * 1–3-gram TF-IDF logistic regression (src/model/ngram.ts) trained on the train split's rows (row caps applied; it
 * chooses no epoch, so no selection slice is held out) and scored on dev and test, in a run folder like any other.
 * What it cannot do (class weights, augmentation, distillation) its config may not ask (parseExperimentConfig).
 */
import { labelIndex, NUM_LABELS } from "../data/labels";
import type { Row } from "../data/types";
import { classificationMetrics } from "../metrics";
import { trainNgramBaseline, type NgramModel } from "../model/ngram";
import type { ClassProbs } from "../train/inference";
import type { RunInfo, SplitMetrics } from "../runs/record";
import { NGRAM_NUMERICS } from "../backend/numerics";
import type { Fitted, RunRows } from "./rows";

function scored(model: NgramModel, rows: readonly Row[]): { out: ClassProbs; metrics: SplitMetrics["dev"] } {
  const { preds, probs } = model.predict(rows);
  const out = { preds, probs: rows.map((_, i) => Array.from(probs.subarray(i * NUM_LABELS, (i + 1) * NUM_LABELS))) };
  return { out, metrics: classificationMetrics(rows.map((r) => labelIndex(r.r)), preds) };
}

/** Train the n-gram baseline on a run's (capped) train split with the run's seed, and score it on dev and test. */
export function fitNgram(rows: RunRows, seed: number): Fitted {
  const started = Date.now();
  const train = rows.train;
  const model = trainNgramBaseline(train, { seed });
  const t1 = Date.now();
  const dev = scored(model, rows.dev);
  const test = rows.test.length ? scored(model, rows.test) : null;
  const info: RunInfo = {
    backend: "none (the n-gram model is plain JavaScript)",
    kernels: [],
    numerics: NGRAM_NUMERICS,
    startedAt: new Date(started).toISOString(),
    seconds: { total: (Date.now() - started) / 1000, train: (t1 - started) / 1000, eval: (Date.now() - t1) / 1000 },
    trainRows: train.length,
    devRows: rows.dev.length,
    testRows: rows.test.length,
    vocabSize: model.numFeatures,
    parameters: model.numFeatures * NUM_LABELS,
    bestEpoch: -1,
    dataReport: [`character 1–3-gram TF-IDF features: ${model.numFeatures}`],
    classWeights: null,
    node: process.version,
  };
  return {
    metrics: { dev: dev.metrics, test: test ? test.metrics : null },
    history: [],
    info,
    predictions: { dev: { rows: rows.dev, out: dev.out }, ...(test ? { test: { rows: rows.test, out: test.out } } : {}) },
  };
}
