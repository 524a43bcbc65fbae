/**
 * The class-weights playground: retrain with a user's weight map (cached by config hash) and show
 * per-class F1 before (unweighted) and after, side by side.
 */
import type { DataFrame } from "danfojs-node";
import { perClassTable, perClassF1Chart, type PlotlyFigure } from "../report";
import type { RunRecord } from "../metrics";
import { makeJob } from "./grids";
import { loadDanfo } from "../report/danfo";
import { LABELS, normalizeLabel } from "../data/labels";
import type { DataSpec, ExperimentConfig } from "./config";
import { presetConfig, type PresetName } from "./presets";
import { runJobs } from "./run";
import type { RunResult } from "./store";

export interface PlaygroundRequest {
  /** label (any accepted spelling, e.g. 相关 or Related) → weight; missing labels weigh 1 */
  weights: Record<string, number>;
  preset: PresetName;
  data?: DataSpec;
  /** seeds to average (default [0]: one quick retrain) */
  seeds?: readonly number[];
  runsDir?: string;
}

export interface PlaygroundResult {
  /** per-class F1: before, after, and the change in points */
  table: DataFrame;
  chart: PlotlyFigure;
  before: RunResult[];
  after: RunResult[];
  weights: Record<string, number>;
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

export async function classWeightPlayground(req: PlaygroundRequest): Promise<PlaygroundResult> {
  const weights = normalizeWeights(req.weights);
  const seeds = req.seeds ?? [0];
  const base: ExperimentConfig = { ...presetConfig(req.preset), ...(req.data ? { data: req.data } : {}) };
  const before = seeds.map((seed) => makeJob("loss", "before (no weights)", seed, { ...base, seed, loss: { ...base.loss, scheme: "none", manual: undefined } }));
  const after = seeds.map((seed) => makeJob("loss", "after (your weights)", seed, { ...base, seed, loss: { ...base.loss, scheme: "manual", manual: weights } }));
  const runs = await runJobs([...before, ...after], { runsDir: req.runsDir });
  const records: RunRecord[] = runs.map((r) => ({ variant: r.variant, seed: r.seed, metrics: r.metrics.test ?? r.metrics.dev }));
  const pc = perClassTable(records);
  const { DataFrame } = loadDanfo();
  const mean = (v: string, zh: string): number => {
    const xs = records.filter((r) => r.variant === v).map((r) => 100 * r.metrics.per_class[zh].f1);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const table = new DataFrame(
    {
      label: LABELS.map((l) => l.en),
      weight: LABELS.map((l) => weights[l.zh] ?? 1),
      "F1 before": pc["before (no weights)"].values as string[],
      "F1 after": pc["after (your weights)"].values as string[],
      "Δ F1 (points)": LABELS.map((l) => Math.round(100 * (mean("after (your weights)", l.zh) - mean("before (no weights)", l.zh))) / 100),
    },
    { index: LABELS.map((l) => l.zh) },
  );
  return {
    table,
    chart: perClassF1Chart(records),
    before: runs.filter((r) => r.variant.startsWith("before")),
    after: runs.filter((r) => r.variant.startsWith("after")),
    weights,
  };
}
