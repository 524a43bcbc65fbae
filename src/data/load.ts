/**
 * Loaders for the study's row format ({id, sentence, h, t, r} + optional hType/tType) from JSONL, JSON,
 * CSV and TSV files and from a dataset folder laid out as the study's (train / val / test).
 *
 * Every load returns a report: nothing is dropped silently. Errors (unusable rows) throw a DataError in
 * strict mode and are skipped + reported in lenient mode. Warnings (rows the study kept as they were) are
 * kept by default and counted; `dropWarnings` drops them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { normalizeLabel, type Label } from "./labels";
import type { Dataset, Row, SplitName } from "./types";
import {
  DataError,
  ISSUE_KINDS,
  WARNING_KINDS,
  formatLocation,
  type ErrorKind,
  type IssueKind,
  type WarningKind,
} from "./errors";

export type RowFormat = "jsonl" | "json" | "csv" | "tsv";
export type LoadMode = "strict" | "lenient";

export interface LoadOptions {
  /** strict (default): throw a DataError on the first bad row; lenient: skip it and report it */
  mode?: LoadMode;
  /** drop rows with warnings: true = every kind, or a list of kinds. Default false (kept, as the study did) */
  dropWarnings?: boolean | readonly WarningKind[];
  /** file format; default from the extension (and the first character for .json / unknown extensions) */
  format?: RowFormat;
}

export interface ParseOptions extends LoadOptions {
  /** name used in messages (default "<input>") */
  file?: string;
}

export interface LoadIssue {
  severity: "error" | "warning";
  kind: IssueKind;
  file: string;
  /** 1-based line where the row starts (0: the whole file) */
  line: number;
  /** row id when it could be read */
  id?: string;
  field?: string;
  /** `file:line: field "x": detail` */
  message: string;
  /** whether the row was left out of the result */
  dropped: boolean;
}

export interface FileSummary {
  file: string;
  split?: SplitName;
  format: RowFormat;
  /** records seen (non-blank lines / array elements / CSV data rows) */
  read: number;
  kept: number;
}

export interface LoadReport {
  source: string;
  mode: LoadMode;
  files: FileSummary[];
  read: number;
  kept: number;
  /** rows left out (a row with several issues counts once) */
  dropped: number;
  /** issues per kind; for row-level kinds this is the number of rows affected (entity kinds: per field) */
  counts: Record<IssueKind, number>;
  /** rows dropped per kind (a row dropped for several kinds counts under each) */
  droppedByKind: Record<IssueKind, number>;
  /** distinct sentence + (h, t) pairs with more than one label (counts.conflict counts their rows) */
  conflictingPairs: number;
  /** every issue, in file then line order */
  issues: LoadIssue[];
  /** file-level remarks (e.g. a missing optional test split) */
  notices: string[];
}

export interface LoadResult {
  rows: Row[];
  report: LoadReport;
}

/** A Dataset plus the report of how it was loaded (assignable to Dataset). */
export interface LoadedDataset extends Dataset {
  report: LoadReport;
}

const REQUIRED = ["id", "sentence", "h", "t", "r"] as const;
/** Alternative column names for the optional type columns. */
const TYPE_ALIASES: Record<string, "hType" | "tType"> = {
  hType: "hType",
  h_type: "hType",
  tType: "tType",
  t_type: "tType",
};
const PLACEHOLDERS = new Set(["subject_placeholder", "object_placeholder"]);

/** A record as read from the file, before validation. */
interface RawRecord {
  line: number;
  value?: unknown;
  /** set when the record could not even be read (bad JSON, bad CSV row) */
  malformed?: { detail: string; field?: string };
}

interface LocatedRow {
  row: Row;
  line: number;
}

function emptyCounts(): Record<IssueKind, number> {
  const c = {} as Record<IssueKind, number>;
  for (const k of ISSUE_KINDS) c[k] = 0;
  return c;
}

export function emptyReport(source: string, mode: LoadMode): LoadReport {
  return {
    source,
    mode,
    files: [],
    read: 0,
    kept: 0,
    dropped: 0,
    counts: emptyCounts(),
    droppedByKind: emptyCounts(),
    conflictingPairs: 0,
    issues: [],
    notices: [],
  };
}

/** Format from the extension, falling back on the first non-blank character. */
export function detectFormat(file: string, text: string): RowFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".jsonl" || ext === ".ndjson") return "jsonl";
  if (ext === ".csv") return "csv";
  if (ext === ".tsv" || ext === ".tab") return "tsv";
  const first = text.replace(/^\uFEFF/, "").trimStart()[0];
  if (first === "[") return "json";
  if (first === "{" || ext === ".json") return "jsonl"; // CMeIE-style ".json" files are often JSON lines
  const firstLine = text.split("\n", 1)[0] ?? "";
  return firstLine.includes("\t") ? "tsv" : "csv";
}

// ---------------------------------------------------------------------------------------------------------
// Reading records

/** A file's text, decoded strictly: the lines whose bytes are not UTF-8 are listed (1-based), never replaced silently. */
interface DecodedText {
  text: string;
  badLines: number[];
}

/** The largest data file read (the study's splits are a few MB; a file is read whole into memory). */
export const MAX_DATA_FILE_BYTES = 2 ** 30;

/**
 * A data file that can be read whole: it exists (a symbolic link loop or a missing file said as such), and is a regular
 * file of a sane size, not a folder, a pipe (`<(cat …)`), a FIFO or a device (/dev/zero would never end).
 */
export function checkDataFile(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const what = code === "ELOOP" ? "a symbolic link loop (it points back to itself)" : code === "ENOENT" ? "file not found" : `cannot be read (${code})`;
    throw new DataError(file, 0, undefined, "missing_file", what);
  }
  if (st.isDirectory()) throw new DataError(file, 0, undefined, "missing_file", "is a folder, not a file of rows (name the file inside it)");
  if (!st.isFile()) throw new DataError(file, 0, undefined, "missing_file", "is not a regular file (a pipe, FIFO or device, which may never end): save the rows to a file and pass that");
  if (st.size > MAX_DATA_FILE_BYTES) throw new DataError(file, 0, undefined, "missing_file", `${st.size} bytes, more than the ${MAX_DATA_FILE_BYTES} a data file may have (it is read whole)`);
}

function readText(file: string): DecodedText {
  checkDataFile(file);
  const buf = fs.readFileSync(file);
  const strict = new TextDecoder("utf-8", { fatal: true });
  try {
    return { text: strict.decode(buf), badLines: [] };
  } catch {
    // find the offending lines; the text keeps U+FFFD there only for rows that are then rejected
    const badLines: number[] = [];
    let start = 0;
    for (let line = 1; start <= buf.length; line++) {
      const nl = buf.indexOf(10, start);
      const end = nl < 0 ? buf.length : nl;
      try {
        strict.decode(buf.subarray(start, end));
      } catch {
        badLines.push(line);
      }
      start = end + 1;
    }
    return { text: new TextDecoder("utf-8").decode(buf), badLines };
  }
}

/** Records that contain a line with invalid UTF-8 become malformed (each record spans lines from its start). */
function markInvalidUtf8(records: RawRecord[], badLines: readonly number[]): RawRecord[] {
  if (badLines.length === 0) return records;
  const out = records.map((r) => ({ ...r }));
  for (const b of badLines) {
    const owner = [...out].reverse().find((r) => r.line <= b);
    if (owner) owner.malformed = { detail: `invalid UTF-8 on line ${b} (the file is not UTF-8 there; nothing was replaced)` };
  }
  return out;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** 1-based line of a character offset. */
function lineOf(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

function readJsonl(text: string): RawRecord[] {
  const out: RawRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].replace(/\r$/, "");
    if (s.trim() === "") continue;
    try {
      out.push({ line: i + 1, value: JSON.parse(s) });
    } catch (e) {
      out.push({ line: i + 1, malformed: { detail: `malformed JSON line (${(e as Error).message.split("\n")[0]})` } });
    }
  }
  return out;
}

/**
 * Spans of the top-level elements of a JSON array, found by a small scanner that tracks strings and
 * nesting; lets each element carry the line it starts on and be parsed on its own.
 */
function arrayElementSpans(text: string): Array<[number, number]> | undefined {
  let i = 0;
  while (i < text.length && /\s/.test(text[i])) i++;
  if (text[i] !== "[") return undefined;
  const spans: Array<[number, number]> = [];
  let depth = 1;
  let inString = false;
  let start = -1;
  for (i = i + 1; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      if (depth === 1 && start < 0) start = i;
    } else if (ch === "{" || ch === "[") {
      if (depth === 1 && start < 0) start = i;
      depth++;
    } else if (ch === "}" || ch === "]") {
      depth--;
      if (depth === 0) {
        if (start >= 0) spans.push([start, i]);
        return spans;
      }
    } else if (ch === "," && depth === 1) {
      spans.push([start < 0 ? i : start, i]);
      start = -1;
    } else if (depth === 1 && start < 0 && !/\s/.test(ch)) {
      start = i;
    }
  }
  if (start >= 0) spans.push([start, text.length]);
  return spans;
}

function readJsonArray(text: string): RawRecord[] {
  const starts = lineStarts(text);
  const spans = arrayElementSpans(text);
  if (!spans) return [{ line: 1, malformed: { detail: "expected a JSON array of rows" } }];
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined; // parse element by element below to locate the bad ones
  }
  if (Array.isArray(whole) && whole.length === spans.length) {
    return whole.map((value, k) => ({ line: lineOf(starts, spans[k][0]), value }));
  }
  return spans.map(([a, b]) => {
    const line = lineOf(starts, a);
    const slice = text.slice(a, b);
    try {
      return { line, value: JSON.parse(slice) as unknown };
    } catch (e) {
      return { line, malformed: { detail: `malformed JSON element (${(e as Error).message.split("\n")[0]})` } };
    }
  });
}

interface PapaStepResult {
  data: string[];
  errors: Array<{ code: string; message: string }>;
  meta: { cursor: number };
}
interface PapaLike {
  parse(
    text: string,
    config: { delimiter: string; header: false; skipEmptyLines: false; step: (r: PapaStepResult) => void },
  ): void;
}
// papaparse ships no types and @types/papaparse is not installed: type the one call we make.
const Papa = require("papaparse") as PapaLike;

function readCsv(text: string): RawRecord[] {
  const delimiter = ",";
  const starts = lineStarts(text);
  const rows: Array<{ line: number; cells: string[]; error?: string }> = [];
  let rowStart = 0;
  Papa.parse(text, {
    delimiter,
    header: false,
    skipEmptyLines: false,
    step: (r) => {
      const line = lineOf(starts, rowStart);
      rowStart = r.meta.cursor;
      const blank = r.data.length === 1 && r.data[0].trim() === "";
      if (blank && r.errors.length === 0) return;
      rows.push({ line, cells: r.data, error: r.errors[0]?.message });
    },
  });
  if (rows.length === 0) return [];
  const header = rows[0].cells.map((h) => h.trim());
  const out: RawRecord[] = [];
  for (const { line, cells, error } of rows.slice(1)) {
    if (error) {
      const field = header[Math.min(cells.length, header.length) - 1];
      out.push({ line, malformed: { detail: `bad CSV row: ${error}`, field } });
    } else if (cells.length < header.length) {
      out.push({
        line,
        malformed: { detail: `expected ${header.length} fields, found ${cells.length}`, field: header[cells.length] },
      });
    } else if (cells.length > header.length) {
      out.push({ line, malformed: { detail: `expected ${header.length} fields, found ${cells.length}` } });
    } else {
      const value: Record<string, string> = {};
      header.forEach((h, k) => (value[h] = cells[k]));
      out.push({ line, value });
    }
  }
  return out;
}

/**
 * Tab-separated values have no quoting: a field is everything between two tabs, a row is one line. (A CSV parser
 * would let a field that starts with `"` swallow the rows after it.)
 */
function readTsv(text: string): RawRecord[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  const first = lines.findIndex((l) => l.trim() !== "");
  if (first < 0) return [];
  const header = lines[first].split("\t").map((h) => h.trim());
  const out: RawRecord[] = [];
  for (let i = first + 1; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    const cells = lines[i].split("\t");
    if (cells.length !== header.length) {
      const field = cells.length < header.length ? header[cells.length] : undefined;
      out.push({ line: i + 1, malformed: { detail: `expected ${header.length} tab-separated fields, found ${cells.length}`, field } });
      continue;
    }
    const value: Record<string, string> = {};
    header.forEach((h, k) => (value[h] = cells[k]));
    out.push({ line: i + 1, value });
  }
  return out;
}

function readRecords(text: string, format: RowFormat): RawRecord[] {
  const t = text.replace(/^\uFEFF/, "");
  switch (format) {
    case "jsonl":
      return readJsonl(t);
    case "json":
      return readJsonArray(t);
    case "csv":
      return readCsv(t);
    case "tsv":
      return readTsv(t);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Validation

type Checked = { row: Row } | { kind: ErrorKind; field?: string; detail: string; id?: string };

function describeValue(v: unknown): string {
  return Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
}

/** The longest sentence or entity a row may have (the study's longest sentence has 300 characters). */
export const MAX_TEXT_CHARS = 5000;

/** Validate one record into a Row, or the first reason it cannot be one. */
function checkRecord(value: unknown, labelOptional = false): Checked {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "malformed", detail: `expected an object with fields id, sentence, h, t, r, got ${describeValue(value)}` };
  }
  const rec = value as Record<string, unknown>;
  const rawId = rec.id;
  const id = typeof rawId === "number" && Number.isFinite(rawId) ? String(rawId) : typeof rawId === "string" ? rawId.trim() : undefined;
  for (const field of REQUIRED) {
    const v = rec[field];
    if (field === "r" && labelOptional && (v === undefined || v === null || v === "")) continue;
    if (v === undefined || v === null) return { kind: "missing_field", field, detail: "missing", id };
    if (field === "id") {
      if (id === undefined) return { kind: "malformed", field, detail: `expected a string or number, got ${describeValue(v)}` };
      if (id === "") return { kind: "missing_field", field, detail: "empty id", id };
      continue;
    }
    if (typeof v !== "string") return { kind: "malformed", field, detail: `expected a string, got ${describeValue(v)}`, id };
  }
  const sentence = rec.sentence as string;
  const h = rec.h as string;
  const t = rec.t as string;
  const rawLabel = (rec.r ?? "") as string;
  for (const [field, v] of [["sentence", sentence], ["h", h], ["t", t]] as const) {
    if (v.trim() === "") return { kind: "empty_text", field, detail: "empty text", id };
    // the model reads at most 512 tokens; a text far beyond that only costs minutes and gigabytes to tokenize
    if (v.length > MAX_TEXT_CHARS) return { kind: "malformed", field, detail: `${v.length} characters, more than the ${MAX_TEXT_CHARS} a row's text may have`, id };
  }
  if (rawLabel.trim() === "" && !labelOptional) return { kind: "missing_field", field: "r", detail: "empty label", id };
  // an unlabelled input row (prediction) carries r = undefined inside this module only; see loadInputRows
  const r = rawLabel.trim() === "" ? (undefined as unknown as Label) : normalizeLabel(rawLabel);
  if (!r && rawLabel.trim() !== "") return { kind: "unknown_label", field: "r", detail: `unknown label "${rawLabel}"`, id };
  const row: Row = { id: id as string, sentence, h, t, r: r as Label };
  for (const [key, target] of Object.entries(TYPE_ALIASES)) {
    const v = rec[key];
    if (v === undefined || v === null || v === "") continue;
    if (typeof v !== "string") return { kind: "malformed", field: key, detail: `expected a string, got ${describeValue(v)}`, id };
    if (row[target] === undefined) row[target] = v;
  }
  return { row };
}

// ---------------------------------------------------------------------------------------------------------
// Parsing one file

function dropSet(opt: LoadOptions["dropWarnings"]): Set<WarningKind> {
  if (opt === true) return new Set(WARNING_KINDS);
  if (!opt) return new Set();
  return new Set(opt);
}

/** Parse rows from text already in memory (the file name is only used in messages). */
export function parseRows(text: string, opts: ParseOptions = {}): LoadResult {
  return parseText({ text, badLines: [] }, opts.file ?? "<input>", opts, false);
}

function parseText(decoded: DecodedText, file: string, opts: LoadOptions, labelOptional: boolean): LoadResult {
  const mode = opts.mode ?? "strict";
  const report = emptyReport(file, mode);
  const format = opts.format ?? detectFormat(file, decoded.text);
  const rows = parseInto(decoded.text, file, format, mode, dropSet(opts.dropWarnings), report, undefined, labelOptional, decoded.badLines);
  return { rows, report };
}

/** Load rows from one JSONL / JSON / CSV / TSV file. */
export function loadRows(file: string, opts: LoadOptions = {}): LoadResult {
  return parseText(readText(file), file, opts, false);
}

/**
 * Warnings on usable rows: per row (entities), then across the file (duplicate ids, exact duplicates, conflicting
 * labels). Pushes them to `issues` and returns the rows a dropped warning kind removes.
 */
function rowWarnings(good: LocatedRow[], file: string, drop: Set<WarningKind>, report: LoadReport, issues: LoadIssue[]): Set<LocatedRow> {
  const warn = (lr: LocatedRow, kind: WarningKind, field: string | undefined, detail: string): void => {
    issues.push({
      severity: "warning",
      kind,
      file,
      line: lr.line,
      id: lr.row.id,
      field,
      message: formatLocation(file, lr.line, field, detail),
      dropped: drop.has(kind),
    });
  };
  const dropped = new Set<LocatedRow>();
  const mark = (lr: LocatedRow, kind: WarningKind): void => {
    if (drop.has(kind)) dropped.add(lr);
  };

  for (const lr of good) {
    if (lr.row.h === lr.row.t) {
      warn(lr, "same_entity", "t", `head and tail are the same entity "${lr.row.h}"`);
      mark(lr, "same_entity");
    }
    for (const field of ["h", "t"] as const) {
      const v = lr.row[field];
      if (PLACEHOLDERS.has(v)) {
        const kind = v as WarningKind;
        warn(lr, kind, field, `${v} (CMeIE's stand-in for an implicit entity; not in the sentence)`);
        mark(lr, kind);
      } else if (!lr.row.sentence.includes(v)) {
        warn(lr, "entity_not_found", field, `entity "${v}" not found in the sentence`);
        mark(lr, "entity_not_found");
      }
    }
  }

  const firstCopy = new Map<string, LocatedRow>();
  const firstId = new Map<string, LocatedRow>();
  const pairs = new Map<string, LocatedRow[]>();
  for (const lr of good) {
    const sameId = firstId.get(lr.row.id);
    if (sameId) {
      warn(lr, "duplicate_id", "id", `id "${lr.row.id}" is also the id of the row at line ${sameId.line} (predictions by id would be ambiguous)`);
      mark(lr, "duplicate_id");
    } else firstId.set(lr.row.id, lr);
    const { sentence, h, t, r } = lr.row;
    const pairKey = JSON.stringify([sentence, h, t]);
    const key = JSON.stringify([sentence, h, t, r]);
    const first = firstCopy.get(key);
    if (first) {
      warn(lr, "duplicate", undefined, `duplicate of the row at line ${first.line} (same sentence, h, t, r)`);
      mark(lr, "duplicate");
    } else firstCopy.set(key, lr);
    const group = pairs.get(pairKey);
    if (group) group.push(lr);
    else pairs.set(pairKey, [lr]);
  }
  for (const group of pairs.values()) {
    const labels = [...new Set(group.map((g) => g.row.r))];
    if (labels.length < 2) continue;
    report.conflictingPairs++;
    const where = group.map((g) => `line ${g.line}: ${g.row.r}`).join(", ");
    for (const lr of group) {
      warn(lr, "conflict", "r", `same sentence and pair (${lr.row.h}, ${lr.row.t}) with conflicting labels (${where})`);
      mark(lr, "conflict");
    }
  }

  return dropped;
}

function parseInto(
  text: string,
  file: string,
  format: RowFormat,
  mode: LoadMode,
  drop: Set<WarningKind>,
  report: LoadReport,
  split: SplitName | undefined,
  labelOptional = false,
  badLines: readonly number[] = [],
): Row[] {
  const records = markInvalidUtf8(readRecords(text, format), badLines);
  const good: LocatedRow[] = [];
  const fileIssues: LoadIssue[] = [];

  for (const rec of records) {
    const checked: Checked = rec.malformed
      ? { kind: "malformed", field: rec.malformed.field, detail: rec.malformed.detail }
      : checkRecord(rec.value, labelOptional);
    if ("row" in checked) {
      good.push({ row: checked.row, line: rec.line });
      continue;
    }
    if (mode === "strict") throw new DataError(file, rec.line, checked.field, checked.kind, checked.detail);
    fileIssues.push({
      severity: "error",
      kind: checked.kind,
      file,
      line: rec.line,
      id: checked.id,
      field: checked.field,
      message: formatLocation(file, rec.line, checked.field, checked.detail),
      dropped: true,
    });
  }

  const dropped = rowWarnings(good, file, drop, report, fileIssues);

  // Rows with any dropped warning are dropped; issues of a dropped row say so.
  const droppedLines = new Set([...dropped].map((lr) => lr.line));
  for (const issue of fileIssues) {
    if (issue.severity === "warning" && droppedLines.has(issue.line)) issue.dropped = true;
    report.counts[issue.kind]++;
    if (issue.dropped && (issue.severity === "error" || drop.has(issue.kind as WarningKind))) report.droppedByKind[issue.kind]++;
  }
  fileIssues.sort((a, b) => a.line - b.line);
  report.issues.push(...fileIssues);

  const kept = good.filter((lr) => !dropped.has(lr)).map((lr) => lr.row);
  report.files.push({ file, split, format, read: records.length, kept: kept.length });
  report.read += records.length;
  report.kept += kept.length;
  report.dropped += records.length - kept.length;
  return kept;
}

/** A row to label: the study's format with the relation optional. */
export type InputRow = Omit<Row, "r"> & { r?: Label };

/**
 * Load rows to predict on: the same formats, checks and report as loadRows, but `r` may be absent
 * (rows that do carry a label are validated as usual, so predictions can be scored).
 */
export function loadInputRows(file: string, opts: LoadOptions = {}): { rows: InputRow[]; report: LoadReport } {
  const { rows, report } = parseText(readText(file), file, opts, true);
  return { rows: rows.map((r) => (r.r === undefined ? { ...r, r: undefined } : r)), report };
}

// ---------------------------------------------------------------------------------------------------------
// Dataset folders

const EXTENSIONS = [".jsonl", ".json", ".csv", ".tsv"];

/** File names (without extension) each split is read from, first found wins; study_*: the names in ../shared/data. */
const SPLIT_FILE_NAMES: Record<SplitName, string[]> = {
  train: ["train", "study_train"],
  dev: ["val", "dev", "study_val"],
  test: ["test", "study_test"],
};

/** The files loadDataset(dir) reads, by split (a split without a file is left out). */
export function datasetFiles(dir: string): Partial<Record<SplitName, string>> {
  const out: Partial<Record<SplitName, string>> = {};
  for (const split of ["train", "dev", "test"] as const) {
    const f = findSplitFile(dir, SPLIT_FILE_NAMES[split]);
    if (f) out[split] = f;
  }
  return out;
}

function findSplitFile(dir: string, names: string[]): string | undefined {
  for (const name of names) {
    for (const ext of EXTENSIONS) {
      const p = path.join(dir, name + ext);
      if (fs.existsSync(p)) return p;
    }
  }
  return undefined;
}

/**
 * Load a dataset folder laid out as the study's: train.jsonl, val.jsonl (becomes `dev`; dev.jsonl also
 * accepted), test.jsonl (optional: a notice when missing). .json / .csv / .tsv files with the same names work too.
 * Duplicates and conflicts are checked within each file; use splitOverlap() for sentences shared across files.
 */
export function loadDataset(dir: string, opts: LoadOptions = {}): LoadedDataset {
  const mode = opts.mode ?? "strict";
  const drop = dropSet(opts.dropWarnings);
  const report = emptyReport(dir, mode);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new DataError(dir, 0, undefined, "missing_file", "dataset folder not found");
  }
  const files = datasetFiles(dir);
  const load = (split: SplitName, required: boolean): Row[] => {
    const file = files[split];
    const names = SPLIT_FILE_NAMES[split];
    if (!file) {
      const wanted = names.map((n) => `${n}.jsonl`).join(" or ");
      if (required) throw new DataError(path.join(dir, `${names[0]}.jsonl`), 0, undefined, "missing_file", `missing ${wanted}`);
      report.notices.push(`${dir}: no ${names[0]}.jsonl; the ${split} split is empty`);
      return [];
    }
    const { text, badLines } = readText(file);
    return parseInto(text, file, opts.format ?? detectFormat(file, text), mode, drop, report, split, false, badLines);
  };
  const train = load("train", true);
  const dev = load("dev", true);
  const test = load("test", false);
  return { train, dev, test, source: dir, report };
}

// ---------------------------------------------------------------------------------------------------------
// Writing and reporting

/** One JSON object a line, keys in the study's order (then hType, tType when present). */
export function rowsToJsonl(rows: readonly Row[]): string {
  return rows
    .map((r) => {
      const o: Record<string, string> = { id: r.id, sentence: r.sentence, h: r.h, t: r.t, r: r.r };
      if (r.hType !== undefined) o.hType = r.hType;
      if (r.tType !== undefined) o.tType = r.tType;
      return JSON.stringify(o) + "\n";
    })
    .join("");
}

/** Write a Dataset as a study-style folder: train.jsonl, val.jsonl (the dev split), test.jsonl. */
export function writeDataset(ds: Dataset, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "train.jsonl"), rowsToJsonl(ds.train));
  fs.writeFileSync(path.join(dir, "val.jsonl"), rowsToJsonl(ds.dev));
  fs.writeFileSync(path.join(dir, "test.jsonl"), rowsToJsonl(ds.test));
}

/** A human summary: totals, counts per reason, and the first few affected rows of each reason. */
export function formatLoadReport(report: LoadReport, opts: { maxPerKind?: number } = {}): string {
  const max = opts.maxPerKind ?? 5;
  const out: string[] = [];
  out.push(`Loaded ${report.source} (${report.mode}): ${report.kept} rows kept of ${report.read} read, ${report.dropped} dropped`);
  for (const f of report.files) {
    out.push(`  ${f.split ? f.split.padEnd(5) + " " : ""}${f.file} [${f.format}]: ${f.kept} kept of ${f.read}`);
  }
  for (const n of report.notices) out.push(`  notice: ${n}`);
  const kinds = ISSUE_KINDS.filter((k) => report.counts[k] > 0);
  if (kinds.length === 0) out.push("  no issues");
  for (const kind of kinds) {
    const severity = (WARNING_KINDS as readonly string[]).includes(kind) ? "warning" : "error";
    const extra = kind === "conflict" ? ` in ${report.conflictingPairs} sentence+pair group(s)` : "";
    const dropped = report.droppedByKind[kind];
    out.push(`  ${severity} ${kind}: ${report.counts[kind]}${extra}${dropped ? `, ${dropped} dropped` : ", kept"}`);
    const of = report.issues.filter((i) => i.kind === kind);
    for (const i of of.slice(0, max)) out.push(`    ${i.message}${i.id !== undefined ? ` [id ${i.id}]` : ""}`);
    if (of.length > max) out.push(`    … and ${of.length - max} more`);
  }
  return out.join("\n");
}
