/**
 * Augmentation strategies on one Row. Each is a pure function of (row, rng): it never mutates the
 * row and draws all randomness from the Rng passed in. It returns the new row, or a reason why it
 * could not make one. augmentTrain adds the id, checks collisions, and retries.
 */
import type { Rng } from "../random";
import type { Row } from "../data/types";
import { mentionSpanIds, replaceMentions } from "./spans";
import { AugmentConfigError } from "./errors";

export type RejectReason =
  /** the strategy cannot apply to this row (e.g. the entity never occurs in the sentence) */
  | "not_applicable"
  /** no other TRAIN entity with the same relation and role to substitute */
  | "no_candidate"
  /** after the change an entity no longer occurs in the sentence */
  | "entity_lost"
  /** the change left the row as it was */
  | "unchanged"
  /** the new sentence equals a dev or test sentence */
  | "dev_test_collision"
  /** the new row (sentence, h, t) equals a train row or an earlier augmented row */
  | "duplicate";
export const REJECT_REASONS: readonly RejectReason[] = [
  "not_applicable",
  "no_candidate",
  "entity_lost",
  "unchanged",
  "dev_test_collision",
  "duplicate",
];

export type StrategyResult = { ok: true; row: Row } | { ok: false; reason: RejectReason };

export type StrategyName = "oversample" | "entity_substitution" | "char_noise";
export const STRATEGY_NAMES: readonly StrategyName[] = ["oversample", "entity_substitution", "char_noise"];

export type Role = "h" | "t";
export type NoiseOp = "delete" | "swap" | "insert";
export const NOISE_OPS: readonly NoiseOp[] = ["delete", "swap", "insert"];

export interface EntitySubstitutionOptions {
  /** which entity to swap: one of the two at random where possible ("either", default), always h, always t, or both */
  roles?: "either" | "h" | "t" | "both";
  /** when the row and the candidate both carry an entity type for that role, require them equal; default true */
  sameType?: boolean;
}

export interface CharNoiseOptions {
  /** edits per eligible character (round(rate · n), at least 1); default 0.05 */
  rate?: number;
  /** edit kinds drawn uniformly per edit; default all three */
  ops?: readonly NoiseOp[];
}

export type StrategySpec =
  | { kind: "oversample" }
  | ({ kind: "entity_substitution" } & EntitySubstitutionOptions)
  | ({ kind: "char_noise" } & CharNoiseOptions)
  /** apply the steps in order to the same row; fails when any step fails */
  | { kind: "pipeline"; steps: readonly (StrategyName | StrategySpec)[] };

/** A strategy ready to apply, built against the train split. */
export interface Augmenter {
  name: string;
  /** true when the strategy copies rows on purpose (oversampling): exempt from the unchanged/duplicate checks */
  duplicates: boolean;
  apply: (row: Row, rng: Rng) => StrategyResult;
}

// ---------- oversampling ----------

/** An exact copy of the row (augmentTrain gives it a new id). */
export function oversample(row: Row): StrategyResult {
  return { ok: true, row: { ...row } };
}

// ---------- entity substitution ----------

interface IndexedEntity {
  entity: string;
  type?: string;
}

/** Entities seen in TRAIN per (relation, role), in first-seen order; only ones that occur in their sentence. */
export interface EntityIndex {
  get(r: string, role: Role): readonly IndexedEntity[];
}

export function buildEntityIndex(train: readonly Row[]): EntityIndex {
  const map = new Map<string, IndexedEntity[]>();
  const seen = new Set<string>();
  for (const row of train) {
    for (const role of ["h", "t"] as const) {
      const entity = row[role];
      // placeholders and entities absent from their sentence have no mention to put back
      if (entity.length === 0 || !row.sentence.includes(entity)) continue;
      const type = role === "h" ? row.hType : row.tType;
      const key = `${row.r}\u0000${role}`;
      const uniq = `${key}\u0000${entity}\u0000${type ?? ""}`;
      if (seen.has(uniq)) continue;
      seen.add(uniq);
      let list = map.get(key);
      if (!list) map.set(key, (list = []));
      list.push({ entity, type });
    }
  }
  return { get: (r, role) => map.get(`${r}\u0000${role}`) ?? [] };
}

function candidatesFor(row: Row, role: Role, other: string, index: EntityIndex, sameType: boolean): string[] {
  const current = row[role];
  const type = role === "h" ? row.hType : row.tType;
  const out = new Set<string>();
  for (const c of index.get(row.r, role)) {
    if (c.entity === current || c.entity === other) continue;
    // a candidate inside (or around) the other entity would blur which mention is which
    if (c.entity.includes(other) || other.includes(c.entity)) continue;
    if (sameType && type !== undefined && c.type !== undefined && c.type !== type) continue;
    out.add(c.entity);
  }
  return [...out];
}

/**
 * Swap the head and/or tail for another entity seen with the same relation in the same role in
 * TRAIN, replacing every mention in the sentence (mentions inside the other entity stay).
 * Each of h and t that occurred in the sentence occurs in the new one, or the result is "entity_lost"
 * (a CMeIE placeholder, which never occurs, may stay as the other entity).
 */
export function substituteEntities(
  row: Row,
  rng: Rng,
  index: EntityIndex,
  opts: EntitySubstitutionOptions = {},
): StrategyResult {
  const mode = opts.roles ?? "either";
  const sameType = opts.sameType ?? true;
  // h === t (a data quirk): one string cannot be two different entities after the swap
  if (row.h === row.t) return { ok: false, reason: "not_applicable" };
  const present = (role: Role): boolean => row.sentence.includes(row[role]) && row[role].length > 0;
  const wanted: Role[] = mode === "either" || mode === "both" ? ["h", "t"] : [mode];
  if (wanted.some((r) => !present(r)) && mode !== "either") return { ok: false, reason: "not_applicable" };
  const usable = wanted.filter(
    (r) => present(r) && candidatesFor(row, r, row[r === "h" ? "t" : "h"], index, sameType).length > 0,
  );
  if (usable.length === 0) return { ok: false, reason: wanted.some(present) ? "no_candidate" : "not_applicable" };
  if (mode === "both" && usable.length < 2) return { ok: false, reason: "no_candidate" };
  const roles = mode === "either" ? [rng.pick(usable)] : usable;

  let { sentence, h, t } = row;
  for (const role of roles) {
    const other = role === "h" ? t : h;
    const cands = candidatesFor({ ...row, sentence, h, t }, role, other, index, sameType);
    if (cands.length === 0) return { ok: false, reason: "no_candidate" };
    const next = rng.pick(cands);
    sentence = replaceMentions(sentence, role === "h" ? h : t, next, other);
    if (role === "h") h = next;
    else t = next;
  }
  // an entity that occurred must still occur (a placeholder that never did is left as it is)
  if ((present("h") && !sentence.includes(h)) || (present("t") && !sentence.includes(t))) {
    return { ok: false, reason: "entity_lost" };
  }
  return { ok: true, row: { ...row, sentence, h, t } };
}

// ---------- character noise ----------

/** CJK Unified Ideographs and Extension A (BMP, one UTF-16 unit each) */
export function isHanChar(ch: string): boolean {
  const c = ch.charCodeAt(0);
  return ch.length === 1 && ((c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf));
}

/**
 * Random deletions, adjacent swaps and insertions of Chinese characters outside every mention of h
 * and t: mention characters are never deleted, moved or split, punctuation/digits/Latin are left
 * alone, and inserted characters are drawn from the sentence's own non-entity Chinese characters.
 */
export function charNoise(row: Row, rng: Rng, opts: CharNoiseOptions = {}): StrategyResult {
  const rate = opts.rate ?? 0.05;
  const ops = opts.ops ?? NOISE_OPS;
  const chars = row.sentence.split("");
  const span = mentionSpanIds(row.sentence, [row.h, row.t]);
  const eligible = (i: number): boolean => span[i] === -1 && isHanChar(chars[i]);
  const pool = chars.filter((_, i) => eligible(i));
  if (pool.length === 0) return { ok: false, reason: "not_applicable" };
  const edits = Math.max(1, Math.round(rate * pool.length));

  for (let e = 0; e < edits; e++) {
    // try the ops in a random order until one has a place to act
    const order = rng.shuffle(ops.slice());
    let done = false;
    for (const op of order) {
      if (op === "delete") {
        const at = chars.map((_, i) => i).filter(eligible);
        if (at.length === 0) continue;
        const i = rng.pick(at);
        chars.splice(i, 1);
        span.splice(i, 1);
      } else if (op === "swap") {
        const at = chars.map((_, i) => i).filter((i) => i + 1 < chars.length && eligible(i) && eligible(i + 1) && chars[i] !== chars[i + 1]);
        if (at.length === 0) continue;
        const i = rng.pick(at);
        const tmp = chars[i];
        chars[i] = chars[i + 1];
        chars[i + 1] = tmp;
      } else {
        // a gap p (before chars[p]) is allowed unless both neighbours belong to the same mention span,
        // or it would split a surrogate pair
        const at: number[] = [];
        for (let p = 0; p <= chars.length; p++) {
          const left = p > 0 ? span[p - 1] : -1;
          const right = p < chars.length ? span[p] : -1;
          if (left !== -1 && left === right) continue;
          if (p > 0 && /[\ud800-\udbff]/.test(chars[p - 1])) continue;
          at.push(p);
        }
        const p = rng.pick(at);
        chars.splice(p, 0, rng.pick(pool));
        span.splice(p, 0, -1);
      }
      done = true;
      break;
    }
    if (!done) break;
  }
  const sentence = chars.join("");
  if (sentence === row.sentence) return { ok: false, reason: "unchanged" };
  return { ok: true, row: { ...row, sentence } };
}

// ---------- building strategies from specs ----------

function normSpec(s: StrategyName | StrategySpec, field: string): StrategySpec {
  if (typeof s === "string") {
    if (!STRATEGY_NAMES.includes(s)) throw new AugmentConfigError(field, `"${s}" is not one of ${STRATEGY_NAMES.join(", ")}`);
    return { kind: s };
  }
  return s;
}

/** Build an Augmenter from a spec; entity substitution draws its candidates from `train` only. */
export function makeAugmenter(
  spec: StrategyName | StrategySpec,
  train: readonly Row[],
  field = "strategy",
  cache: { index?: EntityIndex } = {},
): Augmenter {
  const s = normSpec(spec, field);
  switch (s.kind) {
    case "oversample":
      return { name: "oversample", duplicates: true, apply: (row) => oversample(row) };
    case "entity_substitution": {
      const index = (cache.index ??= buildEntityIndex(train));
      const opts: EntitySubstitutionOptions = { roles: s.roles, sameType: s.sameType };
      if (opts.roles !== undefined && !["either", "h", "t", "both"].includes(opts.roles)) {
        throw new AugmentConfigError(`${field}.roles`, `"${opts.roles}" is not one of either, h, t, both`);
      }
      return { name: "entity_substitution", duplicates: false, apply: (row, rng) => substituteEntities(row, rng, index, opts) };
    }
    case "char_noise": {
      const rate = s.rate ?? 0.05;
      if (!(rate > 0 && rate <= 1)) throw new AugmentConfigError(`${field}.rate`, `${rate} is not in (0, 1]`);
      const ops = s.ops ?? NOISE_OPS;
      if (ops.length === 0 || ops.some((o) => !NOISE_OPS.includes(o))) {
        throw new AugmentConfigError(`${field}.ops`, `must be a non-empty list of ${NOISE_OPS.join(", ")}`);
      }
      return { name: "char_noise", duplicates: false, apply: (row, rng) => charNoise(row, rng, { rate, ops }) };
    }
    case "pipeline": {
      if (s.steps.length === 0) throw new AugmentConfigError(`${field}.steps`, "empty pipeline");
      const steps = s.steps.map((st, i) => makeAugmenter(st, train, `${field}.steps[${i}]`, cache));
      return {
        name: steps.map((st) => st.name).join("+"),
        duplicates: steps.every((st) => st.duplicates),
        apply: (row, rng) => {
          let cur = row;
          for (const st of steps) {
            const res = st.apply(cur, rng);
            if (!res.ok) return res;
            cur = res.row;
          }
          return { ok: true, row: cur };
        },
      };
    }
    default:
      throw new AugmentConfigError(`${field}.kind`, `"${String((s as { kind: unknown }).kind)}" is not a strategy kind`);
  }
}
