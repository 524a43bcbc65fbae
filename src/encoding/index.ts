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
export {
  renderEncoding,
  encodeRow,
  encodeRowWithInfo,
  encodeDataset,
  EncodingError,
  DEFAULT_MAX_LENGTH,
  QA_QUESTION,
  ENCODING_FIXED_TEXT,
  type EncodeOptions,
  type RenderOptions,
  type EncodeInfo,
  type EncodeStats,
} from "./encode";
export { locateEntities, type Span, type EntityLocation, type SpanRelation } from "./spans";
