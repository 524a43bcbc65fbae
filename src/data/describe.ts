/**
 * Descriptive statistics of a set of rows, for notebooks (the numbers the study's data section reports).
 */
import { findNonOverlapping } from "./mentions";
import { LABELS, type Label } from "./labels";
import type { Row } from "./types";

export interface LabelCount {
  label: Label;
  en: string;
  count: number;
  share: number;
}

export interface LengthStats {
  mean: number;
  /** percentiles by linear interpolation between order statistics (numpy's default) */
  p50: number;
  p90: number;
  min: number;
  max: number;
  /** sentence length in characters (Unicode code points, as Python's len), one per row */
  lengths: number[];
}

export interface RowStats {
  rows: number;
  /** distinct sentences */
  sentences: number;
  perLabel: LabelCount[];
  length: LengthStats;
  /**
   * Distinct entities mentioned among the rows sharing a sentence (h and t of all its rows), per sentence:
   * mean, max and how many sentences have k entities.
   */
  entitiesPerSentence: { mean: number; max: number; histogram: Record<number, number> };
  /** rows per distinct sentence: mean and max */
  rowsPerSentence: { mean: number; max: number };
  /** share of rows whose sentence starts with a CMeIE topic prefix (`entity@…`) */
  atPrefixShare: number;
  /** share of rows whose head occurs more than once in the sentence */
  repeatedHeadShare: number;
  /** share of rows carrying both hType and tType */
  typedShare: number;
}

/** Linear-interpolation percentile of sorted values, q in [0, 1]. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** True when the sentence starts with a topic entity and '@' (CMeIE's convention), e.g. `糖尿病@患者可出现…`. */
export function hasTopicPrefix(sentence: string): boolean {
  return sentence.indexOf("@") > 0;
}

/** Number of non-overlapping occurrences of `needle` in `s` (Python's str.count, the reference the statistics are checked against). */
export function countOccurrences(s: string, needle: string): number {
  return findNonOverlapping(s, needle).length;
}

export function describeRows(rows: readonly Row[]): RowStats {
  const n = rows.length;
  const perLabel = LABELS.map((l) => {
    const count = rows.filter((r) => r.r === l.zh).length;
    return { label: l.zh as Label, en: l.en as string, count, share: n ? count / n : 0 };
  });
  const lengths = rows.map((r) => [...r.sentence].length);
  const sorted = [...lengths].sort((a, b) => a - b);
  const bySentence = new Map<string, { entities: Set<string>; rows: number }>();
  for (const r of rows) {
    let g = bySentence.get(r.sentence);
    if (!g) bySentence.set(r.sentence, (g = { entities: new Set(), rows: 0 }));
    g.entities.add(r.h);
    g.entities.add(r.t);
    g.rows++;
  }
  const histogram: Record<number, number> = {};
  let entSum = 0;
  let entMax = 0;
  let rowMax = 0;
  for (const g of bySentence.values()) {
    const k = g.entities.size;
    histogram[k] = (histogram[k] ?? 0) + 1;
    entSum += k;
    entMax = Math.max(entMax, k);
    rowMax = Math.max(rowMax, g.rows);
  }
  const S = bySentence.size;
  const share = (pred: (r: Row) => boolean): number => (n ? rows.filter(pred).length / n : 0);
  return {
    rows: n,
    sentences: S,
    perLabel,
    length: {
      mean: n ? lengths.reduce((a, b) => a + b, 0) / n : NaN,
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      min: n ? sorted[0] : NaN,
      max: n ? sorted[n - 1] : NaN,
      lengths,
    },
    entitiesPerSentence: { mean: S ? entSum / S : 0, max: entMax, histogram },
    rowsPerSentence: { mean: S ? n / S : 0, max: rowMax },
    atPrefixShare: share((r) => hasTopicPrefix(r.sentence)),
    repeatedHeadShare: share((r) => countOccurrences(r.sentence, r.h) > 1),
    typedShare: share((r) => r.hType !== undefined && r.tType !== undefined),
  };
}
