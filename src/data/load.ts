/**
 * Loaders for the study's row format ({id, sentence, h, t, r} + optional hType/tType) from JSONL, JSON, CSV and TSV
 * files and from a dataset folder laid out as the study's (train / val / test): formats.ts reads a file's records,
 * checks.ts turns them into rows and a report. Every load returns that report.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Label } from "./labels";
import type { Dataset, Row, SplitName } from "./types";
import { DataError, type WarningKind } from "./errors";
import { detectFormat, readRecords, readText, rowsToJsonl, type DecodedText, type RowFormat } from "./formats";
import { checkRecords, dropSet, emptyReport, type LoadMode, type LoadReport } from "./checks";

// callers that import this file for the report's type (src/report/views.ts)

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

export interface LoadResult {
  rows: Row[];
  report: LoadReport;
}

/** A Dataset plus the report of how it was loaded (assignable to Dataset). */
export interface LoadedDataset extends Dataset {
  report: LoadReport;
}

/** Parse rows from text already in memory (the file name is only used in messages). */
export function parseRows(text: string, opts: ParseOptions = {}): LoadResult {
  return parseText({ text, badLines: [] }, opts.file ?? "<input>", opts, false);
}

function parseText(decoded: DecodedText, file: string, opts: LoadOptions, labelOptional: boolean): LoadResult {
  const mode = opts.mode ?? "strict";
  const report = emptyReport(file, mode);
  const format = opts.format ?? detectFormat(file, decoded.text);
  const rows = checkRecords(readRecords(decoded.text, format, decoded.badLines), file, format, mode, dropSet(opts.dropWarnings), report, undefined, labelOptional);
  return { rows, report };
}

/** Load rows from one JSONL / JSON / CSV / TSV file. */
export function loadRows(file: string, opts: LoadOptions = {}): LoadResult {
  return parseText(readText(file), file, opts, false);
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
    const format = opts.format ?? detectFormat(file, text);
    return checkRecords(readRecords(text, format, badLines), file, format, mode, drop, report, split);
  };
  const train = load("train", true);
  const dev = load("dev", true);
  const test = load("test", false);
  return { train, dev, test, source: dir, report };
}

/** Write a Dataset as a study-style folder: train.jsonl, val.jsonl (the dev split), test.jsonl. */
export function writeDataset(ds: Dataset, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "train.jsonl"), rowsToJsonl(ds.train));
  fs.writeFileSync(path.join(dir, "val.jsonl"), rowsToJsonl(ds.dev));
  fs.writeFileSync(path.join(dir, "test.jsonl"), rowsToJsonl(ds.test));
}
