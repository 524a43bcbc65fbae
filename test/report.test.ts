import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";
import type { Metrics } from "../src/metrics";
import { classificationMetrics, summarize } from "../src/metrics";
import type { RunScore } from "./helpers";
import { TABLE_SPECS } from "../src/experiments/study-tables";
import { LABEL_NAMES } from "../src/data/labels";
import {
  loadDanfo,
  loadStudyTables,
  studyValue,
  modelTable,
  encodingTable,
  weightedLossTable,
  augmentationTable,
  perClassTable,
  runsTable,
  formatMeanStd,
  formatVariation,
  dropEmptyColumns,
  ReportInputError,
  perClassF1Chart,
  confusionMatrixChart,
  trainingCurvesChart,
  labelDistributionChart,
  sentenceLengthHistogram,
  CJK_FONT_FAMILY,
  figureHtml,
  tableHtml,
  tableText,
  showTable,
  showChart,
  writeReportHtml,
  resetPlotlyInlined,
  confusionDiffChart,
  sentencesHtml,
  displayWidth,
  padDisplay,
  formatPerClass,
  orientationOf,
  publishedTable,
  studyMetric,
  studyTableFrame,
  perClassChangeChart,
  tableCsv,
  tableLatex,
  type PlotlyFigure,
} from "../src/report";

/** Metrics with chosen headline numbers (fractions) and per-class F1 = base + k/100. */
function fakeMetrics(p: number, r: number, f1: number, micro: number, range: number, base = 0.8): Metrics {
  const per_class: Metrics["per_class"] = {};
  LABEL_NAMES.forEach((name, k) => {
    per_class[name] = { precision: base, recall: base, f1: base + k / 100, support: 20 + k };
  });
  return {
    per_class,
    macro_precision: p,
    macro_recall: r,
    macro_f1: f1,
    micro_f1: micro,
    f1_range: range,
    accuracy: micro,
    confusion: LABEL_NAMES.map((_, i) => LABEL_NAMES.map((__, j) => (i === j ? 18 : i === (j + 1) % 10 ? 2 : 0))),
    n: 200,
  };
}

function col(df: { column(name: string): { values: unknown[] } }, name: string): unknown[] {
  return df.column(name).values;
}

// Hand-computed: regular Macro-F1 over seeds = 86, 87, 88 -> 87.00 ± 1.00;
// weighted = 88, 89, 93 -> mean 90.00, sample std sqrt((4 + 1 + 9) / 2) = sqrt(7) = 2.6458 -> "90.00 ± 2.65"
const REGULAR = [0.86, 0.87, 0.88];
const WEIGHTED = [0.88, 0.89, 0.93];
const lossRuns: RunScore[] = [1, 2, 3].flatMap((seed, i) => [
  { variant: "Regular Loss", seed, split: "test", metrics: fakeMetrics(0.9, 0.85, REGULAR[i], 0.87, 0.2) },
  { variant: "Weighted Loss", seed, split: "test", metrics: fakeMetrics(0.91, 0.86, WEIGHTED[i], 0.9, 0.1 + i / 100) },
]);

test("study tables load typed, values as printed", () => {
  const t = loadStudyTables();
  assert.match(t.copied_from, /slide-tables\.json/);
  assert.deepEqual(t.tables.weighted_loss.columns, ["Regular Loss", "Weighted Loss", "Variation"]);
  assert.equal(studyValue("augmentation", "F1 Range", "Weighted+Aug"), 9.45);
  assert.equal(studyValue("model_comparison", "F1 Range", "MedBERT"), undefined);
});

test("danfo loads (through the tfjs shim when tfjs-node cannot)", () => {
  const dfd = loadDanfo();
  const df = new dfd.DataFrame({ a: [1, 2] });
  assert.deepEqual(df.shape, [2, 1]);
});

test("formatting: mean ± std (sample std), one seed, none, signed variation", () => {
  assert.equal(formatMeanStd(summarize([86, 87, 88])), "87.00 ± 1.00");
  assert.equal(formatMeanStd(summarize([88, 89, 93])), "90.00 ± 2.65");
  assert.equal(formatMeanStd(summarize([90.236])), "90.24");
  assert.equal(formatMeanStd(summarize([])), "–");
  assert.equal(formatVariation(1.6), "+1.60");
  assert.equal(formatVariation(-8.28), "-8.28");
  assert.equal(formatVariation(NaN), "–");
});

test("weightedLossTable: study rows/columns, mean ± std, Variation = difference of means, study values", () => {
  const df = weightedLossTable(lossRuns, { numeric: true });
  const study = loadStudyTables().tables.weighted_loss;
  assert.deepEqual(df.index, ["Macro-P", "Macro-R", "Macro-F1", "Micro-F1", "F1 Range"]);
  assert.deepEqual(df.index, Object.keys(study.rows));
  assert.deepEqual(df.columns.slice(0, 3), study.columns);
  assert.deepEqual(df.columns.slice(3, 6), study.columns.map((c) => `${c} (study)`));
  const f1 = df.index.indexOf("Macro-F1");
  assert.equal(col(df, "Regular Loss")[f1], "87.00 ± 1.00");
  assert.equal(col(df, "Weighted Loss")[f1], "90.00 ± 2.65");
  assert.equal(col(df, "Variation")[f1], "+3.00");
  assert.equal(col(df, "Variation")[df.index.indexOf("F1 Range")], "-9.00"); // 11 - 20
  assert.equal(col(df, "Variation")[df.index.indexOf("Macro-P")], "+1.00");
  assert.ok(Math.abs((col(df, "Variation mean")[f1] as number) - 3) < 1e-9);
  assert.ok(Math.abs((col(df, "Weighted Loss std")[f1] as number) - Math.sqrt(7)) < 1e-9);
  assert.equal(col(df, "Weighted Loss n")[f1], 3);
  // the study's numbers with two decimals like ours, differences signed
  assert.deepEqual(col(df, "Weighted Loss (study)"), ["89.62", "88.60", "88.71", "89.01", "18.01"]);
  assert.deepEqual(col(df, "Variation (study)"), ["+1.60", "+1.70", "+1.70", "+2.11", "-8.28"]);
  // without numeric: 6 columns
  assert.deepEqual(weightedLossTable(lossRuns).shape, [5, 6]);
});

test("augmentationTable maps variant aliases onto the study's columns", () => {
  const runs: RunScore[] = [
    { variant: "weighted", seed: 1, metrics: fakeMetrics(0.9, 0.9, 0.9, 0.9, 0.2) },
    { variant: "weighted+aug", seed: 1, metrics: fakeMetrics(0.92, 0.9, 0.91, 0.9, 0.1) },
  ];
  const df = augmentationTable(runs, { aliases: TABLE_SPECS.augmentation.aliases });
  assert.deepEqual(df.columns, ["Weighted Loss", "Weighted+Aug", "Variation", "Weighted Loss (study)", "Weighted+Aug (study)", "Variation (study)"]);
  assert.deepEqual(col(df, "Weighted+Aug"), ["92.00", "90.00", "91.00", "90.00", "10.00"]);
  assert.deepEqual(col(df, "Variation"), ["+2.00", "+0.00", "+1.00", "+0.00", "-10.00"]);
});

test("modelTable: four metric rows, study model columns, missing models as –, extra variants appended", () => {
  const runs: RunScore[] = [
    { variant: "hfl/chinese-roberta-wwm-ext", seed: 1, metrics: fakeMetrics(0.9, 0.9, 0.9, 0.9, 0.1) },
    { variant: "char-ngram LR", seed: 1, metrics: fakeMetrics(0.84, 0.84, 0.836, 0.837, 0.3) },
  ];
  const df = modelTable(runs, { aliases: TABLE_SPECS.models.aliases });
  assert.deepEqual(df.index, ["Macro-P", "Macro-R", "Macro-F1", "Micro-F1"]);
  assert.deepEqual(df.columns, [
    "BioBERT", "Chinese-RoBERTa-wwm-ext", "MedBERT", "char-ngram LR",
    "BioBERT (study)", "Chinese-RoBERTa-wwm-ext (study)", "MedBERT (study)",
  ]);
  assert.deepEqual(col(df, "BioBERT"), ["–", "–", "–", "–"]);
  assert.deepEqual(col(df, "char-ngram LR"), ["84.00", "84.00", "83.60", "83.70"]);
  assert.deepEqual(col(df, "MedBERT (study)"), ["89.79", "88.70", "88.80", "89.25"]);
  assert.deepEqual(col(df, "BioBERT (study)"), ["46.00", "36.30", "30.80", "46.28"]);
  // no BioBERT or MedBERT run: those columns of ours go, their study columns stay
  assert.deepEqual(dropEmptyColumns(df).columns, [
    "Chinese-RoBERTa-wwm-ext", "char-ngram LR", "BioBERT (study)", "Chinese-RoBERTa-wwm-ext (study)", "MedBERT (study)",
  ]);
});

test("encodingTable: encodings as rows like the slide, metrics as columns", () => {
  const runs: RunScore[] = [
    { variant: "entity_marked2", seed: 1, metrics: fakeMetrics(0.9, 0.8, 0.85, 0.86, 0.1) },
    { variant: "Entity_marked2", seed: 2, metrics: fakeMetrics(0.92, 0.8, 0.87, 0.88, 0.1) },
  ];
  const df = encodingTable(runs, { numeric: true });
  assert.deepEqual(df.index, ["Basic1", "Basic2", "QA", "Entity_marked1", "Entity_marked2"]);
  assert.deepEqual(df.columns.slice(0, 8), [
    "Macro-P", "Macro-R", "Macro-F1", "Micro-F1",
    "Macro-P (study)", "Macro-R (study)", "Macro-F1 (study)", "Micro-F1 (study)",
  ]);
  assert.equal(col(df, "Macro-F1")[4], "86.00 ± 1.41");
  assert.equal(col(df, "Macro-F1")[0], "–");
  assert.equal(col(df, "Micro-F1 (study)")[4], "90.46");
  assert.equal(col(df, "Macro-P n")[4], 2);
});

test("each table spec carries its study key and the layout of that table; the frame follows the spec, not the key", () => {
  for (const spec of Object.values(TABLE_SPECS)) {
    // the spec says it; the study's own columns agree (metric names as columns = variants as rows)
    assert.equal(orientationOf(spec.studyKey), spec.studyOrientation, spec.name);
  }
  assert.equal(TABLE_SPECS.encodings.studyOrientation, "variants-as-rows");
  assert.equal(TABLE_SPECS.loss.studyOrientation, "variants-as-columns");
  // read either way round by the same call
  assert.equal(studyMetric("encoding_ablation", "variants-as-rows", "Entity_marked2", "Macro-F1"), 90.24);
  assert.equal(studyMetric("weighted_loss", "variants-as-columns", "Weighted Loss", "Macro-F1"), 88.71);
  const runs: RunScore[] = [{ variant: "Entity_marked2", seed: 1, metrics: fakeMetrics(0.9, 0.8, 0.85, 0.86, 0.1) }];
  const byOrientation = studyTableFrame("encoding_ablation", runs, { orientation: "variants-as-rows" });
  assert.deepEqual(byOrientation.index, encodingTable(runs).index);
  assert.deepEqual(byOrientation.values, encodingTable(runs).values);
});

test("publishedTable: the study's table as on its slide, each metric's best marked, the slide's own arithmetic noted", () => {
  const loss = publishedTable("weighted_loss", "variants-as-columns");
  assert.deepEqual(loss.frame.index, ["Macro-P", "Macro-R", "Macro-F1", "Micro-F1", "F1 Range"]);
  assert.deepEqual(loss.frame.columns, ["Regular Loss", "Weighted Loss", "Variation", "note"]);
  assert.deepEqual(col(loss.frame, "Variation"), ["+1.60", "+1.70", "+1.70", "+2.11", "-8.28"]);
  // Macro-R: the slide prints +1.70 for 88.60 − 88.10; Macro-P's +1.60 is its difference to the rounding
  assert.deepEqual(col(loss.frame, "note"), ["", "as printed; 88.60 − 88.10 = +0.50", "", "", ""]);
  // best per metric row: Weighted Loss (column 1) everywhere, the lower F1 range included
  assert.deepEqual(loss.best, [[0, 1], [1, 1], [2, 1], [3, 1], [4, 1]]);
  const enc = publishedTable("encoding_ablation", "variants-as-rows");
  assert.deepEqual(enc.frame.index, ["Basic1", "Basic2", "QA", "Entity_marked1", "Entity_marked2"]);
  assert.equal(enc.frame.columns.includes("note"), false, "no Variation column, no note");
  // best per metric column: Entity_marked2 (row 4) in all four
  assert.deepEqual(enc.best, [[4, 0], [4, 1], [4, 2], [4, 3]]);
  assert.deepEqual(publishedTable("model_comparison").best, [[0, 1], [1, 1], [2, 1], [3, 1]]);
  const html = tableHtml(enc.frame, { strong: enc.best });
  assert.equal((html.match(/<b>/g) ?? []).length, 4);
  assert.match(html, /<td[^>]*><b>90\.24<\/b><\/td>/);
});

test("perClassTable: 10 label rows, English label column, one column per variant, support", () => {
  const df = perClassTable(lossRuns, { split: "test" });
  assert.deepEqual(df.index, [...LABEL_NAMES]);
  assert.deepEqual(df.columns, ["label", "Regular Loss", "Weighted Loss", "support"]);
  assert.equal(col(df, "label")[4], "Complication");
  assert.equal(col(df, "Regular Loss")[3], "83.00 ± 0.00");
  assert.deepEqual(col(df, "support"), [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
  assert.deepEqual(perClassTable(lossRuns, { numeric: true, metric: "recall" }).shape, [10, 10]);
});

test("runsTable lists every run", () => {
  const df = runsTable(lossRuns);
  assert.deepEqual(df.shape, [6, 10]);
  assert.equal(col(df, "Macro-F1")[1], 88);
});

test("bad runs: duplicate seeds and mixed splits are refused", () => {
  assert.throws(() => weightedLossTable([...lossRuns, lossRuns[0]]), (e: unknown) => e instanceof ReportInputError && /seed 1/.test(e.message));
  const mixed = [...lossRuns, { ...lossRuns[0], split: "dev" }];
  assert.throws(() => weightedLossTable(mixed), /mix splits/);
  assert.deepEqual(weightedLossTable(mixed, { split: "dev" }).shape, [5, 6]);
});

test("charts: per-class grouped bars with bilingual labels and a CJK font stack", () => {
  const fig = perClassF1Chart(lossRuns);
  assert.equal(fig.data.length, 2);
  assert.deepEqual(fig.data.map((t) => t.name), ["Regular Loss", "Weighted Loss"]);
  assert.equal(fig.data[0].type, "bar");
  assert.equal(fig.data[0].x!.length, 10);
  assert.equal(fig.data[0].x![4], "并发症 Complication");
  assert.equal(fig.data[0].x![8], "相关（导致） Related");
  assert.ok(Math.abs((fig.data[0].y![3] as number) - 83) < 1e-9);
  assert.ok(fig.data[0].error_y, "std error bars with several seeds");
  assert.equal(fig.layout.barmode, "group");
  const font = fig.layout.font as { family: string };
  assert.equal(font.family, CJK_FONT_FAMILY);
  for (const f of ["Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei", "sans-serif"]) {
    assert.ok(font.family.includes(f), f);
  }
});

test("charts: confusion heatmap, training curves, label distribution, length histogram", () => {
  const m = classificationMetrics([0, 1, 2, 2], [0, 2, 2, 1]);
  const cm = confusionMatrixChart(m);
  assert.equal(cm.data[0].type, "heatmap");
  assert.deepEqual(cm.data[0].z, m.confusion);
  assert.equal(cm.data[0].y![0], "临床表现 Clinical Manifestation");
  assert.equal((cm.layout.yaxis as { autorange: string }).autorange, "reversed");
  const norm = confusionMatrixChart(m, { normalize: true });
  assert.deepEqual(norm.data[0].z![2].slice(0, 3), [0, 0.5, 0.5]);

  const curves = trainingCurvesChart({
    a: [{ epoch: 1, trainLoss: 1.2, devMacroF1: 0.5 }, { epoch: 2, trainLoss: 0.6, devMacroF1: 0.8 }],
  });
  assert.deepEqual(curves.data.map((t) => t.name), ["a train loss", "a dev macro-F1 (%)"]);
  assert.deepEqual(curves.data[1].y, [50, 80]);
  assert.equal(curves.data[1].yaxis, "y2");

  const dist = labelDistributionChart({ train: [{ r: "并发症" }, { r: "相关" }, { r: "并发症" }], dev: [{ r: "病因" }] });
  assert.deepEqual(dist.data.map((t) => t.name), ["train", "dev"]);
  assert.deepEqual(dist.data[0].y, [0, 0, 0, 0, 2, 0, 0, 0, 1, 0]);
  assert.deepEqual(dist.data[1].y, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);

  const hist = sentenceLengthHistogram([{ sentence: "发热。" }, { sentence: "ab 𠀀" }]);
  assert.equal(hist.data[0].type, "histogram");
  assert.deepEqual(hist.data[0].x, [3, 4]); // code points, not UTF-16 units
});

/** Run a snippet's scripts in a sandbox with a fake DOM; return the newPlot calls. */
function runSnippet(html: string, withPlotly: boolean, served?: "loads" | "fails"): { calls: unknown[][]; requested: string[]; message: () => string } {
  const calls: unknown[][] = [];
  const el = { textContent: "" };
  const window: Record<string, unknown> = {};
  const plotly = { newPlot: (...args: unknown[]) => calls.push(args) };
  if (withPlotly) window.Plotly = plotly;
  const requested: string[] = [];
  // a page without plotly.js: the snippet asks for Jupyter's copy with a <script src>, which loads or fails
  const head = {
    appendChild: (s: { src: string; onload: () => void; onerror: () => void }) => {
      requested.push(s.src);
      if (served === "loads") window.Plotly = plotly;
      (served === "loads" ? s.onload : s.onerror)();
    },
  };
  const body = { getAttribute: (a: string) => (a === "data-base-url" ? "/base/" : null) };
  const ctx = vm.createContext({ window, document: { getElementById: () => el, createElement: () => ({}), head, body } });
  const scripts = [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  // the last script is ours; plotly.js itself is only syntax-checked (it needs a real browser)
  for (const s of scripts.slice(0, -1)) new vm.Script(s);
  vm.runInContext(scripts[scripts.length - 1], ctx);
  return { calls, requested, message: () => el.textContent };
}

const PLOTLY_MARK = "* plotly.js v";

test("figureHtml inlines plotly.js once per process, then only calls Plotly.newPlot; a page without it loads Jupyter's copy", async () => {
  resetPlotlyInlined();
  const fig: PlotlyFigure = perClassF1Chart(lossRuns);
  const first = figureHtml(fig);
  const second = figureHtml(fig);
  assert.equal(first.split(PLOTLY_MARK).length - 1, 1);
  assert.equal(second.split(PLOTLY_MARK).length - 1, 0);
  assert.ok(first.length > 1_000_000 && second.length < 50_000);
  const id1 = /<div id="([^"]+)"/.exec(first)![1];
  const id2 = /<div id="([^"]+)"/.exec(second)![1];
  assert.notEqual(id1, id2);
  assert.equal(figureHtml(fig, { includePlotlyJs: true }).split(PLOTLY_MARK).length - 1, 1);
  assert.equal(figureHtml(fig, { includePlotlyJs: false }).includes(PLOTLY_MARK), false);
  // the snippet's own script passes data and layout through intact, Chinese included
  const { calls } = runSnippet(first, true);
  assert.equal(calls.length, 1);
  const [, data, layout] = calls[0] as [unknown, PlotlyFigure["data"], PlotlyFigure["layout"]];
  assert.equal(JSON.stringify(data), JSON.stringify(fig.data)); // objects from the sandbox's realm
  assert.equal((layout.font as { family: string }).family, CJK_FONT_FAMILY);
  // a page without plotly.js (a reloaded notebook) loads the copy Jupyter serves, then draws
  const reloaded = runSnippet(second, false, "loads");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(reloaded.requested, ["/base/nbextensions/medrel/plotly.min.js"]);
  assert.equal(reloaded.calls.length, 1);
  // with no copy served either, it says so instead of throwing
  const none = runSnippet(second, false, "fails");
  await new Promise((r) => setImmediate(r));
  assert.equal(none.calls.length, 0);
  assert.match(none.message(), /plotly\.js is not on this page/);
});

test("outside a notebook: showTable prints text, showChart shows nothing and keeps plotly.js for the next chart", () => {
  resetPlotlyInlined();
  const logged: string[] = [];
  const orig = console.log;
  console.log = (s: string) => logged.push(s);
  try {
    showTable(weightedLossTable(lossRuns), { caption: "Weighted loss" });
  } finally {
    console.log = orig;
  }
  assert.match(logged[0], /Weighted loss\n/);
  assert.match(logged[0], /Macro-F1 +87\.00 ± 1\.00 +90\.00 ± 2\.65 +\+3\.00/);
  showChart(perClassF1Chart(lossRuns));
  assert.ok(figureHtml(perClassF1Chart(lossRuns)).includes(PLOTLY_MARK));
});

test("tableHtml renders index, columns and escaped cells; tableText aligns", () => {
  const html = tableHtml(weightedLossTable(lossRuns), { caption: "<b>x</b>" });
  assert.match(html, /<caption[^>]*>&lt;b&gt;x&lt;\/b&gt;<\/caption>/);
  assert.equal((html.match(/<tr>/g) ?? []).length, 6);
  assert.match(html, /<th[^>]*>Variation \(study\)<\/th>/);
  assert.match(html, /<td[^>]*>90\.00 ± 2\.65<\/td>/);
  assert.match(html, /<td[^>]*>-8\.28<\/td>/);
  const text = tableText(perClassTable(lossRuns));
  assert.equal(text.split("\n").length, 11);
});

test("writeReportHtml: one standalone page, plotly.js once, every chart and table", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "medrel-report-"));
  const file = writeReportHtml(path.join(dir, "sub", "report.html"), [
    { title: "Weighted loss", text: "Ours vs the study.", table: weightedLossTable(lossRuns) },
    { title: "Per class", figure: perClassF1Chart(lossRuns) },
    { figure: confusionMatrixChart(lossRuns[0].metrics) },
  ], { title: "报告 report" });
  const html = readFileSync(file, "utf8");
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<meta charset="utf-8">/);
  assert.equal(html.split(PLOTLY_MARK).length - 1, 1);
  assert.equal((html.match(/window\.Plotly\.newPlot\(/g) ?? []).length, 2);
  assert.ok(html.indexOf(PLOTLY_MARK) < html.indexOf("window.Plotly.newPlot"));
  assert.match(html, /<title>报告 report<\/title>/);
});

test("tableHtml wraps long text in its cell; the table scrolls inside its own box instead of running off the page", () => {
  const dfd = loadDanfo();
  const long = "[CLS] 腓肠肌 [SEP] 小腿肚即腓肠肌，是常见的受累部位。 [SEP] 小腿肚 [SEP]";
  const html = tableHtml(new dfd.DataFrame({ text: [long], n: [3] }));
  assert.match(html, /^<div style="max-width:100%;overflow-x:auto"><table/);
  assert.match(html, /<td style="[^"]*white-space:normal;overflow-wrap:anywhere;max-width:520px[^"]*">\[CLS\] 腓肠肌/);
  assert.match(html, /<td style="[^"]*white-space:nowrap">3<\/td>/, "short cells stay on one line");
  // row labels (Chinese class names) never wrap; column headers wrap at spaces only, never inside a Chinese word
  const labels = tableHtml(new dfd.DataFrame({ "P · unweighted": ["1"] }, { index: ["临床表现"] }));
  assert.match(labels, /<th style="[^"]*white-space:nowrap">临床表现<\/th>/);
  assert.match(labels, /<th style="[^"]*word-break:keep-all">P · unweighted<\/th>/);
});

test("formatPerClass pads by display width: every row's numbers start in the same terminal column", () => {
  const text = formatPerClass(lossRuns[0].metrics);
  const lines = text.split("\n");
  assert.equal(lines.length, 11);
  // the columns before the first number, counting a CJK character as two
  const starts = lines.slice(1).map((l) => displayWidth(l.slice(0, l.search(/\d+\.\d\d/))));
  assert.deepEqual(new Set(starts).size, 1, `one start column, got ${[...new Set(starts)].join(", ")}`);
  assert.equal(padDisplay("病因", 6, "left"), "病因  ");
  assert.equal(padDisplay("ab", 4, "right"), "  ab");
});

test("confusionDiffChart: after − before per cell, signed text, a diverging scale centred on 0", () => {
  const before = [[5, 1], [2, 3]];
  const after = [[6, 0], [4, 1]];
  const fig = confusionDiffChart(before, after, { names: ["unweighted", "weighted"] });
  assert.deepEqual(fig.data[0].z, [[1, -1], [2, -2]]);
  assert.deepEqual(fig.data[0].text, [["+1", "-1"], ["+2", "-2"]]);
  assert.equal(fig.data[0].zmid, 0);
  assert.equal(fig.data[0].zmin, -2);
  assert.equal(fig.data[0].zmax, 2);
  assert.match((fig.layout.title as { text: string }).text, /^Confusion matrix: weighted − unweighted/);
  assert.throws(() => confusionDiffChart(before, [[1, 2, 3]]), /two square matrices of the same size/);
});

test("readings as a list: sentencesHtml escapes, reportHtml shows a section's list one item per line", () => {
  assert.equal(sentencesHtml(["a < b", "c"], "T"), `<div style="font-weight:bold;margin-top:6px">T</div><ul style="margin:4px 0 8px 0"><li>a &lt; b</li><li>c</li></ul>`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "medrel-report-"));
  const html = readFileSync(writeReportHtml(path.join(dir, "r.html"), [{ title: "t", list: ["one", "two"] }]), "utf8");
  assert.match(html, /<li>one<\/li><li>two<\/li>/);
});

test("perClassChangeChart: per-class F1 change against the reference with its paired 95% interval, hard classes starred, an axis that shows a point", () => {
  // 并发症 (class 4) gains 1, 2, 3 points over seeds 1–3: mean +2, per-seed sd 1, SE 1/√3, t(0.975, 2) = 4.3027
  const runs: RunScore[] = lossRuns.map((r) => {
    if (r.variant !== "Weighted Loss") return r;
    const per_class = { ...r.metrics.per_class, 并发症: { ...r.metrics.per_class["并发症"], f1: r.metrics.per_class["并发症"].f1 + r.seed / 100 } };
    return { ...r, metrics: { ...r.metrics, per_class } };
  });
  const fig = perClassChangeChart(runs, "Regular Loss", ["Weighted Loss"]);
  const [trace] = fig.data;
  const i = LABEL_NAMES.indexOf("并发症");
  assert.ok(Math.abs((trace.y as number[])[i] - 2) < 1e-9);
  const half = 4.302652729911275 / Math.sqrt(3);
  const err = trace.error_y as { array: number[]; arrayminus: number[] };
  assert.ok(Math.abs(err.array[i] - half) < 1e-9 && Math.abs(err.arrayminus[i] - half) < 1e-9);
  assert.equal((trace.y as number[])[0], 0, "an unchanged class has no bar");
  assert.deepEqual((trace.x as string[]).filter((x) => x.startsWith("★")), ["★ 并发症 Complication", "★ 相关（导致） Related"], "the two hard classes are marked");
  const y = fig.layout.yaxis as { range: number[]; dtick?: number };
  assert.deepEqual(y.range, [-5, 5], "scaled to the largest interval end (+4.48), not 0–100");
  assert.equal(y.dtick, 1, "one-point gridlines");
});

test("any table exports to CSV and LaTeX, and its HTML carries both as download links", () => {
  const df = weightedLossTable(lossRuns);
  const csv = tableCsv(df);
  const lines = csv.trimEnd().split("\r\n");
  assert.equal(lines[0], ["", ...df.columns.map(String)].map((c) => (c.includes(",") ? `"${c}"` : c)).join(","));
  assert.match(csv, /\r\nMacro-F1,87\.00 ± 1\.00,90\.00 ± 2\.65,\+3\.00,/);
  const tex = tableLatex(df, { caption: "Weighted loss: 100% & more" });
  assert.match(tex, /^\\begin\{table\}\n\\centering\n\\caption\{Weighted loss: 100\\% \\& more\}\n\\begin\{tabular\}\{lr+\}\n\\toprule\n/);
  assert.match(tex, /\nMacro-F1 & 87\.00 \$\\pm\$ 1\.00 & 90\.00 \$\\pm\$ 2\.65 & \+3\.00 & /);
  assert.match(tex, /\\bottomrule\n\\end\{tabular\}\n\\end\{table\}\n$/);
  const html = tableHtml(df, { caption: "Weighted loss" });
  const href = (ext: string) => decodeURIComponent(new RegExp(`download="Weighted_loss\\.${ext}" href="data:[^,]+,([^"]+)"`).exec(html)![1].replace(/&amp;/g, "&"));
  assert.equal(href("csv"), csv);
  assert.equal(href("tex"), tableLatex(df, { caption: "Weighted loss" }));
});
