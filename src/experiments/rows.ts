/**
 * What a run reads: the data a config names (with its load reports), the rows it trains, selects on and reports
 * (row caps, the selection split, train-only augmentation), and the class weights its loss spec asks for. The
 * encoder runs, the n-gram runs and the distillation teachers all take their rows from here; a fitted model of
 * either kind hands back a `Fitted` for run.ts to write.
 */
import { formatLoadReport, type LoadMode, type LoadReport } from "../data/checks";
import { loadDataset, loadRows } from "../data/load";
import { DEMO_DIR } from "../data/demo";
import { LABEL_NAMES, labelIndex } from "../data/labels";
import type { Dataset, Row } from "../data/types";
import { selectionSplit } from "../data/selection";
import { augmentTrain, chooseHardClasses } from "../augment";
import { classCounts, type ClassWeightSpec } from "../train";
import { Rng } from "../random";
import { fromProjectPath, type ExperimentConfig, type LossSpec, type ValidConfig } from "../runs/config";
import type { ClassProbs } from "../train/inference";
import type { EpochRow, PredictionSplit, RunInfo, RunRecord, SplitMetrics } from "../runs/record";

export interface ExperimentData {
  dataset: Dataset;
  /** one load report per file or folder read */
  reports: LoadReport[];
}

/** A split with no usable row: the file, how many rows were read and why each was rejected. */
function emptySplitError(split: string, report: LoadReport): Error {
  const why = Object.entries(report.droppedByKind).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ");
  const first = report.issues.filter((i) => i.dropped).slice(0, 3).map((i) => `\n  ${i.message}`).join("");
  return new Error(`${split} split ${report.files.map((f) => f.file).join(", ") || report.source}: no usable rows (${report.read} read${why ? `; rejected: ${why}` : ""})${first}`);
}

/** Resolve a DataSpec to splits (with load reports); train and dev must keep at least one row. Test may be empty. */
export function loadExperimentData(cfg: Pick<ExperimentConfig, "data">, mode: LoadMode = "lenient"): ExperimentData {
  const d = cfg.data;
  if (d.kind === "demo" || d.kind === "dir") {
    const ds = loadDataset(d.kind === "demo" ? DEMO_DIR : fromProjectPath(d.dir), { mode });
    for (const split of ["train", "dev"] as const) {
      if (ds[split].length === 0) {
        const file = ds.report.files.find((f) => f.split === split);
        throw emptySplitError(split, { ...ds.report, source: file?.file ?? ds.report.source, read: file?.read ?? 0, files: file ? [file] : [], issues: ds.report.issues.filter((i) => i.file === file?.file) });
      }
    }
    return { dataset: ds, reports: [ds.report] };
  }
  const load = (split: string, f: string): { rows: Row[]; report: LoadReport } => {
    const res = loadRows(fromProjectPath(f), { mode });
    if (res.rows.length === 0 && split !== "test") throw emptySplitError(split, res.report);
    return res;
  };
  const tr = load("train", d.train);
  const dv = load("dev", d.dev);
  const te = d.test ? load("test", d.test) : null;
  return {
    dataset: { train: tr.rows, dev: dv.rows, test: te ? te.rows : [], source: d.train },
    reports: [tr.report, dv.report, ...(te ? [te.report] : [])],
  };
}

/** The load reports as the terminal shows them: counts per reason and the first lines of each. */
export function formatDataReport(data: ExperimentData, maxPerKind = 3): string {
  return data.reports.map((r) => formatLoadReport(r, { maxPerKind })).join("\n");
}

/** A label-stratified, seeded subset of at most n rows (n = 0: all). */
export function capRows(rows: Row[], n: number, seed: number): Row[] {
  if (n <= 0 || rows.length <= n) return rows;
  const byLabel = new Map<string, Row[]>();
  for (const r of rows) {
    const list = byLabel.get(r.r);
    if (list) list.push(r);
    else byLabel.set(r.r, [r]);
  }
  const rng = new Rng(seed ^ 0x5eed);
  const groups = [...byLabel.values()].map((g) => rng.shuffle([...g]));
  const out: Row[] = [];
  for (let i = 0; out.length < n && groups.some((g) => i < g.length); i++) {
    for (const g of groups) if (i < g.length && out.length < n) out.push(g[i]);
  }
  return out;
}

/** The rows of one run: `fit` trains, `selection` chooses the epoch, `dev` and `test` are only reported. */
export interface RunRows {
  /** the train split, capped: what a model that chooses no epoch (the n-gram baseline) trains on */
  train: Row[];
  fit: Row[];
  selection: Row[];
  dev: Row[];
  test: Row[];
  augmentReport?: unknown;
}

/** Row caps, the selection split (the dev split, or a slice of train), then train-only augmentation of the fit rows. */
export function runRows(cfg: RowsSpec, dataset: Dataset): RunRows {
  const train = capRows(dataset.train, cfg.maxTrainRows, cfg.seed);
  const dev = capRows(dataset.dev, cfg.maxEvalRows, cfg.seed);
  const test = capRows(dataset.test, cfg.maxEvalRows, cfg.seed);
  const sel = cfg.selection;
  const { fit, selection } = sel.from === "dev" ? { fit: train, selection: dev } : selectionSplit(train, sel);
  if (!cfg.augment) return { train, fit, selection, dev, test };
  const hardClasses = chooseHardClasses({ rule: cfg.augment.hardRule, trainLabels: fit.map((r) => labelIndex(r.r)) });
  const res = augmentTrain(fit, { hardClasses, strategies: cfg.augment.strategies, multiplier: cfg.augment.multiplier, seed: cfg.seed }, { dev: [...selection, ...dev], test });
  return { train, fit: res.rows, selection, dev, test, augmentReport: res.report };
}

/** The fields of a config that decide which rows a run trains on and is scored on. */
export type RowsSpec = Pick<ValidConfig, "data" | "selection" | "maxTrainRows" | "maxEvalRows" | "augment" | "seed">;

/** The fields of a loss spec that say how classes are weighted. */
export type WeightsSpec = Pick<LossSpec, "scheme" | "manual" | "alpha" | "devF1" | "beta">;

/**
 * The class-weight spec of a loss. `hard_classes` without per-class F1 reads it from `reference`: the same config
 * trained without class weights (its own job, run first), on the selection split.
 */
export function classWeightSpec(loss: WeightsSpec, fitLabels: readonly number[], reference?: RunRecord): ClassWeightSpec {
  switch (loss.scheme) {
    case "none":
      return { scheme: "none" };
    case "manual":
      return { scheme: "manual", weights: loss.manual ?? {} };
    case "hard_classes": {
      const f1 = loss.devF1 ?? selectionF1(reference);
      return { scheme: "hard_classes", perClassF1: LABEL_NAMES.map((n) => f1[n] ?? 0), alpha: loss.alpha };
    }
    case "inverse":
    case "sqrt_inverse":
      return { scheme: loss.scheme, counts: classCounts(fitLabels) };
    case "effective_number":
      return { scheme: "effective_number", counts: classCounts(fitLabels), beta: loss.beta };
  }
}

function selectionF1(run: RunRecord | undefined): Record<string, number> {
  if (!run) throw new Error("loss.scheme hard_classes without devF1 needs its unweighted reference run (the job gridJobs schedules before it)");
  const pc = run.metrics.selection?.per_class;
  if (!pc) throw new Error(`loss.scheme hard_classes: the unweighted reference run ${run.dir} has no selection metrics`);
  return Object.fromEntries(Object.entries(pc).map(([k, c]) => [k, c.f1]));
}

/** The labels of the rows a run trains on (what count-based class weights count). */
export function fitLabels(rows: readonly Row[]): number[] {
  return rows.map((r) => labelIndex(r.r));
}

/** What a fitted model (an encoder, the n-gram baseline) leaves for its run folder. */
export interface Fitted {
  metrics: SplitMetrics;
  history: EpochRow[];
  /** its dataReport holds the model's own notes; run.ts puts the data's load report before them */
  info: RunInfo;
  /** each scored split's rows and the model's output on them (predictions-<split>.jsonl) */
  predictions: Partial<Record<PredictionSplit, { rows: readonly Row[]; out: ClassProbs }>>;
}
