/** Entity mentions as spans, for augmentation (src/data/mentions.ts finds them). */
import { findOccurrences } from "../data/mentions";

/** [start, end) UTF-16 offsets of every occurrence of `entity`, overlapping ones included. */
export function findMentions(sentence: string, entity: string): [number, number][] {
  return findOccurrences(sentence, entity).map((i) => [i, i + entity.length]);
}

/**
 * Per UTF-16 unit: -1 outside every mention of the entities, else the id of the merged mention
 * span it belongs to (overlapping or touching-by-overlap mentions share one id; adjacent ones don't).
 */
export function mentionSpanIds(sentence: string, entities: readonly string[]): number[] {
  const spans = entities.flatMap((e) => findMentions(sentence, e)).sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const ids = new Array<number>(sentence.length).fill(-1);
  let id = -1;
  let end = -1;
  for (const [s, e] of spans) {
    if (s >= end) id++; // a new merged span starts (s === end means adjacent, kept separate)
    end = Math.max(end, e);
    for (let i = s; i < e; i++) ids[i] = id;
  }
  return ids;
}

/**
 * Replace every mention of `target` with `replacement`, left to right without overlaps (as
 * String.replaceAll), except mentions lying inside a mention of `keep` (the other entity, when it
 * contains `target`): those belong to the other entity and stay.
 */
export function replaceMentions(sentence: string, target: string, replacement: string, keep: string): string {
  const keepSpans = keep.length > target.length && keep.includes(target) ? findMentions(sentence, keep) : [];
  let out = "";
  let pos = 0;
  for (let i = sentence.indexOf(target); i >= 0; i = sentence.indexOf(target, i)) {
    const e = i + target.length;
    if (keepSpans.some(([ks, ke]) => ks <= i && e <= ke)) {
      i += 1;
      continue;
    }
    out += sentence.slice(pos, i) + replacement;
    pos = e;
    i = e;
  }
  return out + sentence.slice(pos);
}
