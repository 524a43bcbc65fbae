/**
 * Showing tables and charts: in a notebook through tslab's rich display (text/html outputs), as
 * self-contained HTML snippets, or as a standalone HTML report.
 *
 * Charts carry plotly.js inline (read from node_modules/plotly.js-dist-min) in the first chart of
 * the process, then only call Plotly.newPlot, so a saved notebook, its nbconvert HTML export and a
 * written report all work offline; a live page that lacks it loads Jupyter's copy (PLOTLY_NBEXTENSION). JupyterLab/Notebook run the scripts of trusted outputs (outputs
 * produced in the current session are trusted).
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { DataFrame } from "danfojs-node";
import type { PlotlyFigure } from "./charts";

import { kernelTslab, type Tslab } from "./tslab";

/** tslab's display, loaded on first use (the module pulls in a TypeScript compiler). */
function tslabModule(): Tslab {
  return kernelTslab();
}

/** true when tslab refused because no kernel is connected (plain node, tests, CLI) */
function isNotReady(err: unknown): boolean {
  return err instanceof Error && err.message === "Not ready";
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

let plotlySource: string | undefined;

/** plotly.min.js, read once; a literal "</script" would end the inline script, so it is escaped. */
export function plotlyJsSource(): string {
  if (plotlySource === undefined) {
    const file = require.resolve("plotly.js-dist-min");
    plotlySource = readFileSync(file, "utf8").replace(/<\/script/gi, "<\\/script");
  }
  return plotlySource;
}

let plotlyInlined = false;
let plotCounter = 0;
// ids must not collide with divs left in a notebook by an earlier kernel process
const processToken = `${process.pid.toString(36)}${Date.now().toString(36)}`;

/** Forget that plotly.js was inlined (the next figureHtml with "auto" inlines it again). */
export function resetPlotlyInlined(): void {
  plotlyInlined = false;
}

/** JSON safe inside a <script> element. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

export interface FigureHtmlOptions {
  /** true: inline plotly.js; false: never; "auto" (default): only in the first chart of the process */
  includePlotlyJs?: boolean | "auto";
  /** element id (default a unique one) */
  id?: string;
}

/**
 * Where Jupyter Notebook serves this project's copy of plotly.js: `<base url>nbextensions/<this>`, from the
 * nbextensions folder of the JUPYTER_PATH its server and kernels run with (tools/notebooks.ts: localKernelEnv).
 */
export const PLOTLY_NBEXTENSION = "medrel/plotly.min.js";

/**
 * The chart's own script. A page without plotly.js — a notebook reloaded, or reopened while its kernel runs, where the
 * kernel inlined plotly.js only into its first chart, which that page may not hold — loads the copy Jupyter serves,
 * once per page, and draws then; only when there is none does the chart say so.
 */
function drawScript(id: string, fig: PlotlyFigure): string {
  return (
    `<script type="text/javascript">(function () {` +
    `var el = document.getElementById(${scriptJson(id)});` +
    `if (!el) return;` +
    `var draw = function () { window.Plotly.newPlot(el, ${scriptJson(fig.data)}, ${scriptJson(fig.layout)}, ${scriptJson(fig.config ?? { responsive: true })}); };` +
    `if (typeof window.Plotly !== "undefined") return draw();` +
    `if (!window.medrelPlotly) window.medrelPlotly = new Promise(function (ok, fail) {` +
    `var base = (document.body && document.body.getAttribute("data-base-url")) || "/";` +
    `var s = document.createElement("script");` +
    `s.src = base + ${scriptJson(`nbextensions/${PLOTLY_NBEXTENSION}`)};` +
    `s.onload = function () { typeof window.Plotly !== "undefined" ? ok() : fail(); };` +
    `s.onerror = fail;` +
    `document.head.appendChild(s); });` +
    `window.medrelPlotly.then(draw, function () {` +
    `el.textContent = "plotly.js is not on this page and Jupyter serves no copy (npm run notebook -- --register-kernel writes it): re-run with includePlotlyJs: true"; });` +
    `})();</script>`
  );
}

function renderFigure(fig: PlotlyFigure, opts: FigureHtmlOptions): { html: string; inlined: boolean } {
  const include = opts.includePlotlyJs ?? "auto";
  const inlined = include === true || (include === "auto" && !plotlyInlined);
  const id = opts.id ?? `medrel-plot-${processToken}-${++plotCounter}`;
  const height = typeof fig.layout.height === "number" ? `height:${fig.layout.height}px;` : "";
  const parts: string[] = [];
  if (inlined) parts.push(`<script type="text/javascript">${plotlyJsSource()}</script>`);
  parts.push(`<div id="${escapeHtml(id)}" class="medrel-plot" style="width:100%;${height}"></div>`);
  parts.push(drawScript(id, fig));
  return { html: parts.join("\n"), inlined };
}

/** A self-contained HTML snippet: (plotly.js once per process) + a div + the Plotly.newPlot call. */
export function figureHtml(fig: PlotlyFigure, opts: FigureHtmlOptions = {}): string {
  const { html, inlined } = renderFigure(fig, opts);
  if (inlined) plotlyInlined = true;
  return html;
}

export interface TableHtmlOptions {
  caption?: string;
  /** decimals for non-integer numbers (default 2) */
  digits?: number;
  /** name of the index column header (default "") */
  indexName?: string;
  /** [row, column] of cells to set in bold (e.g. each metric's best value) */
  strong?: readonly (readonly [number, number])[];
}

function cellText(v: unknown, digits: number): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return "–";
    return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  }
  return String(v);
}

// a table is paper of its own (dark text on white, caption and save links too): under a dark page theme its light
// header cells would otherwise get the theme's light text
const PAPER = "background:#fff;color:#222";
const TABLE_STYLE =
  `${PAPER};border-collapse:collapse;font-family:'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei','PingFang SC','WenQuanYi Micro Hei',sans-serif;font-size:13px`;
const CELL_STYLE = "border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap";
// long text (an encoded sentence, a token list) wraps inside its cell instead of pushing the table off the page: at
// spaces, and inside a run of Chinese only where it would overflow (keep-all: 临床表现 stays whole when it fits)
const TEXT_CELL_STYLE = "border:1px solid #ccc;padding:4px 8px;text-align:left;white-space:normal;overflow-wrap:anywhere;max-width:520px;min-width:120px;word-break:keep-all";
const LONG_TEXT = 32;
// column headers wrap at spaces only (keep-all: a Chinese word such as 临床表现 never breaks inside); row labels never wrap
const HEAD_STYLE = "border:1px solid #ccc;padding:4px 8px;text-align:center;background:#f3f3f3;word-break:keep-all";
const LABEL_STYLE = `${HEAD_STYLE};text-align:left;white-space:nowrap`;

/** A DataFrame as an HTML <table> (index as the first column); danfo itself only prints text. */
export function tableHtml(df: DataFrame, opts: TableHtmlOptions = {}): string {
  const digits = opts.digits ?? 2;
  const columns = df.columns.map(String);
  const index = df.index.map(String);
  const values = df.values as unknown[][];
  const out: string[] = [`<div style="max-width:100%;overflow-x:auto"><table class="medrel-table" style="${TABLE_STYLE}">`];
  if (opts.caption) out.push(`<caption style="${PAPER};caption-side:top;font-weight:bold;padding:4px">${escapeHtml(opts.caption)}</caption>`);
  out.push(
    `<thead><tr><th style="${HEAD_STYLE}">${escapeHtml(opts.indexName ?? "")}</th>` +
      columns.map((c) => `<th style="${HEAD_STYLE}">${escapeHtml(c)}</th>`).join("") +
      `</tr></thead>`,
  );
  out.push("<tbody>");
  index.forEach((name, i) => {
    const row = Array.isArray(values[i]) ? values[i] : [values[i]];
    out.push(
      `<tr><th style="${LABEL_STYLE}">${escapeHtml(name)}</th>` +
        columns
          .map((_, j) => {
            const text = cellText(row[j], digits);
            const bold = opts.strong?.some(([r, c]) => r === i && c === j);
            return `<td style="${text.length > LONG_TEXT ? TEXT_CELL_STYLE : CELL_STYLE}">${bold ? `<b>${escapeHtml(text)}</b>` : escapeHtml(text)}</td>`;
          })
          .join("") +
        `</tr>`,
    );
  });
  out.push("</tbody></table></div>");
  out.push(exportLinks(df, opts));
  return out.join("\n");
}

/** The table's cells as text, index first: what the CSV and LaTeX exports write (the header row first). */
function tableCells(df: DataFrame, digits: number, indexName = ""): string[][] {
  const values = df.values as unknown[][];
  const header = [indexName, ...df.columns.map(String)];
  return [header, ...df.index.map((name, i) => [String(name), ...header.slice(1).map((_, j) => cellText((Array.isArray(values[i]) ? values[i] : [values[i]])[j], digits))])];
}

/** A DataFrame as CSV (RFC 4180 quoting), index as the first column: for a spreadsheet or a report. */
export function tableCsv(df: DataFrame, opts: Pick<TableHtmlOptions, "digits" | "indexName"> = {}): string {
  const quote = (c: string) => (/[",\n\r]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
  return tableCells(df, opts.digits ?? 2, opts.indexName).map((r) => r.map(quote).join(",")).join("\r\n") + "\r\n";
}

/** A DataFrame as a LaTeX tabular (booktabs rules, special characters escaped, ± as $\pm$), index as the first column. */
export function tableLatex(df: DataFrame, opts: Pick<TableHtmlOptions, "digits" | "indexName" | "caption"> = {}): string {
  const esc = (c: string) =>
    c
      .replace(/\\/g, "\\textbackslash{}")
      .replace(/([&%$#_{}])/g, "\\$1")
      .replace(/~/g, "\\textasciitilde{}")
      .replace(/\^/g, "\\textasciicircum{}")
      .replace(/±/g, "$\\pm$")
      .replace(/−/g, "$-$");
  const [header, ...rows] = tableCells(df, opts.digits ?? 2, opts.indexName);
  const line = (r: string[]) => `${r.map(esc).join(" & ")} \\\\`;
  const body = ["\\begin{tabular}{l" + "r".repeat(header.length - 1) + "}", "\\toprule", line(header), "\\midrule", ...rows.map(line), "\\bottomrule", "\\end{tabular}"];
  return (opts.caption ? ["\\begin{table}", "\\centering", `\\caption{${esc(opts.caption)}}`, ...body, "\\end{table}"] : body).join("\n") + "\n";
}

/** "CSV · LaTeX" download links under a table (data: URLs): a student saves the table from the notebook or its HTML. */
function exportLinks(df: DataFrame, opts: TableHtmlOptions): string {
  const href = (type: string, text: string) => `data:${type};charset=utf-8,${encodeURIComponent(text)}`;
  const name = (opts.caption ?? "table").replace(/[^\p{L}\p{N}]+/gu, "_").replace(/^_+|_+$/g, "").slice(0, 60) || "table";
  const a = (type: string, ext: string, text: string, label: string) =>
    `<a download="${escapeHtml(`${name}.${ext}`)}" href="${escapeHtml(href(type, text))}" style="margin-right:8px;color:#0645ad">${label}</a>`;
  return (
    `<div class="medrel-table-export" style="${PAPER};display:inline-block;padding:0 4px;font-size:12px;margin:2px 0 8px 0">save this table: ` +
    a("text/csv", "csv", tableCsv(df, opts), "CSV") +
    a("application/x-tex", "tex", tableLatex(df, opts), "LaTeX") +
    `</div>`
  );
}

/** A DataFrame as aligned plain text (for terminals; danfo's own print wraps CJK badly). */
export function tableText(df: DataFrame, opts: { digits?: number } = {}): string {
  const digits = opts.digits ?? 2;
  const header = ["", ...df.columns.map(String)];
  const values = df.values as unknown[][];
  const rows = df.index.map((name, i) => [String(name), ...header.slice(1).map((_, j) => cellText((Array.isArray(values[i]) ? values[i] : [values[i]])[j], digits))]);
  const all = [header, ...rows];
  const widths = header.map((_, j) => Math.max(...all.map((r) => displayWidth(r[j]))));
  return all.map((r) => r.map((c, j) => padDisplay(c, widths[j], j === 0 ? "left" : "right")).join("  ")).join("\n");
}

const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/;

/** Terminal columns a string takes: CJK and full-width characters take two. */
export function displayWidth(s: string): number {
  return Array.from(s).reduce((w, ch) => w + (WIDE.test(ch) ? 2 : 1), 0);
}

/** Pad to `width` terminal columns (padEnd/padStart count CJK characters as one and zig-zag the columns). */
export function padDisplay(s: string, width: number, align: "left" | "right"): string {
  const fill = " ".repeat(Math.max(0, width - displayWidth(s)));
  return align === "left" ? s + fill : fill + s;
}

// show* return nothing: a notebook cell would print any value they returned

/** In a tslab notebook: an HTML table output. Elsewhere: prints a text table. */
export function showTable(df: DataFrame, opts: TableHtmlOptions = {}): void {
  try {
    tslabModule().display.html(tableHtml(df, opts));
  } catch (err) {
    if (!isNotReady(err)) throw err;
    console.log((opts.caption ? `${opts.caption}\n` : "") + tableText(df, opts));
  }
}

/** In a tslab notebook: an HTML output (trusted: ours). Elsewhere: prints `text` when given. */
export function showHtml(html: string, text?: string): void {
  try {
    tslabModule().display.html(html);
  } catch (err) {
    if (!isNotReady(err)) throw err;
    if (text !== undefined) console.log(text);
  }
}

/** Sentences as an HTML list under an optional heading (readings, summaries): one per line, escaped. */
export function sentencesHtml(lines: readonly string[], title?: string): string {
  const head = title ? `<div style="font-weight:bold;margin-top:6px">${escapeHtml(title)}</div>` : "";
  return `${head}<ul style="margin:4px 0 8px 0">${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join("")}</ul>`;
}

/** In a notebook: the sentences as a list; elsewhere printed one per line. */
export function showSentences(lines: readonly string[], title?: string): void {
  showHtml(sentencesHtml(lines, title), [title, ...lines.map((l) => `  ${l}`)].filter((x) => x !== undefined).join("\n"));
}

/** In a tslab notebook: the interactive chart. Elsewhere: nothing. */
export function showChart(fig: PlotlyFigure, opts: FigureHtmlOptions = {}): void {
  const { html, inlined } = renderFigure(fig, opts);
  try {
    tslabModule().display.html(html);
  } catch (err) {
    if (!isNotReady(err)) throw err;
    return; // nothing was shown, so plotly.js still has to go into the next chart
  }
  if (inlined) plotlyInlined = true;
}

export interface ReportSection {
  title?: string;
  /** paragraphs of plain text (blank lines separate paragraphs) */
  text?: string;
  table?: DataFrame;
  tableCaption?: string;
  figure?: PlotlyFigure;
  /** sentences shown as a list under the table, one per line (readings) */
  list?: readonly string[];
  /** trusted raw HTML */
  html?: string;
}

/** A standalone UTF-8 HTML page with the sections in order; plotly.js inlined once when any chart is present. */
export function reportHtml(title: string, sections: readonly ReportSection[]): string {
  const hasFigure = sections.some((s) => s.figure);
  const body: string[] = [`<h1>${escapeHtml(title)}</h1>`];
  for (const s of sections) {
    body.push("<section>");
    if (s.title) body.push(`<h2>${escapeHtml(s.title)}</h2>`);
    if (s.text) {
      for (const p of s.text.split(/\n\s*\n/)) if (p.trim()) body.push(`<p>${escapeHtml(p.trim())}</p>`);
    }
    if (s.table) body.push(tableHtml(s.table, { caption: s.tableCaption }));
    if (s.list) body.push(sentencesHtml(s.list));
    if (s.figure) body.push(renderFigure(s.figure, { includePlotlyJs: false }).html);
    if (s.html) body.push(s.html);
    body.push("</section>");
  }
  return [
    "<!DOCTYPE html>",
    '<html lang="zh-CN">',
    "<head>",
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>body{font-family:'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei','PingFang SC','WenQuanYi Micro Hei',sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}section{margin:2em 0}table{margin:1em 0}</style>`,
    hasFigure ? `<script type="text/javascript">${plotlyJsSource()}</script>` : "",
    "</head>",
    "<body>",
    ...body,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** Write reportHtml(title, sections) to a file (folders created); returns the absolute path. */
export function writeReportHtml(file: string, sections: readonly ReportSection[], opts: { title?: string } = {}): string {
  const abs = path.resolve(file);
  mkdirSync(path.dirname(abs), { recursive: true });
  writeFileSync(abs, reportHtml(opts.title ?? path.basename(abs, path.extname(abs)), sections), "utf8");
  return abs;
}
