/**
 * Augment the TRAIN split only. Dev/test rows are read for one thing: rejecting an augmented row
 * whose sentence equals a dev or test sentence (so augmentation cannot copy evaluation text into
 * training). Nothing is mutated; the returned rows are the train rows (same objects, same order)
 * followed by the new rows in train order.
 *
 * Copies: a class with multiplier m gets floor(m) copies of every row, plus one more copy for
 * round((m − floor m) · n_c) rows picked at random. Copies are dealt to the strategies in turn
 * (round robin within each class), so with strategies [A, B] half of a class's copies come from
 * each. Copy k (1-based) of row `id` gets id `${id}#aug${k}`; rows keep r, hType and tType.
 *
 * A copy is rejected when the strategy cannot apply, when its sentence equals a dev/test sentence,
 * or (for strategies meant to change the row) when it is unchanged or equals an existing train /
 * augmented row (sentence, h, t). A rejected copy is retried with fresh draws up to `maxTries`
 * times; rejections whose cause is deterministic (not_applicable, no_candidate) are not retried.
 * Oversampled copies are exact duplicates on purpose and are exempt from the duplicate check but
 * not from the dev/test check — a train row whose sentence also occurs in dev/test is never copied.
 */
import { Rng } from "../random";
import type { Row } from "../data/types";
import { LABEL_NAMES, normalizeLabel, type Label } from "../data/labels";
import { AugmentConfigError, AugmentDataError } from "./errors";
import { hardClassLabels } from "./hard";
import {
  makeAugmenter,
  REJECT_REASONS,
  type Augmenter,
  type EntityIndex,
  type RejectReason,
  type StrategyName,
  type StrategySpec,
} from "./strategies";

export interface AugmentOptions {
  /** classes a numeric multiplier applies to: labels (any accepted spelling) or class indices */
  hardClasses: readonly (Label | string | number)[];
  strategies: readonly (StrategyName | StrategySpec)[];
  /**
   * augmented copies per original row: a number applies to each hard class (others get 0);
   * a map gives each class its own (classes it omits get 0, hardClasses is then only reported)
   */
  multiplier: number | Readonly<Record<string, number>>;
  seed: number;
  /** attempts per copy before giving up; default 10 */
  maxTries?: number;
}

export interface AugmentForbidden {
  dev: readonly Row[];
  test: readonly Row[];
}

export interface AugmentReport {
  seed: number;
  hardClasses: Label[];
  /** strategy names in use (a pipeline is named by its steps joined with "+") */
  strategies: string[];
  /** resolved multiplier of every class */
  multiplier: Record<Label, number>;
  originalRows: number;
  addedRows: number;
  totalRows: number;
  originalPerClass: Record<Label, number>;
  /** copies asked for per class (multiplier applied) */
  requestedPerClass: Record<Label, number>;
  /** copies made per class and strategy */
  added: Record<Label, Record<string, number>>;
  addedPerClass: Record<Label, number>;
  /** copies given up on per class (requested − added) */
  failedPerClass: Record<Label, number>;
  /** rejected attempts by reason (a retried copy can count several times) */
  rejected: Record<RejectReason, number>;
  rejectedPerClass: Record<Label, Record<RejectReason, number>>;
}

export interface AugmentResult {
  rows: Row[];
  report: AugmentReport;
}

function perLabel<T>(make: () => T): Record<Label, T> {
  const out = {} as Record<Label, T>;
  for (const l of LABEL_NAMES) out[l] = make();
  return out;
}

function zeroReasons(): Record<RejectReason, number> {
  const out = {} as Record<RejectReason, number>;
  for (const r of REJECT_REASONS) out[r] = 0;
  return out;
}

function toLabel(field: string, v: string | number): Label {
  if (typeof v === "number") return hardClassLabels([v])[0];
  const l = normalizeLabel(v);
  if (!l) throw new AugmentConfigError(field, `unknown label "${v}"`);
  return l;
}

function checkMultiplier(field: string, m: unknown): number {
  if (typeof m !== "number" || !Number.isFinite(m) || m < 0) {
    throw new AugmentConfigError(field, `${String(m)} is not a finite number ≥ 0`);
  }
  return m;
}

const rowKey = (r: Pick<Row, "sentence" | "h" | "t">): string => `${r.sentence}\u0000${r.h}\u0000${r.t}`;
const sentenceKey = (s: string): string => s.trim();

export function augmentTrain(train: readonly Row[], opts: AugmentOptions, forbidden: AugmentForbidden): AugmentResult {
  if (!Number.isInteger(opts.seed)) throw new AugmentConfigError("seed", `${opts.seed} is not an integer`);
  const maxTries = opts.maxTries ?? 10;
  if (!Number.isInteger(maxTries) || maxTries < 1) throw new AugmentConfigError("maxTries", `${maxTries} is not an integer ≥ 1`);
  if (opts.strategies.length === 0) throw new AugmentConfigError("strategies", "no strategy given");
  const hard = opts.hardClasses.map((c, i) => toLabel(`hardClasses[${i}]`, c));

  const multiplier = perLabel(() => 0);
  if (typeof opts.multiplier === "number") {
    const m = checkMultiplier("multiplier", opts.multiplier);
    if (m > 0 && hard.length === 0) throw new AugmentConfigError("hardClasses", "empty, so a numeric multiplier augments nothing");
    for (const l of hard) multiplier[l] = m;
  } else {
    for (const [k, v] of Object.entries(opts.multiplier)) multiplier[toLabel(`multiplier["${k}"]`, k)] = checkMultiplier(`multiplier["${k}"]`, v);
  }

  // labels of the train rows, canonical
  const labels: Label[] = train.map((row) => {
    const l = typeof row.r === "string" ? normalizeLabel(row.r) : undefined;
    if (!l) throw new AugmentDataError(String(row.id), "r", `unknown label "${String(row.r)}"`);
    return l;
  });

  const cache: { index?: EntityIndex } = {};
  const augmenters: Augmenter[] = opts.strategies.map((s, i) => makeAugmenter(s, train, `strategies[${i}]`, cache));
  // names must be distinct for the per-strategy counts
  const names = augmenters.map((a, i) => (augmenters.findIndex((b) => b.name === a.name) === i ? a.name : `${a.name}@${i}`));

  const forbiddenSentences = new Set<string>();
  for (const r of forbidden.dev) forbiddenSentences.add(sentenceKey(r.sentence));
  for (const r of forbidden.test) forbiddenSentences.add(sentenceKey(r.sentence));
  const existing = new Set(train.map(rowKey));

  const rng = new Rng(opts.seed);
  // copies per row: floor(m) each, plus one for a random round(frac · n) of the class's rows
  const copies = new Array<number>(train.length).fill(0);
  const originalPerClass = perLabel(() => 0);
  const rowsOf = new Map<Label, number[]>();
  labels.forEach((l, i) => {
    originalPerClass[l]++;
    let list = rowsOf.get(l);
    if (!list) rowsOf.set(l, (list = []));
    list.push(i);
  });
  const requestedPerClass = perLabel(() => 0);
  for (const l of LABEL_NAMES) {
    const m = multiplier[l];
    const rows = rowsOf.get(l);
    if (m === 0 || !rows) continue;
    const whole = Math.floor(m);
    for (const i of rows) copies[i] = whole;
    const extra = Math.round((m - whole) * rows.length);
    if (extra > 0) for (const i of rng.shuffle(rows.slice()).slice(0, extra)) copies[i]++;
    requestedPerClass[l] = whole * rows.length + extra;
  }

  const added = perLabel<Record<string, number>>(() => ({}));
  const addedPerClass = perLabel(() => 0);
  const rejected = zeroReasons();
  const rejectedPerClass = perLabel(zeroReasons);
  const turn = perLabel(() => 0);
  const out: Row[] = [];
  const reject = (l: Label, reason: RejectReason): void => {
    rejected[reason]++;
    rejectedPerClass[l][reason]++;
  };

  train.forEach((row, i) => {
    const l = labels[i];
    for (let k = 1; k <= copies[i]; k++) {
      const s = turn[l]++ % augmenters.length;
      const aug = augmenters[s];
      for (let attempt = 0; attempt < maxTries; attempt++) {
        const res = aug.apply(row, rng);
        if (!res.ok) {
          reject(l, res.reason);
          if (res.reason === "not_applicable" || res.reason === "no_candidate") break;
          continue;
        }
        const nr = res.row;
        if (forbiddenSentences.has(sentenceKey(nr.sentence))) {
          reject(l, "dev_test_collision");
          // an exact copy collides every time
          if (aug.duplicates) break;
          continue;
        }
        if (!aug.duplicates) {
          if (nr.sentence === row.sentence && nr.h === row.h && nr.t === row.t) {
            reject(l, "unchanged");
            continue;
          }
          if (existing.has(rowKey(nr))) {
            reject(l, "duplicate");
            continue;
          }
        }
        existing.add(rowKey(nr));
        out.push({ ...nr, id: `${row.id}#aug${k}`, r: row.r });
        added[l][names[s]] = (added[l][names[s]] ?? 0) + 1;
        addedPerClass[l]++;
        break;
      }
    }
  });

  const failedPerClass = perLabel(() => 0);
  for (const l of LABEL_NAMES) failedPerClass[l] = requestedPerClass[l] - addedPerClass[l];
  return {
    rows: [...train, ...out],
    report: {
      seed: opts.seed,
      hardClasses: hard,
      strategies: names,
      multiplier,
      originalRows: train.length,
      addedRows: out.length,
      totalRows: train.length + out.length,
      originalPerClass,
      requestedPerClass,
      added,
      addedPerClass,
      failedPerClass,
      rejected,
      rejectedPerClass,
    },
  };
}
