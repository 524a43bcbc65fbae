/**
 * Error analysis of one run: which (gold, predicted) pairs it confuses most, and the misclassified sentences of a
 * pair with both entities highlighted and the probabilities the model gave the gold and the predicted class.
 * Takes the runs themselves and reads their saved predictions of one split through the run store (savedPredictions).
 */
import type { DataFrame } from "danfojs-node";
import { LABEL_NAMES, labelIndex, normalizeLabel, type Label } from "../data/labels";
import { confusionMatrix, type Metrics } from "../metrics";
import { savedPredictions } from "../runs/predictions";
import { reportedSplit, type Prediction, type PredictionSplit, type RunRecord } from "../runs/record";
import { bilingualLabel } from "./charts";
import { escapeHtml, tableHtml } from "./display";
import { loadDanfo } from "./danfo";
import { ReportInputError } from "./tables";

/** Anything holding a confusion matrix in label order (rows = gold, columns = predicted). */
export type ConfusionSource = Metrics | RunRecord | number[][];

export interface ConfusedPair {
  gold: Label;
  pred: Label;
  count: number;
  /** count as % of the gold class's rows */
  rate: number;
}

function isMatrix(x: unknown): x is number[][] {
  return Array.isArray(x) && (x.length === 0 || Array.isArray(x[0]));
}

function matrixOf(x: ConfusionSource): number[][] {
  if (isMatrix(x)) return x;
  if ("confusion" in x) return x.confusion;
  return (x.metrics.test ?? x.metrics.dev).confusion;
}

/** One confusion matrix from one source, or the sum over several (e.g. the seeds of a variant). */
export function sumConfusion(input: ConfusionSource | readonly ConfusionSource[]): number[][] {
  const list = isMatrix(input) || !Array.isArray(input) ? [input as ConfusionSource] : (input as readonly ConfusionSource[]);
  if (list.length === 0) throw new ReportInputError("sumConfusion: nothing to sum");
  const k = LABEL_NAMES.length;
  const out = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  list.forEach((src, n) => {
    const m = matrixOf(src);
    if (m.length !== k || m.some((row) => row.length !== k)) throw new ReportInputError(`confusion matrix ${n}: expected ${k}×${k}, got ${m.length} rows`);
    m.forEach((row, i) => row.forEach((v, j) => (out[i][j] += v)));
  });
  return out;
}

/**
 * The k most confused (gold, predicted) pairs, most rows first (ties: gold, then predicted in label order). Several
 * sources (seeds) are summed first.
 */
export function worstPairs(input: ConfusionSource | readonly ConfusionSource[], k = 5): ConfusedPair[] {
  const cm = sumConfusion(input);
  const pairs: ConfusedPair[] = [];
  cm.forEach((row, i) => {
    const support = row.reduce((a, b) => a + b, 0);
    row.forEach((count, j) => {
      if (i !== j && count > 0) pairs.push({ gold: LABEL_NAMES[i], pred: LABEL_NAMES[j], count, rate: (100 * count) / support });
    });
  });
  pairs.sort((a, b) => b.count - a.count || labelIndex(a.gold) - labelIndex(b.gold) || labelIndex(a.pred) - labelIndex(b.pred));
  return pairs.slice(0, k);
}

/**
 * The pairs a table shows: the `pairs` most confused overall, or, with `golds`, the `pairs` most confused of each of
 * those gold classes (e.g. the study's two hard classes and what each is taken for). Several sources are summed.
 */
export function confusedPairs(input: ConfusionSource | readonly ConfusionSource[], opts: { pairs?: number; golds?: readonly string[] } = {}): ConfusedPair[] {
  const k = opts.pairs ?? 3;
  const all = worstPairs(input, LABEL_NAMES.length ** 2);
  if (!opts.golds) return all.slice(0, k);
  return opts.golds.flatMap((g) => all.filter((p) => p.gold === label(g, "gold")).slice(0, k));
}

/** The pairs as a table: gold, predicted (both languages), rows, % of the gold class. */
export function confusedPairsTable(pairs: readonly ConfusedPair[]): DataFrame {
  const { DataFrame } = loadDanfo();
  return new DataFrame(
    {
      gold: pairs.map((p) => bilingualLabel(p.gold)),
      predicted: pairs.map((p) => bilingualLabel(p.pred)),
      rows: pairs.map((p) => p.count),
      "% of gold": pairs.map((p) => p.rate.toFixed(2)),
    },
    { index: pairs.map((_, i) => String(i + 1)) },
  );
}

const HEAD_MARK = "background:#ffd166;border-radius:3px;padding:0 2px";
const TAIL_MARK = "background:#9bd0ff;border-radius:3px;padding:0 2px";

/** What the highlighting means, as a line of HTML. */
export const ENTITY_LEGEND = `<span style="${HEAD_MARK}">head</span> <span style="${TAIL_MARK}">tail</span>`;

/**
 * The sentence as HTML with every mention of the head and of the tail marked in its own colour (where one entity
 * contains the other, the longer mention wins); everything else HTML-escaped.
 */
export function highlightEntities(sentence: string, h: string, t: string): string {
  const ents = [
    { text: h, style: HEAD_MARK, role: "head" },
    { text: t, style: TAIL_MARK, role: "tail" },
  ]
    .filter((e) => e.text.length > 0)
    .sort((a, b) => b.text.length - a.text.length);
  let out = "";
  let plain = "";
  for (let i = 0; i < sentence.length; ) {
    const e = ents.find((x) => sentence.startsWith(x.text, i));
    if (!e) {
      plain += sentence[i++];
      continue;
    }
    out += escapeHtml(plain) + `<mark class="medrel-${e.role}" style="${e.style}">${escapeHtml(e.text)}</mark>`;
    plain = "";
    i += e.text.length;
  }
  return out + escapeHtml(plain);
}

export interface ErrorExample {
  id: string;
  sentence: string;
  h: string;
  t: string;
  /** probability the model gave the gold class (the run most sure of its mistake, when several runs made it) */
  pGold: number;
  /** probability the model gave the class it predicted */
  pPred: number;
  /** in how many of the runs read this row got this same mistake (1 with one run) */
  runs: number;
}

export interface ErrorExamples {
  gold: Label;
  pred: Label;
  split: PredictionSplit;
  /** mistakes of this pair over the runs read (the confusion matrix's cell, summed over them) */
  total: number;
  /** rows of the split with this gold label, summed over the runs read */
  goldRows: number;
  /** how many runs (seeds) were read */
  runCount: number;
  /** distinct sentences with this mistake (= total with one run) */
  sentences: number;
  /** the most confident mistakes first (mistaken in most runs, then P(pred) descending, then id), at most `limit` */
  rows: ErrorExample[];
  /** the rows as an HTML table, entities highlighted */
  html: string;
}

export interface ErrorOptions {
  /** gold class, any accepted spelling (并发症, Complication, 相关 …) */
  gold: string;
  /** predicted class */
  pred: string;
  /** default: the split the run's tables report (test when it has one, else dev) */
  split?: PredictionSplit;
  /** default 5 */
  limit?: number;
}

function label(raw: string, what: string): Label {
  const l = normalizeLabel(raw);
  if (!l) throw new ReportInputError(`errors: unknown ${what} label "${raw}" (use one of ${LABEL_NAMES.join(", ")})`);
  return l;
}

/** Saved predictions of one split, one list per run (seed). */
interface SplitPredictions {
  split: PredictionSplit;
  runs: readonly (readonly Prediction[])[];
}

/** The saved predictions of several runs on one split: `split`, or the one their tables report (reportedSplit). */
function predictionsOf(runs: readonly RunRecord[], split?: PredictionSplit): SplitPredictions {
  if (runs.length === 0) throw new ReportInputError("error analysis: no runs");
  const s = split ?? reportedSplit(runs);
  return { split: s, runs: runs.map((r) => savedPredictions(r, s)) };
}

/** The confusion matrix of saved predictions (rows = gold, columns = predicted). */
function predictionConfusion(rows: readonly Prediction[]): number[][] {
  return confusionMatrix(
    rows.map((r) => labelIndex(label(r.label, "gold"))),
    rows.map((r) => labelIndex(label(r.pred, "predicted"))),
  );
}

/** One pair's mistakes over every run: each sentence once, with in how many runs it was mistaken this way. */
function pairExamples(p: SplitPredictions, gold: Label, pred: Label, limit: number): Omit<ErrorExamples, "html"> {
  const [gi, pi] = [labelIndex(gold), labelIndex(pred)];
  const byId = new Map<string, ErrorExample>();
  let total = 0;
  for (const rows of p.runs) {
    for (const r of rows) {
      if (r.label !== gold || r.pred !== pred) continue;
      total++;
      const prev = byId.get(r.id);
      const ex = { id: r.id, sentence: r.sentence, h: r.h, t: r.t, pGold: r.probs[gi], pPred: r.probs[pi], runs: (prev?.runs ?? 0) + 1 };
      byId.set(r.id, prev && prev.pPred >= ex.pPred ? { ...prev, runs: ex.runs } : ex);
    }
  }
  const rows = [...byId.values()]
    .sort((a, b) => b.runs - a.runs || b.pPred - a.pPred || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, limit);
  const goldRows = p.runs.reduce((n, run) => n + run.filter((r) => r.label === gold).length, 0);
  return { gold, pred, split: p.split, total, goldRows, runCount: p.runs.length, sentences: byId.size, rows };
}

/** The misclassified rows of one (gold, predicted) pair of a run (or of saved predictions), entities highlighted. */
export function errors(run: RunRecord, opts: ErrorOptions): ErrorExamples {
  const gold = label(opts.gold, "gold");
  const pred = label(opts.pred, "predicted");
  const base = pairExamples(predictionsOf([run], opts.split), gold, pred, opts.limit ?? 5);
  return { ...base, html: errorExamplesHtml(base) };
}

const CELL = "border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left";
const NUM = `${CELL};text-align:right;white-space:nowrap`;

function errorExamplesHtml(ex: Omit<ErrorExamples, "html">): string {
  const several = ex.runCount > 1;
  const over = several ? ` over ${ex.runCount} runs (a sentence mistaken in several runs is listed once, with how many)` : "";
  const caption =
    `gold ${bilingualLabel(ex.gold)} → predicted ${bilingualLabel(ex.pred)}: ${ex.total} of ${ex.goldRows} ${ex.split} rows${over}` +
    (ex.sentences > ex.rows.length ? ` (the ${ex.rows.length} most confident shown)` : "");
  const runsHead = several ? `<th style="${CELL}">runs</th>` : "";
  const head = `<tr><th style="${CELL}">id</th><th style="${CELL}">sentence (${ENTITY_LEGEND})</th><th style="${CELL}">P(gold)</th><th style="${CELL}">P(pred)</th>${runsHead}</tr>`;
  const body = ex.rows
    .map(
      (r) =>
        `<tr><td style="${CELL};white-space:nowrap">${escapeHtml(r.id)}</td><td style="${CELL};max-width:720px;white-space:normal">${highlightEntities(r.sentence, r.h, r.t)}</td>` +
        `<td style="${NUM}">${r.pGold.toFixed(2)}</td><td style="${NUM}">${r.pPred.toFixed(2)}</td>` +
        (several ? `<td style="${NUM}">${r.runs} of ${ex.runCount}</td>` : "") +
        `</tr>`,
    )
    .join("");
  return (
    `<table class="medrel-errors" style="border-collapse:collapse;font-size:13px;margin:0.5em 0">` +
    `<caption style="caption-side:top;text-align:left;font-weight:bold;padding:4px">${escapeHtml(caption)}</caption>${head}${body}</table>`
  );
}

export interface ErrorAnalysisOptions {
  /** how many confused pairs (default 3) */
  pairs?: number;
  /** example sentences per pair (default 4) */
  examples?: number;
  split?: PredictionSplit;
  /** the `pairs` most confused pairs of each of these gold classes (any spelling), e.g. the study's hard classes */
  golds?: readonly string[];
}

/**
 * The worst pairs of one run, or of several runs (the seeds of a variant) summed — the same counts as the confusion
 * matrix summed over those runs — counted from their saved predictions, as a table; then the most confident mistakes
 * of each pair: one HTML block for a notebook cell.
 */
export function errorAnalysisHtml(runs: RunRecord | readonly RunRecord[], opts: ErrorAnalysisOptions = {}): string {
  const list: readonly RunRecord[] = Array.isArray(runs) ? runs : [runs as RunRecord];
  const preds = predictionsOf(list, opts.split);
  // (a list of matrices would read as one matrix to sumConfusion: add them here)
  const cm = preds.runs.map(predictionConfusion).reduce((acc, m) => acc.map((row, i) => row.map((v, j) => v + m[i][j])));
  const pairs = confusedPairs(cm, opts);
  const rows = preds.runs.reduce((n, r) => n + r.length, 0);
  if (pairs.length === 0) return `<p>no misclassified ${preds.split} rows${opts.golds ? ` of ${opts.golds.join(", ")}` : ""}</p>`;
  const one = list.length === 1 ? list[0] : undefined;
  const where = one ? ` of run ${one.hash}` : ` summed over ${list.length} runs (as in the confusion matrix)`;
  const parts = [tableHtml(confusedPairsTable(pairs), { caption: `most confused pairs${where}, ${preds.split} split (${rows} rows)` })];
  for (const p of pairs) {
    const ex = pairExamples(preds, p.gold, p.pred, opts.examples ?? 4);
    parts.push(errorExamplesHtml(ex));
  }
  return parts.join("\n");
}
