/**
 * What can be wrong with a row, and the typed error thrown in strict mode.
 * Errors make a row unusable; warnings describe rows the study kept as they were.
 */

/** A row that cannot be used: malformed line, missing field, unknown label, empty text. */
export const ERROR_KINDS = ["malformed", "missing_field", "unknown_label", "empty_text"] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/**
 * A row the study kept as it was (and so do we, by default):
 * - entity_not_found: h or t does not occur in the sentence
 * - subject_placeholder / object_placeholder: CMeIE's stand-in for an implicit entity (never in the sentence)
 * - duplicate: an exact copy (sentence, h, t, r) of an earlier row of the same file; ids ignored
 * - duplicate_id: a row whose id an earlier row of the same file already has
 * - conflict: the same sentence + (h, t) pair appears with different labels (every row of the group is flagged)
 * - same_entity: h and t are the same text (head == tail: a relation of an entity with itself, markers nest)
 */
export const WARNING_KINDS = [
  "entity_not_found",
  "subject_placeholder",
  "object_placeholder",
  "duplicate",
  "duplicate_id",
  "conflict",
  "same_entity",
] as const;
export type WarningKind = (typeof WARNING_KINDS)[number];

export type IssueKind = ErrorKind | WarningKind;
export const ISSUE_KINDS: readonly IssueKind[] = [...ERROR_KINDS, ...WARNING_KINDS];

/** Reasons a DataError can carry: a row error, or a whole file that is missing or unreadable. */
export type DataErrorReason = ErrorKind | "missing_file";

/** `file:line: field "x": detail` — the one message format used by errors, issues and reports. */
export function formatLocation(file: string, line: number, field: string | undefined, detail: string): string {
  const at = line > 0 ? `${file}:${line}` : file;
  return field ? `${at}: field "${field}": ${detail}` : `${at}: ${detail}`;
}

/** Thrown by loaders in strict mode (first bad row) and for missing files in any mode. */
export class DataError extends Error {
  override readonly name = "DataError";
  constructor(
    readonly file: string,
    /** 1-based line where the row starts; 0 when the problem is the whole file */
    readonly line: number,
    readonly field: string | undefined,
    readonly reason: DataErrorReason,
    /** the human part of the message, without the location */
    readonly detail: string,
  ) {
    super(formatLocation(file, line, field, detail));
  }
}
