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

test("L-BFGS fit reproduces sklearn LogisticRegression(C=10) probabilities", () => {
  assert.deepEqual(fx.classes_present, [0, 1, 2, 3, 4]);
  const model = trainNgramBaseline(fx.train, { seed: 0, optimizer: "lbfgs", numClasses: 5, maxIter: 3000, tol: 1e-10 });
  const { probs, preds } = model.predict(fx.test);
  fx.test_probs.forEach((ref, i) => {
    for (let k = 0; k < 5; k++) {
      assert.ok(Math.abs(probs[i * 5 + k] - ref[k]) < 1e-4, `row ${i} class ${k}: ${probs[i * 5 + k]} vs sklearn ${ref[k]}`);
    }
    assert.equal(preds[i], ref.indexOf(Math.max(...ref)));
  });
});

test("bad inputs are rejected with a typed error", () => {
  assert.throws(() => trainNgramBaseline([], { seed: 1 }), NgramBaselineError);
  assert.throws(() => trainNgramBaseline([{ sentence: "a", h: "a", t: "b", r: "未知" }], { seed: 1 }), /row 0: field "r"/);
  assert.throws(() => trainNgramBaseline(fx.train, { seed: 1, C: 0 }), /C must be > 0/);
});

test("deterministic by seed; a different seed gives a different fit", () => {
  const a = trainNgramBaseline(fx.train, { seed: 3, numClasses: 5 }).predict(fx.test).probs;
  const b = trainNgramBaseline(fx.train, { seed: 3, numClasses: 5 }).predict(fx.test).probs;
  const c = trainNgramBaseline(fx.train, { seed: 4, numClasses: 5 }).predict(fx.test).probs;
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
