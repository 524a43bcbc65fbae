/** The study's five text encodings, plus Zhou & Chen (2021)'s typed punctuation markers. */
export type EncodingName =
  | "Basic1"
  | "Basic2"
  | "QA"
  | "Entity_marked1"
  | "Entity_marked2"
  | "typed_marker_punct";

export const ENCODING_NAMES: readonly EncodingName[] = [
  "Basic1",
  "Basic2",
  "QA",
  "Entity_marked1",
  "Entity_marked2",
  "typed_marker_punct",
];

/** The study's five (what the encoding table compares). */
export const STUDY_ENCODINGS: readonly EncodingName[] = ENCODING_NAMES.slice(0, 5);

/** One tokenized example, ready for batching. Arrays are unpadded (dynamic padding happens per batch). */
export interface Encoded {
  inputIds: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
  /** token index of the head entity's start marker (or of its first token when the encoding has no markers) */
  headPos: number;
  /** token index of the tail entity's start marker (or first token) */
  tailPos: number;
  /** one past the head entity's span (closing marker included); headPos + 1 when the span is unknown */
  headEnd?: number;
  /** one past the tail entity's span */
  tailEnd?: number;
  /** label index (src/data/labels.ts order) when known */
  label?: number;
}
