/**
 * The study's five relation encodings (plus typed punctuation markers), as text and as token ids.
 *
 * LAYOUTS (the full sequence the model sees; renderEncoding returns exactly this, and
 * `tokenizer.tokenize(renderEncoding(...))` gives the untruncated tokens of encodeRow):
 *   clean (default)                                   faithful: true (the study's code, Code/data.py)
 *   Basic1  [CLS] h [SEP] s [SEP] t [SEP]             [CLS] [CLS] h [SEP] s [SEP] t [SEP]
 *   Basic2  [CLS] h [SEP] t [SEP] s [SEP]             [CLS] [CLS] h [SEP] t [SEP] s [SEP]
 *   QA      [CLS] h和t之间的关系是什么？[SEP] s [SEP]   [CLS] [CLS] h和t之间的关系是什么？[SEP] s [SEP]
 *   Entity_marked1/2, typed_marker_punct
 *           [CLS] s' [SEP]                            [CLS] [CLS] s' [SEP] [SEP]
 *   The study wrote a literal `[CLS]` (and for the marked encodings a trailing `[SEP]`) into its text and
 *   then let `encode_plus(add_special_tokens=True)` add its own: hence the doubled tokens under faithful.
 *   s' is the sentence with markers: Entity_marked1 `[E1]h[/E1]` `[E2]t[/E2]`; Entity_marked2
 *   `[实体1]h[/实体1]` `[实体2]t[/实体2]`; typed_marker_punct (Zhou & Chen 2021) `@ * type * h @` and
 *   `# ^ type ^ t #`, untyped `@ h @` / `# t #` for an entity whose type (Row.hType / Row.tType) is
 *   unknown (counted in stats.untypedMarkers). Typed punctuation did not exist in the study; under
 *   faithful it gets the marked encodings' study-style wrapping and replace-all marking.
 *
 * LOCATING ENTITIES (clean mode; spans.ts)
 *   1. A mention is an exact, case-sensitive substring occurrence in the raw sentence; overlapping
 *      occurrences count. An empty entity string never occurs.
 *   2. When both occur, one pair is chosen: non-overlapping pairs first, then the smallest character gap,
 *      then the earliest head, then the earliest tail. So with repeated mentions the head mention nearest
 *      the tail is marked, once; and when the head also occurs inside the tail (head "糖尿病", tail
 *      "糖尿病肾病") a separate head occurrence wins over the one inside the tail.
 *   3. If every pair overlaps, the spans are marked as they are: nested spans give properly nested
 *      markers (`[E2][E1]糖尿病[/E1]肾病[/E2]`); at one position, closing markers come before opening ones,
 *      the longer span opens first (head first on equal spans) and closes last; crossing spans give
 *      crossing markers (`[E1]a[E2]b[/E1]c[/E2]`), still one start marker per entity.
 *   4. An entity that does not occur (CMeIE's `subject_placeholder` / `object_placeholder`, paraphrases,
 *      different spelling) is counted in stats and, in the marked encodings, added as text: the head
 *      wrapped in its markers is prepended to the sentence (`[E1]h[/E1] s`), the tail appended
 *      (`s [E2]t[/E2]`), so the model still sees it and headPos/tailPos still point at a marker.
 *      The non-marked encodings already carry h and t in their own segments and add nothing.
 *   faithful mode instead follows the study: `s.replace(h, "[E1]h[/E1]").replace(t, "[E2]t[/E2]")`
 *   (every non-overlapping occurrence, head pass then tail pass over the text outside markers), so a tail
 *   inside the head gets nested markers and a head inside the tail leaves the tail unmarked; an entity
 *   that does not occur is not added.
 *
 * POSITIONS (Encoded.headPos / tailPos, for entity pooling)
 *   - marked encodings: the token of the entity's start marker (`[E1]`, `[实体1]`, the `@` / `#` of the
 *     typed markers; the sentence may contain other `@`, positions are tracked, never searched);
 *     faithful: the first start marker; when there is none (entity absent, or cut off by the study's
 *     truncation) 0, the [CLS] token.
 *   - Basic1 / Basic2 / QA: the first token of the chosen mention inside the sentence part; when the
 *     entity does not occur there (or was cut under faithful truncation), the first token of its own
 *     segment (for QA, inside the question).
 *   Mention cut points in the non-marked encodings are moved outwards to BERT word boundaries (a mention
 *   starting inside a Latin/digit run, "DNA" in "HBVDNA", starts at the run), so segment-wise tokenization
 *   equals tokenizing the whole string. Markers are inserted at exact offsets (they split words, as in the
 *   study).
 *
 * TOKEN TYPES: faithful all 0 (the study encoded one string and did not pass token_type_ids). Clean:
 *   0 up to and including the [SEP] before the sentence, 1 from the sentence on (Basic1: `s [SEP] t [SEP]`
 *   is segment B); the single-segment marked encodings are all 0.
 *
 * TRUNCATION to maxLength tokens (default 300, the study's):
 *   faithful: the study's `truncation=True`: keep the first maxLength-1 tokens, then the final [SEP]
 *     (markers may be lost; counted in stats.markerLost).
 *   clean: special tokens, the h/t segments and the QA question are kept; only the sentence part is
 *     windowed. The protected regions (each entity's markers and mention, or for non-marked encodings the
 *     chosen mentions) are kept whole and grown one token at a time, alternately left and right of each
 *     region, until the budget is spent; when the two regions are far apart, the middle of the sentence
 *     is dropped. Markers are never cut. Only when the budget cannot hold the markers plus one token per
 *     mention are the h/t segments shortened (to a quarter of maxLength, then the longest one token at a
 *     time, at least one kept); and only when it cannot hold the whole regions are mention tokens dropped
 *     from the end of the longest mention (at least one kept); both counted in stats.markerLost.
 *     Sentences without any located entity are cut from the end. A maxLength that cannot hold the
 *     specials, the markers and one token per entity throws EncodingError.
 */
import { labelIndex } from "../data/labels";
import type { Row } from "../data/types";
import { RelationTokenizer } from "./tokenizer";
import { findNonOverlapping } from "../data/mentions";
import { locateEntities, snapLeft, snapRight, type Span, type SpanRelation } from "./spans";
import type { Encoded, EncodingName } from "./types";

export const DEFAULT_MAX_LENGTH = 300;

/** The QA encoding's question around h and t: "{h}和{t}之间的关系是什么？" (the study's Chinese question). */
export const QA_QUESTION = { between: "和", ask: "之间的关系是什么？" } as const;

/** Words an encoding adds to every text; a vocabulary built for the encodings must hold their characters. */
export const ENCODING_FIXED_TEXT: readonly string[] = [QA_QUESTION.between, QA_QUESTION.ask];

export interface EncodeOptions {
  encoding: EncodingName;
  /** in tokens, specials included (default 300) */
  maxLength?: number;
  /** reproduce the study's quirks (double [CLS], replace-all marking, truncation from the end) */
  faithful?: boolean;
}

export type RenderOptions = Pick<EncodeOptions, "faithful">;

/** A row cannot be encoded as asked (bad option, maxLength too small). */
export class EncodingError extends Error {
  constructor(
    readonly rowId: string,
    readonly field: string,
    detail: string,
  ) {
    super(`row ${rowId} (${field}): ${detail}`);
    this.name = "EncodingError";
  }
}

type Role =
  | "hOpen"
  | "hClose"
  | "tOpen"
  | "tClose"
  | "hStart"
  | "hEnd"
  | "tStart"
  | "tEnd"
  | "hSeg"
  | "tSeg";

type Zone = "prefix" | "sentence" | "suffix";

interface Part {
  text: string;
  zone: Zone;
  /** render a space before it */
  space: boolean;
  /** a [CLS]/[SEP] token placed by the layout (not tokenized from text) */
  special?: "cls" | "sep";
  /** tokens from a marker (never dropped) */
  marker?: boolean;
  role?: Role;
}

interface MarkerTexts {
  hOpen: string;
  hClose: string;
  tOpen: string;
  tClose: string;
}

const BRACKET_MARKERS: Record<"Entity_marked1" | "Entity_marked2", MarkerTexts> = {
  Entity_marked1: { hOpen: "[E1]", hClose: "[/E1]", tOpen: "[E2]", tClose: "[/E2]" },
  Entity_marked2: { hOpen: "[实体1]", hClose: "[/实体1]", tOpen: "[实体2]", tClose: "[/实体2]" },
};

function hasType(t: string | undefined): t is string {
  return t !== undefined && t.trim().length > 0;
}

function markerTexts(encoding: EncodingName, row: Row): MarkerTexts | null {
  if (encoding === "Entity_marked1" || encoding === "Entity_marked2") return BRACKET_MARKERS[encoding];
  if (encoding === "typed_marker_punct") {
    return {
      hOpen: hasType(row.hType) ? `@ * ${row.hType.trim()} * ` : "@ ",
      hClose: " @",
      tOpen: hasType(row.tType) ? `# ^ ${row.tType.trim()} ^ ` : "# ",
      tClose: " #",
    };
  }
  return null;
}

const special = (s: "cls" | "sep", zone: Zone, space: boolean): Part => ({
  text: s === "cls" ? "[CLS]" : "[SEP]",
  zone,
  space,
  special: s,
});

interface SentenceBuild {
  parts: Part[];
  headFound: boolean;
  tailFound: boolean;
  relation: SpanRelation;
}

/** Sentence with markers at the chosen spans (clean marked encodings). */
function markedClean(row: Row, m: MarkerTexts): SentenceBuild {
  const s = row.sentence;
  const loc = locateEntities(s, row.h, row.t);
  interface Ev {
    pos: number;
    open: boolean;
    head: boolean;
    span: Span;
  }
  const evs: Ev[] = [];
  if (loc.head) evs.push({ pos: loc.head.start, open: true, head: true, span: loc.head }, { pos: loc.head.end, open: false, head: true, span: loc.head });
  if (loc.tail) evs.push({ pos: loc.tail.start, open: true, head: false, span: loc.tail }, { pos: loc.tail.end, open: false, head: false, span: loc.tail });
  evs.sort((a, b) => {
    if (a.pos !== b.pos) return a.pos - b.pos;
    if (a.open !== b.open) return a.open ? 1 : -1; // closes first
    if (a.open) {
      // the longer span opens first; head first on equal spans
      if (a.span.end !== b.span.end) return b.span.end - a.span.end;
      return a.head ? -1 : 1;
    }
    // closing is the reverse of opening: later start closes first; on equal spans the tail closes first
    if (a.span.start !== b.span.start) return b.span.start - a.span.start;
    return a.head ? 1 : -1;
  });
  const parts: Part[] = [];
  const text = (t: string): void => {
    if (t.length > 0) parts.push({ text: t, zone: "sentence", space: false });
  };
  const mark = (role: Role, t: string): void => {
    parts.push({ text: t, zone: "sentence", space: false, marker: true, role });
  };
  if (!loc.head) {
    mark("hOpen", m.hOpen);
    text(row.h);
    mark("hClose", m.hClose);
    text(" ");
  }
  let at = 0;
  for (const e of evs) {
    text(s.slice(at, e.pos));
    at = e.pos;
    if (e.head) mark(e.open ? "hOpen" : "hClose", e.open ? m.hOpen : m.hClose);
    else mark(e.open ? "tOpen" : "tClose", e.open ? m.tOpen : m.tClose);
  }
  text(s.slice(at));
  if (!loc.tail) {
    text(" ");
    mark("tOpen", m.tOpen);
    text(row.t);
    mark("tClose", m.tClose);
  }
  if (parts.length > 0) parts[0].space = true;
  return { parts, headFound: loc.head !== null, tailFound: loc.tail !== null, relation: loc.relation };
}

/** The study's replace-all marking, on text chunks (markers are opaque to the second pass). */
function markedFaithful(row: Row, m: MarkerTexts): SentenceBuild {
  /** inHead: text of a wrapped head mention (a tail found there nests its markers inside the head's) */
  type Chunk = { text: string; role?: Role; inHead?: boolean };
  let nested = false;
  const wrap = (chunks: Chunk[], head: boolean): [Chunk[], boolean] => {
    const needle = head ? row.h : row.t;
    const [open, close]: Role[] = head ? ["hOpen", "hClose"] : ["tOpen", "tClose"];
    const [openText, closeText] = head ? [m.hOpen, m.hClose] : [m.tOpen, m.tClose];
    const out: Chunk[] = [];
    let found = false;
    for (const c of chunks) {
      if (c.role !== undefined) {
        out.push(c);
        continue;
      }
      let at = 0;
      for (const i of findNonOverlapping(c.text, needle)) {
        found = true;
        if (c.inHead) nested = true;
        out.push(
          { text: c.text.slice(at, i), inHead: c.inHead },
          { text: openText, role: open },
          { text: needle, inHead: head || c.inHead },
          { text: closeText, role: close },
        );
        at = i + needle.length;
      }
      out.push({ text: c.text.slice(at), inHead: c.inHead });
    }
    return [out, found];
  };
  const [c1, headFound] = wrap([{ text: row.sentence }], true);
  const [c2, tailFound] = wrap(c1, false);
  const parts: Part[] = c2
    .filter((c) => c.text.length > 0)
    .map((c) => ({ text: c.text, zone: "sentence" as const, space: false, marker: c.role !== undefined, role: c.role }));
  if (parts.length > 0) parts[0].space = true;
  return { parts, headFound, tailFound, relation: nested ? "nested" : headFound && tailFound ? "disjoint" : "none" };
}

/** Sentence cut (zero-width) at the chosen mentions, cut points snapped to word boundaries. */
function plainSentence(row: Row): SentenceBuild {
  const s = row.sentence;
  const loc = locateEntities(s, row.h, row.t);
  const cuts: { pos: number; role: Role }[] = [];
  if (loc.head) cuts.push({ pos: snapLeft(s, loc.head.start), role: "hStart" }, { pos: snapRight(s, loc.head.end), role: "hEnd" });
  if (loc.tail) cuts.push({ pos: snapLeft(s, loc.tail.start), role: "tStart" }, { pos: snapRight(s, loc.tail.end), role: "tEnd" });
  cuts.sort((a, b) => a.pos - b.pos);
  const parts: Part[] = [];
  let at = 0;
  for (const c of cuts) {
    if (c.pos > at) parts.push({ text: s.slice(at, c.pos), zone: "sentence", space: false });
    at = Math.max(at, c.pos);
    parts.push({ text: "", zone: "sentence", space: false, role: c.role });
  }
  if (at < s.length) parts.push({ text: s.slice(at), zone: "sentence", space: false });
  const first = parts.find((p) => p.text.length > 0);
  if (first) first.space = true;
  return { parts, headFound: loc.head !== null, tailFound: loc.tail !== null, relation: loc.relation };
}

interface Layout extends SentenceBuild {
  untyped: boolean;
}

function layout(row: Row, encoding: EncodingName, faithful: boolean): Layout {
  // faithful: the tokenizer's [CLS] plus the literal one in the study's text
  const lead: Part[] = faithful
    ? [special("cls", "prefix", false), special("cls", "prefix", true)]
    : [special("cls", "prefix", false)];
  const seg = (which: "h" | "t", zone: Zone, space: boolean): Part => ({
    text: which === "h" ? row.h : row.t,
    zone,
    space,
    role: which === "h" ? "hSeg" : "tSeg",
  });
  const m = markerTexts(encoding, row);
  if (m) {
    const sb = faithful ? markedFaithful(row, m) : markedClean(row, m);
    const tail: Part[] = faithful
      ? [special("sep", "suffix", true), special("sep", "suffix", true)]
      : [special("sep", "suffix", true)];
    const untyped = encoding === "typed_marker_punct" && !(hasType(row.hType) && hasType(row.tType));
    return { ...sb, parts: [...lead, ...sb.parts, ...tail], untyped };
  }
  const sb = plainSentence(row);
  let parts: Part[];
  switch (encoding) {
    case "Basic1":
      parts = [
        ...lead,
        seg("h", "prefix", true),
        special("sep", "prefix", true),
        ...sb.parts,
        special("sep", "suffix", true),
        seg("t", "suffix", true),
        special("sep", "suffix", true),
      ];
      break;
    case "Basic2":
      parts = [
        ...lead,
        seg("h", "prefix", true),
        special("sep", "prefix", true),
        seg("t", "prefix", true),
        special("sep", "prefix", true),
        ...sb.parts,
        special("sep", "suffix", true),
      ];
      break;
    case "QA":
      parts = [
        ...lead,
        seg("h", "prefix", true),
        { text: QA_QUESTION.between, zone: "prefix", space: false },
        seg("t", "prefix", false),
        { text: QA_QUESTION.ask, zone: "prefix", space: false },
        special("sep", "prefix", false),
        ...sb.parts,
        special("sep", "suffix", true),
      ];
      break;
    default:
      throw new EncodingError(row.id, "encoding", `unknown encoding ${String(encoding)}`);
  }
  return { ...sb, parts, untyped: false };
}

/** The full text of the sequence the model sees (untruncated; see the layouts at the top of this file). */
export function renderEncoding(row: Row, encoding: EncodingName, opts: RenderOptions = {}): string {
  return layout(row, encoding, opts.faithful ?? false)
    .parts.map((p) => (p.space ? " " : "") + p.text)
    .join("");
}

/** What happened to one row (encodeDataset sums these). */
export interface EncodeInfo {
  headFound: boolean;
  tailFound: boolean;
  relation: SpanRelation;
  /** length before truncation */
  fullLength: number;
  truncated: boolean;
  /** faithful truncation removed a start marker (or clean truncation shortened a mention / entity segment) */
  markerLost: boolean;
  /** typed_marker_punct fell back to an untyped marker for at least one entity */
  untypedMarkers: boolean;
}

interface TokPart {
  part: Part;
  ids: number[];
}

function tokenizeParts(tok: RelationTokenizer, parts: Part[]): TokPart[] {
  return parts.map((part) => ({
    part,
    ids: part.special === "cls" ? [tok.clsId] : part.special === "sep" ? [tok.sepId] : tok.encodeText(part.text),
  }));
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
  const marked = markerTexts(opts.encoding, row) !== null;
  const info: EncodeInfo = {
    headFound: lay.headFound,
    tailFound: lay.tailFound,
    relation: lay.relation,
    fullLength,
    truncated: fullLength > maxLength,
    markerLost: false,
    untypedMarkers: lay.untyped,
  };
  const encoded = faithful ? faithfulEncoding(tok, tps, maxLength, marked, info) : cleanEncoding(row, opts.encoding, tps, maxLength, marked, info);
  return { encoded, info };
}

/** The study's code: the parts in order, cut at maxLength with a final [SEP]; positions where the markers landed. */
function faithfulEncoding(tok: RelationTokenizer, tps: TokPart[], maxLength: number, marked: boolean, info: EncodeInfo): Encoded {
  const ids: number[] = [];
  let headPos = -1;
  let tailPos = -1;
  let hSeg = -1;
  let tSeg = -1;
  for (const { part, ids: pi } of tps) {
    const r = part.role;
    if ((r === "hOpen" || r === "hStart") && headPos < 0) headPos = ids.length;
    if ((r === "tOpen" || r === "tStart") && tailPos < 0) tailPos = ids.length;
    if (r === "hSeg" && hSeg < 0) hSeg = ids.length;
    if (r === "tSeg" && tSeg < 0) tSeg = ids.length;
    for (const id of pi) ids.push(id);
  }
  if (ids.length > maxLength) {
    ids.length = maxLength - 1;
    ids.push(tok.sepId);
  }
  const fallback = (p: number, seg: number): number => {
    if (p >= 0 && p < ids.length - 1) return p;
    if (marked) {
      if (p >= 0) info.markerLost = true;
      return 0;
    }
    return seg >= 0 && seg < ids.length ? seg : 0;
  };
  return {
    inputIds: ids,
    tokenTypeIds: new Array<number>(ids.length).fill(0),
    attentionMask: new Array<number>(ids.length).fill(1),
    headPos: fallback(headPos, hSeg),
    tailPos: fallback(tailPos, tSeg),
  };
}

/** The sentence part's tokens, which are markers, where each role starts (and where the closing ones end). */
interface SentenceTokens {
  ids: number[];
  isMarker: boolean[];
  head: [number, number] | null;
  tail: [number, number] | null;
}

function sentenceTokens(sent: TokPart[], marked: boolean): SentenceTokens {
  const ids: number[] = [];
  const isMarker: boolean[] = [];
  const at: Partial<Record<Role, number>> = {};
  for (const { part, ids: pi } of sent) {
    if (part.role !== undefined && at[part.role] === undefined) at[part.role] = ids.length;
    for (const id of pi) {
      ids.push(id);
      isMarker.push(part.marker === true);
    }
    if (part.role === "hClose" || part.role === "tClose") at[part.role] = ids.length; // region end
  }
  const region = (open: Role, close: Role): [number, number] | null => {
    const a = at[open];
    const b = at[close];
    return a === undefined || b === undefined ? null : [a, b];
  };
  return {
    ids,
    isMarker,
    head: marked ? region("hOpen", "hClose") : region("hStart", "hEnd"),
    tail: marked ? region("tOpen", "tClose") : region("tStart", "tEnd"),
  };
}

/**
 * Make room for the sentence part: shorten h/t segments (Basic1/Basic2/QA) first to a quarter of maxLength, then the
 * longest one token at a time, until the sentence part can hold its markers and one token per located mention.
 * Returns the sentence part's token budget.
 */
function shortenSegments(segs: TokPart[], budget: number, minNeeded: number, maxLength: number, info: EncodeInfo): number {
  const cap = Math.max(1, Math.floor(maxLength / 4));
  for (const tp of segs) {
    if (budget >= minNeeded) break;
    if (tp.ids.length > cap) {
      budget += tp.ids.length - cap;
      tp.ids = tp.ids.slice(0, cap);
      info.markerLost = true;
    }
  }
  while (budget < minNeeded) {
    const longest = segs.reduce<TokPart | null>((m, tp) => (tp.ids.length > 1 && (!m || tp.ids.length > m.ids.length) ? tp : m), null);
    if (!longest) break;
    longest.ids = longest.ids.slice(0, -1);
    budget++;
    info.markerLost = true;
  }
  return budget;
}

/** Clean: fixed prefix/suffix, the sentence windowed around both entities when it does not fit. */
function cleanEncoding(row: Row, encoding: EncodingName, tps: TokPart[], maxLength: number, marked: boolean, info: EncodeInfo): Encoded {
  const pre = tps.filter((tp) => tp.part.zone === "prefix");
  const suf = tps.filter((tp) => tp.part.zone === "suffix");
  const st = sentenceTokens(tps.filter((tp) => tp.part.zone === "sentence"), marked);
  const fixedLen = (tp: TokPart[]): number => tp.reduce((n, x) => n + x.ids.length, 0);
  let keep: boolean[] | null = null;
  if (info.fullLength > maxLength) {
    // what the sentence part cannot go below: its markers plus one mention token per located entity
    const regs = [st.head, st.tail].filter((r): r is [number, number] => r !== null);
    const minNeeded = st.isMarker.filter(Boolean).length + regs.filter(([a, b]) => st.isMarker.slice(a, b).some((mk) => !mk)).length;
    const segs = [...pre, ...suf].filter((tp) => tp.part.role === "hSeg" || tp.part.role === "tSeg");
    const budget = shortenSegments(segs, maxLength - fixedLen(pre) - fixedLen(suf), minNeeded, maxLength, info);
    keep = windowKeep(st.ids.length, st.isMarker, [st.head, st.tail], budget, info);
    if (keep === null) throw new EncodingError(row.id, "maxLength", `${maxLength} cannot hold the ${encoding} specials, markers and one token per entity`);
  }
  return assembleClean(pre, suf, st, keep, marked);
}

/** Prefix, the kept sentence tokens, suffix; entity positions (and span ends) where they landed. */
function assembleClean(pre: TokPart[], suf: TokPart[], st: SentenceTokens, keep: boolean[] | null, marked: boolean): Encoded {
  const ids: number[] = [];
  const types: number[] = [];
  let headPos = -1;
  let tailPos = -1;
  let hSeg = -1;
  let tSeg = -1;
  const push = (tp: TokPart, type: number): void => {
    if (tp.part.role === "hSeg") hSeg = ids.length;
    if (tp.part.role === "tSeg") tSeg = ids.length;
    for (const id of tp.ids) {
      ids.push(id);
      types.push(type);
    }
  };
  const typeFor = (zone: Zone): number => (marked || zone === "prefix" ? 0 : 1);
  for (const tp of pre) push(tp, 0);
  let headEnd = -1;
  let tailEnd = -1;
  const { head, tail } = st;
  for (let i = 0; i < st.ids.length; i++) {
    if (keep && !keep[i]) continue;
    if (head && i === head[0]) headPos = ids.length;
    if (tail && i === tail[0]) tailPos = ids.length;
    if (head && i >= head[0] && i < head[1]) headEnd = ids.length + 1;
    if (tail && i >= tail[0] && i < tail[1]) tailEnd = ids.length + 1;
    ids.push(st.ids[i]);
    types.push(typeFor("sentence"));
  }
  for (const tp of suf) push(tp, typeFor("suffix"));
  const pos = (p: number, seg: number): number => (p >= 0 ? p : seg >= 0 ? Math.min(seg, ids.length - 1) : 0);
  return {
    inputIds: ids,
    tokenTypeIds: types,
    attentionMask: new Array<number>(ids.length).fill(1),
    headPos: pos(headPos, hSeg),
    tailPos: pos(tailPos, tSeg),
    // the span in the sentence (markers included) when the entity was located there
    ...(headPos >= 0 && headEnd > headPos ? { headEnd } : {}),
    ...(tailPos >= 0 && tailEnd > tailPos ? { tailEnd } : {}),
  };
}

/**
 * Which sentence tokens to keep so that at most `budget` remain: protected regions whole (markers never
 * dropped), grown alternately left/right; null when the markers alone exceed the budget.
 */
function windowKeep(
  n: number,
  isMarker: boolean[],
  regions: ([number, number] | null)[],
  budget: number,
  info: EncodeInfo,
): boolean[] | null {
  const keep = new Array<boolean>(n).fill(false);
  if (budget < 0) return null;
  const regs = regions.filter((r): r is [number, number] => r !== null && r[1] > r[0]);
  if (regs.length === 0) {
    for (let i = 0; i < Math.min(n, budget); i++) keep[i] = true;
    return keep;
  }
  let kept = 0;
  for (const [a, b] of regs)
    for (let i = a; i < b; i++)
      if (!keep[i]) {
        keep[i] = true;
        kept++;
      }
  if (kept > budget) {
    // drop mention tokens from the end of the region with the most non-marker tokens, keeping one each
    const mentionIdx = regs.map(([a, b]) => {
      const idx: number[] = [];
      for (let i = a; i < b; i++) if (!isMarker[i]) idx.push(i);
      return idx;
    });
    while (kept > budget) {
      let best = -1;
      for (let r = 0; r < mentionIdx.length; r++) {
        const live = mentionIdx[r].filter((i) => keep[i]).length;
        if (live > 1 && (best < 0 || live > mentionIdx[best].filter((i) => keep[i]).length)) best = r;
      }
      if (best < 0) return null;
      const live = mentionIdx[best].filter((i) => keep[i]);
      const drop = live[live.length - 1];
      // an index shared by two regions (nested) is dropped once
      keep[drop] = false;
      kept--;
      info.markerLost = true;
    }
    return keep;
  }
  const wins = regs.map(([a, b]) => ({ lo: a, hi: b })).sort((x, y) => x.lo - y.lo);
  let progress = true;
  while (kept < budget && progress) {
    progress = false;
    for (const w of wins) {
      for (const side of [0, 1]) {
        if (kept >= budget) break;
        if (side === 0) {
          while (w.lo > 0 && keep[w.lo - 1]) w.lo--;
          if (w.lo > 0) {
            keep[--w.lo] = true;
            kept++;
            progress = true;
          }
        } else {
          while (w.hi < n && keep[w.hi]) w.hi++;
          if (w.hi < n) {
            keep[w.hi++] = true;
            kept++;
            progress = true;
          }
        }
      }
    }
  }
  return keep;
}

/** Encode one row (see the rules at the top of this file). */
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
