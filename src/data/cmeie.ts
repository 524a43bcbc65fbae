/**
 * CMeIE / CBLUE JSON lines -> the study's row format.
 * A CMeIE line: {text, spo_list: [{subject, subject_type, predicate, object: {"@value"}, object_type: {"@value"}}]};
 * each triple whose predicate is one of the study's relations becomes one row, entity types kept as hType/tType.
 * Everything left out is counted by reason.
 */
import * as fs from "node:fs";
import { LABEL_NAMES, normalizeLabel, type Label } from "./labels";
import type { Row } from "./types";
import { DataError, formatLocation } from "./errors";

/**
 * Why something was left out:
 * - bad_line: not valid JSON, or not an object (the whole line)
 * - missing_text: no non-empty `text` (the whole line)
 * - empty_spo_list: no triples at all (the whole line; e.g. the unlabeled test file)
 * - bad_spo: a triple without subject / predicate / object (one triple)
 * - other_predicate: a predicate outside the kept relations (one triple)
 */
export type CmeieDropReason = "bad_line" | "missing_text" | "empty_spo_list" | "bad_spo" | "other_predicate";
export const CMEIE_DROP_REASONS: readonly CmeieDropReason[] = [
  "bad_line",
  "missing_text",
  "empty_spo_list",
  "bad_spo",
  "other_predicate",
];

export interface CmeieOptions {
  /** relations to keep (default: the study's 10) */
  relations?: readonly Label[];
  /** name used in messages and row ids' provenance (default "<cmeie>") */
  file?: string;
  /** prefix of row ids; a row's id is `${idPrefix}${line}-${k}` (k = index of the triple in its spo_list) */
  idPrefix?: string;
}

export interface CmeieIssue {
  reason: CmeieDropReason;
  line: number;
  field?: string;
  message: string;
}

export interface CmeieReport {
  file: string;
  /** non-blank lines read */
  lines: number;
  /** lines that parsed into a sentence with text */
  sentences: number;
  /** sentences that gave at least one row */
  sentencesWithRows: number;
  /** triples seen in parsed sentences */
  triples: number;
  /** rows produced */
  kept: number;
  perLabel: Record<Label, number>;
  /** lines (bad_line, missing_text, empty_spo_list) or triples (bad_spo, other_predicate) left out */
  dropped: Record<CmeieDropReason, number>;
  /** predicates left out, with their triple counts */
  otherPredicates: Record<string, number>;
  /** kept rows whose subject or object is not a substring of the text (kept, as CMeIE has them) */
  entityNotFound: number;
  /** kept rows repeating an earlier (subject, predicate, object) of the same sentence (kept, counted) */
  duplicateTriples: number;
  /** line-level and triple-level problems (other_predicate is only counted, in otherPredicates) */
  issues: CmeieIssue[];
}

export interface CmeieResult {
  rows: Row[];
  report: CmeieReport;
}

function str(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  // CMeIE wraps objects and their types as {"@value": "..."}
  if (typeof v === "object" && v !== null && typeof (v as Record<string, unknown>)["@value"] === "string") {
    return (v as Record<string, string>)["@value"];
  }
  return undefined;
}

/** Convert CMeIE JSON lines held in memory. */
export function convertCmeie(text: string, opts: CmeieOptions = {}): CmeieResult {
  const file = opts.file ?? "<cmeie>";
  const keep = new Set<Label>(opts.relations ?? LABEL_NAMES);
  const prefix = opts.idPrefix ?? "";
  const perLabel = {} as Record<Label, number>;
  for (const l of LABEL_NAMES) perLabel[l] = 0;
  const dropped = {} as Record<CmeieDropReason, number>;
  for (const r of CMEIE_DROP_REASONS) dropped[r] = 0;
  const report: CmeieReport = {
    file,
    lines: 0,
    sentences: 0,
    sentencesWithRows: 0,
    triples: 0,
    kept: 0,
    perLabel,
    dropped,
    otherPredicates: {},
    entityNotFound: 0,
    duplicateTriples: 0,
    issues: [],
  };
  const issue = (reason: CmeieDropReason, line: number, field: string | undefined, detail: string): void => {
    dropped[reason]++;
    report.issues.push({ reason, line, field, message: formatLocation(file, line, field, detail) });
  };

  const rows: Row[] = [];
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].replace(/\r$/, "");
    if (s.trim() === "") continue;
    const line = i + 1;
    report.lines++;
    let obj: unknown;
    try {
      obj = JSON.parse(s);
    } catch (e) {
      issue("bad_line", line, undefined, `malformed JSON line (${(e as Error).message.split("\n")[0]})`);
      continue;
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
      issue("bad_line", line, undefined, "expected an object with text and spo_list");
      continue;
    }
    const rec = obj as Record<string, unknown>;
    const sentence = rec.text;
    if (typeof sentence !== "string" || sentence.trim() === "") {
      issue("missing_text", line, "text", typeof sentence === "string" ? "empty text" : "missing");
      continue;
    }
    report.sentences++;
    const spo = rec.spo_list;
    if (!Array.isArray(spo) || spo.length === 0) {
      issue("empty_spo_list", line, "spo_list", Array.isArray(spo) ? "empty spo_list" : "missing spo_list");
      continue;
    }
    const seen = new Set<string>();
    let produced = 0;
    spo.forEach((raw: unknown, k: number) => {
      report.triples++;
      const t = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
      const h = str(t.subject);
      const predicate = str(t.predicate);
      const o = str(t.object);
      const missing = !h ? "subject" : !predicate ? "predicate" : !o ? "object" : undefined;
      if (missing || !h || !predicate || !o) {
        issue("bad_spo", line, `spo_list[${k}].${missing}`, "missing or empty");
        return;
      }
      const label = normalizeLabel(predicate);
      if (!label || !keep.has(label)) {
        dropped.other_predicate++;
        report.otherPredicates[predicate] = (report.otherPredicates[predicate] ?? 0) + 1;
        return;
      }
      const row: Row = { id: `${prefix}${line}-${k}`, sentence, h, t: o, r: label };
      const hType = str(t.subject_type);
      const tType = str(t.object_type);
      if (hType) row.hType = hType;
      if (tType) row.tType = tType;
      const key = JSON.stringify([h, label, o]);
      if (seen.has(key)) report.duplicateTriples++;
      seen.add(key);
      if (!sentence.includes(h) || !sentence.includes(o)) report.entityNotFound++;
      perLabel[label]++;
      rows.push(row);
      produced++;
    });
    if (produced > 0) report.sentencesWithRows++;
  }
  report.kept = rows.length;
  return { rows, report };
}

/** Convert a CMeIE / CBLUE JSON-lines file. */
export function loadCmeie(file: string, opts: Omit<CmeieOptions, "file"> = {}): CmeieResult {
  if (!fs.existsSync(file)) throw new DataError(file, 0, undefined, "missing_file", "file not found");
  return convertCmeie(fs.readFileSync(file, "utf8"), { ...opts, file });
}
