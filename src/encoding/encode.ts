/**
 * A row as the model's input: its encoding laid out (layout.ts), tokenized and cut to maxLength (truncate.ts), and
 * what happened on the way counted. README.md is the specification both follow.
 */
import { labelIndex } from "../data/labels";
import type { Row } from "../data/types";
import type { RelationTokenizer } from "./tokenizer";
import { EncodingError } from "./errors";
import { layout, type RenderOptions } from "./layout";
import { cleanEncoding, faithfulEncoding, tokenizeParts, type EncodeInfo } from "./truncate";
import type { Encoded, EncodingName } from "./types";

/** The study's maxLength (its Code/data.py); the one default of every encoding call that names none. */
export const DEFAULT_MAX_LENGTH = 300;

export interface EncodeOptions extends RenderOptions {
  encoding: EncodingName;
  /** in tokens, specials included (default DEFAULT_MAX_LENGTH) */
  maxLength?: number;
}

/** Encode one row; also says what was found and whether it was truncated. */
export function encodeRowWithInfo(
  tok: RelationTokenizer,
  row: Row,
  opts: EncodeOptions,
): { encoded: Encoded; info: EncodeInfo } {
  const faithful = opts.faithful ?? false;
  const maxLength = opts.maxLength ?? DEFAULT_MAX_LENGTH;
  if (!Number.isInteger(maxLength) || maxLength < 2)
    throw new EncodingError(row.id, "maxLength", `must be an integer >= 2, got ${maxLength}`);
  const lay = layout(row, opts.encoding, faithful);
  const tps = tokenizeParts(tok, lay.parts);
  const fullLength = tps.reduce((n, tp) => n + tp.ids.length, 0);
  const info: EncodeInfo = {
    headFound: lay.headFound,
    tailFound: lay.tailFound,
    relation: lay.relation,
    fullLength,
    truncated: fullLength > maxLength,
    markerLost: false,
    untypedMarkers: lay.untyped,
  };
  const encoded = faithful ? faithfulEncoding(tok, tps, maxLength, lay.marked, info) : cleanEncoding(row, opts.encoding, tps, maxLength, lay.marked, info);
  return { encoded, info };
}

/** Encode one row (the rules: README.md). */
export function encodeRow(tok: RelationTokenizer, row: Row, opts: EncodeOptions): Encoded {
  return encodeRowWithInfo(tok, row, opts).encoded;
}

export interface EncodeStats {
  rows: number;
  /** rows longer than maxLength before truncation */
  truncated: number;
  /** rows where the head or the tail string does not occur in the sentence */
  entityNotFound: number;
  headNotFound: number;
  tailNotFound: number;
  /** rows whose chosen head and tail mentions overlap (nested or crossing) */
  overlapping: number;
  /** faithful: start markers cut off by truncation; clean: mentions or entity segments shortened */
  markerLost: number;
  /** typed_marker_punct rows where at least one entity had no type */
  untypedMarkers: number;
  /** longest encoded sequence (after truncation) */
  maxLen: number;
  /** longest sequence before truncation */
  maxFullLen: number;
  meanLen: number;
}

/** Encode many rows; labels set with labelIndex(row.r). */
export function encodeDataset(
  tok: RelationTokenizer,
  rows: readonly Row[],
  opts: EncodeOptions,
): { encoded: Encoded[]; stats: EncodeStats } {
  const stats: EncodeStats = {
    rows: rows.length,
    truncated: 0,
    entityNotFound: 0,
    headNotFound: 0,
    tailNotFound: 0,
    overlapping: 0,
    markerLost: 0,
    untypedMarkers: 0,
    maxLen: 0,
    maxFullLen: 0,
    meanLen: 0,
  };
  let total = 0;
  const encoded = rows.map((row) => {
    const { encoded: e, info } = encodeRowWithInfo(tok, row, opts);
    e.label = labelIndex(row.r);
    if (info.truncated) stats.truncated++;
    if (!info.headFound) stats.headNotFound++;
    if (!info.tailFound) stats.tailNotFound++;
    if (!info.headFound || !info.tailFound) stats.entityNotFound++;
    if (info.relation === "nested" || info.relation === "crossing") stats.overlapping++;
    if (info.markerLost) stats.markerLost++;
    if (info.untypedMarkers) stats.untypedMarkers++;
    stats.maxLen = Math.max(stats.maxLen, e.inputIds.length);
    stats.maxFullLen = Math.max(stats.maxFullLen, info.fullLength);
    total += e.inputIds.length;
    return e;
  });
  stats.meanLen = rows.length === 0 ? 0 : total / rows.length;
  return { encoded, stats };
}
