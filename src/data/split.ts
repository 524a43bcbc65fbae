/**
 * Train/dev/test splits for data that comes unsplit, and a check of sentence overlap for data that comes split.
 * Rows sharing a sentence form one group and go to one split (different pairs of one sentence would otherwise
 * leak the text across splits); groups are assigned so each split's label counts follow the ratios.
 */
import { Rng } from "../random";
import { LABEL_NAMES, labelIndex } from "./labels";
import type { Dataset, Row, SplitName } from "./types";

export interface SplitOptions {
  seed: number;
  /** train, dev, test shares (default the study's 0.7 / 0.2 / 0.1); normalised to sum 1 */
  ratios?: readonly [number, number, number];
  /** Dataset.source (default "split(seed=N)") */
  source?: string;
}

export const STUDY_RATIOS: readonly [number, number, number] = [0.7, 0.2, 0.1];

/**
 * Stratified, sentence-grouped split, deterministic from the seed.
 * Groups are visited largest first (ties in seeded random order) and each goes to the split whose label
 * counts it brings closest to that split's targets (least increase of squared shortfall/excess).
 * Row order inside each split follows the input order.
 */
export function splitRows(rows: readonly Row[], opts: SplitOptions): Dataset {
  const ratios = opts.ratios ?? STUDY_RATIOS;
  if (ratios.length !== 3 || ratios.some((x) => !(x >= 0)) || ratios[0] + ratios[1] + ratios[2] <= 0) {
    throw new Error(`splitRows: ratios must be three non-negative numbers with a positive sum, got ${JSON.stringify(ratios)}`);
  }
  const sum = ratios[0] + ratios[1] + ratios[2];
  const share = ratios.map((x) => x / sum);
  const L = LABEL_NAMES.length;

  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const g = groups.get(r.sentence);
    if (g) g.push(i);
    else groups.set(r.sentence, [i]);
  });
  const rng = new Rng(opts.seed);
  const order = rng.shuffle([...groups.values()]);
  order.sort((a, b) => b.length - a.length); // stable: equal sizes keep their seeded order

  const totals = new Array<number>(L).fill(0);
  for (const r of rows) totals[labelIndex(r.r)]++;
  const target = share.map((s) => totals.map((n) => n * s));
  const counts = [0, 1, 2].map(() => new Array<number>(L).fill(0));
  const sizes = [0, 0, 0];
  const assign = new Array<number>(rows.length);

  for (const g of order) {
    const add = new Array<number>(L).fill(0);
    for (const i of g) add[labelIndex(rows[i].r)]++;
    let best = -1;
    let bestCost = Infinity;
    for (let s = 0; s < 3; s++) {
      if (share[s] === 0) continue;
      let cost = 0;
      for (let l = 0; l < L; l++) {
        if (add[l] === 0) continue;
        const before = counts[s][l] - target[s][l];
        const after = before + add[l];
        cost += (after * after - before * before) / Math.max(target[s][l], 1e-9);
      }
      // tie-break on how full the split is overall, then on split order
      const fill = sizes[s] / (share[s] * rows.length);
      if (cost < bestCost - 1e-12 || (Math.abs(cost - bestCost) <= 1e-12 && best >= 0 && fill < sizes[best] / (share[best] * rows.length))) {
        best = s;
        bestCost = cost;
      }
    }
    for (const i of g) assign[i] = best;
    for (let l = 0; l < L; l++) counts[best][l] += add[l];
    sizes[best] += g.length;
  }

  const out: Row[][] = [[], [], []];
  rows.forEach((r, i) => out[assign[i]].push(r));
  return { train: out[0], dev: out[1], test: out[2], source: opts.source ?? `split(seed=${opts.seed})` };
}

export interface OverlapPair {
  a: SplitName;
  b: SplitName;
  /** distinct sentences found in both splits */
  sentences: number;
  /** rows of a / of b whose sentence is in both */
  rowsA: number;
  rowsB: number;
  /** a few of the shared sentences (first 5, in a's order) */
  examples: string[];
}

export interface SplitOverlap {
  trainDev: OverlapPair;
  trainTest: OverlapPair;
  devTest: OverlapPair;
  /** true when any two splits share a sentence */
  any: boolean;
}

function overlap(ds: Dataset, a: SplitName, b: SplitName): OverlapPair {
  const inB = new Set(ds[b].map((r) => r.sentence));
  const inA = new Set(ds[a].map((r) => r.sentence));
  const shared: string[] = [];
  for (const s of inA) if (inB.has(s)) shared.push(s);
  const set = new Set(shared);
  return {
    a,
    b,
    sentences: shared.length,
    rowsA: ds[a].filter((r) => set.has(r.sentence)).length,
    rowsB: ds[b].filter((r) => set.has(r.sentence)).length,
    examples: shared.slice(0, 5),
  };
}

/** Sentences shared between splits (the study's own train and val share 767). */
export function splitOverlap(ds: Dataset): SplitOverlap {
  const trainDev = overlap(ds, "train", "dev");
  const trainTest = overlap(ds, "train", "test");
  const devTest = overlap(ds, "dev", "test");
  return { trainDev, trainTest, devTest, any: trainDev.sentences + trainTest.sentences + devTest.sentences > 0 };
}
