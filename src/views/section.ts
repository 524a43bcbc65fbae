/**
 * One call per table notebook (02–05): `await views.studySection("loss", { preset: PRESET })` shows, in order,
 * the study's published table (data/study-tables.json), ours on the study's data (results/study: the table, its
 * summary, per-class F1 with error bars over seeds, the t-test readings, and what the study's hard classes are taken
 * for, with the sentences when the runs' predictions are on this machine), then the demo grid, labelled as the
 * illustration it is. The notebooks keep only what differs between them: the claim, the idea at work, the reading.
 */
import * as path from "node:path";
import { STUDY_HARD_CLASSES } from "../data/labels";
import { PROJECT_ROOT } from "../runs/config";
import { DEMO_HARD_TRAIN_SHARE } from "../data/demo";
import { publishedTable, showHtml, showTable, showSentences, escapeHtml, loadStudyTables, type ReportSection } from "../report";
import {
  type PresetName,
  missingResultsMessage,
  TABLE_SPECS,
  type TableName,
  demoTable,
  headlineChangeChart,
  loadResults,
  type TableRequest,
  type TableResult,
  ensembleLines,
} from "../experiments";
import { showErrorAnalysis, showTableResult } from "./tables";

export interface SectionRequest {
  preset: PresetName;
  /** where the demo grid's runs are (default runs/, or MEDREL_RUNS_DIR) */
  runsDir?: string;
  /** the folder of the study-data results files (default results/study, or MEDREL_RESULTS_DIR) */
  resultsDir?: string;
  progress?: TableRequest["progress"];
}

export interface SectionResult {
  /** ours on the study's data, or null when results/study/<table>.json is not there yet */
  study: TableResult<"shipped"> | null;
  demo: TableResult<"runs">;
}

function heading(text: string): void {
  showHtml(`<h3 style="margin:14px 0 4px 0">${escapeHtml(text)}</h3>`, `\n== ${text}`);
}

/** "12 of 20 runs so far": what a results file that the grid is still filling holds. */
export function progressLine(t: Pick<TableResult, "progress">): string | undefined {
  const p = t.progress;
  if (p.done >= p.total) return undefined;
  return `${p.done} of ${p.total} runs so far: the grid on the study's data is still running, and every number below is from the runs finished.`;
}

/**
 * Variants that scored exactly as an earlier one on every seed, said in words: a reader who sees Effective-number
 * weights equal Regular Loss to the digit should not have to guess that the two trained the same model.
 */
export function identicalVariantLines(t: Pick<TableResult, "records" | "variants">): string[] {
  const key = (v: string) =>
    JSON.stringify(t.records.filter((r) => r.variant === v).sort((a, b) => a.seed - b.seed).map((r) => [r.seed, r.metrics.confusion, r.metrics.macro_f1]));
  const present = t.variants.filter((v) => t.records.some((r) => r.variant === v));
  return present.flatMap((b, i) => {
    const a = present.slice(0, i).find((x) => key(x) === key(b));
    if (!a) return [];
    const n = t.records.filter((r) => r.variant === b).length;
    return [
      `${b} scored exactly as ${a} on each of its ${n} seeds (the same confusion matrices): the two trained the same model. ` +
        `Weights computed from class counts are all equal on a balanced training split, as the study's is, so they weigh nothing.`,
    ];
  });
}

/** The shipped runs left out because they do not prove themselves, each named with its field, and what to do. */
export function leftOutLines(t: Pick<TableResult<"shipped">, "rejected" | "file">): string[] {
  if (t.rejected.length === 0) return [];
  return [
    `${t.rejected.length} run(s) of ${path.relative(PROJECT_ROOT, t.file)} are left out of every number below: they do not agree with themselves or with the table's spec.`,
    ...t.rejected.map((r) => `  ${r.message}`),
    `Restore the file from git (git checkout -- ${path.relative(PROJECT_ROOT, t.file)}) or re-export it.`,
  ];
}

/** The study's table as published, each metric's best value in bold. */
export function showStudyTable(table: TableName): void {
  const spec = TABLE_SPECS[table];
  const { frame, best } = publishedTable(spec.studyKey, spec.studyOrientation);
  const note = loadStudyTables().tables[spec.studyKey].note;
  showTable(frame, { caption: `the study's table (data/study-tables.json; ${note}; test split, one run each; best in bold)`, strong: best });
}

/** Ours on the study's data: the shipped table, or the command that writes it. */
function showStudyData(table: TableName, shipped: TableResult<"shipped"> | null, req: SectionRequest): void {
  if (!shipped) {
    console.log(missingResultsMessage(table, req.resultsDir));
    return;
  }
  const progress = progressLine(shipped);
  if (progress) showHtml(`<p style="border-left:4px solid #e0a800;padding:4px 8px;margin:6px 0">${escapeHtml(progress)}</p>`, progress);
  const left = leftOutLines(shipped);
  if (left.length) showHtml(`<pre style="border-left:4px solid #c0392b;padding:4px 8px;margin:6px 0;white-space:pre-wrap">${escapeHtml(left.join("\n"))}</pre>`, left.join("\n"));
  const seeds = new Set(shipped.records.map((r) => r.seed)).size;
  showTableResult(shipped, { caption: `ours on the study's data (${shipped.split} split, % mean ± std over ${seeds} seeds) beside the study's` });
  const same = identicalVariantLines(shipped);
  if (same.length) showSentences(same, "Identical rows:");
  const ensemble = ensembleLines(shipped.ensemble);
  if (ensemble.length) showSentences(ensemble, "The ensemble row:");
  const v = TABLE_SPECS[table].headline?.b ?? TABLE_SPECS[table].baseline;
  const hard = `What ${STUDY_HARD_CLASSES.join(" and ")}, the study's hard classes, are taken for by ${v}, summed over its seeds:`;
  showHtml(`<p style="font-weight:bold;margin:10px 0 4px 0">${escapeHtml(hard)}</p>`, hard);
  showErrorAnalysis(shipped, { variant: v, golds: STUDY_HARD_CLASSES, pairs: 1, examples: 4, runsDir: req.runsDir, resultsDir: req.resultsDir });
}

/** What the demo is, from the generator's own constants: an illustration, not evidence. */
export function demoCaveat(): string {
  const share = `${Math.round(100 * DEMO_HARD_TRAIN_SHARE)}%`;
  return (
    `The same table on the embedded demo data (trained here, or loaded from the runs folder when npm start trained it). The demo is synthetic and ` +
    `its imbalance is built in by its generator (src/data/demo.ts): the hard classes ${STUDY_HARD_CLASSES.join(" and ")} keep ${share} of their rows in ` +
    `train (data.DEMO_HARD_TRAIN_SHARE) while dev and test stay balanced, so the study's remedies have something to correct in minutes on a CPU. ` +
    `Read it as an illustration of the method, not as evidence for or against the study's claim: that is the section above.`
  );
}

/**
 * The study's table, ours on the study's data, and the demo grid (trained in the notebook when its runs are not in the
 * runs folder yet). Returns both results for the cells after it; assign it (`const section = await …`) so the
 * notebook does not print the object.
 */
export async function studySection(table: TableName, req: SectionRequest): Promise<SectionResult> {
  const spec = TABLE_SPECS[table];
  heading(`${spec.title}: the study's table`);
  showStudyTable(table);
  heading("Ours on the study's data");
  const study = loadResults(table, req.resultsDir);
  showStudyData(table, study, req);
  heading("The demo grid: an illustration");
  showHtml(`<p style="margin:4px 0 8px 0">${escapeHtml(demoCaveat())}</p>`, demoCaveat());
  const demo = await demoTable(table, req.preset, { runsDir: req.runsDir, progress: req.progress });
  showTableResult(demo);
  showErrorAnalysis(demo, { pairs: 3, examples: 4, runsDir: req.runsDir });
  return { study, demo };
}

/** What a report section reads of a table result (study-data or demo): ours beside the study's, in words, per class. */
export type ReportedTable = Pick<TableResult, "table" | "frame" | "summary" | "readings" | "chart" | "split" | "records" | "progress" | "variants" | "encoder"> & {
  ensemble?: TableResult<"shipped">["ensemble"];
};

const h3 = (text: string): string => `<h3 style="margin:18px 0 4px 0">${escapeHtml(text)}</h3>`;

/**
 * One table of a standalone report (reports/index.html) in the notebooks' order: the study's data first — ours on it
 * beside the study's published numbers, in words, per class — then the demo, labelled as the illustration it is.
 */
export function tableReportSections(table: TableName, study: ReportedTable | null, demo: ReportedTable | null): ReportSection[] {
  const spec = TABLE_SPECS[table];
  const out: ReportSection[] = [{ title: spec.title, html: h3("Ours on the study's data") }];
  if (study) {
    const seeds = new Set(study.records.map((r) => r.seed)).size;
    const progress = progressLine(study);
    out.push({
      text: progress,
      table: study.frame,
      tableCaption: `ours on the study's data (${study.split} split, % mean ± std over ${seeds} seeds) beside the study's published numbers (test split, one run each)`,
      list: [...study.summary, ...identicalVariantLines(study), ...ensembleLines(study.ensemble), ...study.readings],
    });
    out.push({ figure: study.chart });
    const change = headlineChangeChart(study);
    if (change) out.push({ figure: change });
  } else {
    out.push({ text: missingResultsMessage(table) });
  }
  out.push({ html: h3("The demo: an illustration, its effects built in") }, { text: demoCaveat() });
  if (!demo) {
    out.push({ text: "Its runs are not in the runs folder: npm start trains them." });
  } else {
    const seeds = new Set(demo.records.map((r) => r.seed)).size;
    out.push({
      table: demo.frame,
      tableCaption: `the demo (${demo.split} split, % mean ± std over ${seeds} seeds): an illustration, not a reproduction`,
      list: [...demo.summary, ...demo.readings],
    });
    out.push({ figure: demo.chart });
  }
  return out;
}
