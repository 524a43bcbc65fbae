/**
 * The selection split: a sentence-grouped, stratified slice of train on which early stopping, the best epoch and
 * every recipe lever are chosen, so the split a table reports (val or test) is never looked at before it is
 * reported. Fixed by its own seed (not the run's), so every run — and pre-training, which leaves its sentences
 * out of the corpus — sees the same slice.
 */
import { splitRows } from "./split";
import type { Row } from "./types";

export interface SelectionSpec {
  /** share of train's sentences held out for selection */
  fraction: number;
  /** seed of the slice (independent of the run's seed) */
  seed: number;
}

export const DEFAULT_SELECTION: SelectionSpec = { fraction: 0.1, seed: 0 };

/** Train split into the rows a model is fitted on and the rows it is selected on (no sentence in both). */
export function selectionSplit(train: readonly Row[], spec: SelectionSpec = DEFAULT_SELECTION): { fit: Row[]; selection: Row[] } {
  if (!(spec.fraction > 0 && spec.fraction < 1)) throw new Error(`selection fraction must be in (0, 1), got ${spec.fraction}`);
  const ds = splitRows(train, { seed: spec.seed, ratios: [1 - spec.fraction, spec.fraction, 0] });
  return { fit: ds.train, selection: ds.dev };
}
