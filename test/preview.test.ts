/**
 * The decision-rule preview: the TypeScript rule against a hand computation, and the page's own script, driven in
 * headless Chromium, against the TypeScript rule on the same (embedded, 1e-4-rounded) probabilities.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng } from "../src/random";
import { rescoreDecision, decisionRuleMetrics, decisionPreviewHtml, quantizeProbs, weightVector, type ProbSplit } from "../src/report";
import { drivePreview } from "./preview-page";

const ROOT = path.resolve(__dirname, "..");
const SHOT = path.join(ROOT, "reports", "test", "decision-preview.png");

/** 10-class rows with mass on the first three classes only */
const pad = (xs: number[]): number[] => [...xs, ...new Array(10 - xs.length).fill(0)];
const HAND: ProbSplit = {
  gold: [1, 1, 2, 0],
  probs: [pad([0.5, 0.3, 0.2]), pad([0.4, 0.35, 0.25]), pad([0.2, 0.3, 0.5]), pad([0.6, 0.1, 0.3])],
};

test("rescoreDecision: argmax of w·p by hand, first class on a tie", () => {
  const ones = new Array(10).fill(1);
  assert.deepEqual(rescoreDecision(HAND.probs, ones), [0, 0, 2, 0]);
  // w1 = 1.5: row 1 is 0.4 vs 0.525 -> class 1; row 0 is 0.5 vs 0.45 -> stays 0
  const w = weightVector({ 药物治疗: 1.5 });
  assert.deepEqual(w, [1, 1.5, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(rescoreDecision(HAND.probs, w), [0, 1, 2, 0]);
  // 2 × 0.25 = 0.5 = 1 × 0.5 exactly: the first class wins
  assert.deepEqual(rescoreDecision([pad([0.25, 0.5, 0.25])], weightVector({ 临床表现: 2 })), [0]);
  assert.throws(() => rescoreDecision([[0.5, 0.5]], ones), /row 0 has 2 probabilities for 10 weights/);
  assert.throws(() => weightVector({ Complications: 2 }), /unknown label "Complications"/);
});

test("decisionRuleMetrics: per-class F1, Macro-F1 over all 10 classes and Micro-F1, by hand", () => {
  // w = 1: preds 0,0,2,0 -> F1 class0 = 2·1/(2·1+2+0) = 0.5, class1 = 0, class2 = 1; macro (0.5+0+1)/10, micro 2/4
  const base = decisionRuleMetrics(HAND, new Array(10).fill(1));
  assert.equal(base.per_class["临床表现"].f1, 0.5);
  assert.equal(base.per_class["药物治疗"].f1, 0);
  assert.equal(base.per_class["同义词"].f1, 1);
  assert.ok(Math.abs(base.macro_f1 - 0.15) < 1e-15);
  assert.equal(base.micro_f1, 0.5);
  // w1 = 1.5: preds 0,1,2,0 -> class0 2/3, class1 2/3, class2 1; macro (2/3+2/3+1)/10, micro 3/4
  const moved = decisionRuleMetrics(HAND, weightVector({ 药物治疗: 1.5 }));
  assert.ok(Math.abs(moved.per_class["临床表现"].f1 - 2 / 3) < 1e-15);
  assert.ok(Math.abs(moved.per_class["药物治疗"].f1 - 2 / 3) < 1e-15);
  assert.ok(Math.abs(moved.macro_f1 - (2 / 3 + 2 / 3 + 1) / 10) < 1e-15);
  assert.equal(moved.micro_f1, 0.75);
});

/** Random probability rows (a softmax of Gaussian-ish logits) and labels that agree with them most of the time. */
function synthetic(n: number, seed: number): ProbSplit {
  const rng = new Rng(seed);
  const gold: number[] = [];
  const probs: number[][] = [];
  for (let i = 0; i < n; i++) {
    const y = Math.floor(rng.next() * 10);
    const logits = Array.from({ length: 10 }, (_, c) => 3 * (rng.next() - 0.5) + (c === y ? 1.2 : 0));
    const e = logits.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    gold.push(y);
    probs.push(e.map((x) => x / s));
  }
  return { gold, probs };
}

test("the preview page in headless Chromium: moving sliders redraws F1 exactly as the TypeScript rule computes it", { timeout: 3 * 60_000 }, async () => {
  const splits = { test: synthetic(400, 1), dev: synthetic(150, 2) };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-preview-"));
  const page = path.join(dir, "preview.html");
  const code = 'classWeightPlayground({ settings: [{ name: "mine", weights: __WEIGHTS__ }] })';
  fs.writeFileSync(page, `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${decisionPreviewHtml({ splits, source: "a synthetic run", retrainCode: code })}</body></html>`);
  try {
    // 并发症 (4) up to 2^1.5 -> 2.83, 临床表现 (0) down to 2^-1 = 0.5
    const { before, after } = await drivePreview(page, { 4: 1.5, 0: -1 }, { screenshot: SHOT });
    const ones = new Array(10).fill(1);
    const w = [0.5, 1, 1, 1, 2.83, 1, 1, 1, 1, 1];
    assert.deepEqual(after.weights, w, "the weights shown");
    // what the page re-scores: the probabilities rounded to 1e-4
    const q = quantizeProbs(splits.test);
    const expectBefore = decisionRuleMetrics(q, ones);
    const expectAfter = decisionRuleMetrics(q, w);
    const f1 = (m: typeof expectAfter) => Object.values(m.per_class).map((c) => c.f1);
    const close = (a: number[], b: number[], what: string) => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-12, `${what}[${i}]: page ${x}, TypeScript ${b[i]}`));
    close(before.f1, f1(expectBefore), "F1 at w = 1");
    close(after.f1, f1(expectAfter), "F1 after the move");
    close([after.macro, after.micro], [expectAfter.macro_f1, expectAfter.micro_f1], "Macro/Micro-F1 after");
    assert.deepEqual(after.f1BaseText, f1(expectBefore).map((x) => (100 * x).toFixed(2)), "F1 at w = 1 as printed");
    assert.notEqual(after.macroText, before.macroText, "the Macro-F1 display changed");
    assert.equal(after.macroText, `${(100 * expectBefore.macro_f1).toFixed(2)} → ${(100 * expectAfter.macro_f1).toFixed(2)} (${(100 * (expectAfter.macro_f1 - expectBefore.macro_f1) >= 0 ? "+" : "")}${(100 * (expectAfter.macro_f1 - expectBefore.macro_f1)).toFixed(2)})`);
    assert.ok(after.f1[4] !== before.f1[4], "并发症's F1 moved");
    // the retraining call carries the chosen weights (weights of 1 left out)
    assert.equal(before.code, 'classWeightPlayground({ settings: [{ name: "mine", weights: {} }] })');
    assert.equal(after.code, 'classWeightPlayground({ settings: [{ name: "mine", weights: {"临床表现":0.5,"并发症":2.83} }] })');
    // the other split re-scores its own rows
    const dev = await drivePreview(page, { 8: 2 }, { split: "dev" });
    close(dev.after.f1, f1(decisionRuleMetrics(quantizeProbs(splits.dev), weightVector({ 相关: 4 }))), "dev split, 相关 ×4");
    assert.ok(fs.statSync(SHOT).size > 10_000, "screenshot written");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the preview opens on the selection split; the reported split is an explicit choice, marked as not for tuning", () => {
  const splits = { selection: synthetic(50, 5), test: synthetic(80, 6) };
  const html = decisionPreviewHtml({ splits, reported: "test", source: "x", retrainCode: "__WEIGHTS__", id: "p" });
  assert.match(html, /value="selection" checked> selection \(50 rows, where tuning belongs\)/);
  assert.match(html, /value="test"> test \(80 rows, the reported split: look, do not tune\)/);
  assert.throws(
    () => decisionPreviewHtml({ splits: { test: splits.test, selection: splits.selection }, reported: "test", source: "x", retrainCode: "" }),
    /the reported split "test" must not be the one shown first/,
  );
});

test("the preview embeds probabilities compactly: 1e-4 integers, well under a megabyte for a 1,500 + 300-row demo run", () => {
  const html = decisionPreviewHtml({ splits: { test: synthetic(1500, 3), dev: synthetic(300, 4) }, source: "x", retrainCode: "__WEIGHTS__" });
  assert.ok(html.length < 150_000, `${html.length} characters`);
  assert.ok(!/0\.\d{5,}/.test(html), "no long decimals embedded");
});
