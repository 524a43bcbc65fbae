import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { trainNgramBaseline, ngramText, NgramVectorizer, NgramBaselineError, outOfFoldNgramProbs, type NgramRow } from "../src/model/ngram";
import { labelIndex, normalizeLabel } from "../src/data/labels";
import { classificationMetrics } from "../src/metrics";

interface SparseRow { features: string[]; values: number[] }
const fx = JSON.parse(readFileSync(path.join(__dirname, "fixtures/metrics/ngram_sklearn.json"), "utf8")) as {
  train: NgramRow[];
  test: NgramRow[];
  field_sizes: number[];
  train_features: SparseRow[];
  test_features: SparseRow[];
  classes_present: number[];
  test_probs: number[][];
  class_weight: Record<string, number>;
  test_probs_weighted: number[][];
};

const DATA = path.resolve(__dirname, "../../shared/data");

function loadJsonl(file: string): NgramRow[] {
  return readFileSync(path.join(DATA, file), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const o = JSON.parse(l) as { sentence: string; h: string; t: string; r: string };
      return { sentence: o.sentence, h: o.h, t: o.t, r: o.r };
    });
}

function yOf(rows: NgramRow[]): number[] {
  return rows.map((r) => labelIndex(normalizeLabel(r.r!)!));
}

test("input text: every h bracketed, every t angle-bracketed, then h and t", () => {
  assert.equal(
    ngramText({ sentence: "肺炎@肺炎可引起发热，发热常见", h: "肺炎", t: "发热" }),
    "[肺炎]@[肺炎]可引起<发热>，<发热>常见 ‖ 肺炎 ‖ 发热",
  );
});

test("TF-IDF features match sklearn's three TfidfVectorizer(char, 1-3, sublinear) blocks", () => {
  const vec = new NgramVectorizer(1, 3);
  const Xtr = vec.fit(fx.train);
  assert.deepEqual(vec.fieldSizes, fx.field_sizes);
  const Xte = vec.transform(fx.test);
  const check = (X: typeof Xtr, rows: SparseRow[], what: string): void => {
    rows.forEach((ref, i) => {
      const names: string[] = [];
      const vals: number[] = [];
      for (let p = X.indptr[i]; p < X.indptr[i + 1]; p++) {
        names.push(vec.featureName(X.indices[p]));
        vals.push(X.values[p]);
      }
      assert.deepEqual(names, ref.features, `${what} row ${i} feature names`);
      vals.forEach((v, k) => assert.ok(Math.abs(v - ref.values[k]) < 1e-6, `${what} row ${i} ${names[k]}: ${v} vs ${ref.values[k]}`));
    });
  };
  check(Xtr, fx.train_features, "train");
  check(Xte, fx.test_features, "test");
});

/** L-BFGS fit to convergence on the fixture rows, compared class by class with sklearn's probabilities. */
function assertMatchesSklearn(refProbs: number[][], classWeights?: number[]): void {
  const model = trainNgramBaseline(fx.train, { seed: 0, optimizer: "lbfgs", maxIter: 3000, tol: 1e-10, classWeights });
  const { probs, preds } = model.predict(fx.test);
  refProbs.forEach((ref, i) => {
    for (let k = 0; k < 10; k++) {
      assert.ok(Math.abs(probs[i * 10 + k] - ref[k]) < 1e-4, `row ${i} class ${k}: ${probs[i * 10 + k]} vs sklearn ${ref[k]}`);
    }
    assert.equal(preds[i], ref.indexOf(Math.max(...ref)));
  });
}

// the hard-class weights of the fixture's second fit, as our per-class array
const HARD_WEIGHTS = Array.from({ length: 10 }, (_, k) => fx.class_weight[String(k)] ?? 1);

test("L-BFGS fit reproduces sklearn LogisticRegression(C=10) probabilities", () => {
  assert.deepEqual(fx.classes_present, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assertMatchesSklearn(fx.test_probs);
});

test("class-weighted L-BFGS fit reproduces sklearn LogisticRegression(C=10, class_weight={4: 2, 8: 2})", () => {
  assert.deepEqual(HARD_WEIGHTS, [1, 1, 1, 1, 2, 1, 1, 1, 2, 1]);
  // the weighted reference differs from the unweighted one by far more than the tolerance, so this checks the weights
  const gap = Math.max(...fx.test_probs_weighted.flatMap((row, i) => row.map((p, k) => Math.abs(p - fx.test_probs[i][k]))));
  assert.ok(gap > 0.05, `weighted vs unweighted sklearn gap ${gap}`);
  assertMatchesSklearn(fx.test_probs_weighted, HARD_WEIGHTS);
});

test("all-ones class weights give exactly the unweighted fit (both optimisers)", () => {
  const ones = new Array<number>(10).fill(1);
  for (const optimizer of ["adagrad", "lbfgs"] as const) {
    const plain = trainNgramBaseline(fx.train, { seed: 5, optimizer, maxIter: 20 });
    const weighted = trainNgramBaseline(fx.train, { seed: 5, optimizer, maxIter: 20, classWeights: ones });
    assert.deepEqual(weighted.weights, plain.weights, optimizer);
    assert.equal(weighted.info.finalLoss, plain.info.finalLoss, optimizer);
    assert.deepEqual(plain.options.classWeights, ones, "the default weights are recorded as all 1");
    const hard = trainNgramBaseline(fx.train, { seed: 5, optimizer, maxIter: 20, classWeights: HARD_WEIGHTS });
    assert.notDeepEqual(hard.weights, plain.weights, optimizer);
    assert.deepEqual(hard.options.classWeights, HARD_WEIGHTS);
  }
});

test("bad inputs are rejected with a typed error", () => {
  assert.throws(() => trainNgramBaseline([], { seed: 1 }), NgramBaselineError);
  assert.throws(() => trainNgramBaseline([{ sentence: "a", h: "a", t: "b", r: "未知" }], { seed: 1 }), /row 0: field "r"/);
  assert.throws(() => trainNgramBaseline(fx.train, { seed: 1, C: 0 }), /C must be > 0/);
  assert.throws(
    () => trainNgramBaseline(fx.train, { seed: 1, classWeights: [1, 2] }),
    (e: unknown) => e instanceof NgramBaselineError && e.message === "classWeights must have one weight per class (numClasses 10), got 2: [1, 2]",
  );
  for (const bad of [-1, NaN, Infinity]) {
    const w = new Array<number>(10).fill(1);
    w[8] = bad;
    assert.throws(
      () => trainNgramBaseline(fx.train, { seed: 1, classWeights: w }),
      (e: unknown) => e instanceof NgramBaselineError && e.message === `classWeights[8] must be a finite number >= 0, got ${bad}`,
    );
  }
  assert.throws(() => outOfFoldNgramProbs(fx.train, { seed: 1, folds: 2, classWeights: [1] }), /classWeights must have one weight per class/);
});

test("deterministic by seed; a different seed gives a different fit", () => {
  const a = trainNgramBaseline(fx.train, { seed: 3 }).predict(fx.test).probs;
  const b = trainNgramBaseline(fx.train, { seed: 3 }).predict(fx.test).probs;
  const c = trainNgramBaseline(fx.train, { seed: 4 }).predict(fx.test).probs;
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

// Measured (seed 1, default AdaGrad, 10 epochs): micro-F1 0.8435, macro-F1 0.8430 on study_val
// (sklearn reference 0.837 / 0.836); ~5-10 s on the 2-core machine.
test("real data: study_train -> study_val micro-F1 >= 0.80, seed-deterministic", () => {
  const train = loadJsonl("study_train.jsonl");
  const val = loadJsonl("study_val.jsonl");
  const t0 = Date.now();
  const model = trainNgramBaseline(train, { seed: 1 });
  const { preds, probs } = model.predict(val);
  const seconds = (Date.now() - t0) / 1000;
  const m = classificationMetrics(yOf(val), preds);
  console.log(`ngram baseline: micro-F1 ${m.micro_f1.toFixed(4)} macro-F1 ${m.macro_f1.toFixed(4)} in ${seconds.toFixed(1)} s, ${model.numFeatures} features`);
  assert.equal(model.numFeatures, 306301); // same vocabulary size as sklearn's three vectorisers
  assert.ok(m.micro_f1 >= 0.8, `micro-F1 ${m.micro_f1}`);
  assert.ok(m.macro_f1 >= 0.8, `macro-F1 ${m.macro_f1}`);
  assert.equal(probs.length, val.length * 10);
  for (let i = 0; i < 10; i++) {
    let s = 0;
    for (let k = 0; k < 10; k++) s += probs[i * 10 + k];
    assert.ok(Math.abs(s - 1) < 1e-5);
  }
  // same seed, same predictions (checked on a cheaper fit: 2,000 rows, 2 epochs)
  const p1 = trainNgramBaseline(train.slice(0, 2000), { seed: 9, maxIter: 2 }).predict(val.slice(0, 300)).probs;
  const p2 = trainNgramBaseline(train.slice(0, 2000), { seed: 9, maxIter: 2 }).predict(val.slice(0, 300)).probs;
  assert.deepEqual(p1, p2);
});

// Measured (every 3rd study_train row -> study_val, default AdaGrad): the mean probability of class 4 rises
// 0.1143 -> 0.1254 and of class 8 0.0914 -> 0.1021 with seed 1 (hard-class mass +0.0218; seeds 2 and 3:
// +0.0207, +0.0212); ~10-15 s for both fits on the shared 2-core machine.
test("AdaGrad: weighting classes 4 and 8 by 2 raises their held-out probability, seed-deterministically", () => {
  // every 3rd row: the file is ordered by label, a prefix would hold only a few classes
  const train = loadJsonl("study_train.jsonl").filter((_, i) => i % 3 === 0);
  const val = loadJsonl("study_val.jsonl");
  const meanProb = (probs: Float32Array, k: number): number => {
    let s = 0;
    for (let i = 0; i < val.length; i++) s += probs[i * 10 + k];
    return s / val.length;
  };
  const plain = trainNgramBaseline(train, { seed: 1 }).predict(val).probs;
  const hard = trainNgramBaseline(train, { seed: 1, classWeights: HARD_WEIGHTS }).predict(val).probs;
  const gain4 = meanProb(hard, 4) - meanProb(plain, 4);
  const gain8 = meanProb(hard, 8) - meanProb(plain, 8);
  console.log(`class 4: ${meanProb(plain, 4).toFixed(4)} -> ${meanProb(hard, 4).toFixed(4)}, class 8: ${meanProb(plain, 8).toFixed(4)} -> ${meanProb(hard, 8).toFixed(4)}, hard-class mass +${(gain4 + gain8).toFixed(4)}`);
  assert.ok(gain4 > 0.005, `class 4 mean probability gain ${gain4}`);
  assert.ok(gain8 > 0.005, `class 8 mean probability gain ${gain8}`);
  assert.ok(gain4 + gain8 > 0.01, `hard-class mass gain ${gain4 + gain8}`);
  // same seed, same weighted fit (a cheaper one: 2 epochs)
  const again = (): Float32Array => trainNgramBaseline(train, { seed: 1, maxIter: 2, classWeights: HARD_WEIGHTS }).predict(val.slice(0, 200)).probs;
  assert.deepEqual(again(), again());
});

test("out-of-fold teacher probabilities: each row scored by a model that never saw it (accuracy like held-out, not like in-sample)", () => {
  // every 3rd row: the file is ordered by label, a prefix would hold only a few classes
  const train = loadJsonl("study_train.jsonl").filter((_, i) => i % 3 === 0);
  const y = yOf(train);
  const acc = (probs: Float32Array): number => {
    let hit = 0;
    for (let i = 0; i < train.length; i++) {
      let best = 0;
      for (let k = 1; k < 10; k++) if (probs[i * 10 + k] > probs[i * 10 + best]) best = k;
      if (best === y[i]) hit++;
    }
    return hit / train.length;
  };
  const oof = outOfFoldNgramProbs(train, { seed: 2, folds: 4, maxIter: 3 });
  const inSample = trainNgramBaseline(train, { seed: 2, maxIter: 3 }).predict(train).probs;
  assert.equal(oof.length, train.length * 10);
  for (let i = 0; i < train.length; i += 97) {
    let s = 0;
    for (let k = 0; k < 10; k++) s += oof[i * 10 + k];
    assert.ok(Math.abs(s - 1) < 1e-5, `row ${i} sums to ${s}`);
  }
  const a = acc(oof);
  const b = acc(inSample);
  console.log(`out-of-fold accuracy ${a.toFixed(3)}, in-sample ${b.toFixed(3)}`);
  assert.ok(b > 0.97, `in-sample accuracy ${b}`);
  assert.ok(a > 0.6 && a < b - 0.1, `out-of-fold accuracy ${a} should be a held-out figure, well below in-sample ${b}`);
  assert.deepEqual(outOfFoldNgramProbs(train.slice(0, 300), { seed: 2, folds: 3, maxIter: 2 }), outOfFoldNgramProbs(train.slice(0, 300), { seed: 2, folds: 3, maxIter: 2 }));
  assert.throws(() => outOfFoldNgramProbs(train.slice(0, 10), { seed: 0, folds: 1 }), NgramBaselineError);
});
