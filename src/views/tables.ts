/**
 * A table result as a notebook shows it: ours beside the study's, in words, per class, the readings; and where a
 * variant goes wrong (its summed confusion matrix, its most confused pairs, their most confident mistakes).
 */
import {
  showTable,
  showChart,
  showSentences,
  showHtml,
  confusionMatrixChart,
  confusedPairsTable,
  errorAnalysisHtml,
  sumConfusion,
  confusedPairs,
} from "../report";
import type { PredictionSplit, RunRecord } from "../runs/record";
import { hasSavedPredictions, sentencesProblem } from "../runs/predictions";
import { headlineChangeChart, headlineVariant, type TableResult } from "../experiments";

/** What a notebook shows of a table (the study-data results or the demo grid): ours beside the study's, the summary, per class, the readings. */
export function showTableResult(r: Pick<TableResult, "table" | "split" | "frame" | "perClass" | "chart" | "records" | "variants" | "summary" | "readings" | "encoder">, opts: { caption?: string } = {}): void {
  const seeds = new Set(r.records.map((x) => x.seed)).size;
  showTable(r.frame, { caption: opts.caption ?? `ours (${r.split} split, % mean ± std over ${seeds} seeds) beside the study's` });
  showSentences(r.summary, "In words (computed from the runs above):");
  showChart(r.chart);
  const change = headlineChangeChart(r);
  if (change) showChart(change);
  showTable(r.perClass, { caption: `per-class F1 (%, ${r.split} split, mean ± std over seeds)` });
  showSentences(r.readings, "Readings (95% interval over seeds, the smallest difference these seeds detect at 80% power, the verdict against the study's own difference):");
}

export interface ErrorAnalysisRequest {
  /** default the table's headline variant (headlineVariant) */
  variant?: string;
  /** confused pairs to list (default 3; with `golds`, per gold class) */
  pairs?: number;
  /** example sentences per pair (default 4) */
  examples?: number;
  /** where run folders are looked up for results files (default runs/) */
  runsDir?: string;
  /** where shipped runs' compact predictions are (default results/study, or MEDREL_RESULTS_DIR) */
  resultsDir?: string;
  /** only what these gold classes are taken for (e.g. the study's hard classes, STUDY_HARD_CLASSES) */
  golds?: readonly string[];
}

/**
 * Every run of a variant, when each one's saved predictions can be shown (folders, or shipped files), or why not: some
 * run's are missing, or a shipped run's sentences are not on this machine (sentencesProblem).
 */
function variantPredictions(runs: readonly RunRecord[], variant: string, split: PredictionSplit): RunRecord[] | string {
  const mine = runs.filter((x) => x.variant === variant);
  for (const run of mine) {
    const problem = hasSavedPredictions(run, split) ? sentencesProblem(run, split) : undefined;
    if (problem) return problem;
  }
  if (mine.length === 0 || !mine.every((run) => hasSavedPredictions(run, split))) return "the runs' saved predictions are not on this machine";
  return mine;
}

/**
 * Where a table's variant (default its headline one) goes wrong: its confusion matrix summed over the seeds, the most
 * confused pairs of that same summed matrix, and — when every seed's saved predictions are on this machine — the
 * most confident mistakes of each pair over the seeds.
 */
export function showErrorAnalysis(r: Pick<TableResult, "table" | "records"> & { runs: readonly RunRecord[] }, opts: ErrorAnalysisRequest = {}): void {
  const v = opts.variant ?? headlineVariant(r.table);
  const recs = r.records.filter((x) => x.variant === v);
  if (recs.length === 0) {
    console.log(`no runs of ${v} in this table`);
    return;
  }
  const split = recs[0].split ?? "dev";
  const summed = sumConfusion(recs.map((x) => x.metrics));
  showChart(confusionMatrixChart(summed, { title: `${v}: confusion matrix, ${split} split, summed over ${recs.length} seeds` }));
  const pairOpts = { pairs: opts.pairs ?? 3, golds: opts.golds };
  const sources = variantPredictions(r.runs, v, split as PredictionSplit);
  if (typeof sources !== "string") {
    showHtml(errorAnalysisHtml(sources, { ...pairOpts, examples: opts.examples ?? 4, split: split as PredictionSplit }));
  } else {
    showTable(confusedPairsTable(confusedPairs(summed, pairOpts)), {
      caption: `${v}: most confused pairs summed over ${recs.length} seeds, as in the matrix above (no example sentences: ${sources})`,
    });
  }
}
