/** Relation encodings and tokenizers: rows -> text -> token ids with entity positions. */
export * from "./types";
export {
  RelationTokenizer,
  TokenizerFileError,
  buildCharTokenizer,
  unkRate,
  MARKER_TOKENS,
  SPECIAL_TOKENS,
  PUNCT_MARKER_CHARS,
  type MarkerToken,
  type MarkerSlots,
  type TokenizerOptions,
  type CharTokenizerOptions,
  type TokenizerJson,
  type AddedTokenJson,
} from "./tokenizer";
export { renderEncoding, QA_QUESTION, ENCODING_FIXED_TEXT, type RenderOptions } from "./layout";
export { encodeRow, encodeRowWithInfo, encodeDataset, DEFAULT_MAX_LENGTH, type EncodeOptions, type EncodeStats } from "./encode";
export type { EncodeInfo } from "./truncate";
export { EncodingError } from "./errors";
export { locateEntities, type Span, type EntityLocation, type SpanRelation } from "./spans";
