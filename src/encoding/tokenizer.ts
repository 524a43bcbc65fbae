/**
 * WordPiece tokenizers for the relation encodings, on top of `@huggingface/tokenizers` (tokenizers.js).
 *
 * One class, `RelationTokenizer`, built from
 *  - a checkpoint's `tokenizer.json` (Hugging Face fast-tokenizer format), or
 *  - a bare `vocab.txt`, for which the standard BERT pipeline is assembled in memory:
 *    BertNormalizer(clean_text, handle_chinese_chars, lowercase, strip_accents = follow lowercase),
 *    BertPreTokenizer, WordPiece("##", [UNK], max_input_chars_per_word 100),
 *    TemplateProcessing `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B [SEP]`, WordPiece decoder, or
 *  - `buildCharTokenizer(texts)`: a character-level vocabulary for the embedded tiny model, same pipeline.
 *
 * Entity markers (decision, see MARKER_TOKENS):
 *  - All eight bracket markers are registered as *special added tokens* (normalized: false), so the
 *    tokenizer matches them before normalization and never splits them (`[实体1]` would otherwise become
 *    `[`, `实`, `体`, `1`, `]`).
 *  - markerSlots "unused" (default): when the vocabulary has `[unusedN]` entries, each marker takes over
 *    the lowest-id free one (the entry is renamed in the vocab), so the checkpoint's embedding matrix needs
 *    no resize. bert-base-chinese has [unused1..3] already replaced by “ ” …, so markers land on ids 4..11.
 *  - markerSlots "append" (what the study did: `add_special_tokens` then `resize_token_embeddings`), or no
 *    free slot left: the marker gets a new id >= the base vocab size; `vocabSize` grows and `addedTokens`
 *    lists them so the model can resize its embeddings. The study added only the four markers of the
 *    encoding in use, so its ids started at vocab size for both marker sets; we append all eight in
 *    MARKER_TOKENS order (ids differ, tokenization is the same).
 *  - A marker already present in the vocab (a tokenizer we saved earlier) keeps its id.
 * The typed punctuation markers (`@ * # ^`) are ordinary punctuation and need nothing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BertNormalizer, BertPreTokenizer, Tokenizer } from "@huggingface/tokenizers";

/** BERT's five special tokens. */
export const SPECIAL_TOKENS = {
  pad: "[PAD]",
  unk: "[UNK]",
  cls: "[CLS]",
  sep: "[SEP]",
  mask: "[MASK]",
} as const;
const SPECIAL_LIST: readonly string[] = Object.values(SPECIAL_TOKENS);

/** Every bracket marker any encoding uses (Entity_marked1 then Entity_marked2). */
export const MARKER_TOKENS = [
  "[E1]",
  "[/E1]",
  "[E2]",
  "[/E2]",
  "[实体1]",
  "[/实体1]",
  "[实体2]",
  "[/实体2]",
] as const;
export type MarkerToken = (typeof MARKER_TOKENS)[number];

/** Plain punctuation used by typed_marker_punct (Zhou & Chen 2021); must be in any vocab we build. */
export const PUNCT_MARKER_CHARS = ["@", "*", "#", "^"] as const;

export type MarkerSlots = "unused" | "append";

export interface TokenizerOptions {
  /** where marker tokens go when the vocab lacks them (default "unused") */
  markerSlots?: MarkerSlots;
  /** BERT uncased/Chinese models lowercase (default true); pass false for cased vocabularies */
  lowercase?: boolean;
  /** WordPiece: longer words become [UNK] (default 100) */
  maxInputCharsPerWord?: number;
}

/** A tokenizer file is missing, malformed or lacks a required token. */
export class TokenizerFileError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
    readonly line?: number,
    readonly field?: string,
  ) {
    super(
      `${file}${line !== undefined ? `:${line}` : ""}${field !== undefined ? ` (${field})` : ""}: ${detail}`,
    );
    this.name = "TokenizerFileError";
  }
}

/** Hugging Face tokenizer.json added-token entry. */
export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The subset of Hugging Face's tokenizer.json we write and read (WordPiece models). */
export interface TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: Record<string, unknown> | null;
  pre_tokenizer: Record<string, unknown> | null;
  post_processor: Record<string, unknown> | null;
  decoder: Record<string, unknown> | null;
  model: {
    type: "WordPiece";
    unk_token: string;
    continuing_subword_prefix: string;
    max_input_chars_per_word: number;
    vocab: Record<string, number>;
  };
}

function specialAdded(id: number, content: string): AddedTokenJson {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** The standard BERT tokenizer.json around a vocabulary (ids = array index). */
function bertTokenizerJson(
  vocab: readonly string[],
  added: readonly AddedTokenJson[],
  lowercase: boolean,
  maxInputCharsPerWord: number,
): TokenizerJson {
  const v: Record<string, number> = {};
  vocab.forEach((tok, i) => (v[tok] = i));
  const cls = v[SPECIAL_TOKENS.cls];
  const sep = v[SPECIAL_TOKENS.sep];
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [...added],
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [cls], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [sep], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: SPECIAL_TOKENS.unk,
      continuing_subword_prefix: "##",
      max_input_chars_per_word: maxInputCharsPerWord,
      vocab: v,
    },
  };
}

const UNUSED_RE = /^\[unused(\d+)\]$/;

/**
 * Give every marker an id (rename a free [unusedN] slot, or append) and register markers and BERT
 * specials as special added tokens. Mutates `vocab` (renames) and returns the appended tokens.
 */
function placeMarkers(
  vocab: string[],
  ids: Map<string, number>,
  added: Map<number, AddedTokenJson>,
  slots: MarkerSlots,
): string[] {
  const free =
    slots === "unused"
      ? vocab
          .map((tok, id) => ({ tok, id }))
          .filter((e) => UNUSED_RE.test(e.tok))
          .map((e) => e.id)
      : [];
  const appended: string[] = [];
  let next = Math.max(vocab.length, ...[...added.keys()].map((k) => k + 1));
  for (const m of MARKER_TOKENS) {
    let id = ids.get(m);
    if (id === undefined) {
      const slot = free.shift();
      if (slot !== undefined) {
        ids.delete(vocab[slot]);
        vocab[slot] = m;
        id = slot;
      } else {
        id = next++;
        appended.push(m);
      }
      ids.set(m, id);
    }
    added.set(id, specialAdded(id, m));
  }
  return appended;
}

/** Minimal structural check of a parsed tokenizer.json. */
function asTokenizerJson(raw: unknown, file: string): TokenizerJson {
  if (typeof raw !== "object" || raw === null) throw new TokenizerFileError(file, "not a JSON object");
  const o = raw as Record<string, unknown>;
  const model = o.model as Record<string, unknown> | undefined;
  if (!model || typeof model !== "object") throw new TokenizerFileError(file, "missing", undefined, "model");
  if (model.type !== "WordPiece")
    throw new TokenizerFileError(file, `only WordPiece models are supported, got ${String(model.type)}`, undefined, "model.type");
  if (typeof model.vocab !== "object" || model.vocab === null)
    throw new TokenizerFileError(file, "missing", undefined, "model.vocab");
  return {
    version: typeof o.version === "string" ? o.version : "1.0",
    truncation: null,
    padding: null,
    added_tokens: Array.isArray(o.added_tokens) ? (o.added_tokens as AddedTokenJson[]) : [],
    normalizer: (o.normalizer as Record<string, unknown> | null) ?? null,
    pre_tokenizer: (o.pre_tokenizer as Record<string, unknown> | null) ?? null,
    post_processor: (o.post_processor as Record<string, unknown> | null) ?? null,
    decoder: (o.decoder as Record<string, unknown> | null) ?? null,
    model: {
      type: "WordPiece",
      unk_token: typeof model.unk_token === "string" ? model.unk_token : SPECIAL_TOKENS.unk,
      continuing_subword_prefix:
        typeof model.continuing_subword_prefix === "string" ? model.continuing_subword_prefix : "##",
      max_input_chars_per_word:
        typeof model.max_input_chars_per_word === "number" ? model.max_input_chars_per_word : 100,
      vocab: model.vocab as Record<string, number>,
    },
  };
}

/**
 * A WordPiece tokenizer that knows the relation markers. Ids are plain numbers; `encodeText` adds no
 * [CLS]/[SEP] (the encodings place those themselves).
 */
export class RelationTokenizer {
  /** id -> token (model vocab plus appended added tokens) */
  private readonly vocab: string[];
  private readonly ids: Map<string, number>;
  private readonly hf: Tokenizer;
  /** memo of encodeText for short strings (entities, markers, question parts repeat across rows) */
  private readonly memo = new Map<string, number[]>();

  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
  /** tokens appended beyond the base vocabulary (the model must resize its embeddings to vocabSize) */
  readonly addedTokens: readonly string[];
  /** size of the vocabulary before appended tokens */
  readonly baseVocabSize: number;

  private constructor(
    readonly json: TokenizerJson,
    readonly source: string,
  ) {
    const vocab: string[] = [];
    for (const [tok, id] of Object.entries(json.model.vocab)) vocab[id] = tok;
    const base = vocab.length;
    for (const a of json.added_tokens) vocab[a.id] = a.content;
    for (let i = 0; i < vocab.length; i++)
      if (vocab[i] === undefined) throw new TokenizerFileError(source, `no token has id ${i}`, undefined, "model.vocab");
    this.vocab = vocab;
    this.ids = new Map(vocab.map((t, i) => [t, i]));
    this.baseVocabSize = base;
    this.addedTokens = vocab.slice(base);
    this.hf = new Tokenizer(json, {});
    const need = (tok: string): number => {
      const id = this.ids.get(tok);
      if (id === undefined) throw new TokenizerFileError(source, `required token ${tok} is missing`, undefined, "vocab");
      return id;
    };
    this.padId = need(SPECIAL_TOKENS.pad);
    this.unkId = need(SPECIAL_TOKENS.unk);
    this.clsId = need(SPECIAL_TOKENS.cls);
    this.sepId = need(SPECIAL_TOKENS.sep);
    this.maskId = need(SPECIAL_TOKENS.mask);
    for (const m of MARKER_TOKENS) need(m);
  }

  /** Standard BERT pipeline around a token list (index = id), markers placed per `opts.markerSlots`. */
  static fromVocab(tokens: readonly string[], opts: TokenizerOptions = {}, source = "<vocab>"): RelationTokenizer {
    const vocab = [...tokens];
    const ids = new Map<string, number>();
    vocab.forEach((tok, i) => {
      const prev = ids.get(tok);
      if (prev !== undefined)
        throw new TokenizerFileError(source, `duplicate token ${JSON.stringify(tok)} (first at line ${prev + 1})`, i + 1);
      ids.set(tok, i);
    });
    for (const s of SPECIAL_LIST)
      if (!ids.has(s)) throw new TokenizerFileError(source, `required token ${s} is missing`, undefined, "vocab");
    const added = new Map<number, AddedTokenJson>();
    for (const s of SPECIAL_LIST) added.set(ids.get(s)!, specialAdded(ids.get(s)!, s));
    // appended markers live in added_tokens only (HF semantics: ids >= model vocab size)
    placeMarkers(vocab, ids, added, opts.markerSlots ?? "unused");
    const json = bertTokenizerJson(
      vocab,
      [...added.values()].sort((a, b) => a.id - b.id),
      opts.lowercase ?? true,
      opts.maxInputCharsPerWord ?? 100,
    );
    return new RelationTokenizer(json, source);
  }

  /** From a BERT `vocab.txt` (one token per line, line n = id n-1). */
  static fromVocabFile(file: string, opts: TokenizerOptions = {}): RelationTokenizer {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      throw new TokenizerFileError(file, `cannot read: ${(e as Error).message}`);
    }
    const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    lines.forEach((l, i) => {
      if (l === "") throw new TokenizerFileError(file, "empty token", i + 1);
    });
    return RelationTokenizer.fromVocab(lines, opts, file);
  }

  /** From a parsed tokenizer.json object; markers missing from it are placed per `opts.markerSlots`. */
  static fromTokenizerJsonObject(raw: unknown, opts: TokenizerOptions = {}, source = "<tokenizer.json>"): RelationTokenizer {
    const json = asTokenizerJson(raw, source);
    const vocab: string[] = [];
    for (const [tok, id] of Object.entries(json.model.vocab)) {
      if (!Number.isInteger(id) || id < 0) throw new TokenizerFileError(source, `bad id ${id} for ${tok}`, undefined, "model.vocab");
      vocab[id] = tok;
    }
    const ids = new Map<string, number>(vocab.map((t, i) => [t, i]));
    const added = new Map<number, AddedTokenJson>();
    for (const a of json.added_tokens) {
      if (typeof a.content !== "string" || !Number.isInteger(a.id))
        throw new TokenizerFileError(source, "malformed entry", undefined, "added_tokens");
      added.set(a.id, { ...specialAdded(a.id, a.content), ...a });
      ids.set(a.content, a.id);
    }
    if (MARKER_TOKENS.some((m) => !ids.has(m))) {
      placeMarkers(vocab, ids, added, opts.markerSlots ?? "unused");
      const v: Record<string, number> = {};
      vocab.forEach((tok, i) => (v[tok] = i));
      json.model.vocab = v;
    }
    json.added_tokens = [...added.values()].sort((a, b) => a.id - b.id);
    return new RelationTokenizer(json, source);
  }

  static fromTokenizerJson(file: string, opts: TokenizerOptions = {}): RelationTokenizer {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
      throw new TokenizerFileError(file, `cannot read or parse: ${(e as Error).message}`);
    }
    return RelationTokenizer.fromTokenizerJsonObject(raw, opts, file);
  }

  /**
   * From a checkpoint folder: `tokenizer.json` if present, else `vocab.txt` (lowercasing taken from
   * `tokenizer_config.json`'s do_lower_case when that file says so).
   */
  static fromDir(dir: string, opts: TokenizerOptions = {}): RelationTokenizer {
    const tj = path.join(dir, "tokenizer.json");
    if (fs.existsSync(tj)) return RelationTokenizer.fromTokenizerJson(tj, opts);
    const vt = path.join(dir, "vocab.txt");
    if (!fs.existsSync(vt)) throw new TokenizerFileError(dir, "has neither tokenizer.json nor vocab.txt");
    const o = { ...opts };
    const cfg = path.join(dir, "tokenizer_config.json");
    if (o.lowercase === undefined && fs.existsSync(cfg)) {
      try {
        const c = JSON.parse(fs.readFileSync(cfg, "utf8")) as { do_lower_case?: unknown };
        if (typeof c.do_lower_case === "boolean") o.lowercase = c.do_lower_case;
      } catch (e) {
        throw new TokenizerFileError(cfg, `cannot parse: ${(e as Error).message}`);
      }
    }
    return RelationTokenizer.fromVocabFile(vt, o);
  }

  /**
   * Write tokenizer.json (HF format), vocab.txt (every id in order, appended markers included),
   * tokenizer_config.json and special_tokens_map.json (markers as additional special tokens, so a
   * Python BertTokenizer reading vocab.txt keeps them whole too).
   */
  save(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(this.json, null, 2) + "\n");
    fs.writeFileSync(path.join(dir, "vocab.txt"), this.vocab.join("\n") + "\n");
    const special = {
      unk_token: SPECIAL_TOKENS.unk,
      sep_token: SPECIAL_TOKENS.sep,
      pad_token: SPECIAL_TOKENS.pad,
      cls_token: SPECIAL_TOKENS.cls,
      mask_token: SPECIAL_TOKENS.mask,
      additional_special_tokens: [...MARKER_TOKENS],
    };
    fs.writeFileSync(path.join(dir, "special_tokens_map.json"), JSON.stringify(special, null, 2) + "\n");
    const lower = (this.json.normalizer as { lowercase?: unknown } | null)?.lowercase;
    const config = {
      tokenizer_class: "BertTokenizer",
      do_lower_case: lower !== false,
      tokenize_chinese_chars: true,
      ...special,
    };
    fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(config, null, 2) + "\n");
  }

  /** Number of ids (embedding rows the model needs). */
  get vocabSize(): number {
    return this.vocab.length;
  }

  idToToken(id: number): string | undefined {
    return this.vocab[id];
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  /** id of a marker token (always present). */
  markerId(marker: MarkerToken): number {
    return this.ids.get(marker)!;
  }

  /** WordPiece tokens of `text`, no [CLS]/[SEP] added (literal special tokens in the text are kept whole). */
  tokenize(text: string): string[] {
    return this.hf.tokenize(text);
  }

  /** Ids of `text`, no [CLS]/[SEP] added. The returned array is shared when memoized: do not mutate. */
  encodeText(text: string): number[] {
    if (text.length <= 32) {
      const hit = this.memo.get(text);
      if (hit) return hit;
      const ids = this.encodeUncached(text);
      if (this.memo.size < 100_000) this.memo.set(text, ids);
      return ids;
    }
    return this.encodeUncached(text);
  }

  private encodeUncached(text: string): number[] {
    if (text.length === 0) return [];
    return this.hf.encode(text, { add_special_tokens: false }).ids;
  }

  /** Tokens for ids (unknown ids as [UNK]). */
  decodeTokens(ids: readonly number[]): string[] {
    return ids.map((i) => this.vocab[i] ?? SPECIAL_TOKENS.unk);
  }
}

/** Fraction of WordPiece tokens that are [UNK] over `texts` (plus the counts). */
export function unkRate(tok: RelationTokenizer, texts: Iterable<string>): { rate: number; unk: number; total: number } {
  let unk = 0;
  let total = 0;
  for (const t of texts) {
    for (const id of tok.encodeText(t)) {
      total++;
      if (id === tok.unkId) unk++;
    }
  }
  return { rate: total === 0 ? 0 : unk / total, unk, total };
}

export interface CharTokenizerOptions {
  /** characters seen fewer times are left out (become [UNK]); default 1 */
  minFreq?: number;
  /** cap on the whole vocabulary, specials and markers included; default unlimited */
  maxSize?: number;
  lowercase?: boolean;
  /** texts whose characters are always in the vocabulary, however rare (an encoding's fixed words, e.g. QA's question) */
  alwaysInclude?: readonly string[];
}

const ADDED_SPLIT_RE = new RegExp(
  [...SPECIAL_LIST, ...MARKER_TOKENS].map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|"),
  "g",
);

/**
 * Character-level WordPiece vocabulary for the embedded tiny model, learned from `texts`.
 * Ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, the eight MARKER_TOKENS (5..12), the typed-marker
 * punctuation `@ * # ^` (always present), then pieces by descending frequency (ties by code point).
 * Decision: the same BERT normalizer/pre-tokenizer as the real checkpoints, so CJK characters are single
 * words and Latin/digit runs stay words; a run's first character is a piece `x` and each following one a
 * continuation `##x` (WordPiece greedy match then spells any run over these pieces). A run using a piece
 * below minFreq becomes one [UNK], exactly as in BERT.
 */
export function buildCharTokenizer(texts: Iterable<string>, opts: CharTokenizerOptions = {}): RelationTokenizer {
  const minFreq = opts.minFreq ?? 1;
  const maxSize = opts.maxSize ?? Number.POSITIVE_INFINITY;
  const lowercase = opts.lowercase ?? true;
  const normalizer = new BertNormalizer({
    type: "BertNormalizer",
    clean_text: true,
    handle_chinese_chars: true,
    lowercase,
  });
  const pre = new BertPreTokenizer();
  const counts = new Map<string, number>();
  const bump = (p: string): void => {
    counts.set(p, (counts.get(p) ?? 0) + 1);
  };
  for (const text of texts) {
    for (const section of text.split(ADDED_SPLIT_RE)) {
      if (section.length === 0) continue;
      for (const word of pre.pre_tokenize_text(normalizer.normalize(section))) {
        const chars = [...word];
        if (chars.length > 100) continue; // [UNK] anyway
        chars.forEach((c, i) => bump(i === 0 ? c : "##" + c));
      }
    }
  }
  const fixed: string[] = [
    SPECIAL_TOKENS.pad,
    SPECIAL_TOKENS.unk,
    SPECIAL_TOKENS.cls,
    SPECIAL_TOKENS.sep,
    SPECIAL_TOKENS.mask,
    ...MARKER_TOKENS,
    ...PUNCT_MARKER_CHARS,
  ];
  const fixedSet = new Set(fixed);
  const required = new Set<string>();
  for (const text of opts.alwaysInclude ?? []) for (const word of pre.pre_tokenize_text(normalizer.normalize(text))) [...word].forEach((c, i) => required.add(i === 0 ? c : "##" + c));
  for (const p of required) counts.set(p, Math.max(counts.get(p) ?? 0, minFreq));
  const pieces = [...counts.entries()]
    .filter(([p, n]) => n >= minFreq && !fixedSet.has(p))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([p]) => p);
  const room = Math.max(0, maxSize - fixed.length);
  const vocab = [...fixed, ...pieces.slice(0, room)];
  return RelationTokenizer.fromVocab(vocab, { lowercase, markerSlots: "append" }, "<char-vocab>");
}
