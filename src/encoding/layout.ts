/**
 * What the model sees, before any token is counted: each encoding as a list of parts (specials, the h/t segments,
 * the sentence with its markers or cut points), in the layouts README.md specifies. Kept apart from truncation so
 * that a new encoding is one branch here and nothing in truncate.ts.
 */
import type { Row } from "../data/types";
import { findNonOverlapping } from "../data/mentions";
import { EncodingError } from "./errors";
import { locateEntities, snapLeft, snapRight, type Span, type SpanRelation } from "./spans";
import type { EncodingName } from "./types";

/** The QA encoding's question around h and t: "{h}和{t}之间的关系是什么？" (the study's Chinese question). */
export const QA_QUESTION = { between: "和", ask: "之间的关系是什么？" } as const;

/** Words an encoding adds to every text; a vocabulary built for the encodings must hold their characters. */
export const ENCODING_FIXED_TEXT: readonly string[] = [QA_QUESTION.between, QA_QUESTION.ask];

export interface RenderOptions {
  /** reproduce the study's quirks (double [CLS], replace-all marking, truncation from the end) */
  faithful?: boolean;
}

export type Role =
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

export type Zone = "prefix" | "sentence" | "suffix";

export interface Part {
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

export interface Layout extends SentenceBuild {
  untyped: boolean;
  /** a marked encoding (its entity regions are marker to marker) */
  marked: boolean;
}

export function layout(row: Row, encoding: EncodingName, faithful: boolean): Layout {
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
    return { ...sb, parts: [...lead, ...sb.parts, ...tail], untyped, marked: true };
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
  return { ...sb, parts, untyped: false, marked: false };
}

/** The full text of the sequence the model sees (untruncated; the layouts in README.md). */
export function renderEncoding(row: Row, encoding: EncodingName, opts: RenderOptions = {}): string {
  return layout(row, encoding, opts.faithful ?? false)
    .parts.map((p) => (p.space ? " " : "") + p.text)
    .join("");
}
