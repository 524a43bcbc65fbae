/**
 * The study's row format on disk: JSONL, a JSON array, CSV or TSV, read into records that each know the line they
 * start on (so every later message can name file:line), and written back as JSONL. Nothing here judges a row:
 * checks.ts does.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DataError } from "./errors";
import type { Row } from "./types";

export type RowFormat = "jsonl" | "json" | "csv" | "tsv";

/** A record as read from the file, before validation. */
export interface RawRecord {
  line: number;
  value?: unknown;
  /** set when the record could not even be read (bad JSON, bad CSV row) */
  malformed?: { detail: string; field?: string };
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

/** A file's text, decoded strictly: the lines whose bytes are not UTF-8 are listed (1-based), never replaced silently. */
export interface DecodedText {
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

export function readText(file: string): DecodedText {
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

/** The records of a file's text in `format`; those on a line that was not UTF-8 (`badLines`) come back malformed. */
export function readRecords(text: string, format: RowFormat, badLines: readonly number[] = []): RawRecord[] {
  return markInvalidUtf8(recordsOf(text.replace(/^\uFEFF/, ""), format), badLines);
}

function recordsOf(text: string, format: RowFormat): RawRecord[] {
  switch (format) {
    case "jsonl":
      return readJsonl(text);
    case "json":
      return readJsonArray(text);
    case "csv":
      return readCsv(text);
    case "tsv":
      return readTsv(text);
  }
}

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
