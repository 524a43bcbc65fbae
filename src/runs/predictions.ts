/**
 * A finished run's saved predictions, wherever the run lives: a run folder's predictions-<split>.jsonl (store.ts names
 * it), or, for a run shipped in a results file, the compact predictions/<hash>-<split>.jsonl beside that file, its
 * sentences joined back from the data by id. Read back row by row, checked.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { LABEL_NAMES } from "../data/labels";
import { loadRows } from "../data/load";
import type { Row } from "../data/types";
import type { ClassProbs } from "../train/inference";
import { dataFiles, dataFingerprint, type ValidConfig } from "./config";
import { reportedSplit, type Prediction, type PredictionSplit, type RunRecord, type SplitMetrics } from "./record";
import { predictionsFile } from "./store";

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
  const file = predictionsFile(dir, split);
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

// ---- shipped runs: compact predictions beside their results file ------------------------------

/** A shipped run's compact predictions of one split: predictions/<hash>-<split>.jsonl beside its results file. */
export function compactPredictionsFile(resultsDir: string, hash: string, split: PredictionSplit): string {
  return path.join(resultsDir, "predictions", `${hash}-${split}.jsonl`);
}

const sha256 = (text: string | Buffer): string => createHash("sha256").update(text).digest("hex");

/** Whether savedPredictions(run, split) has something to read. */
export function hasSavedPredictions(run: RunRecord, split: PredictionSplit): boolean {
  return run.shipped ? run.shipped.predictions[split] !== undefined : fs.existsSync(predictionsFile(run.dir!, split));
}

/** A finished run's predictions on one split: from its folder, or for a shipped run from beside its results file. */
export function savedPredictions(run: RunRecord, split: PredictionSplit): Prediction[] {
  return run.shipped ? shippedPredictions(run, split) : loadPredictions(run.dir!, split);
}

/** A row of a compact predictions file: a Prediction without its sentence (that stays in the data). */
export type CompactPrediction = Pick<Prediction, "id" | "label" | "pred" | "probs">;

/**
 * A compact predictions file read back, its content checked against the digest that vouches for it (a results file's,
 * or ensemble.json's) and each row's fields: what needs no sentence (metrics, the ensemble) reads this.
 */
export function readCompactPredictions(file: string, digest: string): CompactPrediction[] {
  const where = path.relative(process.cwd(), file) || file;
  if (!fs.existsSync(file)) throw new PredictionsFileError(`${where}: missing (it ships beside its results file)`);
  const text = fs.readFileSync(file);
  if (sha256(text) !== digest) throw new PredictionsFileError(`${where}: its content does not match the digest its results file records (edited or truncated); restore it from git`);
  return text
    .toString("utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((line, i) => {
      const p = JSON.parse(line) as Partial<CompactPrediction>;
      const probsOk = Array.isArray(p.probs) && p.probs.length === LABEL_NAMES.length && p.probs.every((x) => typeof x === "number" && Number.isFinite(x));
      if (typeof p.id !== "string" || !LABEL_NAMES.includes(p.label as never) || !LABEL_NAMES.includes(p.pred as never) || !probsOk) {
        throw new PredictionsFileError(`${where}: line ${i + 1}: expected id, label and pred (classes) and ${LABEL_NAMES.length} probabilities in label order`);
      }
      return p as CompactPrediction;
    });
}

const round3 = (p: number): number => Math.round(p * 1000) / 1000;

/** Rows as a compact predictions file ships them (id, gold, predicted, probabilities to 3 decimals), and its digest. */
export function compactPredictionsText(rows: readonly CompactPrediction[]): { text: string; sha256: string } {
  const text = rows.map((p) => JSON.stringify({ id: p.id, label: p.label, pred: p.pred, probs: p.probs.map(round3) })).join("\n") + "\n";
  return { text, sha256: sha256(text) };
}

/** A shipped run's compact predictions of one split (no sentences), checked against the digest its results file records. */
export function shippedCompactPredictions(run: RunRecord, split: PredictionSplit): { file: string; rows: CompactPrediction[] } {
  const shipped = run.shipped;
  const digest = shipped?.predictions[split];
  if (!shipped || !digest) throw new Error(`${run.variant ?? `run ${run.hash}`}, seed ${run.config.seed}: no shipped ${split} predictions`);
  const file = compactPredictionsFile(path.dirname(shipped.file), run.hash, split);
  return { file, rows: readCompactPredictions(file, digest) };
}

/**
 * A shipped run's predictions on one split with their sentences joined back from the data file by id (the file
 * ships id, gold, predicted and probabilities only). The compact file's digest and each row's gold label are checked.
 */
function shippedPredictions(run: RunRecord, split: PredictionSplit): Prediction[] {
  const { file, rows: compact } = shippedCompactPredictions(run, split);
  const where = path.relative(process.cwd(), file) || file;
  const missing = sentencesProblem(run, split);
  if (missing) throw new PredictionsFileError(`${where}: ${missing}`);
  const rows = sentencesById(run.config, split);
  return compact.map((p, i) => {
    const r = rows.get(p.id);
    if (!r) throw new PredictionsFileError(`${where}: line ${i + 1}: id ${p.id} is not in the ${split} data (${dataSource(run.config, split)})`);
    if (r.r !== p.label) throw new PredictionsFileError(`${where}: line ${i + 1}: id ${p.id} has gold ${p.label} but the data says ${r.r}: the data changed since these results were made`);
    return { id: p.id, sentence: r.sentence, h: r.h, t: r.t, label: p.label, pred: p.pred, probs: p.probs };
  });
}

/**
 * Why a shipped run's sentences cannot be joined to its predictions on this machine, or undefined when they can (a run
 * folder's predictions hold their sentences): the data file is not here (a clone without the study's data), or the
 * data here is not the data the run was made on (its fingerprint differs from the one the results file records), so
 * the rows with its ids would be other sentences.
 */
export function sentencesProblem(run: RunRecord, split: PredictionSplit): string | undefined {
  if (!run.shipped) return undefined;
  const cfg = run.config;
  const files = dataFiles(cfg.data);
  const f = split === "selection" ? files.train : files[split];
  const where = cfg.data.kind === "dir" ? cfg.data.dir : JSON.stringify(cfg.data);
  if (!f) {
    return (
      `the sentences of these predictions are in the ${split} split of ${where}, which is not on this machine; every number shown comes ` +
      `from results/study alone. To see the sentences, put the study's data beside the project (${where}: study_train.jsonl, study_val.jsonl; README, "The study's data")`
    );
  }
  const here = dataFingerprint(cfg.data);
  if (here !== run.shipped.identity.data.content) {
    return (
      `${where} on this machine is not the data run ${run.hash} was made on (fingerprint ${here}, the results file records ${run.shipped.identity.data.content}): ` +
      `the rows with its ids could be other sentences, so none is shown; restore the study's data as it was`
    );
  }
  return undefined;
}

/** The data file a split's rows come from (the selection slice is part of train). */
function dataSource(cfg: ValidConfig, split: PredictionSplit): string {
  const files = dataFiles(cfg.data);
  const f = split === "selection" ? files.train : files[split];
  if (!f) throw new Error(`the ${split} split of ${JSON.stringify(cfg.data)} has no file on this machine`);
  return f;
}

const rowsMemo = new Map<string, Map<string, { sentence: string; h: string; t: string; r: string }>>();

function sentencesById(cfg: ValidConfig, split: PredictionSplit) {
  const f = dataSource(cfg, split);
  let m = rowsMemo.get(f);
  if (!m) {
    m = new Map(loadRows(f, { mode: "lenient" }).rows.map((r) => [r.id, { sentence: r.sentence, h: r.h, t: r.t, r: r.r }]));
    rowsMemo.set(f, m);
  }
  return m;
}
