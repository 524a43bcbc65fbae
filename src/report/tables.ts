/**
 * danfo DataFrames shaped like the study's tables (data/study-tables.json): the same row and column
 * names, our numbers as "mean ± std" in % over seeds, and the study's published value beside each
 * column as "<column> (study)". Numeric mean/std/n columns are added with `numeric: true`.
 */
import type { DataFrame } from "danfojs-node";
import { LABELS } from "../data/labels";
import { METRIC_ROWS, metricValue, summarize, type MetricRow, type Summary } from "../metrics/records";
import type { Metrics } from "../metrics/classification";
import { loadDanfo } from "./danfo";
import { loadStudyTables, type StudyOrientation, type StudyTableName, type StudyTables } from "./study";

/** Bad runs for a table: duplicates, mixed splits, unknown options. */
export class ReportInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReportInputError";
  }
}

export const MISSING = "–";

/**
 * Mean ± std as every table shows it (notebooks, reports, the terminal): "90.24 ± 0.31". One seed has no spread (its
 * sample std is undefined: summarize gives NaN, never 0), so it shows its mean alone, "90.24"; no seed at all is "–".
 */
export function formatMeanStd(s: Summary, digits = 2): string {
  if (s.n === 0 || !Number.isFinite(s.mean)) return MISSING;
  if (!Number.isFinite(s.std)) return s.mean.toFixed(digits);
  return `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
}

/** A signed difference as the slides print it: "+1.60", "-8.28". */
export function formatVariation(d: number, digits = 2): string {
  if (!Number.isFinite(d)) return MISSING;
  const s = d.toFixed(digits);
  return d >= 0 && !s.startsWith("-") ? `+${s}` : s;
}

/** One run's score as a table reads it (its row or column name or alias, its seed, its metrics on one split); any holder will do. */
interface Score {
  variant: string;
  seed: number;
  metrics: Metrics;
  /** evaluation split, e.g. "dev" or "test" */
  split?: string;
}

export interface TableOptions {
  /** keep only runs of this split; required when the runs mix splits */
  split?: string;
  /** add numeric "<column> mean", "<column> std", "<column> n" columns (default false) */
  numeric?: boolean;
  /** run variant → study column (or row) name, when automatic name matching is not enough */
  variantMap?: Record<string, string>;
  /** study column (or row) name → other spellings runs may use (matched after normalisation) */
  aliases?: Readonly<Record<string, readonly string[]>>;
  /** decimals in the strings (default 2, as on the slides) */
  digits?: number;
  /** how the study's table lays out its variants (the table spec's); default: read from its columns' names */
  orientation?: StudyOrientation;
}

const norm = (s: string): string => s.toLowerCase().replace(/[^a-z0-9\u4e00-\u9fff]+/g, "");

/** The study column a run variant stands for, or the variant itself when it is not in the study. */
function studyNameOf(variant: string, names: readonly string[], opts: TableOptions): string {
  if (opts.variantMap && opts.variantMap[variant] !== undefined) return opts.variantMap[variant];
  const v = norm(variant);
  for (const name of names) {
    if (norm(name) === v) return name;
    if ((opts.aliases?.[name] ?? []).some((a) => norm(a) === v)) return name;
  }
  return variant;
}

/** Runs filtered to one split, checked for duplicates, grouped by study name (first-seen order). */
function groupRuns(
  runs: readonly Score[],
  names: readonly string[],
  opts: TableOptions,
): Map<string, Score[]> {
  let chosen = runs;
  if (opts.split !== undefined) {
    chosen = runs.filter((r) => r.split === opts.split);
  } else {
    const splits = [...new Set(runs.map((r) => r.split ?? "(none)"))];
    if (splits.length > 1) {
      throw new ReportInputError(`runs mix splits ${splits.join(", ")}; pass { split } to choose one`);
    }
  }
  const groups = new Map<string, Score[]>();
  const seen = new Map<string, string>();
  for (const r of chosen) {
    if (!Number.isFinite(r.seed)) throw new ReportInputError(`run of variant "${r.variant}" has seed ${r.seed}`);
    const name = studyNameOf(r.variant, names, opts);
    const key = `${name}\u0000${r.seed}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      throw new ReportInputError(
        `two runs for "${name}" with seed ${r.seed} (variants "${prev}" and "${r.variant}")`,
      );
    }
    seen.set(key, r.variant);
    const list = groups.get(name) ?? [];
    list.push(r);
    groups.set(name, list);
  }
  return groups;
}

type Column = (string | number)[];

function makeFrame(columns: [string, Column][], index: string[]): DataFrame {
  const dfd = loadDanfo();
  const obj: Record<string, Column> = {};
  for (const [name, values] of columns) obj[name] = values;
  return new dfd.DataFrame(obj, { index, columns: columns.map(([n]) => n) });
}

/** Tables whose rows are metrics and whose columns are variants (model, loss, augmentation). */
function metricRowsTable(table: StudyTableName, runs: readonly Score[], opts: TableOptions, tables: StudyTables): DataFrame {
  const study = tables.tables[table];
  const digits = opts.digits ?? 2;
  const rowNames = Object.keys(study.rows) as MetricRow[];
  for (const r of rowNames) {
    if (!(METRIC_ROWS as readonly string[]).includes(r)) throw new ReportInputError(`study table ${table} has unknown row "${r}"`);
  }
  const hasVariation = study.columns.includes("Variation");
  const variantCols = study.columns.filter((c) => c !== "Variation");
  const groups = groupRuns(runs, variantCols, opts);
  const extra = [...groups.keys()].filter((k) => !variantCols.includes(k));
  const ours = [...variantCols, ...extra];
  const stats = new Map<string, Summary[]>(
    ours.map((c) => [c, rowNames.map((row) => summarize((groups.get(c) ?? []).map((r) => metricValue(r.metrics, row))))]),
  );
  const columns: [string, Column][] = [];
  for (const c of variantCols) columns.push([c, stats.get(c)!.map((s) => formatMeanStd(s, digits))]);
  let variation: number[] = [];
  if (hasVariation) {
    // the slides' Variation: second variant minus first, on the means
    const [a, b] = variantCols;
    variation = rowNames.map((_, i) => stats.get(b)![i].mean - stats.get(a)![i].mean);
    columns.push(["Variation", variation.map((d) => formatVariation(d, digits))]);
  }
  for (const c of extra) columns.push([c, stats.get(c)!.map((s) => formatMeanStd(s, digits))]);
  for (const c of study.columns) {
    const j = study.columns.indexOf(c);
    const fmt = c === "Variation" ? (v: number) => formatVariation(v, digits) : (v: number) => v.toFixed(digits);
    columns.push([`${c} (study)`, rowNames.map((row) => fmt(study.rows[row][j]))]);
  }
  if (opts.numeric) {
    for (const c of ours) {
      const s = stats.get(c)!;
      columns.push([`${c} mean`, s.map((x) => x.mean)], [`${c} std`, s.map((x) => x.std)], [`${c} n`, s.map((x) => x.n)]);
    }
    if (hasVariation) columns.push(["Variation mean", variation]);
  }
  return makeFrame(columns, rowNames);
}

/** The layout of a study table as its columns say: metric names as columns mean the variants are its rows. */
export function orientationOf(key: StudyTableName, tables: StudyTables = loadStudyTables()): StudyOrientation {
  const cols = tables.tables[key].columns;
  return cols.every((c) => (METRIC_ROWS as readonly string[]).includes(c)) ? "variants-as-rows" : "variants-as-columns";
}

/** The study table `key` with our runs beside it, laid out as the study's slide (opts.orientation, the spec's). */
export function studyTableFrame(key: StudyTableName, runs: readonly Score[], opts: TableOptions = {}): DataFrame {
  const tables = loadStudyTables();
  const orientation = opts.orientation ?? orientationOf(key, tables);
  return orientation === "variants-as-rows" ? variantRowsTable(key, runs, opts, tables) : metricRowsTable(key, runs, opts, tables);
}

/** Study Table "Pretrained Model Comparison": rows Macro-P…Micro-F1, columns BioBERT, Chinese-RoBERTa-wwm-ext, MedBERT (+ other variants). */
export function modelTable(runs: readonly Score[], opts: TableOptions = {}): DataFrame {
  return metricRowsTable("model_comparison", runs, opts, loadStudyTables());
}

/** Study Table "Weighted Loss": rows Macro-P…F1 Range, columns Regular Loss, Weighted Loss, Variation. */
export function weightedLossTable(runs: readonly Score[], opts: TableOptions = {}): DataFrame {
  return metricRowsTable("weighted_loss", runs, opts, loadStudyTables());
}

/** Study Table "Sample Augmentation": rows Macro-P…F1 Range, columns Weighted Loss, Weighted+Aug, Variation. */
export function augmentationTable(runs: readonly Score[], opts: TableOptions = {}): DataFrame {
  return metricRowsTable("augmentation", runs, opts, loadStudyTables());
}

/**
 * Study Table "Encoding Strategy Impact" (transposed like the slide): rows Basic1, Basic2, QA,
 * Entity_marked1, Entity_marked2 (+ other variants), columns Macro-P, Macro-R, Macro-F1, Micro-F1.
 */
export function encodingTable(runs: readonly Score[], opts: TableOptions = {}): DataFrame {
  return variantRowsTable("encoding_ablation", runs, opts, loadStudyTables());
}

/** Tables whose rows are variants and whose columns are metrics (the encodings table). */
function variantRowsTable(key: StudyTableName, runs: readonly Score[], opts: TableOptions, tables: StudyTables): DataFrame {
  const study = tables.tables[key];
  const digits = opts.digits ?? 2;
  const metrics = study.columns as MetricRow[];
  for (const c of metrics) {
    if (!(METRIC_ROWS as readonly string[]).includes(c)) throw new ReportInputError(`study table ${key} has unknown column "${c}"`);
  }
  const studyRows = Object.keys(study.rows);
  const groups = groupRuns(runs, studyRows, opts);
  const index = [...studyRows, ...[...groups.keys()].filter((k) => !studyRows.includes(k))];
  const stats = metrics.map((m) => index.map((row) => summarize((groups.get(row) ?? []).map((r) => metricValue(r.metrics, m)))));
  const columns: [string, Column][] = metrics.map((m, j) => [m, stats[j].map((s) => formatMeanStd(s, digits))]);
  metrics.forEach((m, j) => columns.push([`${m} (study)`, index.map((row) => study.rows[row]?.[j]?.toFixed(digits) ?? MISSING)]));
  if (opts.numeric) {
    metrics.forEach((m, j) => {
      columns.push([`${m} mean`, stats[j].map((s) => s.mean)], [`${m} std`, stats[j].map((s) => s.std)], [`${m} n`, stats[j].map((s) => s.n)]);
    });
  }
  return makeFrame(columns, index);
}

/** The study's published table alone, as on its slide, and which cells hold each metric's best value. */
export interface PublishedTable {
  frame: DataFrame;
  /** [row, column] of each metric's best value among the variants (highest; lowest for the F1 range) */
  best: [number, number][];
}

/**
 * The study's table `key` as data/study-tables.json has it (two decimals), the best value of each metric marked, and
 * a "note" column where a printed Variation is not the difference of its two columns (the slide's own arithmetic).
 */
export function publishedTable(key: StudyTableName, orientation: StudyOrientation = orientationOf(key)): PublishedTable {
  const study = loadStudyTables().tables[key];
  const rows = Object.keys(study.rows);
  const values = rows.map((r) => study.rows[r]);
  const variantCols = study.columns.map((c, j) => [c, j] as const).filter(([c]) => c !== "Variation");
  const best: [number, number][] = [];
  const pick = (cells: [number, number][], metric: string): void => {
    const lower = metric === "F1 Range";
    const top = cells.reduce((b, c) => ((lower ? values[c[0]][c[1]] < values[b[0]][b[1]] : values[c[0]][c[1]] > values[b[0]][b[1]]) ? c : b));
    best.push(...cells.filter((c) => values[c[0]][c[1]] === values[top[0]][top[1]]));
  };
  if (orientation === "variants-as-rows") study.columns.forEach((m, j) => pick(rows.map((_, i): [number, number] => [i, j]), m));
  else rows.forEach((m, i) => pick(variantCols.map(([, j]): [number, number] => [i, j]), m));
  const columns: [string, Column][] = study.columns.map((c, j) => [c, values.map((v) => (c === "Variation" ? formatVariation(v[j]) : v[j].toFixed(2)))]);
  const vj = study.columns.indexOf("Variation");
  if (vj >= 0) {
    const [a, b] = variantCols.map(([, j]) => j);
    const notes = values.map((v) => (Math.abs(v[b] - v[a] - v[vj]) > 0.011 ? `as printed; ${v[b].toFixed(2)} − ${v[a].toFixed(2)} = ${formatVariation(v[b] - v[a])}` : ""));
    if (notes.some(Boolean)) columns.push(["note", notes]);
  }
  return { frame: makeFrame(columns, rows), best };
}

export interface PerClassOptions extends Omit<TableOptions, "variantMap" | "aliases"> {
  /** which per-class score (default "f1") */
  metric?: "precision" | "recall" | "f1";
}

/**
 * Per-class scores in %: rows = the 10 labels (Chinese names, as Metrics.per_class keys), columns
 * "label" (English), one "mean ± std" column per variant (first-seen order), and "support".
 */
export function perClassTable(runs: readonly Score[], opts: PerClassOptions = {}): DataFrame {
  const metric = opts.metric ?? "f1";
  const digits = opts.digits ?? 2;
  const groups = groupRuns(runs, [], { split: opts.split });
  const first = runs.find((r) => opts.split === undefined || r.split === opts.split);
  const index = first ? Object.keys(first.metrics.per_class) : LABELS.map((l) => l.zh as string);
  const english = index.map((zh) => LABELS.find((l) => l.zh === zh)?.en ?? zh);
  const columns: [string, Column][] = [["label", english]];
  const numeric: [string, Column][] = [];
  for (const [variant, list] of groups) {
    const stats = index.map((zh) =>
      summarize(
        list.map((r) => {
          const c = r.metrics.per_class[zh];
          if (!c) throw new ReportInputError(`run "${r.variant}" seed ${r.seed} has no per-class scores for "${zh}"`);
          return 100 * c[metric];
        }),
      ),
    );
    columns.push([variant, stats.map((s) => formatMeanStd(s, digits))]);
    numeric.push([`${variant} mean`, stats.map((s) => s.mean)], [`${variant} std`, stats.map((s) => s.std)], [`${variant} n`, stats.map((s) => s.n)]);
  }
  columns.push(["support", index.map((zh) => first?.metrics.per_class[zh]?.support ?? NaN)]);
  return makeFrame(opts.numeric ? [...columns, ...numeric] : columns, index);
}

/**
 * The frame without the columns that hold no number at all (every cell "–"): e.g. the study's BioBERT column when
 * no BioBERT checkpoint was run; its published values stay in "BioBERT (study)".
 */
export function dropEmptyColumns(df: DataFrame): DataFrame {
  const empty = df.columns.filter((c) => (df.column(c).values as unknown[]).every((v) => v === MISSING));
  return empty.length === 0 ? df : df.drop({ columns: empty });
}

/** Every run as one row: variant, seed, split and the headline metrics in % (for inspection). */
export function runsTable(runs: readonly Score[]): DataFrame {
  const columns: [string, Column][] = [
    ["variant", runs.map((r) => r.variant)],
    ["seed", runs.map((r) => r.seed)],
    ["split", runs.map((r) => r.split ?? "")],
    ...METRIC_ROWS.map((m): [string, Column] => [m, runs.map((r) => metricValue(r.metrics, m))]),
    ["Accuracy", runs.map((r) => 100 * r.metrics.accuracy)],
    ["n", runs.map((r) => r.metrics.n)],
  ];
  return makeFrame(columns, runs.map((_, i) => String(i)));
}
