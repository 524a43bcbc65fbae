/**
 * The class-weights playground: several named weight settings trained side by side (each a cached run per seed),
 * compared with the unweighted setting on the headline metrics (a paired t-test over the seeds says whether a change
 * is beyond seed noise), per class, and in the confusion matrix; plus an instant preview of a decision rule on the
 * unweighted run's saved probabilities.
 */
import type { DataFrame } from "danfojs-node";
import {
  perClassF1Chart,
  perClassChangeChart,
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
} from "../report";
import { compareVariants, metricValue, summarize, type ComparisonLine, type MetricRow } from "../metrics";
import {
  makeJob,
  type Job,
  presetConfig,
  type PresetName,
  describeEncoder,
  existingRuns,
  runJobs,
  type GridRunOptions,
  STUDY_SEEDS,
  TABLE_SPECS,
  shippedRuns,
} from "../experiments";
import { loadDanfo } from "../report/danfo";
import { LABELS, LABEL_NAMES, normalizeLabel } from "../data/labels";
import { STUDY_MANUAL_WEIGHTS } from "../train/class-weights";
import type { DataSpec, ExperimentConfig } from "../runs/config";
import { formatDuration } from "../tools/times";
import { reportedSplit, scoresOf, type PredictionSplit, type RunRecord } from "../runs/record";
import { hasSavedPredictions, savedPredictions } from "../runs/predictions";

export interface WeightSetting {
  /** shown in the tables and the progress titles */
  name: string;
  /** label (any accepted spelling, e.g. 相关 or Related) → weight; missing labels weigh 1; {} = no class weights */
  weights: Record<string, number>;
}

/**
 * The seeds the playground runs on some data: every seed its default settings were run on there — the study-data
 * grid's (STUDY_SEEDS, shipped in results/study) on a folder, the weighted-loss table's demo seeds on the demo — so
 * after `npm start` or with results/study it trains nothing and reads the same comparison as notebook 04.
 */
export function playgroundSeeds(data: DataSpec = { kind: "demo" }): number[] {
  return [...(data.kind === "demo" ? TABLE_SPECS.loss.seeds : STUDY_SEEDS)];
}

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
  /** default playgroundSeeds(data): every seed the default settings were run on for that data */
  seeds?: readonly number[];
  runsDir?: string;
  /**
   * runs shipped here count as done (default results/study): on the study's data with the quick preset and seeds
   * 0–4, the default settings are the loss table's Regular and Weighted Loss runs, so nothing is trained
   */
  resultsDir?: string;
  progress?: GridRunOptions["progress"];
}

type Score = ReturnType<typeof scoresOf>[number];

export interface PlaygroundResult {
  /** the settings as run (weights in canonical labels), the reference first */
  settings: WeightSetting[];
  /** name of the unweighted setting */
  reference: string;
  seeds: number[];
  /** the split the numbers are from: test when every run has one, else dev */
  split: "test" | "dev";
  /** setting name → its runs, in seed order (a run shipped in results/study stands in for its folder); report.errorAnalysisHtml reads their predictions */
  runs: Record<string, RunRecord[]>;
  records: Score[];
  /** per setting: weights, Macro-F1, Micro-F1 and F1 range (mean ± std), change vs unweighted and its verdict */
  summary: DataFrame;
  /** every setting against the unweighted one on Macro-F1 and the F1 range, as sentences */
  verdicts: string[];
  comparisons: ComparisonLine[];
  /** per class: F1 of every setting (mean ± std) and its change vs unweighted */
  perClass: DataFrame;
  /** per class: precision and recall of every setting (mean ± std) */
  precisionRecall: DataFrame;
  /** per-class F1 bars, one per setting */
  chart: PlotlyFigure;
  /** per-class F1 of every other setting minus the unweighted one, with its 95% interval over the seeds, hard classes starred */
  changeChart: PlotlyFigure;
  /** what had to train before the tables could be shown, and its estimated cost, said before training started */
  plan: RetrainPlan;
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

/** The runs a playground request loads and the ones it has to train, with the time that will take. */
export interface RetrainPlan {
  loaded: number;
  toTrain: number;
  /** estimated seconds for the runs to train: their count × the median time of the runs loaded (undefined: none to go by) */
  seconds?: number;
  /** the plan in one sentence, printed before any training starts */
  line: string;
}

/** How long a retrain will take, judged by the runs of the same request already here (same preset, data and model). */
export function retrainPlan(missing: readonly { label: string }[], loaded: readonly RunRecord[]): RetrainPlan {
  const times = loaded.map((r) => r.info.seconds.total).filter((x) => Number.isFinite(x) && x > 0).sort((a, b) => a - b);
  const median = times.length ? times[Math.floor((times.length - 1) / 2)] : undefined;
  const n = missing.length;
  if (n === 0) return { loaded: loaded.length, toTrain: 0, line: `All ${loaded.length} runs are here (trained before, or shipped in results/study): nothing trains.` };
  const seconds = median === undefined ? undefined : n * median;
  const cost =
    median === undefined
      ? "no run of this preset and data is here to time it by"
      : `about ${formatDuration(seconds!)} on this machine (${formatDuration(median)} a run: the median of the ${times.length} runs loaded)`;
  return {
    loaded: loaded.length,
    toTrain: n,
    seconds,
    line: `${n} run${n === 1 ? "" : "s"} to train before the tables below (${loaded.length} loaded): ${cost}. The first: ${missing[0].label}.`,
  };
}

export async function classWeightPlayground(req: PlaygroundRequest): Promise<PlaygroundResult> {
  const { list, reference } = resolveSettings(req.settings ?? DEFAULT_WEIGHT_SETTINGS);
  const seeds = [...(req.seeds ?? playgroundSeeds(req.data))];
  if (seeds.length === 0) throw new Error("class-weights playground: no seeds");
  const base: ExperimentConfig = { ...presetConfig(req.preset), ...(req.data ? { data: req.data } : {}) };
  const jobs = list.flatMap((s) => seeds.map((seed) => settingJob(s, seed, base)));
  const shipped = shippedRuns(req.resultsDir);
  // the cost of a retrain is said before it starts
  const present = existingRuns(jobs, req.runsDir, shipped);
  const plan = retrainPlan(present.missing, present.runs);
  console.log(plan.line);
  const done = await runJobs(jobs, { runsDir: req.runsDir, progress: req.progress, shipped });
  const split = reportedSplit(done);
  const records = scoresOf(done, split);
  const runs = Object.fromEntries(list.map((s) => [s.name, done.filter((r) => r.variant === s.name)]));
  const others = list.filter((s) => s.name !== reference);
  const comparisons = others.flatMap((s) => (["Macro-F1", "F1 Range"] as const).map((m) => compareVariants(records, reference, s.name, m)));
  return {
    settings: list,
    reference,
    seeds,
    split,
    runs,
    records,
    summary: summaryFrame(list, reference, records, comparisons),
    verdicts: comparisons.map((c) => formatComparison(c, { encoder: describeEncoder(runs[reference][0].config.model, { short: true }) })),
    comparisons,
    perClass: perClassFrame(list, reference, records),
    precisionRecall: precisionRecallFrame(list, records),
    chart: perClassF1Chart(records),
    changeChart: perClassChangeChart(records, reference, others.map((s) => s.name)),
    plan,
    confusion: Object.fromEntries(list.map((s) => [s.name, sumConfusion(records.filter((r) => r.variant === s.name).map((r) => r.metrics))])),
    preview: previewOf(runs[reference][0], seeds[0]),
  };
}

function meanOf(records: readonly Score[], name: string, f: (r: Score) => number): ReturnType<typeof summarize> {
  return summarize(records.filter((r) => r.variant === name).map(f));
}

/** "+1.90 (95% interval +0.40 … +3.40), beyond seed noise", or why there is no verdict: the words of every reading. */
function verdictCell(c: ComparisonLine | undefined): string {
  if (!c) return "(reference)";
  const none = noVerdictReason(c);
  if (none) return `${formatVariation(c.diff)}, ${none}`;
  return `${formatVariation(c.diff)} (95% interval ${formatInterval(c.ci)}), ${verdictPhrase(c, readingVerdict(c, undefined))}`;
}

function summaryFrame(list: WeightSetting[], reference: string, records: Score[], comparisons: ComparisonLine[]): DataFrame {
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

/**
 * Per class, F1 of every setting and each other setting's change against the reference (the columns a reader
 * compares, side by side: narrow enough for a 1024-pixel projector with three settings); precision and recall in a
 * table of their own (precisionRecallFrame).
 */
function perClassFrame(list: WeightSetting[], reference: string, records: Score[]): DataFrame {
  const cols: Record<string, string[]> = { label: LABELS.map((l) => l.en) };
  for (const s of list) cols[`F1 · ${s.name}`] = LABEL_NAMES.map((zh) => formatMeanStd(classScore(records, s.name, zh, "f1")));
  for (const s of list.filter((x) => x.name !== reference)) {
    cols[`Δ F1 · ${s.name}`] = LABEL_NAMES.map((zh) => formatVariation(classScore(records, s.name, zh, "f1").mean - classScore(records, reference, zh, "f1").mean));
  }
  return new (loadDanfo().DataFrame)(cols, { index: [...LABEL_NAMES] });
}

/** Per class, precision and recall of every setting (mean ± std): what a class weight trades. */
function precisionRecallFrame(list: WeightSetting[], records: Score[]): DataFrame {
  const cols: Record<string, string[]> = {};
  for (const k of ["precision", "recall"] as const) {
    for (const s of list) cols[`${k === "precision" ? "P" : "R"} · ${s.name}`] = LABEL_NAMES.map((zh) => formatMeanStd(classScore(records, s.name, zh, k)));
  }
  return new (loadDanfo().DataFrame)(cols, { index: [...LABEL_NAMES] });
}

const classScore = (records: readonly Score[], name: string, zh: string, k: "precision" | "recall" | "f1") => meanOf(records, name, (r) => 100 * r.metrics.per_class[zh][k]);

/**
 * The decision-rule preview on one unweighted run's saved probabilities: the selection split first (the split the
 * best epoch was chosen on, where tuning by eye belongs), the reported split (test, or dev when there is none) as the
 * explicit second choice. A run saved before selection predictions existed offers its dev split as the first.
 */
function previewOf(run: RunRecord, seed: number): string {
  const reported = reportedSplit([run]);
  const first: PredictionSplit = hasSavedPredictions(run, "selection") ? "selection" : "dev";
  const splits: Record<string, ProbSplit> = { [first]: predictionsToSplit(savedPredictions(run, first)) };
  if (reported !== first) splits[reported] = predictionsToSplit(savedPredictions(run, reported));
  return decisionPreviewHtml({
    reported,
    splits,
    source: `the unweighted run ${run.hash} (seed ${seed})`,
    retrainCode:
      `const mine = await views.classWeightPlayground({ settings: [{ name: "unweighted", weights: {} }, ` +
      `{ name: "mine", weights: __WEIGHTS__ }], preset: PRESET, data: DATA, seeds: SEEDS });`,
  });
}
