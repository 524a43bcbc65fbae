/**
 * What makes a record a usable row, and the report of every row that is not: errors (unusable rows: thrown in
 * strict mode, skipped and reported in lenient mode) and warnings (rows the study kept as they were: kept and
 * counted unless `dropWarnings` names them). Nothing is dropped silently.
 */
import { normalizeLabel, type Label } from "./labels";
import type { Row, SplitName } from "./types";
import {
  DataError,
  ISSUE_KINDS,
  WARNING_KINDS,
  formatLocation,
  type ErrorKind,
  type IssueKind,
  type WarningKind,
} from "./errors";
import type { RawRecord, RowFormat } from "./formats";

export type LoadMode = "strict" | "lenient";

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

const REQUIRED = ["id", "sentence", "h", "t", "r"] as const;
/** Alternative column names for the optional type columns. */
const TYPE_ALIASES: Record<string, "hType" | "tType"> = {
  hType: "hType",
  h_type: "hType",
  tType: "tType",
  t_type: "tType",
};
const PLACEHOLDERS = new Set(["subject_placeholder", "object_placeholder"]);

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

/** The warning kinds whose rows a load drops (LoadOptions.dropWarnings). */
export function dropSet(opt: boolean | readonly WarningKind[] | undefined): Set<WarningKind> {
  if (opt === true) return new Set(WARNING_KINDS);
  if (!opt) return new Set();
  return new Set(opt);
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

/** One file's records checked into rows: its issues, counts and summary go to `report`; strict mode throws on the first error. */
export function checkRecords(
  records: readonly RawRecord[],
  file: string,
  format: RowFormat,
  mode: LoadMode,
  drop: Set<WarningKind>,
  report: LoadReport,
  split: SplitName | undefined,
  labelOptional = false,
): Row[] {
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
