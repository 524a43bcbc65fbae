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

/** Per-class copies requested from the options (a number for the hard classes, or a per-label map). */
function multipliers(opts: AugmentOptions, hard: Label[]): Record<Label, number> {
  const multiplier = perLabel(() => 0);
  if (typeof opts.multiplier === "number") {
    const m = checkMultiplier("multiplier", opts.multiplier);
    if (m > 0 && hard.length === 0) throw new AugmentConfigError("hardClasses", "empty, so a numeric multiplier augments nothing");
    for (const l of hard) multiplier[l] = m;
  } else {
    for (const [k, v] of Object.entries(opts.multiplier)) multiplier[toLabel(`multiplier["${k}"]`, k)] = checkMultiplier(`multiplier["${k}"]`, v);
  }
  return multiplier;
}

/** Copies per row: floor(m) each, plus one for a random round(frac · n) of the class's rows. */
function copiesPerRow(labels: Label[], multiplier: Record<Label, number>, rng: Rng): { copies: number[]; originalPerClass: Record<Label, number>; requestedPerClass: Record<Label, number> } {
  const copies = new Array<number>(labels.length).fill(0);
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
  return { copies, originalPerClass, requestedPerClass };
}

export function augmentTrain(train: readonly Row[], opts: AugmentOptions, forbidden: AugmentForbidden): AugmentResult {
  if (!Number.isInteger(opts.seed)) throw new AugmentConfigError("seed", `${opts.seed} is not an integer`);
  const maxTries = opts.maxTries ?? 10;
  if (!Number.isInteger(maxTries) || maxTries < 1) throw new AugmentConfigError("maxTries", `${maxTries} is not an integer ≥ 1`);
  if (opts.strategies.length === 0) throw new AugmentConfigError("strategies", "no strategy given");
  const hard = opts.hardClasses.map((c, i) => toLabel(`hardClasses[${i}]`, c));
  const multiplier = multipliers(opts, hard);
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
  const forbiddenSentences = new Set([...forbidden.dev, ...forbidden.test].map((r) => sentenceKey(r.sentence)));
  const rng = new Rng(opts.seed);
  const { copies, originalPerClass, requestedPerClass } = copiesPerRow(labels, multiplier, rng);
  const g = new Generation(augmenters, names, forbiddenSentences, new Set(train.map(rowKey)), maxTries);
  train.forEach((row, i) => {
    for (let k = 1; k <= copies[i]; k++) g.copy(row, labels[i], k, rng);
  });
  const failedPerClass = perLabel(() => 0);
  for (const l of LABEL_NAMES) failedPerClass[l] = requestedPerClass[l] - g.addedPerClass[l];
  return {
    rows: [...train, ...g.out],
    report: {
      seed: opts.seed,
      hardClasses: hard,
      strategies: names,
      multiplier,
      originalRows: train.length,
      addedRows: g.out.length,
      totalRows: train.length + g.out.length,
      originalPerClass,
      requestedPerClass,
      added: g.added,
      addedPerClass: g.addedPerClass,
      failedPerClass,
      rejected: g.rejected,
      rejectedPerClass: g.rejectedPerClass,
    },
  };
}

/** The augmented rows made so far, with what each strategy added and why attempts were rejected. */
class Generation {
  readonly out: Row[] = [];
  readonly added = perLabel<Record<string, number>>(() => ({}));
  readonly addedPerClass = perLabel(() => 0);
  readonly rejected = zeroReasons();
  readonly rejectedPerClass = perLabel(zeroReasons);
  private readonly turn = perLabel(() => 0);
  constructor(
    private readonly augmenters: Augmenter[],
    private readonly names: string[],
    private readonly forbiddenSentences: Set<string>,
    private readonly existing: Set<string>,
    private readonly maxTries: number,
  ) {}

  private reject(l: Label, reason: RejectReason): void {
    this.rejected[reason]++;
    this.rejectedPerClass[l][reason]++;
  }

  /** Copy k of a row: strategies take turns per class; up to maxTries attempts; every attempt's fate is counted. */
  copy(row: Row, l: Label, k: number, rng: Rng): void {
    const s = this.turn[l]++ % this.augmenters.length;
    const aug = this.augmenters[s];
    for (let attempt = 0; attempt < this.maxTries; attempt++) {
      const res = aug.apply(row, rng);
      if (!res.ok) {
        this.reject(l, res.reason);
        if (res.reason === "not_applicable" || res.reason === "no_candidate") return;
        continue;
      }
      const nr = res.row;
      if (this.forbiddenSentences.has(sentenceKey(nr.sentence))) {
        this.reject(l, "dev_test_collision");
        if (aug.duplicates) return; // an exact copy collides every time
        continue;
      }
      if (!aug.duplicates) {
        if (nr.sentence === row.sentence && nr.h === row.h && nr.t === row.t) {
          this.reject(l, "unchanged");
          continue;
        }
        if (this.existing.has(rowKey(nr))) {
          this.reject(l, "duplicate");
          continue;
        }
      }
      this.existing.add(rowKey(nr));
      this.out.push({ ...nr, id: `${row.id}#aug${k}`, r: row.r });
      this.added[l][this.names[s]] = (this.added[l][this.names[s]] ?? 0) + 1;
      this.addedPerClass[l]++;
      return;
    }
  }
}
