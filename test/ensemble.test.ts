/**
 * The models table's ensemble row on the shipped files (results/study): w = 1 and w = 0 give back the encoder's and the
 * n-gram's own shipped metrics, the chosen weight is no worse than either on the selection split, micro-F1 agrees with
 * scikit-learn (or a hand count without it), rows pair by id or the error names the file and row, and the row joins
 * the models table's readings.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { LABEL_NAMES } from "../src/data/labels";
import { metricsDifference } from "../src/metrics";
import { shippedCompactPredictions } from "../src/runs";
import { ENSEMBLE_VARIANT, NGRAM_VARIANT, PRETRAINED_VARIANT, STUDY_RESULTS_DIR, loadResults, tableComparisonLines } from "../src/experiments";
import { ENSEMBLE_WEIGHTS, blendMetrics, blendedPredictions, chooseWeight, pairById } from "../src/experiments/ensemble";

const models = loadResults("models", STUDY_RESULTS_DIR)!;
const run = (variant: string, seed: number) => models.runs.find((r) => r.variant === variant && r.config.seed === seed)!;

test("ensemble at w = 1 and w = 0 reproduces the encoder's and the n-gram's shipped dev metrics exactly (every seed)", () => {
  for (const seed of [0, 1, 2, 3, 4]) {
    const [enc, ng] = [run(PRETRAINED_VARIANT, seed), run(NGRAM_VARIANT, seed)];
    const pairs = pairById(shippedCompactPredictions(enc, "dev"), shippedCompactPredictions(ng, "dev"));
    assert.equal(pairs.length, 2000);
    assert.equal(metricsDifference(blendMetrics(pairs, 1), enc.metrics.dev, 0), undefined, `seed ${seed}, w = 1`);
    assert.equal(metricsDifference(blendMetrics(pairs, 0), ng.metrics.dev, 0), undefined, `seed ${seed}, w = 0`);
  }
});

test("the ensemble row: one record per seed, its weight chosen on the selection split, no worse there than either model alone", () => {
  const e = models.ensemble!;
  assert.equal(e.missing, undefined);
  assert.deepEqual(e.seeds.map((s) => s.seed), [0, 1, 2, 3, 4]);
  for (const s of e.seeds) {
    assert.ok(ENSEMBLE_WEIGHTS.includes(s.weight));
    const endpoints = [s.curve[0], s.curve[ENSEMBLE_WEIGHTS.length - 1]];
    assert.ok(s.selection.micro_f1 >= Math.max(...endpoints), `seed ${s.seed}: ${s.selection.micro_f1} < ${endpoints}`);
    assert.equal(s.curve[ENSEMBLE_WEIGHTS.indexOf(s.weight)], Math.max(...s.curve));
    // the encoder alone on the selection split is its shipped selection metrics: the curve's w = 1 end
    assert.equal(s.curve[ENSEMBLE_WEIGHTS.length - 1], run(PRETRAINED_VARIANT, s.seed).metrics.selection!.micro_f1);
    // the previous measurement: averaging the two gives about 85 micro-F1 on val
    assert.ok(s.metrics.micro_f1 > 0.84 && s.metrics.micro_f1 < 0.86, `seed ${s.seed}: dev micro-F1 ${s.metrics.micro_f1}`);
  }
  assert.ok(models.variants.includes(ENSEMBLE_VARIANT));
  assert.equal(models.records.filter((r) => r.variant === ENSEMBLE_VARIANT).length, 5);
});

test("the ensemble's dev micro-F1 agrees with scikit-learn's f1_score (or a hand count without it) on the shipped files", () => {
  const s = models.ensemble!.seeds[2];
  const [enc, ng] = [run(PRETRAINED_VARIANT, s.seed), run(NGRAM_VARIANT, s.seed)];
  const [a, b] = [enc, ng].map((r) => shippedCompactPredictions(r, "dev"));
  let sklearn = true;
  try {
    execFileSync("/usr/bin/python3", ["-c", "import sklearn"], { stdio: "ignore" });
  } catch {
    sklearn = false;
  }
  let micro: number;
  if (sklearn) {
    // written apart from ensemble.ts: pair by id, blend, argmax (a tie of the rounded probabilities to the heavier
    // model's own prediction, then the other's, then the first class), f1_score(average="micro")
    const py = [
      "import json, sys",
      "from sklearn.metrics import f1_score",
      "labels, w = json.loads(sys.argv[3]), float(sys.argv[4])",
      "a = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]",
      "b = {r['id']: r for r in (json.loads(l) for l in open(sys.argv[2]) if l.strip())}",
      "y, p = [], []",
      "for r in a:",
      "    q = b[r['id']]",
      "    s = [w * x + (1 - w) * z for x, z in zip(r['probs'], q['probs'])]",
      "    tied = [labels[c] for c, v in enumerate(s) if max(s) - v <= 1e-12]",
      "    order = [r['pred'], q['pred']] if w >= 0.5 else [q['pred'], r['pred']]",
      "    y.append(r['label'])",
      "    p.append(tied[0] if len(tied) == 1 else next((l for l in order if l in tied), tied[0]))",
      "print(repr(f1_score(y, p, average='micro')))",
    ].join("\n");
    micro = Number(execFileSync("/usr/bin/python3", ["-c", py, a.file, b.file, JSON.stringify(LABEL_NAMES), String(s.weight)]).toString());
  } else {
    // by hand: micro-F1 of single-label predictions over every class is the share of rows right
    const byId = new Map(b.rows.map((r) => [r.id, r]));
    const right = a.rows.filter((r) => {
      const q = byId.get(r.id)!;
      const p = r.probs.map((x, c) => s.weight * x + (1 - s.weight) * q.probs[c]);
      return LABEL_NAMES[p.indexOf(Math.max(...p))] === r.label;
    }).length;
    micro = right / a.rows.length;
  }
  assert.ok(Math.abs(micro - s.metrics.micro_f1) < 1e-12, `${sklearn ? "sklearn" : "by hand"} ${micro}, ensemble ${s.metrics.micro_f1}`);
});

test("rows pair by id: a missing id or a different gold label is an error naming the file and the row", () => {
  const row = (id: string, label: string) => ({ id, label, pred: label, probs: LABEL_NAMES.map((l) => (l === label ? 0.9 : 0.1 / 9)) });
  const [x, y] = [LABEL_NAMES[0], LABEL_NAMES[1]];
  const enc = { file: "/tmp/enc.jsonl", rows: [row("a", x), row("b", y)] };
  assert.throws(() => pairById(enc, { file: "/tmp/ng.jsonl", rows: [row("a", x), row("c", y)] }), /enc\.jsonl line 2: id b has no row in .*ng\.jsonl/);
  assert.throws(() => pairById(enc, { file: "/tmp/ng.jsonl", rows: [row("b", x), row("a", x)] }), /id b: gold .* in .*enc\.jsonl line 2, .* in .*ng\.jsonl line 1/);
  assert.throws(() => pairById(enc, { file: "/tmp/ng.jsonl", rows: [row("b", y), row("a", x), row("z", x)] }), /ng\.jsonl line 3: id z has no row in .*enc\.jsonl/);
  // paired by id, not by line: the same rows in another order blend as the same rows
  assert.deepEqual(blendedPredictions(pairById(enc, { file: "n", rows: [row("b", y), row("a", x)] }), 0.5), [0, 1]);
});

test("chooseWeight: the best selection micro-F1, ties to the weight nearest 0.5", () => {
  const [x, y] = [LABEL_NAMES[0], LABEL_NAMES[1]];
  const probs = (p0: number, p1: number) => LABEL_NAMES.map((_, c) => (c === 0 ? p0 : c === 1 ? p1 : 0));
  // both models agree and are right: every weight ties, so 0.5
  const same = [{ id: "a", label: x, pred: x, probs: probs(0.8, 0.2) }];
  assert.equal(chooseWeight(pairById({ file: "e", rows: same }, { file: "n", rows: same })).weight, 0.5);
  // the encoder right (0.6 vs 0.4), the n-gram wrong (0.15 vs 0.85): right while 0.6w + 0.15(1 − w) > 0.4w + 0.85(1 − w),
  // i.e. w > 7/9: the weights 0.8 … 1 score 1, and 0.8 is the one nearest 0.5
  const e = [{ id: "a", label: x, pred: x, probs: probs(0.6, 0.4) }];
  const n = [{ id: "a", label: x, pred: y, probs: probs(0.15, 0.85) }];
  const c = chooseWeight(pairById({ file: "e", rows: e }, { file: "n", rows: n }));
  assert.equal(c.weight, 0.8);
  assert.deepEqual(c.curve.map((m, i) => [ENSEMBLE_WEIGHTS[i], m]).filter(([, m]) => m === 1).map(([w]) => w), [0.8, 0.85, 0.9, 0.95, 1]);
});

test("the ensemble joins the models table's readings, paired with each of the two rows it averages", () => {
  const lines = tableComparisonLines("models", models.records, models.variants).filter((c) => c.b === ENSEMBLE_VARIANT);
  assert.deepEqual(lines.map((c) => [c.a, c.metric, c.test, c.seeds]), [
    [NGRAM_VARIANT, "Micro-F1", "paired", [5, 5]],
    [NGRAM_VARIANT, "Macro-F1", "paired", [5, 5]],
    [PRETRAINED_VARIANT, "Micro-F1", "paired", [5, 5]],
    [PRETRAINED_VARIANT, "Macro-F1", "paired", [5, 5]],
  ]);
  const vsNgram = lines[0];
  const bySeed = (v: string) => models.records.filter((r) => r.variant === v).sort((p, q) => p.seed - q.seed).map((r) => 100 * r.metrics.micro_f1);
  const diffs = bySeed(ENSEMBLE_VARIANT).map((m, i) => m - bySeed(NGRAM_VARIANT)[i]);
  assert.ok(Math.abs(vsNgram.diff - diffs.reduce((p, q) => p + q, 0) / 5) < 1e-9);
});
