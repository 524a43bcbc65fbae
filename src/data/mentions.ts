/**
 * Where an entity string occurs in a sentence. The study's rows carry no character offsets, so a mention is any
 * occurrence of the string; CMeIE placeholders (subject_placeholder …) never occur and so have no mention.
 * Encodings, augmentation and the data statistics all find mentions here.
 */

/** Start offsets of every occurrence of `needle`, overlapping ones included; none for an empty needle. */
export function findOccurrences(text: string, needle: string): number[] {
  return scan(text, needle, 1);
}

/** Python `str.replace` / `str.count`-style occurrences: left to right, non-overlapping. */
export function findNonOverlapping(text: string, needle: string): number[] {
  return scan(text, needle, needle.length);
}

function scan(text: string, needle: string, step: number): number[] {
  const out: number[] = [];
  if (needle.length === 0) return out;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + step)) out.push(i);
  return out;
}
