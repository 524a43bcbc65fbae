/**
 * Plotly figure specs (plain data + layout objects) for the notebooks; `display.ts` renders them.
 * Labels are shown in Chinese and English; the layout asks for a CJK-capable font stack so the
 * Chinese renders wherever one of these fonts exists (Linux, macOS, Windows).
 */
import { LABELS, STUDY_HARD_CLASSES, normalizeLabel } from "../data/labels";
import { compareSamples } from "../metrics/compare";
import type { Metrics } from "../metrics";
import { summarize } from "../metrics/records";
import { ReportInputError } from "./tables";
import type { EpochRow } from "../train/progress";

export const CJK_FONT_FAMILY =
  '"Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei", sans-serif';

export interface PlotlyTrace {
  type: "bar" | "heatmap" | "scatter" | "histogram";
  name?: string;
  x?: (string | number)[];
  y?: (string | number)[];
  z?: number[][];
  [key: string]: unknown;
}

export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout: Record<string, unknown>;
  config?: Record<string, unknown>;
}

export interface ChartOptions {
  title?: string;
  height?: number;
  width?: number;
}

/** "临床表现 Clinical Manifestation" for a label in any accepted spelling (unknown names pass through). */
export function bilingualLabel(name: string, sep = " "): string {
  const canon = normalizeLabel(name);
  const info = LABELS.find((l) => l.zh === canon);
  return info ? `${info.zh}${sep}${info.en}` : name;
}

// ten two-language category names do not fit side by side; slanted they do
const SLANTED = { tickangle: -30, automargin: true };

function baseLayout(opts: ChartOptions, defaults: { title: string; height: number }): Record<string, unknown> {
  const layout: Record<string, unknown> = {
    title: { text: opts.title ?? defaults.title },
    font: { family: CJK_FONT_FAMILY, size: 13 },
    height: opts.height ?? defaults.height,
    margin: { l: 70, r: 30, t: 60, b: 90 },
    paper_bgcolor: "white",
    plot_bgcolor: "white",
    // above the plot, clear of slanted category labels
    legend: { orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom" },
  };
  if (opts.width !== undefined) layout.width = opts.width;
  return layout;
}

const CONFIG = { responsive: true, displaylogo: false };

export interface PerClassChartOptions extends ChartOptions {
  split?: string;
  metric?: "precision" | "recall" | "f1";
}

/** Per-class scores as grouped bars: one group per label, one bar per variant (mean over seeds, std as error bar). */
export function perClassF1Chart(runs: readonly { variant: string; metrics: Metrics; split?: string }[], opts: PerClassChartOptions = {}): PlotlyFigure {
  const metric = opts.metric ?? "f1";
  const chosen = runs.filter((r) => opts.split === undefined || r.split === opts.split);
  if (chosen.length === 0) throw new ReportInputError("perClassF1Chart: no runs to plot");
  const labels = Object.keys(chosen[0].metrics.per_class);
  const x = labels.map((l) => bilingualLabel(l));
  const variants = [...new Set(chosen.map((r) => r.variant))];
  const data: PlotlyTrace[] = variants.map((v) => {
    const list = chosen.filter((r) => r.variant === v);
    const stats = labels.map((l) => summarize(list.map((r) => 100 * (r.metrics.per_class[l]?.[metric] ?? NaN))));
    const trace: PlotlyTrace = {
      type: "bar",
      name: v,
      x,
      y: stats.map((s) => s.mean),
      hovertemplate: `${v}<br>%{x}<br>%{y:.2f}%<extra></extra>`,
    };
    if (list.length > 1) trace.error_y = { type: "data", array: stats.map((s) => s.std), visible: true };
    return trace;
  });
  const name = metric === "f1" ? "F1" : metric === "precision" ? "Precision" : "Recall";
  return {
    data,
    layout: {
      ...baseLayout(opts, { title: `Per-class ${name} 各类别${name}`, height: 480 }),
      barmode: "group",
      xaxis: { title: { text: "Relation 关系类别" }, ...SLANTED },
      yaxis: { title: { text: `${name} (%)` }, range: [0, 100] },
    },
    config: CONFIG,
  };
}

export interface ChangeChartOptions extends ChartOptions {
  /** classes drawn apart and named in the axis (default the study's hard classes) */
  marked?: readonly string[];
}

/**
 * Per-class F1 of each `bs` variant minus the reference `a` (points), with the 95% interval of that difference over the
 * seeds (metrics.compareSamples: paired on shared seeds) as error bars; the marked (hard) classes in their own colour
 * and starred. The axis is scaled to the changes, so a one-point move is visible, and always shows ±1.
 */
export function perClassChangeChart(runs: readonly { variant: string; seed: number; metrics: Metrics }[], a: string, bs: readonly string[], opts: ChangeChartOptions = {}): PlotlyFigure {
  const ref = runs.filter((r) => r.variant === a);
  if (ref.length === 0) throw new ReportInputError(`perClassChangeChart: no runs of the reference "${a}"`);
  const marked = new Set((opts.marked ?? STUDY_HARD_CLASSES).map((l) => normalizeLabel(l) ?? l));
  const labels = Object.keys(ref[0].metrics.per_class);
  const x = labels.map((l) => (marked.has(l) ? `★ ${bilingualLabel(l)}` : bilingualLabel(l)));
  const f1 = (v: string, l: string) => new Map(runs.filter((r) => r.variant === v).map((r) => [r.seed, 100 * (r.metrics.per_class[l]?.f1 ?? NaN)]));
  let reach = 1;
  const data: PlotlyTrace[] = bs.map((b, i) => {
    const cs = labels.map((l) => compareSamples(f1(a, l), f1(b, l)));
    for (const c of cs) reach = Math.max(reach, ...[c.diff, ...c.ci].filter(Number.isFinite).map(Math.abs));
    const colours = labels.map((l) => (marked.has(l) ? "#d62728" : ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b"][i % 4]));
    return {
      type: "bar",
      name: `${b} − ${a}`,
      x,
      y: cs.map((c) => c.diff),
      marker: { color: colours },
      error_y: { type: "data", symmetric: false, array: cs.map((c) => c.ci[1] - c.diff), arrayminus: cs.map((c) => c.diff - c.ci[0]), visible: true },
      customdata: cs.map((c) => [c.ci[0], c.ci[1], c.seeds[0]]),
      hovertemplate: `${b} − ${a}<br>%{x}<br>%{y:+.2f} points (95% interval %{customdata[0]:+.2f} … %{customdata[1]:+.2f}, %{customdata[2]} seeds)<extra></extra>`,
    };
  });
  const span = Math.ceil(reach * 1.1);
  return {
    data,
    layout: {
      ...baseLayout(opts, { title: `Per-class F1 change against ${a} (points, 95% interval over seeds; ★ = hard class)`, height: 480 }),
      barmode: "group",
      xaxis: { title: { text: "Relation 关系类别" }, ...SLANTED },
      yaxis: { title: { text: "Δ F1 (points)" }, range: [-span, span], zeroline: true, zerolinewidth: 2, dtick: span <= 6 ? 1 : undefined },
    },
    config: CONFIG,
  };
}

export interface ConfusionChartOptions extends ChartOptions {
  /** show each row as fractions of the true class (recall per cell) instead of counts */
  normalize?: boolean;
  /** class names for the axes; default the metrics' per_class keys, else LABELS */
  labels?: readonly string[];
}

/** Confusion-matrix heatmap: rows = true class (top to bottom), columns = predicted class. */
export function confusionMatrixChart(input: Metrics | number[][], opts: ConfusionChartOptions = {}): PlotlyFigure {
  const cm = Array.isArray(input) ? input : input.confusion;
  const k = cm.length;
  if (k === 0 || cm.some((row) => row.length !== k)) throw new ReportInputError("confusionMatrixChart: matrix must be square and non-empty");
  const names = opts.labels ?? (Array.isArray(input) ? LABELS.map((l) => l.zh as string).slice(0, k) : Object.keys(input.per_class));
  if (names.length !== k) throw new ReportInputError(`confusionMatrixChart: ${names.length} labels for a ${k}×${k} matrix`);
  const axis = names.map((l) => bilingualLabel(l));
  const z = opts.normalize
    ? cm.map((row) => {
        const s = row.reduce((a, b) => a + b, 0);
        return row.map((v) => (s === 0 ? 0 : v / s));
      })
    : cm.map((row) => [...row]);
  return {
    data: [
      {
        type: "heatmap",
        x: axis,
        y: axis,
        z,
        colorscale: "Blues",
        reversescale: true, // plotly's Blues runs dark to light; low counts should be light
        text: cm.map((row) => row.map(String)),
        texttemplate: "%{text}",
        hovertemplate: "true %{y}<br>pred %{x}<br>%{text}<extra></extra>",
        showscale: true,
      },
    ],
    layout: {
      ...baseLayout(opts, { title: opts.normalize ? "Confusion matrix (row-normalised) 混淆矩阵" : "Confusion matrix 混淆矩阵", height: 640 }),
      margin: { l: 220, r: 30, t: 60, b: 180 },
      xaxis: { title: { text: "Predicted 预测" }, side: "bottom", ...SLANTED },
      yaxis: { title: { text: "True 真实" }, autorange: "reversed", automargin: true },
    },
    config: CONFIG,
  };
}

export interface ConfusionDiffOptions extends ChartOptions {
  /** names of the two matrices for the title and hover (default "before", "after") */
  names?: [string, string];
}

/**
 * after − before, cell by cell, as a diverging heatmap centred on 0 (blue more, red fewer). On the diagonal more is
 * better (rows moved to their right class); off it fewer is better.
 */
export function confusionDiffChart(before: number[][], after: number[][], opts: ConfusionDiffOptions = {}): PlotlyFigure {
  const k = before.length;
  if (k === 0 || after.length !== k || [...before, ...after].some((row) => row.length !== k)) {
    throw new ReportInputError(`confusionDiffChart: two square matrices of the same size needed (got ${before.length} and ${after.length} rows)`);
  }
  const [a, b] = opts.names ?? ["before", "after"];
  const axis = LABELS.slice(0, k).map((l) => bilingualLabel(l.zh));
  const z = after.map((row, i) => row.map((v, j) => v - before[i][j]));
  const top = Math.max(1, ...z.flat().map(Math.abs));
  return {
    data: [
      {
        type: "heatmap",
        x: axis,
        y: axis,
        z,
        zmin: -top,
        zmax: top,
        zmid: 0,
        // red fewer, white unchanged, blue more (plotly's own "RdBu" runs the other way and greys the middle)
        colorscale: [
          [0, "#b2182b"],
          [0.5, "#f7f7f7"],
          [1, "#2166ac"],
        ],
        text: z.map((row) => row.map((v) => (v > 0 ? `+${v}` : String(v)))),
        texttemplate: "%{text}",
        hovertemplate: `true %{y}<br>pred %{x}<br>${b} − ${a}: %{text}<extra></extra>`,
        showscale: true,
      },
    ],
    layout: {
      ...baseLayout(opts, { title: `Confusion matrix: ${b} − ${a} (diagonal: + is better; off the diagonal: − is better)`, height: 640 }),
      margin: { l: 220, r: 30, t: 60, b: 180 },
      xaxis: { title: { text: "Predicted 预测" }, side: "bottom", ...SLANTED },
      yaxis: { title: { text: "True 真实" }, autorange: "reversed", automargin: true },
    },
    config: CONFIG,
  };
}

/** What a training-curve chart reads of an epoch row (a curve may lack the losses or the F1). */
export type EpochPoint = Pick<EpochRow, "epoch"> & Partial<Pick<EpochRow, "trainLoss" | "devLoss" | "devMacroF1">>;

/** Loss (left axis) and dev macro-F1 in % (right axis) per epoch; pass several histories by name to compare runs. */
export function trainingCurvesChart(
  history: readonly EpochPoint[] | Record<string, readonly EpochPoint[]>,
  opts: ChartOptions = {},
): PlotlyFigure {
  const runs: [string, readonly EpochPoint[]][] = Array.isArray(history)
    ? [["", history as readonly EpochPoint[]]]
    : Object.entries(history as Record<string, readonly EpochPoint[]>);
  const data: PlotlyTrace[] = [];
  for (const [name, rows] of runs) {
    const prefix = name ? `${name} ` : "";
    const x = rows.map((r) => r.epoch);
    const series: [keyof EpochPoint, string, string, string, number][] = [
      ["trainLoss", "train loss", "y", "solid", 1],
      ["devLoss", "dev loss", "y", "dash", 1],
      ["devMacroF1", "dev macro-F1 (%)", "y2", "dot", 100],
    ];
    for (const [key, label, yaxis, dash, scale] of series) {
      if (!rows.some((r) => r[key] !== undefined)) continue;
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: `${prefix}${label}`,
        x,
        y: rows.map((r) => (r[key] === undefined ? NaN : (r[key] as number) * scale)),
        yaxis,
        line: { dash },
      });
    }
  }
  return {
    data,
    layout: {
      ...baseLayout(opts, { title: "Training curves 训练曲线", height: 420 }),
      xaxis: { title: { text: "epoch" }, dtick: 1 },
      yaxis: { title: { text: "loss" }, rangemode: "tozero" },
      yaxis2: { title: { text: "dev macro-F1 (%)" }, overlaying: "y", side: "right", range: [0, 100] },
    },
    config: CONFIG,
  };
}

type Splits<T> = readonly T[] | Record<string, readonly T[]>;

function asSplits<T>(input: Splits<T>, fallback: string): [string, readonly T[]][] {
  return Array.isArray(input) ? [[fallback, input as readonly T[]]] : Object.entries(input as Record<string, readonly T[]>);
}

/** Rows per label as bars, one bar per split (e.g. { train, dev }); labels in the study's order. */
export function labelDistributionChart(rows: Splits<{ r: string }>, opts: ChartOptions = {}): PlotlyFigure {
  const splits = asSplits(rows, "rows");
  const order: string[] = LABELS.map((l) => l.zh);
  const counts = splits.map(([, list]) => {
    const c = new Map<string, number>();
    for (const row of list) {
      const key = normalizeLabel(row.r) ?? row.r;
      if (!order.includes(key)) order.push(key);
      c.set(key, (c.get(key) ?? 0) + 1);
    }
    return c;
  });
  const x = order.map((l) => bilingualLabel(l));
  return {
    data: splits.map(([name], i) => ({
      type: "bar",
      name,
      x,
      y: order.map((l) => counts[i].get(l) ?? 0),
      hovertemplate: `${name}<br>%{x}<br>%{y} rows<extra></extra>`,
    })),
    layout: {
      ...baseLayout(opts, { title: "Label distribution 标签分布", height: 440 }),
      barmode: "group",
      xaxis: { title: { text: "Relation 关系类别" }, ...SLANTED },
      yaxis: { title: { text: "rows" } },
    },
    config: CONFIG,
  };
}

export interface LengthHistogramOptions extends ChartOptions {
  /** bin width in characters (default 10) */
  binSize?: number;
}

/** Histogram of sentence lengths in characters (Unicode code points), one overlaid trace per split. */
export function sentenceLengthHistogram(rows: Splits<{ sentence: string }>, opts: LengthHistogramOptions = {}): PlotlyFigure {
  const splits = asSplits(rows, "sentences");
  const size = opts.binSize ?? 10;
  return {
    data: splits.map(([name, list]) => ({
      type: "histogram",
      name,
      x: list.map((r) => Array.from(r.sentence).length),
      xbins: { start: 0, size },
      opacity: splits.length > 1 ? 0.6 : 1,
    })),
    layout: {
      ...baseLayout(opts, { title: "Sentence length 句子长度 (characters)", height: 400 }),
      barmode: "overlay",
      xaxis: { title: { text: "characters 字符数" } },
      yaxis: { title: { text: "sentences" } },
    },
    config: CONFIG,
  };
}

/** One effect at one strength: where it is drawn, its value, its 95% interval, and the hover's verdict. */
export interface EffectPoint {
  /** the comparison (the x category) */
  x: string;
  /** the strength it was measured at (one trace each) */
  group: string;
  diff: number;
  ci: readonly [number, number];
  /** e.g. the verdict in words, shown on hover */
  note: string;
}

/**
 * Effects (points) with their 95% intervals as error bars, one trace per group (encoder strength) side by side within
 * each comparison, and each comparison's reference value (the study's own, one run each) as an open diamond.
 */
export function effectsByGroupChart(points: readonly EffectPoint[], references: readonly { x: string; value: number }[], opts: ChartOptions = {}): PlotlyFigure {
  if (points.length === 0) throw new ReportInputError("effectsByGroupChart: no effects to plot");
  const groups = [...new Set(points.map((p) => p.group))];
  const data: PlotlyTrace[] = groups.map((g, i) => {
    const mine = points.filter((p) => p.group === g);
    const [lo, hi] = [mine.map((p) => (Number.isFinite(p.ci[0]) ? p.diff - p.ci[0] : 0)), mine.map((p) => (Number.isFinite(p.ci[1]) ? p.ci[1] - p.diff : 0))];
    return {
      type: "scatter",
      mode: "markers",
      name: g,
      x: mine.map((p) => p.x),
      y: mine.map((p) => p.diff),
      offsetgroup: String(i),
      marker: { size: 10, color: ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"][i % 4] },
      error_y: { type: "data", symmetric: false, array: hi, arrayminus: lo, visible: true },
      customdata: mine.map((p) => [p.ci[0], p.ci[1], p.note]),
      hovertemplate: `${g}<br>%{x}<br>%{y:+.2f} points (95% interval %{customdata[0]:+.2f} … %{customdata[1]:+.2f})<br>%{customdata[2]}<extra></extra>`,
    };
  });
  if (references.length) {
    data.push({
      type: "scatter",
      mode: "markers",
      name: "the study's own value",
      x: references.map((r) => r.x),
      y: references.map((r) => r.value),
      marker: { symbol: "diamond-open", size: 13, color: "#d62728", line: { width: 2 } },
      hovertemplate: "the study's own value<br>%{x}<br>%{y:+.2f} points (one run each)<extra></extra>",
    });
  }
  return {
    data,
    layout: {
      ...baseLayout(opts, { title: "Effects at each encoder strength (points, 95% interval over seeds; ◇ = the study's value)", height: 480 }),
      scattermode: "group",
      xaxis: { title: { text: "comparison" }, type: "category", ...SLANTED },
      yaxis: { title: { text: "effect (points)" }, zeroline: true, zerolinewidth: 2 },
    },
    config: CONFIG,
  };
}
