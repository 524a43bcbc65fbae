/**
 * Non-neural baseline: character 1–3-gram TF-IDF + multinomial logistic regression, in plain
 * typed-array math (no tfjs), so every BERT number has a cheap floor beside it.
 *
 * Input text per row: "sentence with every h wrapped as [h] and every t as <t>" ‖ h ‖ t.
 * The three fields are vectorised separately (own n-gram namespace, own IDF, own l2 norm) and
 * concatenated, like scikit-learn's FeatureUnion of three TfidfVectorizer(analyzer="char",
 * ngram_range=(1,3), sublinear_tf=True). Keeping the fields apart matters: an n-gram of the head
 * entity is different evidence from the same n-gram in the sentence (one joined string scores about
 * 6 points lower on study_val).
 *
 * Objective: (1/N)·Σ_i w_{y_i}·cross-entropy_i + (1 / (2·C·N))·‖W‖², i.e. sklearn's
 * LogisticRegression(C, class_weight) objective scaled by 1/(C·N), intercept not penalised; the class
 * weights w default to 1. Two optimisers:
 *  - "adagrad" (default): per-row sparse AdaGrad over seeded shuffles, 10 epochs, a few seconds;
 *    on study_train → study_val it scores micro-F1 83.7–84.4 depending on the seed.
 *  - "lbfgs": full-batch L-BFGS from zero (seed-independent); at convergence it reproduces sklearn
 *    (micro 83.65 / macro 83.58) but needs ~130 iterations, about 100 s on 2 cores.
 */
import { labelIndex, normalizeLabel, NUM_LABELS } from "../data/labels";
import type { Row } from "../data/types";
import { Rng } from "../random";

/** Invalid baseline options or inputs (empty training set, unknown label, bad hyper-parameter). */
export class NgramBaselineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NgramBaselineError";
  }
}

/** What the baseline reads from a row; `r` (any accepted label spelling) only for training. */
export type NgramRow = Pick<Row, "sentence" | "h" | "t"> & { r?: string };

export interface NgramOptions {
  /** row order of each AdaGrad epoch; L-BFGS from zero does not depend on it */
  seed: number;
  /** inverse L2 strength, as sklearn's LogisticRegression(C); default 10 */
  C?: number;
  /** n-gram orders, default [1, 3] */
  ngramRange?: [number, number];
  /** default "adagrad" */
  optimizer?: "lbfgs" | "adagrad";
  /** AdaGrad epochs (default 10) or L-BFGS iterations (default 150) */
  maxIter?: number;
  /** L-BFGS: stop when max |gradient| falls below this; default 1e-5 */
  tol?: number;
  /** L-BFGS history length, default 7 */
  memory?: number;
  /** AdaGrad learning rate, default 0.5 */
  learningRate?: number;
  /** number of classes, default NUM_LABELS */
  numClasses?: number;
  /**
   * per-class loss weights (numClasses finite numbers >= 0, default all 1), as sklearn's
   * LogisticRegression(class_weight): each row's loss is multiplied by its label's weight, the L2 term
   * is not, so a distillation teacher can be fitted with the student's class weights
   */
  classWeights?: readonly number[];
  /** called after each iteration / epoch with the training objective */
  onIteration?: (iter: number, loss: number) => void;
}

/** The n-gram model's output on a set of rows (flat probabilities; an encoder's is train/inference ClassProbs). */
export interface NgramProbs {
  /** predicted class index per row */
  preds: number[];
  /** softmax probabilities, row-major [rows × numClasses] */
  probs: Float32Array;
}

export interface NgramTrainInfo {
  iterations: number;
  finalLoss: number;
  numFeatures: number;
  seconds: number;
}

/** The three text fields the baseline reads: marked sentence, head, tail. */
export function ngramFields(row: Pick<Row, "sentence" | "h" | "t">): [string, string, string] {
  const marked = row.sentence
    .split(row.h).join(`[${row.h}]`)
    .split(row.t).join(`<${row.t}>`);
  return [marked, row.h, row.t];
}

/** Human-readable form of the baseline's input, e.g. "…[h]…<t>… ‖ h ‖ t". */
export function ngramText(row: Pick<Row, "sentence" | "h" | "t">): string {
  return ngramFields(row).join(" ‖ ");
}

/** sklearn's char analyzer: lowercase, collapse whitespace, n-grams over code points. */
function charNgrams(text: string, lo: number, hi: number, out: Map<string, number>): void {
  const chars = Array.from(text.toLowerCase().replace(/\s\s+/g, " "));
  for (let n = lo; n <= hi; n++) {
    for (let i = 0; i + n <= chars.length; i++) {
      const g = n === 1 ? chars[i] : chars.slice(i, i + n).join("");
      out.set(g, (out.get(g) ?? 0) + 1);
    }
  }
}

/** Sparse rows in CSR form (column indices sorted within a row). */
export interface Csr {
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
  rows: number;
}

/**
 * Row r's class scores into z as exp(logit − max) (softmax numerators, overflow-safe); returns their sum.
 * Shared by the L-BFGS objective, the AdaGrad epochs and prediction.
 */
function expLogits(
  z: Float64Array,
  w: ArrayLike<number>,
  biasAt: number,
  K: number,
  indptr: ArrayLike<number>,
  indices: ArrayLike<number>,
  values: ArrayLike<number>,
  r: number,
): number {
  for (let k = 0; k < K; k++) z[k] = w[biasAt + k];
  for (let p = indptr[r]; p < indptr[r + 1]; p++) {
    const o = indices[p] * K;
    const v = values[p];
    for (let k = 0; k < K; k++) z[k] += v * w[o + k];
  }
  let max = -Infinity;
  for (let k = 0; k < K; k++) if (z[k] > max) max = z[k];
  let sum = 0;
  for (let k = 0; k < K; k++) {
    z[k] = Math.exp(z[k] - max);
    sum += z[k];
  }
  return sum;
}

/**
 * Per-field TF-IDF vocabularies fitted on training rows: the three fields' features are
 * concatenated (marked sentence, then h, then t), each field's vocabulary sorted like sklearn's.
 */
export class NgramVectorizer {
  private readonly vocab: Map<string, number>[] = [];
  private readonly terms: string[][] = [];
  private readonly offsets: number[] = [];
  private readonly idf: Float32Array[] = [];
  numFeatures = 0;

  constructor(private readonly lo: number, private readonly hi: number) {}

  /** "field:gram" for feature j, fields named s (marked sentence), h, t */
  featureName(j: number): string {
    for (let f = this.offsets.length - 1; f >= 0; f--) {
      if (j >= this.offsets[f]) {
        const g = this.terms[f][j - this.offsets[f]];
        if (g !== undefined) return `${"sht"[f]}:${g}`;
      }
    }
    throw new NgramBaselineError(`feature ${j} out of range`);
  }

  /** vocabulary size of each field */
  get fieldSizes(): number[] {
    return this.vocab.map((v) => v.size);
  }

  fit(rows: readonly NgramRow[]): Csr {
    const counts = rows.map((r) => ngramFields(r).map((f) => {
      const m = new Map<string, number>();
      charNgrams(f, this.lo, this.hi, m);
      return m;
    }));
    const numFields = 3;
    let offset = 0;
    for (let f = 0; f < numFields; f++) {
      // sorted vocabulary (like sklearn) so feature ids never depend on row order
      const terms = new Set<string>();
      for (const c of counts) for (const g of c[f].keys()) terms.add(g);
      const sorted = [...terms].sort();
      const vocab = new Map<string, number>();
      sorted.forEach((g, i) => vocab.set(g, i));
      const df = new Float64Array(sorted.length);
      for (const c of counts) for (const g of c[f].keys()) df[vocab.get(g)!]++;
      const idf = new Float32Array(sorted.length);
      const n = rows.length;
      // smooth_idf: ln((1 + n) / (1 + df)) + 1
      for (let i = 0; i < idf.length; i++) idf[i] = Math.log((1 + n) / (1 + df[i])) + 1;
      this.vocab.push(vocab);
      this.terms.push(sorted);
      this.idf.push(idf);
      this.offsets.push(offset);
      offset += sorted.length;
    }
    this.numFeatures = offset;
    return this.toCsr(counts);
  }

  transform(rows: readonly NgramRow[]): Csr {
    return this.toCsr(rows.map((r) => ngramFields(r).map((f) => {
      const m = new Map<string, number>();
      charNgrams(f, this.lo, this.hi, m);
      return m;
    })));
  }

  private toCsr(counts: Map<string, number>[][]): Csr {
    const indptr = new Int32Array(counts.length + 1);
    const idx: number[] = [];
    const val: number[] = [];
    counts.forEach((fields, r) => {
      fields.forEach((m, f) => {
        let norm = 0;
        const entries: [number, number][] = [];
        for (const [g, tf] of m) {
          const j = this.vocab[f].get(g);
          if (j === undefined) continue; // unseen n-gram: no feature, as in sklearn
          const w = (1 + Math.log(tf)) * this.idf[f][j]; // sublinear tf × idf
          entries.push([this.offsets[f] + j, w]);
          norm += w * w;
        }
        entries.sort((a, b) => a[0] - b[0]);
        const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0; // l2 per field
        for (const [j, w] of entries) {
          idx.push(j);
          val.push(w * inv);
        }
      });
      indptr[r + 1] = idx.length;
    });
    return { indptr, indices: Int32Array.from(idx), values: Float32Array.from(val), rows: counts.length };
  }
}

/**
 * Softmax regression objective on CSR rows. Weights are feature-major: W[j*K + k], bias after
 * them at [F*K + k], so a row's logits read contiguous runs of K numbers.
 */
class Objective {
  readonly dim: number;
  private readonly logits: Float64Array;

  constructor(
    private readonly X: Csr,
    private readonly y: Int32Array,
    private readonly K: number,
    private readonly F: number,
    private readonly lambda: number,
    private readonly classWeights: Float64Array,
  ) {
    this.dim = F * K + K;
    this.logits = new Float64Array(K);
  }

  /** loss, and its gradient written into g */
  eval(w: Float64Array, g: Float64Array): number {
    const { indptr, indices, values } = this.X;
    const K = this.K;
    const biasAt = this.F * K;
    const z = this.logits;
    g.fill(0);
    let loss = 0;
    const scale = 1 / this.X.rows;
    for (let r = 0; r < this.X.rows; r++) {
      const sum = expLogits(z, w, biasAt, K, indptr, indices, values, r);
      const yr = this.y[r];
      const wr = this.classWeights[yr];
      loss -= wr * Math.log(z[yr] / sum);
      for (let k = 0; k < K; k++) z[k] = (z[k] / sum - (k === yr ? 1 : 0)) * wr * scale; // dL/dlogit
      for (let k = 0; k < K; k++) g[biasAt + k] += z[k];
      for (let p = indptr[r]; p < indptr[r + 1]; p++) {
        const o = indices[p] * K;
        const v = values[p];
        for (let k = 0; k < K; k++) g[o + k] += v * z[k];
      }
    }
    loss *= scale;
    let reg = 0;
    for (let i = 0; i < biasAt; i++) {
      reg += w[i] * w[i];
      g[i] += this.lambda * w[i];
    }
    return loss + 0.5 * this.lambda * reg;
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m) m = v;
  }
  return m;
}

/** L-BFGS (two-loop recursion) with a backtracking Armijo line search. */
function lbfgs(obj: Objective, maxIter: number, tol: number, m: number, onIter?: (i: number, f: number) => void): { w: Float64Array; iters: number; loss: number } {
  const n = obj.dim;
  let w = new Float64Array(n);
  let g = new Float64Array(n);
  let f = obj.eval(w, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(n);
  let wNew = new Float64Array(n);
  let gNew = new Float64Array(n);
  const alpha = new Float64Array(m);
  let iter = 0;
  for (; iter < maxIter; iter++) {
    if (maxAbs(g) < tol) break;
    // d = -H g
    for (let i = 0; i < n; i++) d[i] = -g[i];
    for (let j = S.length - 1; j >= 0; j--) {
      alpha[j] = rho[j] * dot(S[j], d);
      const yj = Y[j];
      for (let i = 0; i < n; i++) d[i] -= alpha[j] * yj[i];
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const gamma = dot(S[last], Y[last]) / dot(Y[last], Y[last]);
      for (let i = 0; i < n; i++) d[i] *= gamma;
    }
    for (let j = 0; j < S.length; j++) {
      const beta = rho[j] * dot(Y[j], d);
      const sj = S[j];
      for (let i = 0; i < n; i++) d[i] += (alpha[j] - beta) * sj[i];
    }
    let gd = dot(g, d);
    if (gd >= 0) {
      // not a descent direction (stale curvature): restart from steepest descent
      S.length = 0; Y.length = 0; rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      gd = dot(g, d);
    }
    let step = S.length === 0 ? Math.min(1, 1 / Math.sqrt(-gd)) : 1;
    let fNew = NaN;
    for (let ls = 0; ls < 30; ls++) {
      for (let i = 0; i < n; i++) wNew[i] = w[i] + step * d[i];
      fNew = obj.eval(wNew, gNew);
      if (fNew <= f + 1e-4 * step * gd) break;
      step *= 0.5;
    }
    if (!(fNew < f)) break; // line search failed: at numerical optimum
    // reuse the oldest pair's buffers once the history is full
    const recycle = S.length === m;
    const s = recycle ? S.shift()! : new Float64Array(n);
    const yv = recycle ? Y.shift()! : new Float64Array(n);
    if (recycle) rho.shift();
    for (let i = 0; i < n; i++) {
      s[i] = wNew[i] - w[i];
      yv[i] = gNew[i] - g[i];
    }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      S.push(s); Y.push(yv); rho.push(1 / sy);
    }
    [w, wNew] = [wNew, w];
    [g, gNew] = [gNew, g];
    const rel = (f - fNew) / Math.max(Math.abs(f), 1e-12);
    f = fNew;
    onIter?.(iter + 1, f);
    if (rel < 1e-10) { iter++; break; }
  }
  return { w, iters: iter, loss: f };
}

/**
 * Per-row AdaGrad over seeded shuffles, touching only the weights of the row's n-grams, so an
 * epoch costs one pass over the non-zeros. The L2 gradient of feature j is applied only when a row
 * containing j is visited, scaled by N / df_j, so over an epoch each weight receives the full
 * objective's λ·w in expectation. A row's loss gradient (not that L2 share) is scaled by its class weight.
 */
function adagrad(X: Csr, y: Int32Array, K: number, F: number, lambda: number, classWeights: Float64Array, epochs: number, lr: number, rng: Rng, onIter?: (i: number, f: number) => void): { w: Float64Array; iters: number; loss: number } {
  const { indptr, indices, values } = X;
  const w = new Float64Array(F * K + K);
  const G = new Float64Array(F * K + K);
  const biasAt = F * K;
  const z = new Float64Array(K);
  const eps = 1e-8;
  const df = new Float64Array(F);
  for (let p = 0; p < indices.length; p++) df[indices[p]]++;
  const regAt = new Float64Array(F);
  for (let j = 0; j < F; j++) regAt[j] = df[j] > 0 ? (lambda * X.rows) / df[j] : 0;
  let loss = NaN;
  for (let e = 0; e < epochs; e++) {
    const order = rng.shuffle(Array.from({ length: X.rows }, (_, i) => i));
    let total = 0;
    for (const r of order) {
      const sum = expLogits(z, w, biasAt, K, indptr, indices, values, r);
      const yr = y[r];
      const wr = classWeights[yr];
      total -= wr * Math.log(z[yr] / sum);
      for (let k = 0; k < K; k++) z[k] = (z[k] / sum - (k === yr ? 1 : 0)) * wr;
      for (let k = 0; k < K; k++) {
        const g = z[k];
        G[biasAt + k] += g * g;
        w[biasAt + k] -= (lr * g) / (Math.sqrt(G[biasAt + k]) + eps);
      }
      for (let p = indptr[r]; p < indptr[r + 1]; p++) {
        const o = indices[p] * K;
        const v = values[p];
        const reg = regAt[indices[p]];
        for (let k = 0; k < K; k++) {
          const g = v * z[k] + reg * w[o + k];
          G[o + k] += g * g;
          w[o + k] -= (lr * g) / (Math.sqrt(G[o + k]) + eps);
        }
      }
    }
    loss = total / X.rows;
    onIter?.(e + 1, loss);
  }
  return { w, iters: epochs, loss };
}

export class NgramModel {
  constructor(
    readonly vectorizer: NgramVectorizer,
    /** feature-major weights [numFeatures × numClasses] then numClasses biases */
    readonly weights: Float32Array,
    readonly numClasses: number,
    readonly options: Readonly<Required<Pick<NgramOptions, "seed" | "C" | "ngramRange" | "optimizer" | "classWeights">>>,
    readonly info: NgramTrainInfo,
  ) {}

  get numFeatures(): number {
    return this.vectorizer.numFeatures;
  }

  predict(rows: readonly NgramRow[]): NgramProbs {
    const X = this.vectorizer.transform(rows);
    const K = this.numClasses;
    const W = this.weights;
    const biasAt = this.numFeatures * K;
    const probs = new Float32Array(X.rows * K);
    const preds: number[] = [];
    const z = new Float64Array(K);
    for (let r = 0; r < X.rows; r++) {
      const sum = expLogits(z, W, biasAt, K, X.indptr, X.indices, X.values, r);
      let best = 0;
      for (let k = 1; k < K; k++) if (z[k] > z[best]) best = k; // exp is monotonic: the logits' argmax
      for (let k = 0; k < K; k++) probs[r * K + k] = z[k] / sum;
      preds.push(best);
    }
    return { preds, probs };
  }
}

/** The per-class loss weights to fit with: all 1 when none are given, else K finite numbers >= 0. */
function checkedClassWeights(weights: readonly number[] | undefined, K: number): Float64Array {
  if (weights === undefined) return new Float64Array(K).fill(1);
  if (weights.length !== K) {
    throw new NgramBaselineError(`classWeights must have one weight per class (numClasses ${K}), got ${weights.length}: [${weights.join(", ")}]`);
  }
  weights.forEach((w, k) => {
    if (!(Number.isFinite(w) && w >= 0)) throw new NgramBaselineError(`classWeights[${k}] must be a finite number >= 0, got ${w}`);
  });
  return Float64Array.from(weights);
}

/** Fit the TF-IDF vocabulary and the logistic regression on labelled rows. */
export function trainNgramBaseline(rows: readonly NgramRow[], opts: NgramOptions): NgramModel {
  const t0 = Date.now();
  if (rows.length === 0) throw new NgramBaselineError("trainNgramBaseline: no training rows");
  const C = opts.C ?? 10;
  if (!(C > 0)) throw new NgramBaselineError(`C must be > 0, got ${C}`);
  const ngramRange = opts.ngramRange ?? [1, 3];
  if (!(ngramRange[0] >= 1 && ngramRange[1] >= ngramRange[0])) {
    throw new NgramBaselineError(`ngramRange must be [lo, hi] with 1 <= lo <= hi, got [${ngramRange}]`);
  }
  const optimizer = opts.optimizer ?? "adagrad";
  const K = opts.numClasses ?? NUM_LABELS;
  const classWeights = checkedClassWeights(opts.classWeights, K);
  const y = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    const label = r.r === undefined ? undefined : normalizeLabel(r.r);
    if (label === undefined) throw new NgramBaselineError(`training row ${i}: field "r" is not a known label (${String(r.r)})`);
    const c = labelIndex(label);
    if (c >= K) throw new NgramBaselineError(`training row ${i}: label index ${c} >= numClasses ${K}`);
    y[i] = c;
  });
  const vectorizer = new NgramVectorizer(ngramRange[0], ngramRange[1]);
  const X = vectorizer.fit(rows);
  const lambda = 1 / (C * rows.length);
  const fit = optimizer === "lbfgs"
    ? lbfgs(new Objective(X, y, K, vectorizer.numFeatures, lambda, classWeights), opts.maxIter ?? 150, opts.tol ?? 1e-5, opts.memory ?? 7, opts.onIteration)
    : adagrad(X, y, K, vectorizer.numFeatures, lambda, classWeights, opts.maxIter ?? 10, opts.learningRate ?? 0.5, new Rng(opts.seed), opts.onIteration);
  return new NgramModel(
    vectorizer,
    Float32Array.from(fit.w),
    K,
    { seed: opts.seed, C, ngramRange, optimizer, classWeights: Array.from(classWeights) },
    { iterations: fit.iters, finalLoss: fit.loss, numFeatures: vectorizer.numFeatures, seconds: (Date.now() - t0) / 1000 },
  );
}

/**
 * Cross-fitted ("out-of-fold") n-gram probabilities for every training row: the sentences are split into `folds`
 * random parts and each part's rows are scored by a model fitted on the others, so a distillation teacher never
 * scores a row it was trained on (in-sample probabilities would be near one-hot and teach nothing).
 * Row-major [rows × numClasses], in input order.
 */
export function outOfFoldNgramProbs(rows: readonly NgramRow[], opts: NgramOptions & { folds: number }): Float32Array {
  const { folds } = opts;
  if (!(Number.isInteger(folds) && folds >= 2 && folds <= rows.length)) {
    throw new NgramBaselineError(`folds must be an integer in [2, ${rows.length}], got ${folds}`);
  }
  const K = opts.numClasses ?? NUM_LABELS;
  // folds are drawn over distinct sentences: rows that share a sentence (other entity pairs of it) would
  // otherwise leak it into the teacher that scores them (4-fold on 2,000 study rows: 94.7% vs 84% held out)
  const sentences = [...new Set(rows.map((r) => r.sentence))];
  if (sentences.length < folds) throw new NgramBaselineError(`folds (${folds}) exceeds the ${sentences.length} distinct sentences`);
  const order = new Rng(opts.seed ^ 0x5f3759df).shuffle(sentences.map((_, i) => i));
  const foldOfSentence = new Map<string, number>();
  order.forEach((si, k) => foldOfSentence.set(sentences[si], k % folds));
  const foldOf = Int32Array.from(rows, (r) => foldOfSentence.get(r.sentence)!);
  const out = new Float32Array(rows.length * K);
  for (let f = 0; f < folds; f++) {
    const fitIdx: number[] = [];
    const outIdx: number[] = [];
    rows.forEach((_, i) => (foldOf[i] === f ? outIdx : fitIdx).push(i));
    const model = trainNgramBaseline(fitIdx.map((i) => rows[i]), opts);
    const { probs } = model.predict(outIdx.map((i) => rows[i]));
    outIdx.forEach((row, j) => out.set(probs.subarray(j * K, (j + 1) * K), row * K));
  }
  return out;
}
