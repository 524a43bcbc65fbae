/**
 * Error analysis of one run: which (gold, predicted) pairs it confuses most, and the misclassified sentences of a
 * pair with both entities highlighted and the probabilities the model gave the gold and the predicted class.
 * Reads the run folder's predictions-<split>.jsonl (every run saves them).
 */
import type { DataFrame } from "danfojs-node";
import { LABEL_NAMES, labelIndex, normalizeLabel, type Label } from "../data/labels";
import { confusionMatrix, type Metrics } from "../metrics";
import { loadPredictions, reportedPredictionSplit, savedReportedSplit, type Prediction, type PredictionSplit, type RunRecord } from "../runs";
import { bilingualLabel } from "./charts";
import { escapeHtml, tableHtml } from "./display";
import { loadDanfo } from "./danfo";
import { ReportInputError } from "./tables";

/** A run folder: a loaded run, or just its path. */
export type RunRef = RunRecord | { dir: string };

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
  /** probability the model gave the gold class */
  pGold: number;
  /** probability the model gave the class it predicted */
  pPred: number;
}

export interface ErrorExamples {
  gold: Label;
  pred: Label;
  split: PredictionSplit;
  /** rows of the split with this gold label and this prediction */
  total: number;
  /** rows of the split with this gold label */
  goldRows: number;
  /** the most confident mistakes first (P(pred) descending, then id), at most `limit` */
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

/** The run's predictions of a split (default: its reported split) and that split's name. */
export function runPredictions(ref: RunRef, split?: PredictionSplit): { split: PredictionSplit; rows: Prediction[] } {
  const s = split ?? ("metrics" in ref ? reportedPredictionSplit(ref) : savedReportedSplit(ref.dir));
  return { split: s, rows: loadPredictions(ref.dir, s) };
}

/** The misclassified rows of one (gold, predicted) pair of a run, with the entities highlighted. */
export function errors(ref: RunRef | { split: PredictionSplit; rows: readonly Prediction[] }, opts: ErrorOptions): ErrorExamples {
  const gold = label(opts.gold, "gold");
  const pred = label(opts.pred, "predicted");
  const { split, rows } = "rows" in ref ? ref : runPredictions(ref, opts.split);
  const limit = opts.limit ?? 5;
  const [gi, pi] = [labelIndex(gold), labelIndex(pred)];
  const wrong = rows.filter((r) => r.label === gold && r.pred === pred);
  const examples = wrong
    .map((r) => ({ id: r.id, sentence: r.sentence, h: r.h, t: r.t, pGold: r.probs[gi], pPred: r.probs[pi] }))
    .sort((a, b) => b.pPred - a.pPred || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, limit);
  const goldRows = rows.filter((r) => r.label === gold).length;
  const base = { gold, pred, split, total: wrong.length, goldRows, rows: examples };
  return { ...base, html: errorExamplesHtml(base) };
}

const CELL = "border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left";
const NUM = `${CELL};text-align:right;white-space:nowrap`;

function errorExamplesHtml(ex: Omit<ErrorExamples, "html">): string {
  const caption =
    `gold ${bilingualLabel(ex.gold)} → predicted ${bilingualLabel(ex.pred)}: ${ex.total} of ${ex.goldRows} ${ex.split} rows` +
    (ex.total > ex.rows.length ? ` (the ${ex.rows.length} most confident shown)` : "");
  const head = `<tr><th style="${CELL}">id</th><th style="${CELL}">sentence (${ENTITY_LEGEND})</th><th style="${CELL}">P(gold)</th><th style="${CELL}">P(pred)</th></tr>`;
  const body = ex.rows
    .map(
      (r) =>
        `<tr><td style="${CELL};white-space:nowrap">${escapeHtml(r.id)}</td><td style="${CELL};max-width:720px;white-space:normal">${highlightEntities(r.sentence, r.h, r.t)}</td>` +
        `<td style="${NUM}">${r.pGold.toFixed(2)}</td><td style="${NUM}">${r.pPred.toFixed(2)}</td></tr>`,
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
}

/**
 * The worst pairs of a run's split (counted from its saved predictions) as a table, then the most confident
 * mistakes of each pair: one HTML block for a notebook cell.
 */
export function errorAnalysisHtml(ref: RunRef, opts: ErrorAnalysisOptions = {}): string {
  const preds = runPredictions(ref, opts.split);
  const cm = confusionMatrix(
    preds.rows.map((r) => labelIndex(label(r.label, "gold"))),
    preds.rows.map((r) => labelIndex(label(r.pred, "predicted"))),
  );
  const pairs = worstPairs(cm, opts.pairs ?? 3);
  if (pairs.length === 0) return `<p>no misclassified ${preds.split} rows</p>`;
  const where = "dir" in ref ? ` of run ${ref.dir.split(/[\\/]/).pop()}` : "";
  const parts = [tableHtml(confusedPairsTable(pairs), { caption: `most confused pairs${where}, ${preds.split} split (${preds.rows.length} rows)` })];
  for (const p of pairs) parts.push(errors(preds, { gold: p.gold, pred: p.pred, limit: opts.examples ?? 4 }).html);
  return parts.join("\n");
}
