/** Plain-text summaries for terminals and logs (notebooks get DataFrames and charts instead). */
import { LABELS } from "../data/labels";
import { METRIC_ROWS, metricValue, summarize, type Metrics } from "../metrics";
import { reportedMetrics, reportedSplit, type RunRecord } from "../runs/record";
import { padDisplay } from "./display";
import { formatMeanStd } from "./tables";

const pct = (x: number): string => (100 * x).toFixed(2).padStart(6);

/** The study's headline metrics of one split, as one line. */
export function formatMetricsLine(m: Metrics): string {
  return `Macro-P ${pct(m.macro_precision)}  Macro-R ${pct(m.macro_recall)}  Macro-F1 ${pct(m.macro_f1)}  Micro-F1 ${pct(m.micro_f1)}  F1 range ${pct(m.f1_range)}`;
}

/** Per-class P/R/F1 table, one label per line (Chinese and English names). */
export function formatPerClass(m: Metrics): string {
  // padded by display width: a CJK character takes two columns
  const lines = [`${padDisplay("label", 34, "left")}  ${"P".padStart(6)}  ${"R".padStart(6)}  ${"F1".padStart(6)}  support`];
  for (const l of LABELS) {
    const s = m.per_class[l.zh];
    if (!s) continue;
    lines.push(`${padDisplay(`${l.zh} ${l.en}`, 34, "left")}  ${pct(s.precision)}  ${pct(s.recall)}  ${pct(s.f1)}  ${String(s.support).padStart(7)}`);
  }
  return lines.join("\n");
}

/** A run in a few lines; `perClass: false` leaves out the per-class block (a notebook shows runMetricsTable instead). */
export function formatRunSummary(run: RunRecord, opts: { perClass?: boolean } = {}): string {
  const c = run.config;
  const m = c.model;
  const model = m.kind === "preset" ? `${m.preset}${m.pretrained ? " (pretrained)" : " (random init)"}` : m.kind === "ngram" ? "n-gram TF-IDF + LR (no encoder)" : m.name ?? m.dir;
  const out = [
    `run ${run.hash}  ${run.dir}`,
    `model ${model}, encoding ${c.encoding}${c.faithful ? " (faithful)" : ""}, pooling ${c.pooling}, loss ${c.loss.scheme}, seed ${c.seed}`,
    `backend ${run.info.backend}${run.info.kernels.length ? ` + ${run.info.kernels.join(", ")}` : ""}; ${run.info.trainRows} train rows, ${run.info.parameters.toLocaleString("en")} parameters; ${run.info.seconds.total.toFixed(1)} s (train ${run.info.seconds.train.toFixed(1)} s)`,
    `dev   ${formatMetricsLine(run.metrics.dev)}`,
  ];
  if (run.metrics.test) out.push(`test  ${formatMetricsLine(run.metrics.test)}`);
  if (opts.perClass ?? true) out.push("", formatPerClass(run.metrics.test ?? run.metrics.dev));
  return out.join("\n");
}

/** A study table as text: rows = metrics, columns = variants, "mean ± std" in % over seeds (the reported split). */
export function formatGridTable(table: string, runs: readonly (RunRecord & { variant: string })[], missing: number): string {
  const variants = [...new Set(runs.map((r) => r.variant))];
  const split = reportedSplit(runs);
  const cells = variants.map((v) => {
    const rs = runs.filter((r) => r.variant === v);
    return METRIC_ROWS.map((row) => formatMeanStd(summarize(rs.map((r) => metricValue(reportedMetrics(r, split), row)))));
  });
  const w = Math.max(16, ...variants.map((v) => v.length + 2));
  const lines = [
    `== ${table} (${split} split, % mean ± std over seeds${missing ? `; ${missing} runs missing` : ""})`,
    "".padEnd(10) + variants.map((v) => v.padStart(w)).join(""),
  ];
  METRIC_ROWS.forEach((name, i) => {
    lines.push(name.padEnd(10) + cells.map((c) => c[i].padStart(w)).join(""));
  });
  return lines.join("\n");
}
