/**
 * src/pretrain + src/model/mlm: the unlabeled corpus (texts only, deduplicated, no labels), whole-word masking
 * (rate, whole words, 80/10/10, markers never masked, determinism), the MLM head against a PyTorch fixture
 * (test/fixtures/pretrain/make_mlm_fixture.py), and a short pre-training run that lowers the loss, resumes
 * exactly and exports a folder the fine-tuning loader reads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { buildCharTokenizer, MARKER_TOKENS, RelationTokenizer } from "../src/encoding";
import { loadPretrained, shapeConfig, toStoredLayout } from "../src/model";
import { MlmHead, mlmCrossEntropy, mlmHeadShapes } from "../src/model/mlm";
import { Rng } from "../src/random";
import { buildCorpus, defaultCorpusSources, evaluationExclusions, formatCorpusReport, CorpusError } from "../src/pretrain/corpus";
import { loadRows, selectionSplit } from "../src/data";
import { buildExample, jiebaSegmenter, maskWholeWords, protectedIds, tokenizeWords } from "../src/pretrain/masking";
import { pretrainLr, REWARM_STEPS, runPretrain, type PretrainConfig } from "../src/pretrain/pretrain";
import { assertClose, PRETRAIN_SENTENCES as SENTENCES, tinyPretrainConfig } from "./helpers";

const ROOT = path.resolve(__dirname, "..");
const SHARED = path.resolve(ROOT, "../shared/data");
const hasShared = fs.existsSync(path.join(SHARED, "study_train.jsonl"));

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "medrel-pretrain-"));
}

function writeJsonl(file: string, rows: object[]): void {
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
}


test("corpus: texts only, deduplicated in file order, exclusions honoured and counted per file, labels never read", () => {
  const dir = tmpDir();
  const a = path.join(dir, "a.jsonl");
  const b = path.join(dir, "b.jsonl");
  writeJsonl(a, [
    { id: 0, sentence: SENTENCES[0], h: "食物中毒", t: "发热", r: "LABEL_SENTINEL_临床表现" },
    { id: 1, sentence: SENTENCES[1], h: "慢性肾病", t: "眼底检查", r: "LABEL_SENTINEL_影像学检查" },
    { id: 2, sentence: SENTENCES[0], h: "食物中毒", t: "腹痛", r: "LABEL_SENTINEL_临床表现" },
  ]);
  writeJsonl(b, [
    { text: SENTENCES[2], spo_list: [{ predicate: "LABEL_SENTINEL_药物治疗", subject: "糖尿病", object: { "@value": "胰岛素" } }] },
    { text: ` ${SENTENCES[1]} `, spo_list: [] },
    // the evaluation copy lost its spaces and has a half-width comma: the key still matches it
    { text: SENTENCES[3].replace("，", " , "), spo_list: [] },
  ]);
  const c = buildCorpus([{ file: a, field: "sentence" }, { file: b, field: "text" }], { exclude: [{ name: "val", texts: [SENTENCES[3]] }] });
  assert.deepEqual(c.texts, [SENTENCES[0], SENTENCES[1], SENTENCES[2]]);
  assert.equal(c.stats.duplicates, 2);
  assert.deepEqual(c.stats.files, [
    { file: "a.jsonl", lines: 3, kept: 2, removed: { val: 0 } },
    { file: "b.jsonl", lines: 3, kept: 1, removed: { val: 1 } },
  ]);
  assert.deepEqual(c.stats.excluded, { val: 1 });
  assert.ok(!c.texts.some((t) => t.includes("LABEL_SENTINEL")));
  assert.equal(c.stats.chars, [...SENTENCES[0], ...SENTENCES[1], ...SENTENCES[2]].length);
  assert.match(formatCorpusReport(c.stats), /b\.jsonl: 3 lines, 1 kept, removed 1 in val/);
  // a line without the field is an error naming file, line and field
  writeJsonl(b, [{ text: SENTENCES[2] }, { sentence: "x" }]);
  assert.throws(() => buildCorpus([{ file: b, field: "text" }]), (e: unknown) => e instanceof CorpusError && /b\.jsonl:2 \(text\)/.test(e.message));
});

test("corpus: the real corpus holds no sentence of val or of train's selection slice, and only those are removed", { skip: !hasShared }, () => {
  const c = buildCorpus(defaultCorpusSources(SHARED), { exclude: evaluationExclusions(SHARED) });
  const read = (f: string, k: string): string[] =>
    fs.readFileSync(path.join(SHARED, f), "utf8").split("\n").filter((l) => l.trim()).map((l) => (JSON.parse(l) as Record<string, string>)[k]);
  // an independent count: plain sets over NFKC, space-free, lower-case texts (the study's rows lost CMeIE's spaces)
  const key = (s: string): string => s.normalize("NFKC").replace(/\s/g, "").toLowerCase();
  const val = new Set(read("study_val.jsonl", "sentence").map(key));
  const train = read("study_train.jsonl", "sentence");
  const { selection } = selectionSplit(loadRows(path.join(SHARED, "study_train.jsonl"), { mode: "lenient" }).rows);
  const held = new Set([...val, ...selection.map((r) => key(r.sentence))]);
  const all = new Set([...train, ...read("CMeIE-V2_dev.jsonl", "text"), ...read("CMeIE-V2_test_unlabeled.jsonl", "text")].map(key));
  assert.equal(val.size, 1816);
  assert.equal(c.stats.texts, [...all].filter((k) => !held.has(k)).length);
  assert.ok(c.texts.every((t) => !held.has(key(t))), "an evaluation sentence reached the corpus");
  assert.equal(c.stats.excluded["study_val.jsonl"], 1816);
  // CMeIE dev carries 360 of the val sentences once spaces are ignored (89 byte-for-byte)
  assert.equal(c.stats.files.find((f) => f.file === "CMeIE-V2_dev.jsonl")?.removed["study_val.jsonl"], 360);
  const labels = new Set(read("study_train.jsonl", "r"));
  assert.ok(![...labels].some((l) => c.texts.includes(l)), "a label string is a corpus text");
});

function fixtureTokenizer(): RelationTokenizer {
  return buildCharTokenizer(SENTENCES);
}

test("masking: ≈15% of words, whole words together, 80/10/10, markers and specials never chosen, deterministic by seed", () => {
  const tok = fixtureTokenizer();
  const cut = jiebaSegmenter();
  const words = SENTENCES.map((s) => tokenizeWords(tok, cut(s)));
  assert.ok(words[0].some((w) => w.length > 1), "jieba found multi-character words");
  const prot = protectedIds(tok);
  const vocab = { maskId: tok.maskId, vocabSize: tok.vocabSize, protected: prot };
  const markerIds = new Set(MARKER_TOKENS.map((m) => tok.markerId(m)));
  let chosenWords = 0;
  let eligibleWords = 0;
  const kinds = { mask: 0, random: 0, same: 0 };
  const rng = new Rng(123);
  let markersSeen = 0;
  for (let it = 0; it < 600; it++) {
    const w = words[it % words.length];
    const ex = buildExample(tok, w, 64, rng, { markerProb: 1 });
    assert.ok(ex.ids.length <= 64);
    assert.equal(ex.ids[0], tok.clsId);
    assert.equal(ex.ids[ex.ids.length - 1], tok.sepId);
    markersSeen += ex.ids.filter((id) => markerIds.has(id)).length;
    const m = maskWholeWords(ex, rng, vocab);
    chosenWords += m.maskedWords;
    eligibleWords += m.words;
    // whole words: a word is predicted at all of its positions or at none
    const byWord = new Map<number, boolean[]>();
    ex.wordIds.forEach((wid, i) => {
      if (wid < 0) return;
      byWord.set(wid, [...(byWord.get(wid) ?? []), m.labels[i] !== -100]);
    });
    for (const flags of byWord.values()) assert.ok(flags.every((f) => f === flags[0]), "a word was partly masked");
    for (const p of m.positions) {
      assert.ok(!prot.has(ex.ids[p]), "a special or marker token was chosen");
      assert.equal(m.labels[p], ex.ids[p]);
      if (m.inputIds[p] === tok.maskId) kinds.mask++;
      else if (m.inputIds[p] === ex.ids[p]) kinds.same++;
      else {
        kinds.random++;
        assert.ok(!prot.has(m.inputIds[p]) && m.inputIds[p] < tok.vocabSize);
      }
    }
    // unchosen positions are untouched
    ex.ids.forEach((id, i) => {
      if (m.labels[i] === -100) assert.equal(m.inputIds[i], id);
    });
  }
  assert.equal(markersSeen, 600 * 4, "markerProb 1 wraps two words in every example");
  const rate = chosenWords / eligibleWords;
  assert.ok(Math.abs(rate - 0.15) < 0.01, `word masking rate ${rate}`);
  const n = kinds.mask + kinds.random + kinds.same;
  assert.ok(Math.abs(kinds.mask / n - 0.8) < 0.03, `[MASK] share ${kinds.mask / n}`);
  assert.ok(Math.abs(kinds.random / n - 0.1) < 0.025, `random share ${kinds.random / n}`);
  assert.ok(Math.abs(kinds.same / n - 0.1) < 0.025, `kept share ${kinds.same / n} (random replacements may hit the same id rarely)`);

  const once = (seed: number) => {
    const r = new Rng(seed);
    return maskWholeWords(buildExample(tok, words[3], 64, r, { markerProb: 0.5 }), r, vocab);
  };
  assert.deepEqual(once(5), once(5));
  assert.notDeepEqual([1, 2, 3, 4].map(once), [1, 2, 3, 4].map((s) => once(s + 100)));
});

test("masking: a long text becomes a window of whole words within maxLength", () => {
  const tok = fixtureTokenizer();
  const words = tokenizeWords(tok, jiebaSegmenter()(SENTENCES.join("")));
  const total = words.reduce((a, w) => a + w.length, 0);
  assert.ok(total > 100);
  const ex = buildExample(tok, words, 24, new Rng(1));
  assert.ok(ex.ids.length <= 24 && ex.ids.length > 2, `window of ${ex.ids.length}`);
  // the window is a run of complete words: its tokens are words[start..start+k) for some start
  const k = new Set(ex.wordIds.filter((w) => w >= 0)).size;
  const body = JSON.stringify(ex.ids.slice(1, -1));
  assert.ok(words.some((_, start) => JSON.stringify(words.slice(start, start + k).flat()) === body), "not a whole-word window");
});

test("MLM head (cls.predictions.*, tied decoder) matches PyTorch: logits, loss, gradients", () => {
  const fx = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/pretrain/mlm_head.json"), "utf8")) as {
    N: number; H: number; V: number; hidden: number[]; labels: number[]; params: Record<string, number[]>; logits: number[]; loss: number; grads: Record<string, number[]>;
  };
  const config = { ...shapeConfig("tiny", fx.V), hidden_size: fx.H };
  assert.deepEqual([...mlmHeadShapes(config).keys()], Object.keys(fx.params).filter((k) => k.startsWith("cls.")));
  const head = new MlmHead(config, 0);
  for (const [k, v] of head.params) {
    const hf = mlmHeadShapes(config).get(k)!;
    v.assign(tf.tensor(toStoredLayout(k, hf, Float32Array.from(fx.params[k])), v.shape));
  }
  const emb = tf.variable(tf.tensor2d(fx.params["bert.embeddings.word_embeddings.weight"], [fx.V, fx.H]));
  const hidden = tf.tensor2d(fx.hidden, [fx.N, fx.H]);
  const labels = tf.tensor1d(fx.labels, "int32");
  const logits = head.logits(hidden, emb);
  assertClose(logits.dataSync(), fx.logits, 1e-4, "logits", "abs");
  const vars = [emb, ...head.params.values()];
  const { value, grads } = tf.variableGrads(() => mlmCrossEntropy(head.logits(hidden, emb), labels), vars);
  assert.ok(Math.abs(value.dataSync()[0] - fx.loss) < 1e-5, `loss ${value.dataSync()[0]} vs ${fx.loss}`);
  assertClose(grads[emb.name].dataSync(), fx.grads["bert.embeddings.word_embeddings.weight"], 1e-5, "d emb", "abs");
  const dw = grads[head.params.get("cls.predictions.transform.dense.weight")!.name];
  assertClose(toStoredLayout("cls.predictions.transform.dense.weight", [fx.H, fx.H], Float32Array.from(fx.grads["cls.predictions.transform.dense.weight"])), [...dw.dataSync()], 1e-5, "d dense", "abs");
  assertClose(grads[head.params.get("cls.predictions.bias")!.name].dataSync(), fx.grads["cls.predictions.bias"], 1e-5, "d bias", "abs");
  head.dispose();
  tf.dispose([emb, hidden, labels, logits, value, ...Object.values(grads)]);
});

test("pretrainLr: linear warmup then linear decay to 0", () => {
  const c = { lr: 1e-3, warmupRatio: 0.1, totalSteps: 100 };
  assert.equal(pretrainLr(c, 0), 1e-4);
  assert.equal(pretrainLr(c, 9), 1e-3);
  assert.ok(Math.abs(pretrainLr(c, 55) - 0.5e-3) < 1e-12);
  assert.equal(pretrainLr(c, 100), 0);
});

test("pre-training: a few steps lower the MLM loss; a killed run resumes exactly; the export loads for fine-tuning", async () => {
  const texts: string[] = [];
  const rng = new Rng(9);
  for (let i = 0; i < 64; i++) texts.push(SENTENCES[i % SENTENCES.length].slice(rng.int(6)));
  const cfg: PretrainConfig = tinyPretrainConfig({ totalSteps: 40 });
  const quiet = { log: () => undefined };
  const a = tmpDir();
  const full = await runPretrain(cfg, texts, a, quiet);
  const curve = full.state.curve;
  assert.equal(full.state.step, 40);
  const V = full.tokenizer.vocabSize;
  // from about uniform (ln V) to clearly below it
  assert.ok(Math.abs(curve[0].loss - Math.log(V)) < 0.5, `first loss ${curve[0].loss} vs ln V ${Math.log(V)}`);
  assert.ok(curve[curve.length - 1].loss < curve[0].loss - 0.3, `MLM loss ${curve[0].loss} -> ${curve[curve.length - 1].loss}`);

  // the same run killed after 20 steps, then re-run: it continues and ends on the same curve
  const c = tmpDir();
  const part = await runPretrain(cfg, texts, c, { ...quiet, stopAtStep: 20 });
  assert.equal(part.state.step, 20);
  part.dispose();
  const resumed = await runPretrain(cfg, texts, c, quiet);
  assert.equal(resumed.state.step, 40);
  resumed.state.curve.forEach((p, i) => {
    if (p.step <= 20) return;
    assert.ok(Math.abs(p.loss - curve[i].loss) < 2e-3, `step ${p.step}: resumed ${p.loss} vs straight ${curve[i].loss}`);
  });
  assert.deepEqual(resumed.state.stages, [{ fromStep: 0, plannedSteps: 40 }], "a resumed run with the same --steps is one stage");
  resumed.dispose();

  // extending a finished run: a second stage with its own linear decay from the step reached
  const extended = await runPretrain({ ...cfg, totalSteps: 50 }, texts, c, quiet);
  assert.equal(extended.state.step, 50);
  assert.deepEqual(extended.state.stages, [{ fromStep: 0, plannedSteps: 40 }, { fromStep: 40, plannedSteps: 50 }]);
  const lr41 = extended.state.curve.find((p) => p.step === 45)!.lr;
  assert.ok(Math.abs(lr41 - pretrainLr({ ...cfg, totalSteps: 50 }, 44)) < 1e-9, `stage 2 follows the 50-step schedule (lr ${lr41})`);
  extended.dispose();

  const out = path.join(a, "export");
  await full.export(out);
  const tok = RelationTokenizer.fromDir(out);
  assert.deepEqual(MARKER_TOKENS.map((m) => tok.markerId(m)), [5, 6, 7, 8, 9, 10, 11, 12]);
  const loaded = await loadPretrained(out, { numLabels: 10, pooling: "entity_start", seed: 0, vocabSize: tok.vocabSize });
  assert.deepEqual(loaded.missingKeys.sort(), ["bert.pooler.dense.bias", "bert.pooler.dense.weight", "classifier.bias", "classifier.weight"]);
  assert.deepEqual(loaded.unexpectedKeys.sort(), [...mlmHeadShapes(loaded.config).keys()].sort());
  const w = loaded.model.params.get("bert.encoder.layer.0.attention.self.query.weight")!.dataSync();
  const w0 = full.model.params.get("bert.encoder.layer.0.attention.self.query.weight")!.dataSync();
  for (let i = 0; i < w.length; i += 97) assert.ok(Math.abs(w[i] - w0[i]) <= Math.abs(w0[i]) * 1e-3 + 1e-4, "F16 export round trip");
  const csv = fs.readFileSync(path.join(out, "curve.csv"), "utf8").trim().split("\n");
  assert.equal(csv.length, 1 + 40 / 5);
  loaded.model.dispose();

  // continuing the export (--init-from): same weights and progress as exported, fresh moments, lr ramped up again
  const cont = await runPretrain({ ...cfg, totalSteps: 60 }, texts, tmpDir(), { ...quiet, initFrom: { dir: out, recreate: "npm run pretrain -- --steps 40" } });
  assert.equal(cont.state.step, 60);
  assert.deepEqual(cont.state.stages, [{ fromStep: 40, plannedSteps: 60, freshOptimizer: true }]);
  assert.deepEqual(cont.state.initFrom?.recreate, "npm run pretrain -- --steps 40");
  assert.deepEqual(cont.state.curve.slice(0, 8), curve, "the exported curve is continued, not restarted");
  const lr45 = cont.state.curve.find((p) => p.step === 45)!.lr;
  assert.ok(Math.abs(lr45 - (pretrainLr({ ...cfg, totalSteps: 60 }, 44) * 5) / REWARM_STEPS) < 1e-12, `lr ramps up after the reset (lr ${lr45})`);
  // it starts from the exported weights: its first losses sit near the exported run's last, far below ln V
  const firstCont = cont.state.curve[8].loss;
  assert.ok(firstCont < curve[0].loss - 0.3, `continued loss ${firstCont} vs fresh ${curve[0].loss}`);
  await assert.rejects(
    runPretrain({ ...cfg, totalSteps: 40 }, texts, tmpDir(), { ...quiet, initFrom: { dir: out, recreate: "x" } }),
    /it is at step 40; --steps must be larger/,
  );
  await assert.rejects(
    runPretrain({ ...cfg, shape: { ...cfg.shape, hidden: 48 }, totalSteps: 60 }, texts, tmpDir(), { ...quiet, initFrom: { dir: out, recreate: "x" } }),
    /config\.json: hidden_size is 32, the pre-training shape has 48/,
  );
  cont.dispose();
  full.dispose();
});
