/**
 * npm run predict -- --run DIR --input FILE [--output FILE]
 * Labels new rows (same formats as the loaders; `r` optional) with the fine-tuned model of a run folder,
 * writing one JSON line per row: id, h, t, pred (zh + en), probabilities per label (and the gold label if given).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { loadInputRows, formatLoadReport, LABELS, labelIndex, type InputRow, type Label } from "../data";
import { RelationTokenizer, encodeRow } from "../encoding";
import type { Encoded } from "../encoding/types";
import { loadCheckpoint } from "../model";
import { predict } from "../train";
import { classificationMetrics } from "../metrics";
import { initBackend } from "../backend/select";
import { loadRun, readSeal, verifySeal, RUN_MARKER } from "../runs/store";
import type { Prediction } from "../runs/record";
import { formatMetricsLine } from "../report/summary";
import { runMain } from "./common";

/**
 * A line of `npm run predict`'s output: a saved Prediction's row and predicted label, with the English name, the
 * confidence, every label's probability by name, and the gold label when the input has one.
 */
type PredictedRow = Pick<Prediction, "id" | "sentence" | "h" | "t" | "pred"> & {
  pred_en: string;
  confidence: number;
  probs: Record<string, number>;
  gold?: string;
};

/** The tokenizer file RelationTokenizer.fromDir reads in `dir` (tokenizer.json wins over vocab.txt). */
function tokenizerFile(dir: string): string {
  const tj = path.join(dir, "tokenizer.json");
  return fs.existsSync(tj) ? tj : path.join(dir, "vocab.txt");
}

/**
 * The study's label of each class index of a checkpoint (its config.json id2label). A name that is not a study
 * label is an error; the study's labels in another order are followed, with a warning (`warn`).
 */
export function studyLabelsOf(labels: readonly string[], configFile: string, warn: (m: string) => void): Label[] {
  const out = labels.map((name, i) => {
    if (!LABELS.some((l) => l.zh === name)) throw new Error(`${configFile}: field "id2label": class ${i} is "${name}", not one of the study's labels (${LABELS.map((l) => l.zh).join(", ")})`);
    return name as Label;
  });
  if (out.length !== LABELS.length) throw new Error(`${configFile}: field "id2label": ${out.length} classes, the study has ${LABELS.length}`);
  const moved = out.map((l, i) => (l === LABELS[i].zh ? "" : `${i}: ${l} (the study's ${i} is ${LABELS[i].zh})`)).filter(Boolean);
  if (moved.length) warn(`[medrel] warning: ${configFile}: id2label orders the labels differently from the study (${moved.join("; ")}); predictions follow the checkpoint's id2label`);
  return out;
}

/** Predict rows with a run folder's model (its encoding, faithful switch and max length). */
export async function predictWithRun(runDir: string, rows: InputRow[], warn: (m: string) => void = (m) => console.error(m)): Promise<PredictedRow[]> {
  const run = loadRun(runDir);
  if (!run) throw new Error(`${runDir}: not a complete run folder (config.json, metrics.json, history.json, run.json)`);
  verifySeal(runDir, readSeal(runDir), "all");
  const modelDir = path.join(runDir, "model");
  if (!fs.existsSync(path.join(modelDir, "config.json"))) throw new Error(`${modelDir}: the run has no saved model`);
  await initBackend({ verbose: false });
  const { model, labels } = await loadCheckpoint(modelDir);
  const classes = studyLabelsOf(labels, path.join(modelDir, "config.json"), warn);
  const tokenizer = RelationTokenizer.fromDir(modelDir);
  if (tokenizer.vocabSize !== model.config.vocab_size) {
    model.dispose();
    throw new Error(`${tokenizerFile(modelDir)}: ${tokenizer.vocabSize} tokens, but ${path.join(modelDir, "config.json")} and its weights have ${model.config.vocab_size} word-embedding rows: this is not the tokenizer the model was trained with`);
  }
  const opts = { encoding: run.config.encoding, maxLength: run.config.maxLength, faithful: run.config.faithful };
  // encodeRow needs no label; the placeholder keeps the Row type and is never read back
  const encoded: Encoded[] = rows.map((r) => encodeRow(tokenizer, { ...r, r: r.r ?? LABELS[0].zh }, opts));
  for (const e of encoded) delete e.label;
  let result: Awaited<ReturnType<typeof predict>>;
  try {
    result = await predict(model, encoded, { batchSize: 64 });
  } finally {
    model.dispose();
  }
  const { probs, preds } = result;
  return rows.map((r, i) => {
    const p = LABELS[labelIndex(classes[preds[i]])];
    const out: PredictedRow = {
      id: r.id,
      sentence: r.sentence,
      h: r.h,
      t: r.t,
      pred: p.zh,
      pred_en: p.en,
      confidence: Math.round(probs[i][preds[i]] * 1e6) / 1e6,
      probs: Object.fromEntries(LABELS.map((l) => [l.zh, Math.round(probs[i][classes.indexOf(l.zh)] * 1e6) / 1e6])),
    };
    if (r.r) out.gold = r.r;
    return out;
  });
}

/** The run folder of ours (it holds RUN_MARKER) that `file` would be written into, if any. */
function enclosingRunFolder(file: string): string | undefined {
  for (let dir = path.dirname(path.resolve(file)); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, RUN_MARKER))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * Where --output may go, checked before any row is read or predicted: not the input, not into a run folder (its files
 * are sealed: predictions-dev.jsonl is what its metrics are computed from), into a folder that exists.
 */
export function checkPredictOutput(output: string, input: string, runDir: string): void {
  if (sameFile(output, input)) throw new Error(`--output ${output} is the --input file: writing the predictions there would overwrite the rows; choose another file`);
  const run = enclosingRunFolder(output) ?? (path.resolve(output).startsWith(path.resolve(runDir) + path.sep) ? path.resolve(runDir) : undefined);
  if (run) throw new Error(`--output ${output} is inside the run folder ${run}: a run's files are sealed (its predictions are what its metrics are computed from), so nothing is written there; choose a file outside it`);
  const dir = path.dirname(path.resolve(output));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`--output ${output}: the folder ${dir} does not exist; create it first (checked before predicting)`);
  if (fs.existsSync(output) && fs.statSync(output).isDirectory()) throw new Error(`--output ${output} is a folder; name a file inside it`);
}

/** Whether two paths name one file (the same path, or links to one inode). */
function sameFile(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  const [sa, sb] = [fs.statSync(a, { throwIfNoEntry: false }), fs.statSync(b, { throwIfNoEntry: false })];
  return !!sa && !!sb && sa.dev === sb.dev && sa.ino === sb.ino;
}

async function main(): Promise<void> {
  const program = new Command("predict")
    .description("Label new rows with a trained run's model")
    .requiredOption("--run <dir>", "a run folder (runs/<hash> or an experiment's --out)")
    .requiredOption("--input <file>", "rows to label: jsonl/json/csv/tsv with id, sentence, h, t (r optional)")
    .option("--output <file>", "where to write predictions (JSON lines); default: stdout")
    .option("--strict", "fail on the first bad input row instead of skipping and reporting it")
    .showHelpAfterError();
  program.parse();
  const f = program.opts<{ run: string; input: string; output?: string; strict?: boolean }>();
  if (f.output) checkPredictOutput(f.output, f.input, f.run);
  const { rows, report } = loadInputRows(path.resolve(f.input), { mode: f.strict ? "strict" : "lenient" });
  console.error(formatLoadReport(report, { maxPerKind: 3 }));
  if (rows.length === 0) throw new Error(`${f.input}: no usable rows to predict (${report.read} read, ${report.dropped} rejected; the report above says why)`);
  const out = await predictWithRun(path.resolve(f.run), rows);
  const text = out.map((o) => JSON.stringify(o)).join("\n") + "\n";
  if (f.output) {
    fs.writeFileSync(f.output, text);
    console.error(`[medrel] wrote ${out.length} predictions to ${f.output}`);
  } else process.stdout.write(text);
  const gold = out.filter((o) => o.gold);
  if (gold.length === out.length && gold.length > 0) {
    const m = classificationMetrics(gold.map((o) => labelIndex(o.gold as Label)), gold.map((o) => labelIndex(o.pred as Label)));
    console.error(`[medrel] input carries labels: ${formatMetricsLine(m)}`);
  }
}

if (require.main === module) runMain(main);
