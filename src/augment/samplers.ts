/**
 * Class-quota batch samplers: the study's balanced sampler (batch 20 = 2 rows of each class) and its
 * "priority" sampler (batch 16 = 4 rows each of the hard classes 4 and 8, 1 row of every other class),
 * both special cases of one per-class rows-per-batch map (`quotaSampler`).
 *
 * How an epoch is built (one call `sampler(epoch, rng)`):
 * - every sampled class c keeps a pool: a fresh random permutation of its row indices, drawn from
 *   front to back WITHOUT replacement; when the pool runs out mid-epoch it is reshuffled (a new
 *   permutation) and drawing goes on. So within an epoch each row of class c is drawn
 *   floor(d_c / n_c) or ceil(d_c / n_c) times, where d_c = batches · quota_c and n_c = rows of c.
 * - a batch never holds the same row twice, unless its class has fewer rows than its quota.
 * - each batch holds exactly quota_c rows of each class c, in shuffled order.
 * - the number of batches is the `batches` option:
 *     "rows" (default)    ceil(N / B), N = rows of the sampled classes, B = Σ quota_c: about one pass
 *                         over the data's size (the issue's definition);
 *     "first_exhausted"   min_c floor(n_c / quota_c): stop when the first class runs out, no row
 *                         repeats — exactly the authors' code (350 balanced / 175 priority batches on
 *                         the 7,000-row study train split);
 *     "cover_all"         max_c ceil(n_c / quota_c): every row drawn at least once;
 *     a positive integer  that many batches.
 * - nothing carries over between epochs: each call starts from fresh pools, so a sampler is a pure
 *   function of (epoch, rng state). `epoch` (0-based) only matters to staged samplers.
 */
import type { Rng } from "../random";
import { labelIndex, STUDY_HARD_CLASSES } from "../data/labels";
import { SamplerError } from "./errors";

/** Lists of row indices into the training set, one list per batch, for one epoch (0-based). */
export type BatchSampler = (epoch: number, rng: Rng) => number[][];

export type EpochRule = "rows" | "first_exhausted" | "cover_all";
export const EPOCH_RULES: readonly EpochRule[] = ["rows", "first_exhausted", "cover_all"];

export interface QuotaSamplerOptions {
  /** rows per batch for each class index (array index = class, or a map); missing classes get 0 */
  quota: readonly number[] | Readonly<Record<number, number>>;
  /** how many batches make an epoch (see the module comment); default "rows" */
  batches?: number | EpochRule;
}

export interface BalancedSamplerOptions {
  /** rows of each class present in `labels` per batch (study: 2, so batch 20 for 10 classes) */
  perClass: number;
  batches?: number | EpochRule;
}

export interface PrioritySamplerOptions {
  /** class indices to oversample (study: [4, 8]; see chooseHardClasses) */
  hard: readonly number[];
  /** rows of each hard class per batch (study: 4) */
  hardPerBatch: number;
  /** rows of every other class present in `labels` per batch (study: 1) */
  otherPerBatch: number;
  batches?: number | EpochRule;
}

/** The resolved plan of a sampler, for reports and tests. */
export interface QuotaPlan {
  /** class index -> rows per batch (classes with quota 0 omitted) */
  quota: Map<number, number>;
  /** class index -> its row indices in `labels` */
  members: Map<number, number[]>;
  batchSize: number;
  batchesPerEpoch: number;
}

function checkLabels(labels: readonly number[]): void {
  if (labels.length === 0) throw new SamplerError("labels", "empty label list");
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0) {
      throw new SamplerError("labels", `labels[${i}] = ${y} is not a class index (non-negative integer)`);
    }
  }
}

function checkCount(field: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new SamplerError(field, `${v} is not an integer ≥ ${min}`);
}

/** Resolve quota and epoch length against the labels; throws SamplerError when they cannot work. */
export function planQuota(labels: readonly number[], opts: QuotaSamplerOptions): QuotaPlan {
  checkLabels(labels);
  const members = new Map<number, number[]>();
  labels.forEach((y, i) => {
    let m = members.get(y);
    if (!m) members.set(y, (m = []));
    m.push(i);
  });
  const entries: [number, number][] = Array.isArray(opts.quota)
    ? (opts.quota as readonly number[]).map((q, c) => [c, q] as [number, number])
    : Object.entries(opts.quota).map(([c, q]) => [Number(c), q as number] as [number, number]);
  const quota = new Map<number, number>();
  for (const [c, q] of entries.sort((a, b) => a[0] - b[0])) {
    checkCount(`quota[${c}]`, q, 0);
    if (q === 0) continue;
    if (!members.has(c)) throw new SamplerError(`quota[${c}]`, `class ${c} has quota ${q} but no rows in labels`);
    quota.set(c, q);
  }
  if (quota.size === 0) throw new SamplerError("quota", "every class has quota 0: batches would be empty");
  const sampled = [...quota.keys()].map((c) => members.get(c)!);
  // keep only sampled classes in the plan, so members.size = quota.size
  for (const c of [...members.keys()]) if (!quota.has(c)) members.delete(c);
  const batchSize = [...quota.values()].reduce((a, b) => a + b, 0);
  const n = sampled.reduce((a, m) => a + m.length, 0);
  const rule = opts.batches ?? "rows";
  let batchesPerEpoch: number;
  if (typeof rule === "number") {
    checkCount("batches", rule, 1);
    batchesPerEpoch = rule;
  } else if (rule === "rows") {
    batchesPerEpoch = Math.ceil(n / batchSize);
  } else if (rule === "first_exhausted") {
    batchesPerEpoch = Math.min(...[...quota].map(([c, q]) => Math.floor(members.get(c)!.length / q)));
    if (batchesPerEpoch === 0) {
      const small = [...quota].filter(([c, q]) => members.get(c)!.length < q).map(([c]) => c);
      throw new SamplerError(
        "batches",
        `"first_exhausted" gives 0 batches: class(es) ${small.join(", ")} have fewer rows than their quota; use "rows" or "cover_all"`,
      );
    }
  } else if (rule === "cover_all") {
    batchesPerEpoch = Math.max(...[...quota].map(([c, q]) => Math.ceil(members.get(c)!.length / q)));
  } else {
    throw new SamplerError("batches", `"${String(rule)}" is not a number or one of ${EPOCH_RULES.join(", ")}`);
  }
  return { quota, members, batchSize, batchesPerEpoch };
}

/** One class's without-replacement pool that reshuffles when it runs out. */
class ClassPool {
  private pool: number[] = [];
  private ptr = 0;
  constructor(
    private readonly rows: readonly number[],
    private readonly rng: Rng,
  ) {
    this.refill();
  }

  private refill(): void {
    this.pool = this.rng.shuffle(this.rows.slice());
    this.ptr = 0;
  }

  /** k rows, distinct within this draw whenever the class has at least k rows */
  take(k: number): number[] {
    const out: number[] = [];
    const taken = new Set<number>();
    for (let j = 0; j < k; j++) {
      if (this.ptr >= this.pool.length) this.refill();
      // after a mid-batch reshuffle, skip rows this batch already holds (swap keeps the pool a permutation)
      let s = this.ptr;
      while (s < this.pool.length && taken.has(this.pool[s])) s++;
      if (s < this.pool.length && s !== this.ptr) {
        const tmp = this.pool[s];
        this.pool[s] = this.pool[this.ptr];
        this.pool[this.ptr] = tmp;
      }
      const row = this.pool[this.ptr++];
      taken.add(row);
      out.push(row);
    }
    return out;
  }
}

/** General per-class rows-per-batch sampler (the two study samplers are special cases). */
export function quotaSampler(labels: readonly number[], opts: QuotaSamplerOptions): BatchSampler {
  const plan = planQuota(labels, opts);
  return (epoch: number, rng: Rng): number[][] => {
    if (!Number.isInteger(epoch) || epoch < 0) throw new SamplerError("epoch", `${epoch} is not a 0-based epoch index`);
    const pools = [...plan.quota.keys()].map((c) => ({ q: plan.quota.get(c)!, pool: new ClassPool(plan.members.get(c)!, rng) }));
    const batches: number[][] = [];
    for (let b = 0; b < plan.batchesPerEpoch; b++) {
      const batch: number[] = [];
      for (const { q, pool } of pools) batch.push(...pool.take(q));
      batches.push(rng.shuffle(batch));
    }
    return batches;
  };
}

/** The study's balanced sampler: `perClass` rows of every class present in `labels` per batch. */
export function balancedSampler(labels: readonly number[], opts: BalancedSamplerOptions): BatchSampler {
  checkLabels(labels);
  checkCount("perClass", opts.perClass, 1);
  const quota: Record<number, number> = {};
  for (const y of labels) quota[y] = opts.perClass;
  return quotaSampler(labels, { quota, batches: opts.batches });
}

/** The study's "priority" sampler: `hardPerBatch` rows of each hard class, `otherPerBatch` of each other class. */
export function prioritySampler(labels: readonly number[], opts: PrioritySamplerOptions): BatchSampler {
  checkLabels(labels);
  checkCount("hardPerBatch", opts.hardPerBatch, 1);
  checkCount("otherPerBatch", opts.otherPerBatch, 0);
  if (opts.hard.length === 0) throw new SamplerError("hard", "no hard classes given");
  const present = new Set(labels);
  const quota: Record<number, number> = {};
  for (const y of present) quota[y] = opts.otherPerBatch;
  for (const c of opts.hard) {
    if (!present.has(c)) throw new SamplerError("hard", `hard class ${c} has no rows in labels`);
    quota[c] = opts.hardPerBatch;
  }
  return quotaSampler(labels, { quota, batches: opts.batches });
}

export interface SamplerStage {
  /** how many epochs this stage lasts */
  epochs: number;
  sampler: BatchSampler;
}

/**
 * Stages run one after another by epoch (0-based); epochs past the last stage's end keep using the
 * last stage's sampler (so "2 balanced, then priority" works for any epoch count).
 */
export function stagedSampler(stages: readonly SamplerStage[]): BatchSampler {
  if (stages.length === 0) throw new SamplerError("stages", "no stages given");
  stages.forEach((s, i) => checkCount(`stages[${i}].epochs`, s.epochs, 1));
  return (epoch: number, rng: Rng): number[][] => {
    if (!Number.isInteger(epoch) || epoch < 0) throw new SamplerError("epoch", `${epoch} is not a 0-based epoch index`);
    let start = 0;
    for (const s of stages) {
      if (epoch < start + s.epochs) return s.sampler(epoch - start, rng);
      start += s.epochs;
    }
    const last = stages[stages.length - 1];
    return last.sampler(epoch - start + last.epochs, rng);
  };
}

export interface StudySamplerOptions {
  /** default "first_exhausted", the authors' epoch (350 balanced / 175 priority batches on the study split) */
  batches?: number | EpochRule;
  /** default the study's pair, 并发症 (4) and 相关（导致） (8) */
  hard?: readonly number[];
  /** epochs of the balanced stage before the priority stage; default 2 */
  balancedEpochs?: number;
}

/**
 * The study's schedule: 2 epochs of balanced batches (2 rows of each class), then priority batches
 * (4 rows each of the hard classes, 1 of each other class) for every later epoch.
 */
export function studyBatchSampler(labels: readonly number[], opts: StudySamplerOptions = {}): BatchSampler {
  const batches = opts.batches ?? "first_exhausted";
  const hard = opts.hard ?? STUDY_HARD_CLASSES.map(labelIndex);
  return stagedSampler([
    { epochs: opts.balancedEpochs ?? 2, sampler: balancedSampler(labels, { perClass: 2, batches }) },
    { epochs: 1, sampler: prioritySampler(labels, { hard, hardPerBatch: 4, otherPerBatch: 1, batches }) },
  ]);
}

/**
 * Length-aligned quota batches: the inner sampler's epoch — the same rows, each batch with the same rows of each class —
 * regrouped within chunks of `chunkBatches` batches so that a batch holds rows of similar length. Within a chunk, each
 * class's rows are sorted by length (ties keep the draw's order) and dealt back batch by batch; batch order is shuffled
 * after, as `bucketedSampler` does for unconstrained batches. A class-balanced batch of random rows pads about a third
 * of its tokens on the study's data; this keeps the quotas and drops most of the padding.
 */
export function lengthAlignedSampler(inner: BatchSampler, labels: readonly number[], lengths: readonly number[], chunkBatches = 50): BatchSampler {
  checkLabels(labels);
  if (lengths.length !== labels.length) throw new SamplerError("lengths", `${lengths.length} lengths for ${labels.length} labels`);
  checkCount("chunkBatches", chunkBatches, 1);
  return (epoch: number, rng: Rng): number[][] => {
    const batches = inner(epoch, rng);
    const out: number[][] = [];
    for (let s = 0; s < batches.length; s += chunkBatches) out.push(...alignChunk(batches.slice(s, s + chunkBatches), labels, lengths));
    return rng.shuffle(out);
  };
}

function alignChunk(chunk: readonly number[][], labels: readonly number[], lengths: readonly number[]): number[][] {
  const byClass = new Map<number, number[]>();
  for (const b of chunk) for (const r of b) (byClass.get(labels[r]) ?? byClass.set(labels[r], []).get(labels[r])!).push(r);
  const out = chunk.map((): number[] => []);
  for (const [c, rows] of byClass) {
    rows.sort((a, b) => lengths[a] - lengths[b]);
    let k = 0;
    chunk.forEach((b, j) => {
      for (const r of b) if (labels[r] === c) out[j].push(rows[k++]);
    });
  }
  separateRepeats(out, labels);
  return out;
}

/**
 * A row drawn twice in a chunk (its class's pool reshuffled mid-chunk) sorts next to itself and may land twice in one
 * batch; swap the second copy with the nearest batch's row of its class that neither batch holds yet.
 */
function separateRepeats(batches: number[][], labels: readonly number[]): void {
  batches.forEach((batch, j) => {
    for (let p = 0; p < batch.length; p++) {
      const r = batch[p];
      if (batch.indexOf(r) === p) continue;
      swap: for (let d = 1; d < batches.length; d++) {
        for (const j2 of [j - d, j + d]) {
          const other = batches[j2];
          if (!other || other.includes(r)) continue;
          const q = other.findIndex((x) => labels[x] === labels[r] && !batch.includes(x));
          if (q < 0) continue;
          [batch[p], other[q]] = [other[q], r];
          break swap;
        }
      }
    }
  });
}
