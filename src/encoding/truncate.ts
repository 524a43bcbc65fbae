/**
 * The laid-out parts as token ids, cut to maxLength: the study's cut from the end (faithful), or a window that keeps
 * both entities whole (clean); then where each entity landed. The rules are README.md's "Truncation" and "Positions".
 */
import type { RelationTokenizer } from "./tokenizer";
import { EncodingError } from "./errors";
import type { Part, Role, Zone } from "./layout";
import type { SpanRelation } from "./spans";
import type { Encoded, EncodingName } from "./types";
import type { Row } from "../data/types";

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

export interface TokPart {
  part: Part;
  ids: number[];
}

export function tokenizeParts(tok: RelationTokenizer, parts: Part[]): TokPart[] {
  return parts.map((part) => ({
    part,
    ids: part.special === "cls" ? [tok.clsId] : part.special === "sep" ? [tok.sepId] : tok.encodeText(part.text),
  }));
}

/** The study's code: the parts in order, cut at maxLength with a final [SEP]; positions where the markers landed. */
export function faithfulEncoding(tok: RelationTokenizer, tps: TokPart[], maxLength: number, marked: boolean, info: EncodeInfo): Encoded {
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
export function cleanEncoding(row: Row, encoding: EncodingName, tps: TokPart[], maxLength: number, marked: boolean, info: EncodeInfo): Encoded {
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
