/**
 * Batches: dynamic padding to the longest row of each batch, and length bucketing so that rows of
 * similar length share a batch (less padding, faster steps) while batch order stays random.
 * Samplers are pluggable: a BatchSampler maps (epoch, rng) to lists of row indices; the study's
 * balanced and priority samplers (src/augment) have this type too.
 */
import * as tf from "@tensorflow/tfjs";
import type { Encoded } from "../encoding/types";
import type { Rng } from "../random";
import { TrainConfigError, TrainDataError } from "./errors";
import type { ModelInputs } from "../model";

/** Lists of row indices into the training set, one list per batch, for one epoch (0-based). */
export type BatchSampler = (epoch: number, rng: Rng) => number[][];

export interface BucketOptions {
  batchSize: number;
  /** rows are sorted by length within chunks of this many batches (default 50) */
  chunkBatches?: number;
}

function checkBatchSize(batchSize: number, field = "batchSize"): void {
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new TrainConfigError(field, `must be a positive integer, got ${batchSize}`);
  }
}

/**
 * The default training sampler: shuffle all rows, sort by length within chunks of `chunkBatches`
 * batches, cut into batches, shuffle the batch order. Every row appears exactly once per epoch.
 */
export function bucketedSampler(set: readonly Encoded[] | readonly number[], opts: BucketOptions): BatchSampler {
  checkBatchSize(opts.batchSize);
  const chunkBatches = opts.chunkBatches ?? 50;
  checkBatchSize(chunkBatches, "chunkBatches");
  const lengths = set.map((r) => (typeof r === "number" ? r : r.inputIds.length));
  const bs = opts.batchSize;
  return (_epoch: number, rng: Rng): number[][] => {
    const perm = rng.shuffle(lengths.map((_, i) => i));
    const batches: number[][] = [];
    const chunk = bs * chunkBatches;
    for (let s = 0; s < perm.length; s += chunk) {
      // stable sort on length; ties keep their shuffled order
      const part = perm.slice(s, s + chunk).sort((a, b) => lengths[a] - lengths[b]);
      for (let b = 0; b < part.length; b += bs) batches.push(part.slice(b, b + bs));
    }
    return rng.shuffle(batches);
  };
}

/** Inference batches: rows sorted by length (least padding); results are put back by index. */
export function lengthSortedBatches(set: readonly Encoded[], batchSize: number): number[][] {
  checkBatchSize(batchSize, "evalBatchSize");
  const order = set.map((_, i) => i).sort((a, b) => set[a].inputIds.length - set[b].inputIds.length);
  const out: number[][] = [];
  for (let s = 0; s < order.length; s += batchSize) out.push(order.slice(s, s + batchSize));
  return out;
}

/** One padded batch as flat row-major typed arrays [size × seqLen]. */
export interface Batch {
  indices: number[];
  size: number;
  /** the batch's longest row */
  seqLen: number;
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  headPos: Int32Array;
  tailPos: Int32Array;
  /** one past each entity's span (headPos + 1 when a row has no span) */
  headEnd: Int32Array;
  tailEnd: Int32Array;
  /** null when some row has no label */
  labels: Int32Array | null;
}

/** Check every row once (equal array lengths, entity positions inside the row, labels in range). */
export function validateEncoded(set: readonly Encoded[], name: string, numLabels: number, needLabels: boolean): void {
  if (set.length === 0) throw new TrainDataError(`${name} is empty`);
  set.forEach((r, i) => {
    const n = r.inputIds.length;
    if (n === 0) throw new TrainDataError(`${name}[${i}].inputIds is empty`);
    if (r.tokenTypeIds.length !== n || r.attentionMask.length !== n) {
      throw new TrainDataError(
        `${name}[${i}]: inputIds/tokenTypeIds/attentionMask lengths differ (${n}/${r.tokenTypeIds.length}/${r.attentionMask.length})`,
      );
    }
    for (const f of ["headPos", "tailPos"] as const) {
      if (!(Number.isInteger(r[f]) && r[f] >= 0 && r[f] < n)) {
        throw new TrainDataError(`${name}[${i}].${f} = ${r[f]} is outside the row (length ${n})`);
      }
    }
    for (const [f, start] of [["headEnd", r.headPos], ["tailEnd", r.tailPos]] as const) {
      const e = r[f];
      if (e !== undefined && !(Number.isInteger(e) && e > start && e <= n)) {
        throw new TrainDataError(`${name}[${i}].${f} = ${e} is outside (${start}, ${n}]`);
      }
    }
    if (r.label === undefined) {
      if (needLabels) throw new TrainDataError(`${name}[${i}].label is missing`);
    } else if (!(Number.isInteger(r.label) && r.label >= 0 && r.label < numLabels)) {
      throw new TrainDataError(`${name}[${i}].label = ${r.label} is not in [0, ${numLabels - 1}]`);
    }
  });
}

/** Pad the rows `indices` of `set` to their longest length with `padId` (mask 0, token type 0). */
export function collate(set: readonly Encoded[], indices: readonly number[], padId: number): Batch {
  if (indices.length === 0) throw new TrainDataError("collate: empty batch");
  let seqLen = 0;
  for (const i of indices) seqLen = Math.max(seqLen, set[i].inputIds.length);
  const B = indices.length;
  const inputIds = new Int32Array(B * seqLen).fill(padId);
  const tokenTypeIds = new Int32Array(B * seqLen);
  const attentionMask = new Int32Array(B * seqLen);
  const headPos = new Int32Array(B);
  const tailPos = new Int32Array(B);
  const headEnd = new Int32Array(B);
  const tailEnd = new Int32Array(B);
  let labels: Int32Array | null = new Int32Array(B);
  indices.forEach((idx, b) => {
    const r = set[idx];
    inputIds.set(r.inputIds, b * seqLen);
    tokenTypeIds.set(r.tokenTypeIds, b * seqLen);
    attentionMask.set(r.attentionMask, b * seqLen);
    headPos[b] = r.headPos;
    tailPos[b] = r.tailPos;
    headEnd[b] = r.headEnd ?? r.headPos + 1;
    tailEnd[b] = r.tailEnd ?? r.tailPos + 1;
    if (labels && r.label !== undefined) labels[b] = r.label;
    else labels = null;
  });
  return { indices: [...indices], size: B, seqLen, inputIds, tokenTypeIds, attentionMask, headPos, tailPos, headEnd, tailEnd, labels };
}

/** Tensors for the model (the caller disposes them, e.g. inside tf.tidy). */
export function batchInputs(batch: Batch): ModelInputs {
  const shape: [number, number] = [batch.size, batch.seqLen];
  return {
    inputIds: tf.tensor2d(batch.inputIds, shape, "int32"),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, shape, "int32"),
    attentionMask: tf.tensor2d(batch.attentionMask, shape, "int32"),
    headPos: tf.tensor1d(batch.headPos, "int32"),
    tailPos: tf.tensor1d(batch.tailPos, "int32"),
    headEnd: tf.tensor1d(batch.headEnd, "int32"),
    tailEnd: tf.tensor1d(batch.tailEnd, "int32"),
  };
}
