/**
 * Whole-word masking as Chinese-BERT-wwm / Chinese-RoBERTa-wwm (Cui et al. 2019): words come from a Chinese
 * segmenter (jieba), each character is still its own token, and when a word is chosen ALL its tokens are
 * predicted. 15% of the words are chosen; each chosen token becomes [MASK] 80%, a random token 10%, itself 10%
 * (Google's create_pretraining_data.py draws that per token). Special and marker tokens are never chosen.
 */
import type { RelationTokenizer } from "../encoding";
import { MARKER_TOKENS } from "../encoding";
import type { Rng } from "../random";

/** A text as tokens with the word each token belongs to (-1: [CLS]/[SEP]/markers, never masked). */
export interface WordTokens {
  ids: number[];
  wordIds: number[];
}

export interface SegmentOptions {
  /** Entity_marked2-style markers wrapped around two random words with this probability (0 = never) */
  markerProb?: number;
  /** open/close markers for the first and second word */
  markers?: readonly [string, string, string, string];
}

export type Segmenter = (text: string) => string[];

/** jieba's precise mode (the default dictionary), loaded once. */
let jiebaCut: Segmenter | null = null;
export function jiebaSegmenter(): Segmenter {
  if (!jiebaCut) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Jieba } = require("@node-rs/jieba") as { Jieba: { withDict(d: Uint8Array): { cut(t: string, hmm: boolean): string[] } } };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { dict } = require("@node-rs/jieba/dict") as { dict: Uint8Array };
    const jb = Jieba.withDict(dict);
    jiebaCut = (t) => jb.cut(t, false);
  }
  return jiebaCut;
}

/** Token ids per word (words that tokenize to nothing, e.g. spaces, are dropped). */
export function tokenizeWords(tok: RelationTokenizer, words: readonly string[]): number[][] {
  const out: number[][] = [];
  for (const w of words) {
    const ids = tok.encodeText(w);
    if (ids.length) out.push(ids);
  }
  return out;
}

/** Ids set of tokens that are never masked nor sampled as random replacements. */
export function protectedIds(tok: RelationTokenizer): Set<number> {
  const s = new Set<number>([tok.padId, tok.unkId, tok.clsId, tok.sepId, tok.maskId]);
  for (const m of MARKER_TOKENS) s.add(tok.markerId(m));
  return s;
}

/**
 * [CLS] words… [SEP] within maxLength: a random window of whole words when too long; optionally two random
 * words wrapped in entity markers (teaches the marker embeddings without any label).
 */
export function buildExample(tok: RelationTokenizer, words: number[][], maxLength: number, rng: Rng, opts: SegmentOptions = {}): WordTokens {
  const budget = maxLength - 2;
  let start = 0;
  let end = words.length;
  let total = words.reduce((a, w) => a + w.length, 0);
  const markerProb = opts.markerProb ?? 0;
  const useMarkers = markerProb > 0 && words.length >= 2 && rng.next() < markerProb;
  const room = budget - (useMarkers ? 4 : 0);
  if (total > room) {
    // choose a start word uniformly among those that leave a non-trivial window
    start = rng.int(words.length);
    total = 0;
    end = start;
    while (end < words.length && total + words[end].length <= room) total += words[end++].length;
    if (end === start) {
      // a single over-long word: keep its first `room` tokens
      words = [...words.slice(0, start), words[start].slice(0, room), ...words.slice(start + 1)];
      end = start + 1;
    }
  }
  const span = words.slice(start, end);
  let a = -1;
  let b = -1;
  if (useMarkers && span.length >= 2) {
    a = rng.int(span.length);
    b = rng.int(span.length - 1);
    if (b >= a) b++;
  }
  const m = opts.markers ?? ["[实体1]", "[/实体1]", "[实体2]", "[/实体2]"];
  const ids: number[] = [tok.clsId];
  const wordIds: number[] = [-1];
  span.forEach((w, i) => {
    const open = i === a ? m[0] : i === b ? m[2] : null;
    if (open) {
      ids.push(tok.tokenToId(open)!);
      wordIds.push(-1);
    }
    for (const id of w) {
      ids.push(id);
      wordIds.push(i);
    }
    if (open) {
      ids.push(tok.tokenToId(i === a ? m[1] : m[3])!);
      wordIds.push(-1);
    }
  });
  ids.push(tok.sepId);
  wordIds.push(-1);
  return { ids, wordIds };
}

export interface MaskingOptions {
  /** fraction of words chosen (default 0.15) */
  wordRate?: number;
  /** of chosen tokens: [MASK] with this probability (0.8), random token (0.1), unchanged otherwise */
  maskProb?: number;
  randomProb?: number;
}

export interface MaskedExample {
  inputIds: number[];
  /** original id at chosen positions, -100 elsewhere (HF's ignore index) */
  labels: number[];
  /** chosen token positions */
  positions: number[];
  /** number of chosen words / eligible words */
  maskedWords: number;
  words: number;
}

/**
 * Choose round(15% of the eligible words) — stochastic rounding, so the expected rate is exactly 15% even for
 * short texts (at least one word when any is eligible) — and apply 80/10/10 per token.
 */
export function maskWholeWords(
  ex: WordTokens,
  rng: Rng,
  vocab: { maskId: number; vocabSize: number; protected: Set<number> },
  opts: MaskingOptions = {},
): MaskedExample {
  const rate = opts.wordRate ?? 0.15;
  const pMask = opts.maskProb ?? 0.8;
  const pRandom = opts.randomProb ?? 0.1;
  const byWord = new Map<number, number[]>();
  ex.wordIds.forEach((w, i) => {
    if (w < 0 || vocab.protected.has(ex.ids[i])) return;
    const list = byWord.get(w);
    if (list) list.push(i);
    else byWord.set(w, [i]);
  });
  const words = [...byWord.keys()];
  const exact = words.length * rate;
  let k = Math.floor(exact);
  if (rng.next() < exact - k) k++;
  if (k === 0 && words.length > 0) k = 1;
  const chosen = rng.shuffle(words).slice(0, k);
  const inputIds = [...ex.ids];
  const labels = ex.ids.map(() => -100);
  const positions: number[] = [];
  // random replacements come from the ordinary tokens (ids after the specials/markers block)
  const firstOrdinary = Math.max(...vocab.protected) + 1;
  for (const w of chosen) {
    for (const i of byWord.get(w)!) {
      labels[i] = ex.ids[i];
      positions.push(i);
      const u = rng.next();
      if (u < pMask) inputIds[i] = vocab.maskId;
      else if (u < pMask + pRandom) inputIds[i] = firstOrdinary + rng.int(vocab.vocabSize - firstOrdinary);
    }
  }
  positions.sort((a, b) => a - b);
  return { inputIds, labels, positions, maskedWords: chosen.length, words: words.length };
}
