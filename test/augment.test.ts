import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Rng } from "../src/random";
import type { Row } from "../src/data/types";
import { labelIndex, normalizeLabel, type Label } from "../src/data/labels";
import {
  augmentTrain,
  balancedSampler,
  buildEntityIndex,
  charNoise,
  chooseHardClasses,
  findMentions,
  mentionSpanIds,
  prioritySampler,
  quotaSampler,
  SamplerError,
  AugmentConfigError,
  studyBatchSampler,
  lengthAlignedSampler,
  substituteEntities,
  type BatchSampler,
} from "../src/augment";

const DATA = path.resolve(__dirname, "../../shared/data");

function readStudy(file: string): Row[] {
  return fs
    .readFileSync(path.join(DATA, file), "utf8")
    .split("\n")
    .filter((l) => l.trim().length > 0)
    .map((l) => {
      const o = JSON.parse(l) as { id: number | string; sentence: string; h: string; t: string; r: string };
      const r = normalizeLabel(o.r);
      if (!r) throw new Error(`${file}: unknown label ${o.r}`);
      return { id: String(o.id), sentence: o.sentence, h: o.h, t: o.t, r };
    });
}

/** n rows of each class in `counts` (class index -> count), class-major order */
function labelsOf(counts: readonly number[]): number[] {
  return counts.flatMap((n, c) => new Array<number>(n).fill(c));
}

function composition(batch: readonly number[], labels: readonly number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const i of batch) m.set(labels[i], (m.get(labels[i]) ?? 0) + 1);
  return m;
}

function drawCounts(batches: readonly number[][], n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const b of batches) for (const i of b) c[i]++;
  return c;
}

// ---------------- samplers ----------------

test("balanced sampler: 2 rows of each class per batch; 10×6 rows -> 3 batches, every row exactly once", () => {
  const labels = labelsOf(new Array(10).fill(6));
  const s = balancedSampler(labels, { perClass: 2 });
  const batches = s(0, new Rng(1));
  assert.equal(batches.length, 3); // ceil(60 / 20)
  for (const b of batches) {
    assert.equal(b.length, 20);
    const comp = composition(b, labels);
    assert.equal(comp.size, 10);
    for (const [, n] of comp) assert.equal(n, 2);
  }
  assert.deepEqual(drawCounts(batches, labels.length), new Array(60).fill(1));
});

test("balanced sampler, 'rows' epoch with reshuffle: 10×7 rows -> 4 batches, one row per class drawn twice, never twice in a batch", () => {
  const labels = labelsOf(new Array(10).fill(7));
  const sampler = balancedSampler(labels, { perClass: 2 });
  // the last batch straddles the reshuffle: without care a class would repeat a row in it (p = 1/7 per class)
  for (let seed = 0; seed < 20; seed++) {
    const batches = sampler(0, new Rng(seed));
    assert.equal(batches.length, 4); // ceil(70 / 20); 8 draws per class of 7 rows
    const counts = drawCounts(batches, labels.length);
    for (let c = 0; c < 10; c++) {
      const cls = counts.slice(c * 7, c * 7 + 7).sort();
      assert.deepEqual(cls, [1, 1, 1, 1, 1, 1, 2]);
    }
    for (const b of batches) assert.equal(new Set(b).size, b.length);
  }
});

test("priority sampler on the study's shape (10×700): composition 4/4/1…, epochs by rule", () => {
  const labels = labelsOf(new Array(10).fill(700));
  const hard = [4, 8];
  // the authors' epoch: stop when the first class runs out -> 700 / 4 = 175 batches
  const study = prioritySampler(labels, { hard, hardPerBatch: 4, otherPerBatch: 1, batches: "first_exhausted" })(0, new Rng(3));
  assert.equal(study.length, 175);
  for (const b of study) {
    assert.equal(b.length, 16);
    const comp = composition(b, labels);
    for (let c = 0; c < 10; c++) assert.equal(comp.get(c), hard.includes(c) ? 4 : 1);
  }
  const cs = drawCounts(study, labels.length);
  for (let c = 0; c < 10; c++) {
    const cls = cs.slice(c * 700, (c + 1) * 700);
    if (hard.includes(c)) assert.ok(cls.every((n) => n === 1), `hard class ${c} rows each once`);
    else {
      assert.equal(cls.filter((n) => n === 1).length, 175);
      assert.equal(cls.filter((n) => n === 0).length, 525);
    }
  }
  // default "rows": ceil(7000 / 16) = 438 batches; hard classes draw 1752 = 2·700 + 352
  const rows = prioritySampler(labels, { hard, hardPerBatch: 4, otherPerBatch: 1 })(0, new Rng(3));
  assert.equal(rows.length, 438);
  const cr = drawCounts(rows, labels.length);
  const hard4 = cr.slice(4 * 700, 5 * 700);
  assert.equal(hard4.filter((n) => n === 3).length, 352);
  assert.equal(hard4.filter((n) => n === 2).length, 348);
  const other0 = cr.slice(0, 700);
  assert.equal(other0.filter((n) => n === 1).length, 438);
  assert.equal(other0.filter((n) => n === 0).length, 262);
  // the balanced sampler on that shape: 350 batches either way
  assert.equal(balancedSampler(labels, { perClass: 2, batches: "first_exhausted" })(0, new Rng(1)).length, 350);
  assert.equal(balancedSampler(labels, { perClass: 2 })(0, new Rng(1)).length, 350);
});

test("quota sampler 'cover_all' on unbalanced classes: every row at least once, counts differ by ≤ 1 within a class", () => {
  const labels = labelsOf([10, 3, 5]);
  const s = quotaSampler(labels, { quota: { 0: 2, 1: 1, 2: 1 }, batches: "cover_all" });
  const batches = s(0, new Rng(11));
  assert.equal(batches.length, 5); // max(10/2, 3/1, 5/1)
  const c = drawCounts(batches, labels.length);
  assert.deepEqual(c.slice(0, 10), new Array(10).fill(1));
  assert.deepEqual(c.slice(10, 13).sort(), [1, 2, 2]);
  assert.deepEqual(c.slice(13), new Array(5).fill(1));
  for (const b of batches) assert.deepEqual([...composition(b, labels)].sort(), [[0, 2], [1, 1], [2, 1]]);
  // a fixed number of batches
  assert.equal(quotaSampler(labels, { quota: [1, 1, 1], batches: 9 })(0, new Rng(1)).length, 9);
});

test("samplers are deterministic by seed and differ across seeds", () => {
  const labels = labelsOf([9, 12, 7, 30]);
  const s = prioritySampler(labels, { hard: [2], hardPerBatch: 3, otherPerBatch: 1 });
  assert.deepEqual(s(0, new Rng(42)), s(0, new Rng(42)));
  assert.notDeepEqual(s(0, new Rng(42)), s(0, new Rng(43)));
});

test("sampler errors are typed and name the field", () => {
  const labels = labelsOf([5, 5]);
  assert.throws(() => prioritySampler(labels, { hard: [4], hardPerBatch: 4, otherPerBatch: 1 }), SamplerError);
  assert.throws(() => quotaSampler(labels, { quota: [6, 1], batches: "first_exhausted" }), /batches.*first_exhausted/);
  assert.throws(() => balancedSampler([0, -1], { perClass: 2 }), /labels\[1\]/);
  assert.throws(() => balancedSampler(labels, { perClass: 2 })(-1, new Rng(0)), /epoch/);
});

// ---------------- hard classes ----------------

test("chooseHardClasses: study default, lowest dev F1, lowest frequency (ties to the lower index)", () => {
  assert.deepEqual(chooseHardClasses(), [4, 8]);
  assert.deepEqual(chooseHardClasses({ rule: "study" }), [labelIndex("并发症"), labelIndex("相关（导致）")]);
  const f1 = [0.9, 0.8, 0.95, 0.7, 0.6, 0.99, 0.9, 0.85, 0.65, 0.97];
  assert.deepEqual(chooseHardClasses({ rule: "lowest_dev_f1", devPerClassF1: f1 }), [4, 8]);
  assert.deepEqual(chooseHardClasses({ rule: "lowest_dev_f1", devPerClassF1: f1, k: 3 }), [3, 4, 8]);
  // a map keyed by label, any accepted spelling (the slides' 相关)
  assert.deepEqual(chooseHardClasses({ rule: "lowest_dev_f1", devPerClassF1: { 相关: 0.5, 病因: 0.6, 同义词: 0.9 } }), [3, 8]);
  const train = [...labelsOf([5, 1, 5, 2, 5, 5, 5, 5, 5, 1])];
  assert.deepEqual(chooseHardClasses({ rule: "lowest_frequency", trainLabels: train }), [1, 9]);
  assert.deepEqual(chooseHardClasses({ rule: "lowest_frequency", trainLabels: train, k: 3 }), [1, 3, 9]);
  // balanced data: all tied -> lowest indices
  assert.deepEqual(chooseHardClasses({ rule: "lowest_frequency", trainLabels: labelsOf(new Array(10).fill(3)) }), [0, 1]);
  assert.throws(() => chooseHardClasses({ rule: "lowest_dev_f1" }), AugmentConfigError);
  assert.throws(() => chooseHardClasses({ rule: "lowest_frequency", trainLabels: ["并发症", "感冒"] }), /trainLabels\[1\]/);
});

// ---------------- strategies ----------------

const R = (id: string, sentence: string, h: string, t: string, r: Label, extra: Partial<Row> = {}): Row => ({
  id,
  sentence,
  h,
  t,
  r,
  ...extra,
});

const TRAIN: Row[] = [
  R("c1", "糖尿病@糖尿病患者易并发肾病，肾病需要早期治疗。", "糖尿病", "肾病", "并发症"),
  R("c2", "高血压可并发心力衰竭。", "高血压", "心力衰竭", "并发症"),
  R("c3", "肺炎可并发胸腔积液，需要引流。", "肺炎", "胸腔积液", "并发症"),
  R("c4", "糖尿病常并发糖尿病肾病。", "糖尿病", "糖尿病肾病", "并发症"),
  R("r1", "长期吸烟相关的慢性咳嗽很常见。", "慢性咳嗽", "吸烟", "相关（导致）"),
  R("r2", "饮酒可导致肝硬化。", "肝硬化", "饮酒", "相关（导致）"),
  R("r3", "肥胖与睡眠呼吸暂停相关。", "睡眠呼吸暂停", "肥胖", "相关（导致）"),
  R("k1", "感冒表现为发热、咳嗽。", "感冒", "发热", "临床表现"),
  R("k2", "胃炎的表现有腹痛。", "胃炎", "腹痛", "临床表现"),
];

function count(s: string, sub: string): number {
  return findMentions(s, sub).length;
}

test("entity substitution: same relation and role from TRAIN, every mention replaced, new h and t present", () => {
  const index = buildEntityIndex(TRAIN);
  const heads = new Set(TRAIN.filter((r) => r.r === "并发症").map((r) => r.h));
  const tails = new Set(TRAIN.filter((r) => r.r === "并发症").map((r) => r.t));
  const base = TRAIN[0];
  for (let seed = 0; seed < 50; seed++) {
    const res = substituteEntities(base, new Rng(seed), index, { roles: "both" });
    assert.ok(res.ok);
    const row = res.row;
    assert.ok(heads.has(row.h) && row.h !== base.h, `h from 并发症 heads: ${row.h}`);
    assert.ok(tails.has(row.t) && row.t !== base.t, `t from 并发症 tails: ${row.t}`);
    assert.ok(row.sentence.includes(row.h) && row.sentence.includes(row.t));
    // consistent: both mentions of each entity were replaced, nothing else changed
    // old entities survive only inside a new one (t = 糖尿病肾病 contains the old h 糖尿病)
    assert.equal(count(row.sentence, base.h), 2 * (count(row.h, base.h) + count(row.t, base.h)));
    assert.equal(count(row.sentence, base.t), 2 * (count(row.h, base.t) + count(row.t, base.t)));
    assert.equal(count(row.sentence, row.h), 2);
    assert.equal(count(row.sentence, row.t), 2);
    assert.equal(row.sentence, base.sentence.split(base.h).join(row.h).split(base.t).join(row.t));
    assert.equal(row.r, base.r);
    assert.equal(row.id, base.id);
  }
  // either: exactly one role changes
  const one = substituteEntities(base, new Rng(5), index);
  assert.ok(one.ok);
  assert.equal(Number(one.row.h !== base.h) + Number(one.row.t !== base.t), 1);
});

test("entity substitution: head inside the tail — mentions inside the tail stay, candidates never overlap the other entity", () => {
  const index = buildEntityIndex(TRAIN);
  const base = TRAIN[3]; // 糖尿病常并发糖尿病肾病。 h=糖尿病 t=糖尿病肾病
  for (let seed = 0; seed < 30; seed++) {
    const res = substituteEntities(base, new Rng(seed), index, { roles: "h" });
    assert.ok(res.ok);
    assert.equal(res.row.sentence, `${res.row.h}常并发糖尿病肾病。`);
    assert.ok(!res.row.t.includes(res.row.h) && res.row.h !== "糖尿病");
  }
  // 临床表现 has one other head in TRAIN, so the swap is forced
  const k = substituteEntities(TRAIN[7], new Rng(0), index, { roles: "h" });
  assert.ok(k.ok);
  assert.equal(k.row.sentence, "胃炎表现为发热、咳嗽。");
  // an entity absent from its sentence (CMeIE placeholder) cannot be substituted
  const ph = R("p", "可并发肾病。", "subject_placeholder", "肾病", "并发症");
  assert.deepEqual(substituteEntities(ph, new Rng(0), index, { roles: "h" }), { ok: false, reason: "not_applicable" });
  assert.ok(!buildEntityIndex([ph]).get("并发症", "h").some((e) => e.entity === "subject_placeholder"));
  // … but its other entity can; the placeholder stays
  const pt = substituteEntities(ph, new Rng(0), index);
  assert.ok(pt.ok);
  assert.equal(pt.row.h, "subject_placeholder");
  assert.equal(pt.row.sentence, `可并发${pt.row.t}。`);
  assert.notEqual(pt.row.t, "肾病");
  // h === t cannot become two different entities
  assert.deepEqual(substituteEntities(R("s", "肾病@肾病常见。", "肾病", "肾病", "并发症"), new Rng(0), index), { ok: false, reason: "not_applicable" });
});

test("entity substitution keeps types and only swaps for a candidate of the same type", () => {
  const typed: Row[] = [
    R("a", "甲病可并发乙症。", "甲病", "乙症", "并发症", { hType: "疾病", tType: "疾病" }),
    R("b", "丙病可并发丁症。", "丙病", "丁症", "并发症", { hType: "疾病", tType: "疾病" }),
    R("c", "戊病可并发己术。", "戊病", "己术", "并发症", { hType: "疾病", tType: "手术治疗" }),
  ];
  const index = buildEntityIndex(typed);
  for (let seed = 0; seed < 20; seed++) {
    const res = substituteEntities(typed[0], new Rng(seed), index, { roles: "t" });
    assert.ok(res.ok);
    assert.equal(res.row.t, "丁症");
    assert.equal(res.row.tType, "疾病");
    assert.equal(res.row.hType, "疾病");
  }
});

test("char noise never deletes, moves or splits an entity mention, and leaves non-Chinese characters alone", () => {
  const base = R("x", "糖尿病@糖尿病患者易并发肾病，肾病（CKD）需要早期治疗和长期随访，2型多见。", "糖尿病", "肾病", "并发症");
  const spanIds = mentionSpanIds(base.sentence, [base.h, base.t]);
  // the merged mention segments, in order
  const segs: string[] = [];
  spanIds.forEach((id, i) => {
    if (id === -1) return;
    if (segs.length === id) segs.push("");
    segs[id] += base.sentence[i];
  });
  assert.deepEqual(segs, ["糖尿病", "糖尿病", "肾病", "肾病"]);
  const nonHan = (s: string): string => s.replace(/[\u3400-\u4dbf\u4e00-\u9fff]/g, "");
  let changed = 0;
  for (let seed = 0; seed < 200; seed++) {
    for (const rate of [0.05, 0.5]) {
      const res = charNoise(base, new Rng(seed), { rate });
      if (!res.ok) {
        assert.equal(res.reason, "unchanged");
        continue;
      }
      changed++;
      const s = res.row.sentence;
      let from = 0;
      for (const seg of segs) {
        const at = s.indexOf(seg, from);
        assert.ok(at >= 0, `segment ${seg} kept in order in ${s}`);
        from = at + seg.length;
      }
      assert.ok(count(s, base.h) >= 2 && count(s, base.t) >= 2);
      assert.equal(nonHan(s), nonHan(base.sentence));
      assert.equal(res.row.h, base.h);
      assert.equal(res.row.t, base.t);
      const edits = Math.max(1, Math.round(rate * 25)); // 25 eligible Chinese characters
      assert.ok(Math.abs(s.length - base.sentence.length) <= edits);
    }
  }
  assert.ok(changed > 350);
  // a sentence made only of the mentions has nothing to perturb
  assert.deepEqual(charNoise(R("y", "肾病糖尿病", "糖尿病", "肾病", "并发症"), new Rng(0)), { ok: false, reason: "not_applicable" });
});

// ---------------- augmentTrain ----------------

test("multipliers give exact copy counts, ids ${id}#aug${k}, round robin over strategies", () => {
  const res = augmentTrain(
    TRAIN,
    { hardClasses: [], strategies: ["oversample"], multiplier: { 并发症: 2, 相关: 1 }, seed: 1 },
    { dev: [], test: [] },
  );
  assert.equal(res.report.addedPerClass["并发症"], 8);
  assert.equal(res.report.addedPerClass["相关（导致）"], 3);
  assert.equal(res.report.addedPerClass["临床表现"], 0);
  assert.equal(res.rows.length, TRAIN.length + 11);
  assert.deepEqual(res.rows.slice(0, TRAIN.length), TRAIN);
  const ids = res.rows.slice(TRAIN.length).map((r) => r.id);
  assert.deepEqual(ids, ["c1#aug1", "c1#aug2", "c2#aug1", "c2#aug2", "c3#aug1", "c3#aug2", "c4#aug1", "c4#aug2", "r1#aug1", "r2#aug1", "r3#aug1"]);
  assert.deepEqual(res.rows[TRAIN.length], { ...TRAIN[0], id: "c1#aug1" });

  // a numeric multiplier applies to the hard classes; 1.5 × 4 rows = 4 + 2 copies
  const frac = augmentTrain(TRAIN, { hardClasses: chooseHardClasses(), strategies: ["oversample"], multiplier: 1.5, seed: 3 }, { dev: [], test: [] });
  assert.equal(frac.report.requestedPerClass["并发症"], 6);
  assert.equal(frac.report.addedPerClass["并发症"], 6);
  assert.equal(frac.report.addedPerClass["相关（导致）"], 5); // 1.5 × 3 = 4.5 -> 3 + round(1.5) = 5
  assert.equal(frac.report.addedPerClass["临床表现"], 0);

  // two strategies, multiplier 2: each row gets one copy from each
  const rr = augmentTrain(TRAIN, { hardClasses: ["并发症"], strategies: ["oversample", "char_noise"], multiplier: 2, seed: 9 }, { dev: [], test: [] });
  assert.deepEqual(rr.report.added["并发症"], { oversample: 4, char_noise: 4 });
  assert.equal(rr.report.failedPerClass["并发症"], 0);
});

test("dev/test rows are untouched and no augmented sentence equals a dev/test sentence (constructed collisions)", () => {
  const train: Row[] = [
    R("a", "甲病可并发乙症。", "甲病", "乙症", "并发症"),
    R("b", "丙病可并发丁症。", "丙病", "丁症", "并发症"),
    R("c", "戊病是己症的病因。", "己症", "戊病", "病因"),
  ];
  // every substitution of a or b lands on one of these sentences
  const dev: Row[] = [R("d1", "丙病可并发乙症。", "丙病", "乙症", "并发症"), R("d2", "甲病可并发丁症。", "甲病", "丁症", "并发症", { hType: "疾病" })];
  // an exact copy of c would equal a test sentence; test also holds an entity no train row has
  const test_: Row[] = [R("t1", "戊病是己症的病因。", "己症", "戊病", "病因"), R("t2", "甲病可并发庚症。", "甲病", "庚症", "并发症")];
  const before = structuredClone({ dev, test: test_ });
  const sub = augmentTrain(train, { hardClasses: ["并发症"], strategies: ["entity_substitution"], multiplier: 1, seed: 0 }, { dev, test: test_ });
  assert.equal(sub.report.addedRows, 0);
  assert.equal(sub.report.rejected.dev_test_collision, 20); // 2 copies × 10 tries, every draw collides
  assert.equal(sub.report.failedPerClass["并发症"], 2);
  const over = augmentTrain(train, { hardClasses: [], strategies: ["oversample"], multiplier: { 病因: 3, 并发症: 1 }, seed: 0 }, { dev, test: test_ });
  assert.equal(over.report.addedPerClass["病因"], 0);
  assert.equal(over.report.rejected.dev_test_collision, 3); // an exact copy is not retried
  assert.equal(over.report.addedPerClass["并发症"], 2);
  // train-only: test's 庚症 is never used
  const noise = augmentTrain(train, { hardClasses: ["并发症", "病因"], strategies: ["char_noise", { kind: "pipeline", steps: ["entity_substitution", "char_noise"] }], multiplier: 4, seed: 5 }, { dev, test: test_ });
  const forbidden = new Set([...dev, ...test_].map((r) => r.sentence));
  // only the original train row c shares a test sentence; no augmented row does
  for (const r of [...sub.rows, ...over.rows, ...noise.rows]) assert.ok(!forbidden.has(r.sentence) || r === train[2]);
  assert.ok(noise.rows.every((r) => !r.sentence.includes("庚症")));
  assert.ok(noise.report.addedRows > 0);
  assert.deepEqual({ dev, test: test_ }, before);
});

test("augmentTrain is deterministic by seed, rejects unchanged/duplicate rows, and leaves train unmutated", () => {
  const before = structuredClone(TRAIN);
  const opts = { hardClasses: chooseHardClasses(), strategies: ["entity_substitution", "char_noise"] as const, multiplier: 3, seed: 17 };
  const a = augmentTrain(TRAIN, { ...opts, strategies: [...opts.strategies] }, { dev: [], test: [] });
  const b = augmentTrain(TRAIN, { ...opts, strategies: [...opts.strategies] }, { dev: [], test: [] });
  const c = augmentTrain(TRAIN, { ...opts, strategies: [...opts.strategies], seed: 18 }, { dev: [], test: [] });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.rows, c.rows);
  assert.deepEqual(TRAIN, before);
  // no two rows share (sentence, h, t): the 3-row 相关 class runs out of distinct substitutions
  const keys = a.rows.map((r) => `${r.sentence}|${r.h}|${r.t}`);
  assert.equal(new Set(keys).size, keys.length);
  assert.ok(a.report.rejected.duplicate > 0);
  assert.equal(a.report.addedRows + a.report.failedPerClass["并发症"] + a.report.failedPerClass["相关（导致）"], 21);
  assert.throws(() => augmentTrain(TRAIN, { ...opts, strategies: ["shuffle" as "oversample"] }, { dev: [], test: [] }), /strategies\[0\]/);
  assert.throws(() => augmentTrain(TRAIN, { ...opts, strategies: ["oversample"], multiplier: { 感冒: 1 } }, { dev: [], test: [] }), AugmentConfigError);
});

test("lengthAlignedSampler: the inner epoch's rows and class quotas, dealt out by length, a third of the padding gone", () => {
  // three classes, small ones, so pools reshuffle inside a chunk and the same row is drawn twice in it
  const labels = Array.from({ length: 90 }, (_, i) => (i < 50 ? 0 : i < 75 ? 1 : 2));
  const len = new Rng(3);
  const lengths = labels.map(() => 10 + Math.floor(len.next() * 140));
  const inner = quotaSampler(labels, { quota: [4, 2, 2], batches: 60 });
  const plain = inner(0, new Rng(7));
  const aligned = lengthAlignedSampler(inner, labels, lengths, 20)(0, new Rng(7));
  const counts = (bs: number[][]) => drawCounts(bs, labels.length);
  assert.deepEqual(counts(aligned), counts(plain), "every row drawn as often as the inner sampler draws it");
  for (const b of aligned) {
    assert.deepEqual([...composition(b, labels)].sort(), [[0, 4], [1, 2], [2, 2]]);
    assert.equal(new Set(b).size, b.length, `a row twice in one batch: ${b}`);
  }
  const padding = (bs: number[][]) => {
    const padded = bs.reduce((a, b) => a + b.length * Math.max(...b.map((r) => lengths[r])), 0);
    return 1 - bs.reduce((a, b) => a + b.reduce((x, r) => x + lengths[r], 0), 0) / padded;
  };
  assert.ok(padding(plain) > 0.3, `random balanced batches pad ${padding(plain)}`);
  assert.ok(padding(aligned) < 0.15, `aligned batches pad ${padding(aligned)}`);
  assert.throws(() => lengthAlignedSampler(inner, labels, lengths.slice(1)), /lengths/);
});

// ---------------- the study's real train split ----------------

test("study_train.jsonl: the study schedule's batches, and hard-class augmentation that never copies a val sentence", () => {
  const train = readStudy("study_train.jsonl");
  const val = readStudy("study_val.jsonl");
  assert.equal(train.length, 7000);
  const labels = train.map((r) => labelIndex(r.r));
  const sampler: BatchSampler = studyBatchSampler(labels);
  const rng = new Rng(2024);
  const e0 = sampler(0, rng);
  assert.equal(e0.length, 350);
  assert.deepEqual(drawCounts(e0, 7000), new Array(7000).fill(1));
  const e2 = sampler(2, rng);
  assert.equal(e2.length, 175);
  for (const b of e2.slice(0, 20)) assert.equal(composition(b, labels).get(4), 4);
  assert.equal(sampler(5, rng).length, 175); // later epochs stay on the priority stage

  const hard = chooseHardClasses({ rule: "study" });
  const valSentences = new Set(val.map((r) => r.sentence.trim()));
  // oversampling: every hard row copied once, except those whose sentence also occurs in val
  const over = augmentTrain(train, { hardClasses: hard, strategies: ["oversample"], multiplier: 1, seed: 0 }, { dev: val, test: [] });
  for (const l of ["并发症", "相关（导致）"] as const) {
    const shared = train.filter((r) => r.r === l && valSentences.has(r.sentence.trim())).length;
    assert.ok(shared > 0);
    assert.equal(over.report.addedPerClass[l], 700 - shared);
    assert.equal(over.report.rejected.dev_test_collision > 0, true);
  }

  const res = augmentTrain(
    train,
    { hardClasses: hard, strategies: ["entity_substitution", "char_noise"], multiplier: 1, seed: 1 },
    { dev: val, test: [] },
  );
  const added = res.rows.slice(7000);
  assert.equal(res.report.requestedPerClass["并发症"], 700);
  assert.equal(res.report.requestedPerClass["临床表现"], 0);
  assert.ok(res.report.addedPerClass["并发症"] > 600 && res.report.addedPerClass["相关（导致）"] > 600, JSON.stringify(res.report.addedPerClass));
  const byId = new Map(train.map((r) => [r.id, r]));
  for (const r of added) {
    assert.ok(!valSentences.has(r.sentence.trim()));
    assert.ok(r.r === "并发症" || r.r === "相关（导致）");
    const m = /^(.*)#aug1$/.exec(r.id);
    assert.ok(m, r.id);
    const src = byId.get(m[1])!;
    if (src.sentence.includes(src.h) && src.sentence.includes(src.t)) {
      assert.ok(r.sentence.includes(r.h) && r.sentence.includes(r.t), r.id);
    }
  }
});
