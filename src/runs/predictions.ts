/** A run's saved predictions (predictions-<split>.jsonl), read back row by row. */
import * as fs from "node:fs";
import * as path from "node:path";
import { LABEL_NAMES } from "../data/labels";
import type { Row } from "../data/types";
import type { ClassProbs } from "../train/inference";
import { reportedSplit, type Prediction, type PredictionSplit, type SplitMetrics } from "./record";

/** A row of predictions-<split>.jsonl that is not a Prediction: the file, the line and the field. */
export class PredictionsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PredictionsFileError";
  }
}

/** The split a run folder's tables report (reportedSplit of its metrics.json); a folder without one is an error naming it. */
export function savedReportedSplit(dir: string): "dev" | "test" {
  const file = path.join(dir, "metrics.json");
  if (!fs.existsSync(file)) throw new PredictionsFileError(`${dir}: not a complete run folder (no metrics.json)`);
  return reportedSplit([{ metrics: JSON.parse(fs.readFileSync(file, "utf8")) as SplitMetrics }]);
}

/** The saved predictions of one split of a run folder (predictions-<split>.jsonl), checked row by row. */
export function loadPredictions(dir: string, split: PredictionSplit): Prediction[] {
  const file = path.join(dir, `predictions-${split}.jsonl`);
  if (!fs.existsSync(file)) throw new PredictionsFileError(`${file}: not found (the run has no ${split} predictions)`);
  const out: Prediction[] = [];
  fs.readFileSync(file, "utf8").split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      throw new PredictionsFileError(`${file}:${i + 1}: not JSON (${(e as Error).message})`);
    }
    for (const f of ["id", "sentence", "h", "t", "label", "pred"] as const) {
      if (typeof row[f] !== "string") throw new PredictionsFileError(`${file}:${i + 1}: field "${f}" must be a string, got ${JSON.stringify(row[f])}`);
    }
    const probs = row.probs;
    if (!Array.isArray(probs) || !probs.every((p) => typeof p === "number" && Number.isFinite(p))) {
      throw new PredictionsFileError(`${file}:${i + 1}: field "probs" must be an array of numbers`);
    }
    out.push(row as unknown as Prediction);
  });
  return out;
}

/** The saved rows of a split: each row with the predicted label and every class's probability (6 decimals). */
export function predictionRows(rows: readonly Row[], out: ClassProbs): Prediction[] {
  return rows.map((r, i) => ({
    id: r.id,
    sentence: r.sentence,
    h: r.h,
    t: r.t,
    label: r.r,
    pred: LABEL_NAMES[out.preds[i]],
    probs: out.probs[i].map((p) => Math.round(p * 1e6) / 1e6),
  }));
}
