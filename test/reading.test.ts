/** The computed readings in the notebooks: differences of means, their standard error, the noise verdict. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { compareVariants, formatComparison, rankVariants, type RunRecord } from "../src/report";
import { classificationMetrics } from "../src/metrics";

// a run whose macro-F1 is exactly `acc` on a balanced 10-class set of 100 rows: acc*100 rows right, spread evenly
function runWith(variant: string, seed: number, correctPerClass: number): RunRecord {
  const yTrue: number[] = [];
  const yPred: number[] = [];
  for (let c = 0; c < 10; c++) {
    for (let i = 0; i < 10; i++) {
      yTrue.push(c);
      yPred.push(i < correctPerClass ? c : (c + 1) % 10);
    }
  }
  return { variant, seed, metrics: classificationMetrics(yTrue, yPred) };
}

test("compareVariants: difference of means and its standard error, in points", () => {
  const recs = [runWith("A", 0, 6), runWith("A", 1, 7), runWith("A", 2, 8), runWith("B", 0, 9), runWith("B", 1, 9), runWith("B", 2, 9)];
  const c = compareVariants(recs, "A", "B", "Micro-F1");
  // A: 60, 70, 80 (mean 70, sd 10); B: 90, 90, 90 (sd 0) -> diff 20, SE sqrt(100/3) = 5.7735
  assert.ok(Math.abs(c.diff - 20) < 1e-9);
  assert.ok(Math.abs(c.se - Math.sqrt(100 / 3)) < 1e-9);
  assert.equal(c.beyondNoise, true);
  assert.match(formatComparison(c), /^B vs A: Micro-F1 \+20\.00 points \(SE 5\.77\), better, beyond seed noise/);
  const close = compareVariants([runWith("A", 0, 6), runWith("A", 1, 8), runWith("B", 0, 7), runWith("B", 1, 8)], "A", "B", "Micro-F1");
  assert.equal(close.beyondNoise, false, "5 points with SE 7.07 is within noise");
  assert.deepEqual(rankVariants(recs, "Micro-F1"), ["B 90.00 ± 0.00", "A 70.00 ± 10.00"]);
});

test("for the F1 range, lower is better", () => {
  const recs = [runWith("A", 0, 6), runWith("B", 0, 6)];
  assert.match(formatComparison({ ...compareVariants(recs, "A", "B", "F1 Range"), diff: -3 }), /better/);
});
