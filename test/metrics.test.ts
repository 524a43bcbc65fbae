import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  classificationMetrics,
  confusionMatrix,
  argmax,
  argmaxRows,
  MetricsInputError,
} from "../src/metrics";
import { LABEL_NAMES } from "../src/data/labels";
import { assertClose } from "./helpers";

interface SkCase {
  name: string;
  num_labels: number;
  zero_division: 0 | 1;
  y_true: number[];
  y_pred: number[];
  precision: number[];
  recall: number[];
  f1: number[];
  support: number[];
  macro_precision: number;
  macro_recall: number;
  macro_f1: number;
  micro_f1: number;
  accuracy: number;
  confusion: number[][];
}

const fixture = JSON.parse(
  readFileSync(path.join(__dirname, "fixtures/metrics/sklearn_cases.json"), "utf8"),
) as { sklearn_version: string; cases: SkCase[] };

const TOL = 1e-9;

test("fixture has the expected cases", () => {
  assert.ok(fixture.cases.length >= 10);
});

for (const c of fixture.cases) {
  test(`matches sklearn ${fixture.sklearn_version}: ${c.name}`, () => {
    const m = classificationMetrics(c.y_true, c.y_pred, {
      numLabels: c.num_labels,
      zeroDivision: c.zero_division,
    });
    const names = Object.keys(m.per_class);
    assert.equal(names.length, c.num_labels);
    if (c.num_labels === 10) assert.deepEqual(names, [...LABEL_NAMES]);
    names.forEach((name, k) => {
      const pc = m.per_class[name];
      assertClose(pc.precision, c.precision[k], TOL, `${name} precision`, "abs");
      assertClose(pc.recall, c.recall[k], TOL, `${name} recall`, "abs");
      assertClose(pc.f1, c.f1[k], TOL, `${name} f1`, "abs");
      assert.equal(pc.support, c.support[k], `${name} support`);
    });
    assertClose(m.macro_precision, c.macro_precision, TOL, "macro P", "abs");
    assertClose(m.macro_recall, c.macro_recall, TOL, "macro R", "abs");
    assertClose(m.macro_f1, c.macro_f1, TOL, "macro F1", "abs");
    assertClose(m.micro_f1, c.micro_f1, TOL, "micro F1", "abs");
    assertClose(m.accuracy, c.accuracy, TOL, "accuracy", "abs");
    assert.deepEqual(m.confusion, c.confusion);
    assert.equal(m.n, c.y_true.length);
    // f1_range over classes present in y_true
    const present = c.f1.filter((_, k) => c.support[k] > 0);
    assertClose(m.f1_range, Math.max(...present) - Math.min(...present), TOL, "f1_range", "abs");
  });
}

test("macro-F1 is the mean of per-class F1, not the F1 of macro P/R", () => {
  const c = fixture.cases.find((x) => x.name === "imbalanced_biased")!;
  const m = classificationMetrics(c.y_true, c.y_pred);
  const f1OfMacro = (2 * m.macro_precision * m.macro_recall) / (m.macro_precision + m.macro_recall);
  assert.ok(Math.abs(m.macro_f1 - f1OfMacro) > 1e-3, "case should distinguish the two definitions");
  assertClose(m.macro_f1, c.macro_f1, TOL, "macro F1", "abs");
});

test("zero-division convention by hand: default 0, option 1", () => {
  // class 2 never predicted and class 3 absent everywhere (3 classes used + 1 unused of 4)
  const yt = [0, 1, 2, 2];
  const yp = [0, 1, 0, 1];
  const m0 = classificationMetrics(yt, yp, { numLabels: 4 });
  assert.deepEqual(m0.per_class["2"], { precision: 0, recall: 0, f1: 0, support: 2 });
  assert.deepEqual(m0.per_class["3"], { precision: 0, recall: 0, f1: 0, support: 0 });
  assertClose(m0.per_class["0"].precision, 0.5, TOL, "P0", "abs");
  assertClose(m0.macro_f1, (2 / 3 + 2 / 3 + 0 + 0) / 4, TOL, "macro F1 zd0", "abs");
  const m1 = classificationMetrics(yt, yp, { numLabels: 4, zeroDivision: 1 });
  assert.deepEqual(m1.per_class["2"], { precision: 1, recall: 0, f1: 0, support: 2 });
  assert.deepEqual(m1.per_class["3"], { precision: 1, recall: 1, f1: 1, support: 0 });
  assertClose(m1.macro_f1, (2 / 3 + 2 / 3 + 0 + 1) / 4, TOL, "macro F1 zd1", "abs");
  // f1_range ignores class 3 (absent from y_true) but counts class 2
  assertClose(m0.f1_range, 2 / 3, TOL, "f1_range", "abs");
  assertClose(m0.accuracy, 0.5, TOL, "accuracy", "abs");
});

test("custom label names key per_class", () => {
  const m = classificationMetrics([0, 1, 1], [0, 1, 0], { labels: ["a", "b"] });
  assert.deepEqual(Object.keys(m.per_class), ["a", "b"]);
  assertClose(m.per_class.b.recall, 0.5, TOL, "recall b", "abs");
});

test("input validation names the problem", () => {
  assert.throws(() => classificationMetrics([0, 1], [0]), (e: unknown) =>
    e instanceof MetricsInputError && /length: 2 vs 1/.test(e.message));
  assert.throws(() => classificationMetrics([0, 10], [0, 1]), (e: unknown) =>
    e instanceof MetricsInputError && /yTrue\[1\] = 10/.test(e.message));
  assert.throws(() => classificationMetrics([0, 1], [0, -1]), /yPred\[1\] = -1/);
  assert.throws(() => classificationMetrics([0, 1.5], [0, 1]), /yTrue\[1\] = 1.5/);
  assert.throws(() => classificationMetrics([], []), /empty/);
  assert.throws(() => classificationMetrics([0], [0], { numLabels: 3, labels: ["a", "b"] }), /2 names/);
});

test("confusionMatrix rows = true, cols = pred", () => {
  assert.deepEqual(confusionMatrix([0, 0, 1, 2], [1, 0, 1, 1], 3), [
    [1, 1, 0],
    [0, 1, 0],
    [0, 1, 0],
  ]);
});

test("argmax helpers take the first maximum", () => {
  assert.equal(argmax([0.1, 0.7, 0.7, 0.2]), 1);
  assert.deepEqual(argmaxRows(new Float32Array([0.1, 0.9, 0.5, 0.2, 0.3, 0.3]), 2), [1, 0, 0]);
  assert.throws(() => argmaxRows([1, 2, 3], 2), MetricsInputError);
});
