/**
 * Where the head and tail entities sit in a sentence (character offsets, end exclusive).
 * The rules are README.md's "Locating entities"; this file implements the search.
 */
import { findOccurrences } from "../data/mentions";

export interface Span {
  start: number;
  end: number;
}

/** How the chosen head and tail spans relate. */
export type SpanRelation = "disjoint" | "nested" | "crossing" | "none";

export interface EntityLocation {
  /** chosen head mention, or null when the head string does not occur */
  head: Span | null;
  tail: Span | null;
  relation: SpanRelation;
  /** how many times each string occurs (overlapping occurrences counted) */
  headCount: number;
  tailCount: number;
}

function overlaps(a: Span, b: Span): boolean {
  return a.start < b.end && b.start < a.end;
}

function gap(a: Span, b: Span): number {
  return Math.max(0, Math.max(a.start, b.start) - Math.min(a.end, b.end));
}

export function spanRelation(a: Span | null, b: Span | null): SpanRelation {
  if (!a || !b) return "none";
  if (!overlaps(a, b)) return "disjoint";
  const aInB = b.start <= a.start && a.end <= b.end;
  const bInA = a.start <= b.start && b.end <= a.end;
  return aInB || bInA ? "nested" : "crossing";
}

/**
 * Choose one head and one tail mention: among all pairs, prefer non-overlapping ones, then the smallest
 * gap between them, then the earliest head, then the earliest tail. A missing entity gives null; the
 * other then takes its first occurrence.
 */
export function locateEntities(sentence: string, h: string, t: string): EntityLocation {
  const hs = findOccurrences(sentence, h);
  const ts = findOccurrences(sentence, t);
  let head: Span | null = null;
  let tail: Span | null = null;
  if (hs.length > 0 && ts.length > 0) {
    let best: [number, number, number, number] | null = null;
    for (const a of hs) {
      const ha: Span = { start: a, end: a + h.length };
      for (const b of ts) {
        const tb: Span = { start: b, end: b + t.length };
        const key: [number, number, number, number] = [overlaps(ha, tb) ? 1 : 0, gap(ha, tb), a, b];
        if (best === null || lexLess(key, best)) {
          best = key;
          head = ha;
          tail = tb;
        }
      }
    }
  } else if (hs.length > 0) {
    head = { start: hs[0], end: hs[0] + h.length };
  } else if (ts.length > 0) {
    tail = { start: ts[0], end: ts[0] + t.length };
  }
  return { head, tail, relation: spanRelation(head, tail), headCount: hs.length, tailCount: ts.length };
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

// --- BERT word boundaries -------------------------------------------------------------------------
// Same character classes as tokenizers.js' BertNormalizer / BertPreTokenizer, so that cutting a string at
// a boundary and tokenizing the parts separately gives exactly the tokens of the whole string.
const PUNCT_RE = /[\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]/u;
const SPACE_RE = /\s/;

function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0xf900 && cp <= 0xfaff)
  );
}

/** A character that always stands alone (or vanishes) after BERT pre-tokenization. */
function isSeparatorChar(c: string): boolean {
  return SPACE_RE.test(c) || PUNCT_RE.test(c) || isCjk(c.charCodeAt(0));
}

/** True when `i` (0..len) is a BERT word boundary of `text`. */
export function isWordBoundary(text: string, i: number): boolean {
  if (i <= 0 || i >= text.length) return true;
  return isSeparatorChar(text[i - 1]) || isSeparatorChar(text[i]);
}

/** Move `i` left to the nearest word boundary (start of the word containing text[i]). */
export function snapLeft(text: string, i: number): number {
  while (!isWordBoundary(text, i)) i--;
  return i;
}

/** Move `i` right to the nearest word boundary (end of the word containing text[i-1]). */
export function snapRight(text: string, i: number): number {
  while (!isWordBoundary(text, i)) i++;
  return i;
}
