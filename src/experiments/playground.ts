/**
 * The class-weights playground: several named weight settings trained side by side (each a cached run per seed),
 * compared with the unweighted setting on the headline metrics (a paired t-test over the seeds says whether a change
 * is beyond seed noise), per class, and in the confusion matrix; plus an instant preview of a decision rule on the
 * unweighted run's saved probabilities.
 */
import type { DataFrame } from "danfojs-node";
import {
  perClassF1Chart,
  formatComparison,
  formatMeanStd,
  formatVariation,
  noVerdictReason,
  formatInterval,
  readingVerdict,
  verdictPhrase,
  sumConfusion,
  decisionPreviewHtml,
  predictionsToSplit,
  type PlotlyFigure,
  type ProbSplit,
  type PredictionSource,
} from "../report";
import { compareVariants, metricValue, summarize, type ComparisonLine, type MetricRow, type RunScore } from "../metrics";
import { makeJob, type Job } from "./grids";
import { loadDanfo } from "../report/danfo";
import { LABELS, LABEL_NAMES, normalizeLabel } from "../data/labels";
import { STUDY_MANUAL_WEIGHTS } from "../train/class-weights";
import type { DataSpec, ExperimentConfig } from "../runs/config";
import { presetConfig, type PresetName } from "./presets";
import { describeEncoder } from "./encoders";
import { runJobs, type GridRunOptions } from "./run";
import { reportedPredictionSplit, type PredictionSplit, type RunRecord } from "../runs";
import { hasSavedPredictions, predictionSource, savedPredictions, shippedRuns } from "./results";
import { reportedSplit } from "./tables";

export interface WeightSetting {
  /** shown in the tables and the progress titles */
  name: string;
  /** label (any accepted spelling, e.g. 相关 or Related) → weight; missing labels weigh 1; {} = no class weights */
  weights: Record<string, number>;
}

/** Three seeds: the fewest on which the paired t-test's verdicts are given (reading.ts: MIN_VERDICT_SEEDS). */
export const DEFAULT_PLAYGROUND_SEEDS: readonly number[] = [0, 1, 2];

/** The reference every other setting is compared with. */
export const UNWEIGHTED_SETTING: WeightSetting = { name: "unweighted", weights: {} };

/** The default: unweighted and the study's 2.0 on the two hard classes (the weighted-loss table's two demo rows). */
export const DEFAULT_WEIGHT_SETTINGS: readonly WeightSetting[] = [
  UNWEIGHTED_SETTING,
  { name: "study weights", weights: { ...STUDY_MANUAL_WEIGHTS } },
];

export interface PlaygroundRequest {
  /** default DEFAULT_WEIGHT_SETTINGS; the unweighted setting is put first when it is not in the list */
  settings?: readonly WeightSetting[];
  preset: PresetName;
  data?: DataSpec;
  /** default [0, 1, 2]: three seeds, the fewest a paired t-test gives a verdict on (fewer: the verdicts say why not) */
  seeds?: readonly number[];
  runsDir?: string;
  /**
   * runs shipped here count as done (default results/study): on the study's data with the quick preset and seeds
   * 0–4, the default settings are the loss table's Regular and Weighted Loss runs, so nothing is trained
   */
  resultsDir?: string;
  progress?: GridRunOptions["progress"];
}

export interface PlaygroundResult {
  /** the settings as run (weights in canonical labels), the reference first */
  settings: WeightSetting[];
  /** name of the unweighted setting */
  reference: string;
  seeds: number[];
  /** the split the numbers are from: test when every run has one, else dev */
  split: "test" | "dev";
  /** setting name → its runs, in seed order (a run shipped in results/study stands in for its folder) */
  runs: Record<string, RunRecord[]>;
  /** setting name → where each run's predictions on the reported split are (for report.errorAnalysisHtml) */
  predictions: Record<string, PredictionSource[]>;
  records: RunScore[];
  /** per setting: weights, Macro-F1, Micro-F1 and F1 range (mean ± std), change vs unweighted and its verdict */
  summary: DataFrame;
  /** every setting against the unweighted one on Macro-F1 and the F1 range, as sentences */
  verdicts: string[];
  comparisons: ComparisonLine[];
  /** per class: P, R and F1 of every setting (mean ± std), and F1's change vs unweighted */
  perClass: DataFrame;
  /** per-class F1 bars, one per setting */
  chart: PlotlyFigure;
  /** setting name → confusion matrix summed over its seeds */
  confusion: Record<string, number[][]>;
  /**
   * the instant decision-rule preview on the unweighted run of the first seed (HTML with its own script): it opens on
   * the selection split, the one tuning may look at; the reported split is there only as an explicit choice
   */
  preview: string;
}

/** Canonical label → weight map (rejects unknown labels with their spelling). */
export function normalizeWeights(weights: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, w] of Object.entries(weights)) {
    const l = normalizeLabel(k);
    if (!l) throw new Error(`class weights: unknown label "${k}" (use one of ${LABELS.map((x) => x.zh).join(", ")})`);
    if (!(Number.isFinite(w) && w > 0)) throw new Error(`class weights: weight of "${k}" must be a positive number, got ${w}`);
    out[l] = w;
  }
  return out;
}

/** "并发症 ×2, 相关（导致） ×2", or "none". */
export function describeWeights(weights: Record<string, number>): string {
  const parts = LABEL_NAMES.filter((l) => weights[l] !== undefined).map((l) => `${l} ×${weights[l]}`);
  return parts.length ? parts.join(", ") : "none";
}

/** The settings as run: names unique, weights canonical, the unweighted reference first. */
function resolveSettings(settings: readonly WeightSetting[]): { list: WeightSetting[]; reference: string } {
  const list = settings.map((s) => ({ name: s.name, weights: normalizeWeights(s.weights) }));
  const names = list.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`class-weights playground: two settings are named "${dup}"`);
  const ref = list.find((s) => Object.keys(s.weights).length === 0);
  if (ref) return { list: [ref, ...list.filter((s) => s !== ref)], reference: ref.name };
  if (names.includes(UNWEIGHTED_SETTING.name)) throw new Error(`class-weights playground: "${UNWEIGHTED_SETTING.name}" must have no weights ({})`);
  return { list: [UNWEIGHTED_SETTING, ...list], reference: UNWEIGHTED_SETTING.name };
}

function settingJob(s: WeightSetting, seed: number, base: ExperimentConfig): Job & { label: string } {
  const weighted = Object.keys(s.weights).length > 0;
  const loss = weighted ? { ...base.loss, scheme: "manual" as const, manual: s.weights } : { ...base.loss, scheme: "none" as const, manual: undefined };
  const job = makeJob("loss", s.name, seed, { ...base, seed, loss });
  return { ...job, label: `class-weights playground · ${s.name} (weights: ${describeWeights(s.weights)}) · seed ${seed} (run ${job.hash})` };
}

export async function classWeightPlayground(req: PlaygroundRequest): Promise<PlaygroundResult> {
  const { list, reference } = resolveSettings(req.settings ?? DEFAULT_WEIGHT_SETTINGS);
  const seeds = [...(req.seeds ?? DEFAULT_PLAYGROUND_SEEDS)];
  if (seeds.length === 0) throw new Error("class-weights playground: no seeds");
  const base: ExperimentConfig = { ...presetConfig(req.preset), ...(req.data ? { data: req.data } : {}) };
  const jobs = list.flatMap((s) => seeds.map((seed) => settingJob(s, seed, base)));
  const done = await runJobs(jobs, { runsDir: req.runsDir, progress: req.progress, shipped: shippedRuns(req.resultsDir) });
  const split = reportedSplit(done);
  const records: RunScore[] = done.map((r) => ({ variant: r.variant, seed: r.seed, metrics: (split === "test" ? r.metrics.test : null) ?? r.metrics.dev, split }));
  const runs = Object.fromEntries(list.map((s) => [s.name, done.filter((r) => r.variant === s.name)]));
  const others = list.filter((s) => s.name !== reference);
  const comparisons = others.flatMap((s) => (["Macro-F1", "F1 Range"] as const).map((m) => compareVariants(records, reference, s.name, m)));
  return {
    settings: list,
    reference,
    seeds,
    split,
    runs,
    predictions: Object.fromEntries(list.map((s) => [s.name, runs[s.name].map((r) => predictionSource(r, split))])),
    records,
    summary: summaryFrame(list, reference, records, comparisons),
    verdicts: comparisons.map((c) => formatComparison(c, { encoder: describeEncoder(runs[reference][0].config.model, { short: true }) })),
    comparisons,
    perClass: perClassFrame(list, reference, records),
    chart: perClassF1Chart(records),
    confusion: Object.fromEntries(list.map((s) => [s.name, sumConfusion(records.filter((r) => r.variant === s.name).map((r) => r.metrics))])),
    preview: previewOf(runs[reference][0], seeds[0]),
  };
}

function meanOf(records: readonly RunScore[], name: string, f: (r: RunScore) => number): ReturnType<typeof summarize> {
  return summarize(records.filter((r) => r.variant === name).map(f));
}

/** "+1.90 (95% interval +0.40 … +3.40), beyond seed noise", or why there is no verdict: the words of every reading. */
function verdictCell(c: ComparisonLine | undefined): string {
  if (!c) return "(reference)";
  const none = noVerdictReason(c);
  if (none) return `${formatVariation(c.diff)}, ${none}`;
  return `${formatVariation(c.diff)} (95% interval ${formatInterval(c.ci)}), ${verdictPhrase(c, readingVerdict(c, undefined))}`;
}

function summaryFrame(list: WeightSetting[], reference: string, records: RunScore[], comparisons: ComparisonLine[]): DataFrame {
  const { DataFrame } = loadDanfo();
  const metric = (m: MetricRow) => list.map((s) => formatMeanStd(meanOf(records, s.name, (r) => metricValue(r.metrics, m))));
  const verdict = (m: MetricRow) => list.map((s) => verdictCell(comparisons.find((c) => c.b === s.name && c.metric === m && s.name !== reference)));
  return new DataFrame(
    {
      weights: list.map((s) => describeWeights(s.weights)),
      seeds: list.map((s) => records.filter((r) => r.variant === s.name).length),
      "Macro-F1": metric("Macro-F1"),
      "Micro-F1": metric("Micro-F1"),
      "F1 Range": metric("F1 Range"),
      "Macro-F1 vs unweighted": verdict("Macro-F1"),
      "F1 Range vs unweighted": verdict("F1 Range"),
    },
    { index: list.map((s) => s.name) },
  );
}

function perClassFrame(list: WeightSetting[], reference: string, records: RunScore[]): DataFrame {
  const { DataFrame } = loadDanfo();
  const cols: Record<string, string[]> = { label: LABELS.map((l) => l.en) };
  const score = (name: string, zh: string, k: "precision" | "recall" | "f1") => meanOf(records, name, (r) => 100 * r.metrics.per_class[zh][k]);
  for (const s of list) {
    cols[`P · ${s.name}`] = LABEL_NAMES.map((zh) => formatMeanStd(score(s.name, zh, "precision")));
    cols[`R · ${s.name}`] = LABEL_NAMES.map((zh) => formatMeanStd(score(s.name, zh, "recall")));
    cols[`F1 · ${s.name}`] = LABEL_NAMES.map((zh) => formatMeanStd(score(s.name, zh, "f1")));
    if (s.name !== reference) cols[`Δ F1 · ${s.name}`] = LABEL_NAMES.map((zh) => formatVariation(score(s.name, zh, "f1").mean - score(reference, zh, "f1").mean));
  }
  return new DataFrame(cols, { index: [...LABEL_NAMES] });
}

/**
 * The decision-rule preview on one unweighted run's saved probabilities: the selection split first (the split the
 * best epoch was chosen on, where tuning by eye belongs), the reported split (test, or dev when there is none) as the
 * explicit second choice. A run saved before selection predictions existed offers its dev split as the first.
 */
function previewOf(run: RunRecord, seed: number): string {
  const reported = reportedPredictionSplit(run);
  const first: PredictionSplit = hasSavedPredictions(run, "selection") ? "selection" : "dev";
  const splits: Record<string, ProbSplit> = { [first]: predictionsToSplit(savedPredictions(run, first)) };
  if (reported !== first) splits[reported] = predictionsToSplit(savedPredictions(run, reported));
  return decisionPreviewHtml({
    reported,
    splits,
    source: `the unweighted run ${run.hash} (seed ${seed})`,
    retrainCode:
      `const mine = await experiments.classWeightPlayground({ settings: [{ name: "unweighted", weights: {} }, ` +
      `{ name: "mine", weights: __WEIGHTS__ }], preset: PRESET, data: DATA, seeds: SEEDS });`,
  });
}
