/**
 * src/model: config validation, construction/init, forward behaviour (masking, dropout seeding), the weight
 * readers' rarer paths, checkpoint round trips and the error messages a user sees. Numerical parity with
 * PyTorch is test/parity.test.ts.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { zipSync } from "fflate";
import { initBackend } from "../src/backend/select";
import { LABELS } from "../src/data/labels";
import {
  BertForRelationClassification,
  type BertConfig,
  hfParamShapes,
  loadCheckpoint,
  loadPretrained,
  MissingFileError,
  ModelConfigError,
  ModelInputError,
  type ModelInputs,
  normalizeHfKey,
  parseConfig,
  shapeConfig,
  SHAPES,
  PytorchSource,
  SafetensorsSource,
  saveCheckpoint,
  ShapeMismatchError,
  toHfLayout,
  UnsupportedModelError,
  VocabSizeError,
  WeightsFormatError,
  writeSafetensors,
  type HostTensor,
} from "../src/model";
import { fixtureInputs, maxAbsDiff, type FixtureBatch } from "./helpers";

const FIXTURE = path.join(__dirname, "fixtures/parity");
const CLS_DIR = path.join(FIXTURE, "cls");
const ES_DIR = path.join(FIXTURE, "entity_start");
const LEGACY_DIR = path.join(FIXTURE, "legacy");
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, "expected.json"), "utf8")) as {
  batch: FixtureBatch;
  cases: Array<{ logits: { data: number[] } }>;
  reader: { values: Record<string, number[]>; shapes: Record<string, number[]>; dtypes: Record<string, string> };
};

const TINY: BertConfig = {
  ...shapeConfig("tiny", 50),
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 32,
  max_position_embeddings: 24,
};

const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-model-"));
  tmpDirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function batch(ids: number[][], mask?: number[][], head = [1, 1], tail = [2, 2]): ModelInputs {
  const m = mask ?? ids.map((r) => r.map(() => 1));
  return {
    inputIds: tf.tensor2d(ids, undefined, "int32"),
    tokenTypeIds: tf.zeros([ids.length, ids[0].length], "int32") as tf.Tensor2D,
    attentionMask: tf.tensor2d(m, undefined, "int32"),
    headPos: tf.tensor1d(head.slice(0, ids.length), "int32"),
    tailPos: tf.tensor1d(tail.slice(0, ids.length), "int32"),
  };
}

function logitsOf(model: BertForRelationClassification, x: ModelInputs, training = false, dropoutSeed?: number): Float32Array {
  return tf.tidy(() => model.forward(x, { training, dropoutSeed }).logits.dataSync() as Float32Array);
}


function copyDir(src: string): string {
  const dst = tmpDir();
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dst, f));
  return dst;
}

before(async () => {
  await initBackend({ verbose: false });
});

// ---- config ------------------------------------------------------------------------------------

test("presets have the documented shapes", () => {
  assert.deepEqual(
    [SHAPES.tiny.num_hidden_layers, SHAPES.tiny.hidden_size, SHAPES.tiny.num_attention_heads, SHAPES.tiny.intermediate_size, SHAPES.tiny.max_position_embeddings],
    [2, 128, 2, 512, 128],
  );
  assert.deepEqual(
    [SHAPES.small.num_hidden_layers, SHAPES.small.hidden_size, SHAPES.small.num_attention_heads, SHAPES.small.intermediate_size, SHAPES.small.max_position_embeddings],
    [4, 256, 4, 1024, 512],
  );
  const b = SHAPES.base;
  assert.deepEqual(
    [b.num_hidden_layers, b.hidden_size, b.num_attention_heads, b.intermediate_size, b.vocab_size, b.max_position_embeddings, b.type_vocab_size],
    [12, 768, 12, 3072, 21128, 512, 2],
  );
  const c = shapeConfig("small", 21132);
  assert.equal(c.vocab_size, 21132);
  assert.equal(SHAPES.small.vocab_size, 21128, "shapeConfig returns a copy");
  for (const name of ["tiny", "small", "base"] as const) assert.deepEqual(parseConfig(SHAPES[name], "preset"), SHAPES[name]);
});

test("parseConfig: defaults, and errors that name the file and the field", () => {
  const minimal = { vocab_size: 100, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64 };
  const c = parseConfig(minimal, "a/config.json");
  assert.equal(c.layer_norm_eps, 1e-12);
  assert.equal(c.hidden_act, "gelu");
  assert.equal(c.type_vocab_size, 2);
  assert.equal(c.max_position_embeddings, 512);

  const bad = (json: unknown, cls: new (...a: never[]) => Error, re: RegExp): void => {
    assert.throws(() => parseConfig(json, "dir/config.json"), (e: unknown) => e instanceof cls && re.test((e as Error).message), `expected ${re}`);
  };
  const { hidden_size: _h, ...noHidden } = minimal;
  bad(noHidden, ModelConfigError, /dir\/config\.json: field "hidden_size"/);
  bad({ ...minimal, vocab_size: "big" }, ModelConfigError, /field "vocab_size".*got "big"/);
  bad({ ...minimal, num_attention_heads: 5 }, ModelConfigError, /field "num_attention_heads".*not a multiple/);
  bad({ ...minimal, model_type: "gpt2" }, UnsupportedModelError, /field "model_type": "gpt2" is not supported: GPT-2 is a causal decoder/);
  bad({ ...minimal, model_type: "roberta" }, UnsupportedModelError, /"roberta".*offset position ids by padding_idx \+ 1/);
  bad({ ...minimal, architectures: ["RobertaForMaskedLM"] }, UnsupportedModelError, /field "architectures": "RobertaForMaskedLM".*position ids/);
  bad({ ...minimal, hidden_act: "relu" }, UnsupportedModelError, /field "hidden_act": "relu" is not supported/);
  bad({ ...minimal, position_embedding_type: "relative_key" }, UnsupportedModelError, /position_embedding_type/);
  bad([1, 2], ModelConfigError, /expected a JSON object/);
  assert.equal(parseConfig({ ...minimal, hidden_act: "gelu_new", architectures: ["BertForMaskedLM"] }, "x").hidden_act, "gelu_new");
});

// ---- construction ------------------------------------------------------------------------------

test("parameters: HF keys, Linear weights stored [in, out], HF-like seeded init", () => {
  const m = new BertForRelationClassification(TINY, { numLabels: 10, pooling: "cls", seed: 7 });
  const hf = hfParamShapes(TINY, 10, "cls");
  assert.deepEqual([...m.params.keys()], [...hf.keys()]);
  assert.equal(m.params.size, 5 + 16 * TINY.num_hidden_layers + 4);
  const q = m.params.get("bert.encoder.layer.0.attention.self.query.weight")!;
  assert.deepEqual(q.shape, [16, 16]);
  assert.deepEqual(m.params.get("bert.encoder.layer.1.intermediate.dense.weight")!.shape, [16, 32], "stored [in=H, out=I]; HF is [I, H]");
  assert.deepEqual(hf.get("bert.encoder.layer.1.intermediate.dense.weight"), [32, 16]);
  assert.deepEqual(m.params.get("classifier.weight")!.shape, [16, 10]);
  assert.deepEqual(m.params.get("bert.embeddings.word_embeddings.weight")!.shape, [50, 16], "embeddings not transposed");

  const word = m.params.get("bert.embeddings.word_embeddings.weight")!.dataSync();
  assert.ok(word.slice(0, 16).every((v) => v === 0), "pad_token_id row is zero");
  let s = 0;
  let s2 = 0;
  for (let i = 16; i < word.length; i++) (s += word[i]), (s2 += word[i] * word[i]);
  const n = word.length - 16;
  const std = Math.sqrt(s2 / n - (s / n) ** 2);
  assert.ok(Math.abs(std - 0.02) < 0.002 && Math.abs(s / n) < 0.002, `normal(0, 0.02): std ${std}, mean ${s / n}`);
  assert.ok(m.params.get("bert.embeddings.LayerNorm.weight")!.dataSync().every((v) => v === 1));
  assert.ok(m.params.get("bert.encoder.layer.0.output.dense.bias")!.dataSync().every((v) => v === 0));

  const same = new BertForRelationClassification(TINY, { numLabels: 10, pooling: "cls", seed: 7 });
  const other = new BertForRelationClassification(TINY, { numLabels: 10, pooling: "cls", seed: 8 });
  assert.deepEqual(q.dataSync(), same.params.get("bert.encoder.layer.0.attention.self.query.weight")!.dataSync(), "same seed, same init");
  assert.notDeepEqual(q.dataSync(), other.params.get("bert.encoder.layer.0.attention.self.query.weight")!.dataSync());
  assert.equal(m.trainableVariables().length, m.params.size, "cls: every parameter trains");
  for (const x of [m, same, other]) x.dispose();

  const es = new BertForRelationClassification(TINY, { numLabels: 3, pooling: "entity_start", seed: 1 });
  assert.deepEqual(es.params.get("classifier.weight")!.shape, [32, 3], "entity_start classifier is Linear(2H -> numLabels)");
  assert.equal(es.trainableVariables().length, es.params.size - 2, "entity_start: pooler kept but not trained");
  es.dispose();
});

// ---- forward -----------------------------------------------------------------------------------

test("forward: shapes, padding does not change a sequence's outputs, entity_start reads headPos/tailPos", () => {
  for (const pooling of ["cls", "entity_start"] as const) {
    const m = new BertForRelationClassification({ ...TINY, initializer_range: 0.3 }, { numLabels: 4, pooling, seed: 3 });
    const short = batch([[2, 7, 9, 11, 3]], undefined, [1], [3]);
    const padded = batch([[2, 7, 9, 11, 3, 0, 0, 0]], [[1, 1, 1, 1, 1, 0, 0, 0]], [1], [3]);
    const out = m.forward(padded, { training: false });
    assert.deepEqual(out.logits.shape, [1, 4]);
    assert.deepEqual(out.lastHiddenState.shape, [1, 8, 16]);
    const d = maxAbsDiff(logitsOf(m, short), out.logits.dataSync());
    assert.ok(d < 1e-5, `${pooling}: padding changed logits by ${d}`);
    tf.dispose(out);
    if (pooling === "entity_start") {
      const moved = batch([[2, 7, 9, 11, 3]], undefined, [2], [3]);
      assert.ok(maxAbsDiff(logitsOf(m, short), logitsOf(m, moved)) > 1e-4, "headPos matters");
    }
    m.dispose();
  }
});

test("entity_span pooling: logits = classifier([h_head; h_tail; mean(head span); mean(tail span)]), padding-invariant, ends required", () => {
  const m = new BertForRelationClassification({ ...TINY, initializer_range: 0.3 }, { numLabels: 3, pooling: "entity_span", seed: 5 });
  assert.deepEqual(m.params.get("classifier.weight")!.shape, [64, 3], "entity_span classifier is Linear(4H -> numLabels)");
  assert.equal(m.trainableVariables().length, m.params.size - 2, "entity_span: pooler kept but not trained");
  const ids = [[2, 7, 9, 11, 3, 5, 6]];
  const x = { ...batch(ids, undefined, [1], [4]), headEnd: tf.tensor1d([4], "int32"), tailEnd: tf.tensor1d([7], "int32") };
  const out = m.forward(x, { training: false });
  const hs = out.lastHiddenState.arraySync()[0];
  const H = 16;
  const mean = (a: number, b: number): number[] => Array.from({ length: H }, (_, k) => hs.slice(a, b).reduce((s, r) => s + r[k], 0) / (b - a));
  const feats = [...hs[1], ...hs[4], ...mean(1, 4), ...mean(4, 7)];
  const W = m.params.get("classifier.weight")!.arraySync() as number[][]; // stored [in, out]
  const bias = m.params.get("classifier.bias")!.dataSync();
  const want = [0, 1, 2].map((c) => bias[c] + feats.reduce((s, f, i) => s + f * W[i][c], 0));
  assert.ok(maxAbsDiff(out.logits.dataSync(), want) < 1e-4, `logits differ from the manual pooling by ${maxAbsDiff(out.logits.dataSync(), want)}`);
  // padding the sequence leaves the span means unchanged
  const padded = { ...batch([[...ids[0], 0, 0]], [[1, 1, 1, 1, 1, 1, 1, 0, 0]], [1], [4]), headEnd: tf.tensor1d([4], "int32"), tailEnd: tf.tensor1d([7], "int32") };
  assert.ok(maxAbsDiff(logitsOf(m, padded), out.logits.dataSync()) < 1e-5, "padding changed entity_span logits");
  // a wider head span changes the logits (the mean is really read)
  const wider = { ...batch(ids, undefined, [1], [4]), headEnd: tf.tensor1d([5], "int32"), tailEnd: tf.tensor1d([7], "int32") };
  assert.ok(maxAbsDiff(logitsOf(m, wider), out.logits.dataSync()) > 1e-4, "headEnd matters");
  assert.throws(() => m.forward(batch(ids, undefined, [1], [4]), { training: false }), (e: unknown) => e instanceof ModelInputError && /headEnd/.test((e as Error).message));
  const bad = { ...batch(ids, undefined, [1], [4]), headEnd: tf.tensor1d([1], "int32"), tailEnd: tf.tensor1d([7], "int32") };
  assert.throws(() => m.forward(bad, { training: false }), (e: unknown) => e instanceof ModelInputError && /headEnd.*outside \(1, 7\]/.test((e as Error).message));
  tf.dispose(out);
  m.dispose();
});

test("dropout: off in eval, reproducible per dropoutSeed, different across seeds and steps", () => {
  const m = new BertForRelationClassification({ ...TINY, initializer_range: 0.3 }, { numLabels: 4, pooling: "entity_start", seed: 3 });
  const x = batch([
    [2, 7, 9, 11, 3, 5],
    [2, 8, 8, 4, 3, 0],
  ]);
  const evalA = logitsOf(m, x);
  assert.deepEqual(logitsOf(m, x), evalA, "eval is deterministic");
  const a = logitsOf(m, x, true, 42);
  assert.deepEqual(logitsOf(m, x, true, 42), a, "same dropoutSeed, same masks");
  assert.ok(maxAbsDiff(logitsOf(m, x, true, 43), a) > 1e-4, "another seed, other masks");
  assert.ok(maxAbsDiff(a, evalA) > 1e-4, "training applies dropout");
  // without dropoutSeed: a per-model step counter, so two identical models draw identical mask sequences
  const m2 = new BertForRelationClassification({ ...TINY, initializer_range: 0.3 }, { numLabels: 4, pooling: "entity_start", seed: 3 });
  const m3 = new BertForRelationClassification({ ...TINY, initializer_range: 0.3 }, { numLabels: 4, pooling: "entity_start", seed: 3 });
  const s2 = [logitsOf(m2, x, true), logitsOf(m2, x, true)];
  const s3 = [logitsOf(m3, x, true), logitsOf(m3, x, true)];
  assert.ok(maxAbsDiff(s2[0], s2[1]) > 1e-4, "successive steps draw new masks");
  assert.deepEqual(s3, s2, "reproducible from the model seed");
  m3.dispose();
  m.dispose();
  m2.dispose();
});

test("forward rejects bad inputs with the field named", () => {
  const m = new BertForRelationClassification(TINY, { numLabels: 2, pooling: "entity_start", seed: 1 });
  const bad = (x: ModelInputs, re: RegExp): void => {
    assert.throws(() => m.forward(x, { training: false }), (e: unknown) => e instanceof ModelInputError && re.test((e as Error).message));
  };
  bad(batch([[2, 99, 3]]), /"inputIds".*99.*outside \[0, 50\)/);
  bad(batch([[2, 5, 3]], undefined, [3], [1]), /"headPos".*3.*outside \[0, 3\)/);
  bad(batch([Array.from({ length: 25 }, () => 1)]), /length 25 exceeds max_position_embeddings 24/);
  const x = batch([[2, 5, 3]]);
  bad({ ...x, attentionMask: tf.ones([1, 4], "int32") as tf.Tensor2D }, /"attentionMask": expected shape \[1, 3\]/);
  bad({ ...x, inputIds: tf.tensor2d([[2, 5, 3]], undefined, "float32") }, /"inputIds": expected dtype int32/);
  m.dispose();
});

test("a base-shaped model (L=12, H=768, V=21128) constructs and runs a B=2, T=16 forward", () => {
  const m = new BertForRelationClassification(shapeConfig("base"), { numLabels: 10, pooling: "cls", seed: 0 });
  assert.equal(m.numParameters(), 102267648 + 768 * 10 + 10, "bert-base-chinese body + pooler + 10-way classifier");
  const ids = Array.from({ length: 2 }, (_, b) => Array.from({ length: 16 }, (_, t) => (t === 0 ? 101 : 1000 + b * 97 + t * 13)));
  const x = batch(ids, [Array(16).fill(1), [...Array(10).fill(1), ...Array(6).fill(0)]]);
  const out = m.forward(x, { training: true, dropoutSeed: 1 });
  assert.deepEqual(out.logits.shape, [2, 10]);
  assert.deepEqual(out.lastHiddenState.shape, [2, 16, 768]);
  assert.ok(out.logits.dataSync().every(Number.isFinite));
  tf.dispose(out);
  m.dispose();
});

// ---- weight readers ----------------------------------------------------------------------------

test("pytorch_model.bin and model.safetensors of the fixture hold identical tensors", () => {
  for (const dir of [CLS_DIR, ES_DIR]) {
    const st = new SafetensorsSource(path.join(dir, "model.safetensors"));
    const pt = new PytorchSource(path.join(dir, "pytorch_model.bin"));
    for (const key of st.keys()) {
      assert.deepEqual(pt.info(key), st.info(key), key);
      assert.deepEqual(pt.readFloat32(key), st.readFloat32(key), `${key} (non-contiguous / shared-storage views included)`);
    }
    assert.deepEqual(pt.info("bert.embeddings.position_ids"), { dtype: "I64", shape: [1, 32] });
    st.close();
    pt.close();
  }
});

test("torch reader: F16/BF16/F64 storages, strides, storage offset, pickle protocol 4, ZIP64 + deflate, legacy format", () => {
  const r = expected.reader;
  const containers = { "reader_proto4.bin": "zip", "reader_zip64_deflate.bin": "zip", "reader_legacy.bin": "legacy" } as const;
  for (const [file, container] of Object.entries(containers)) {
    const src = new PytorchSource(path.join(FIXTURE, file));
    assert.equal(src.container, container, file);
    assert.deepEqual(src.keys().sort(), Object.keys(r.shapes).sort());
    for (const [key, vals] of Object.entries(r.values)) {
      assert.deepEqual(src.info(key).shape, r.shapes[key], `${file} ${key} shape`);
      const got = src.readFloat32(key);
      assert.ok(maxAbsDiff(got, vals) <= 1e-6, `${file} ${key}: ${[...got]} vs ${vals}`);
    }
    assert.equal(src.info("f16").dtype, "F16");
    assert.equal(src.info("bf16").dtype, "BF16");
    src.close();
  }
});

test("legacy torch.save: a tied decoder shares the word embeddings' storage; int64 buffer; F16; views", () => {
  const open = (name: string): PytorchSource => new PytorchSource(path.join(LEGACY_DIR, name, "pytorch_model.bin"));
  const old = open("oldhub");
  assert.equal(old.container, "legacy");
  assert.deepEqual(old.info("bert.embeddings.position_ids"), { dtype: "I64", shape: [1, 16] });
  assert.deepEqual(old.info("cls.predictions.decoder.weight"), { dtype: "F32", shape: [64, 16] });
  assert.deepEqual(old.readFloat32("cls.predictions.decoder.weight"), old.readFloat32("bert.embeddings.word_embeddings.weight"));
  assert.ok(old.keys().includes("bert.embeddings.LayerNorm.gamma"));
  old.close();
  const f16 = open("f16");
  assert.deepEqual(f16.info("bert.encoder.layer.0.attention.self.query.weight"), { dtype: "F16", shape: [16, 16] });
  f16.close();
  const zip = new PytorchSource(path.join(CLS_DIR, "pytorch_model.bin"));
  assert.equal(zip.container, "zip");
  zip.close();
  // the views folder's values are checked by test/parity.test.ts (forward parity with PyTorch)
});

test("safetensors: F16 written and read back, BF16 read, header checked", () => {
  const dir = tmpDir();
  const data = new Float32Array([0, 1, -2.5, 65504, 1e-8, 0.1, -0.333251953125, 3.14159]);
  const f = path.join(dir, "h.safetensors");
  writeSafetensors(f, new Map([["x", { shape: [2, 4], data }]]), { dtype: "F16" });
  const src = new SafetensorsSource(f);
  assert.deepEqual(src.info("x"), { dtype: "F16", shape: [2, 4] });
  assert.equal(src.metadata.format, "pt");
  const back = src.readFloat32("x");
  src.close();
  // exactly representable values survive; the rest are within half precision
  assert.deepEqual([back[0], back[1], back[2], back[3], back[6]], [0, 1, -2.5, 65504, -0.333251953125]);
  assert.ok(Math.abs(back[5] - 0.1) < 1e-4 && Math.abs(back[7] - 3.14159) < 2e-3 && Math.abs(back[4]) < 1e-7);

  // BF16 by hand: 1.0 = 0x3F80, -2.0 = 0xC000
  const header = Buffer.from(JSON.stringify({ b: { dtype: "BF16", shape: [2], data_offsets: [0, 4] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const g = path.join(dir, "b.safetensors");
  fs.writeFileSync(g, Buffer.concat([len, header, Buffer.from([0x80, 0x3f, 0x00, 0xc0])]));
  const b = new SafetensorsSource(g);
  assert.deepEqual([...b.readFloat32("b")], [1, -2]);
  b.close();
});

// ---- loading and saving ------------------------------------------------------------------------

test("loadPretrained: old gamma/beta names, bare BertModel keys, MLM heads ignored, head initialised and reported", async () => {
  const dir = tmpDir();
  fs.copyFileSync(path.join(ES_DIR, "config.json"), path.join(dir, "config.json"));
  const st = new SafetensorsSource(path.join(ES_DIR, "model.safetensors"));
  const renamed = new Map<string, HostTensor>();
  for (const key of st.keys()) {
    if (key.startsWith("classifier.")) continue; // a pretrained checkpoint has no classifier
    const k = key.replace(/^bert\./, "").replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(/LayerNorm\.bias$/, "LayerNorm.beta");
    renamed.set(k, { shape: st.info(key).shape, data: st.readFloat32(key) });
  }
  st.close();
  renamed.set("cls.predictions.bias", { shape: [64], data: new Float32Array(64) });
  renamed.set("cls.seq_relationship.weight", { shape: [2, 32], data: new Float32Array(64) });
  writeSafetensors(path.join(dir, "model.safetensors"), renamed);
  assert.equal(normalizeHfKey("encoder.layer.0.output.LayerNorm.gamma"), "bert.encoder.layer.0.output.LayerNorm.weight");

  const r = await loadPretrained(dir, { numLabels: 5, pooling: "entity_start", seed: 11 });
  assert.deepEqual(r.missingKeys, ["classifier.weight", "classifier.bias"]);
  assert.deepEqual(r.unexpectedKeys.sort(), ["cls.predictions.bias", "cls.seq_relationship.weight"]);
  assert.ok(r.notes.some((n) => /renamed/.test(n)));
  // the body is the fixture's: hidden states match the PyTorch model exactly as the untouched file does
  const ref = await loadPretrained(ES_DIR, { numLabels: 5, pooling: "entity_start", seed: 11 });
  const x = fixtureInputs(expected.batch);
  const h1 = tf.tidy(() => r.model.forward(x, { training: false }).lastHiddenState.dataSync());
  const h2 = tf.tidy(() => ref.model.forward(x, { training: false }).lastHiddenState.dataSync());
  assert.deepEqual(h1, h2);
  const cw = r.model.params.get("classifier.weight")!.dataSync();
  assert.ok(cw.some((v) => v !== 0) && r.model.params.get("classifier.bias")!.dataSync().every((v) => v === 0));
  r.model.dispose();
  ref.model.dispose();
});

test("loadPretrained: a bigger tokenizer (marker tokens) resizes word embeddings; a smaller one is an error", async () => {
  for (const newRowsInit of ["normal", "mean"] as const) {
    const r = await loadPretrained(CLS_DIR, { numLabels: 5, pooling: "cls", seed: 1, vocabSize: 68, newRowsInit });
    assert.equal(r.config.vocab_size, 68);
    const w = r.model.params.get("bert.embeddings.word_embeddings.weight")!;
    assert.deepEqual(w.shape, [68, 32]);
    const data = w.dataSync();
    const src = new SafetensorsSource(path.join(CLS_DIR, "model.safetensors"));
    const old = src.readFloat32("bert.embeddings.word_embeddings.weight");
    src.close();
    assert.deepEqual(data.slice(0, 64 * 32), old, "existing rows kept");
    const row64 = data.slice(64 * 32, 65 * 32);
    if (newRowsInit === "mean") {
      for (let j = 0; j < 32; j++) {
        let s = 0;
        for (let i = 0; i < 64; i++) s += old[i * 32 + j];
        assert.ok(Math.abs(row64[j] - s / 64) < 1e-6);
      }
    } else {
      assert.ok(row64.some((v) => v !== 0) && Math.max(...row64.map(Math.abs)) < 0.02 * 6);
    }
    // a marker id >= 64 now runs
    const x = batch([[2, 65, 9, 67]]);
    assert.equal(logitsOf(r.model, x).length, 5);
    r.model.dispose();
  }
  await assert.rejects(
    loadPretrained(CLS_DIR, { numLabels: 5, pooling: "cls", seed: 1, vocabSize: 60 }),
    (e: unknown) => e instanceof VocabSizeError && /model\.safetensors: the tokenizer has 60 tokens but the checkpoint has 64/.test((e as Error).message),
  );
});

test("saveCheckpoint -> loadCheckpoint restores bit-identical logits (both poolings), with tokenizer files and labels", async () => {
  const tok = tmpDir();
  fs.writeFileSync(path.join(tok, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n");
  fs.writeFileSync(path.join(tok, "tokenizer_config.json"), "{}");
  for (const pooling of ["cls", "entity_start"] as const) {
    const m = new BertForRelationClassification({ ...TINY, initializer_range: 0.2 }, { numLabels: 10, pooling, seed: 5 });
    const x = batch([
      [2, 7, 9, 11, 3, 5],
      [2, 8, 8, 4, 3, 0],
    ]);
    const before = logitsOf(m, x);
    const dir = path.join(tmpDir(), "ckpt");
    const files = await saveCheckpoint(m, dir, { tokenizerDir: tok, extra: { run: "abc", lr: 1e-5 } });
    assert.deepEqual(files.map((f) => path.basename(f)).sort(), ["config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"]);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    assert.equal(cfg.num_labels, 10);
    assert.equal(cfg.id2label["4"], "并发症");
    assert.equal(cfg.label2id["相关（导致）"], 8);
    assert.equal(cfg.pooling, pooling);
    assert.deepEqual(cfg.architectures, [pooling === "cls" ? "BertForSequenceClassification" : "BertForRelationClassification"]);
    // on disk in HF layout: Linear weights [out, in]
    const st = new SafetensorsSource(path.join(dir, "model.safetensors"));
    assert.deepEqual(st.info("bert.encoder.layer.0.intermediate.dense.weight").shape, [32, 16]);
    const q = m.params.get("bert.encoder.layer.0.attention.self.query.weight")!;
    assert.deepEqual(st.readFloat32("bert.encoder.layer.0.attention.self.query.weight"), toHfLayout(q.name.replace(/^m\d+\//, ""), q.shape, q.dataSync() as Float32Array).data);
    st.close();

    const loaded = await loadCheckpoint(dir);
    assert.equal(loaded.pooling, pooling);
    assert.equal(loaded.numLabels, 10);
    assert.deepEqual(loaded.labels, LABELS.map((l) => l.zh));
    assert.deepEqual(loaded.extra, { run: "abc", lr: 1e-5 });
    assert.deepEqual(logitsOf(loaded.model, x), before, "bit-identical logits");
    loaded.model.dispose();

    // F16 halves the file and stays close
    const dir16 = path.join(tmpDir(), "ckpt16");
    await saveCheckpoint(m, dir16, { dtype: "F16" });
    const l16 = await loadCheckpoint(dir16);
    assert.ok(maxAbsDiff(logitsOf(l16.model, x), before) < 1e-2);
    assert.ok(fs.statSync(path.join(dir16, "model.safetensors")).size < 0.6 * fs.statSync(path.join(dir, "model.safetensors")).size);
    l16.model.dispose();
    m.dispose();
  }
});

test("saveCheckpoint writes HF layout: a loaded PyTorch fixture saves back to the very same tensors", async () => {
  const r = await loadPretrained(CLS_DIR, { numLabels: 5, pooling: "cls", seed: 0 });
  const dir = path.join(tmpDir(), "resaved");
  await saveCheckpoint(r.model, dir);
  const orig = new SafetensorsSource(path.join(CLS_DIR, "model.safetensors"));
  const back = new SafetensorsSource(path.join(dir, "model.safetensors"));
  assert.deepEqual(back.keys().sort(), orig.keys().sort());
  for (const key of orig.keys()) {
    assert.deepEqual(back.info(key), orig.info(key), key);
    assert.deepEqual(back.readFloat32(key), orig.readFloat32(key), key);
  }
  orig.close();
  back.close();
  r.model.dispose();
});

// ---- errors a user sees ------------------------------------------------------------------------

test("clear errors: missing config.json / weights, truncated files, shape mismatch, unsupported model", async () => {
  const opts = { numLabels: 5, pooling: "cls" as const, seed: 0 };
  const rejects = (p: Promise<unknown>, cls: new (...a: never[]) => Error, re: RegExp): Promise<void> =>
    assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof cls, `${(e as Error).name}: ${(e as Error).message}`);
      assert.match((e as Error).message, re);
      return true;
    });

  const noConfig = tmpDir();
  fs.copyFileSync(path.join(CLS_DIR, "model.safetensors"), path.join(noConfig, "model.safetensors"));
  await rejects(loadPretrained(noConfig, opts), MissingFileError, /config\.json: config\.json not found/);

  const noWeights = tmpDir();
  fs.copyFileSync(path.join(CLS_DIR, "config.json"), path.join(noWeights, "config.json"));
  await rejects(loadPretrained(noWeights, opts), MissingFileError, /no weights file: expected model\.safetensors or pytorch_model\.bin/);

  const truncated = copyDir(CLS_DIR);
  const st = path.join(truncated, "model.safetensors");
  fs.truncateSync(st, fs.statSync(st).size - 100);
  await rejects(loadPretrained(truncated, opts), WeightsFormatError, /model\.safetensors: truncated file: the header describes \d+ bytes of tensor data, the file holds \d+/);
  fs.truncateSync(st, 4);
  await rejects(loadPretrained(truncated, opts), WeightsFormatError, /truncated file/);

  const truncBin = copyDir(CLS_DIR);
  fs.rmSync(path.join(truncBin, "model.safetensors"));
  const bin = path.join(truncBin, "pytorch_model.bin");
  fs.truncateSync(bin, Math.floor(fs.statSync(bin).size / 2));
  await rejects(loadPretrained(truncBin, opts), WeightsFormatError, /pytorch_model\.bin: zip end-of-central-directory record not found/);

  const wrongHidden = copyDir(CLS_DIR);
  const cfg = JSON.parse(fs.readFileSync(path.join(wrongHidden, "config.json"), "utf8"));
  fs.writeFileSync(path.join(wrongHidden, "config.json"), JSON.stringify({ ...cfg, hidden_size: 48, num_attention_heads: 2 }));
  // caught from the file's shapes before anything is built
  await rejects(loadPretrained(wrongHidden, opts), ModelConfigError, /config\.json: field "hidden_size": is 48, but .*model\.safetensors holds 32/);
  fs.writeFileSync(path.join(wrongHidden, "config.json"), JSON.stringify({ ...cfg, vocab_size: 70 }));
  await rejects(loadPretrained(wrongHidden, opts), ShapeMismatchError, /config\.json says vocab_size 70 but the file has 64 word embeddings/);

  // a head trained for another label count: error, or re-initialised on request
  await rejects(loadPretrained(CLS_DIR, { ...opts, numLabels: 3 }), ShapeMismatchError, /\[classifier\.weight\].*ignoreMismatchedHead/);
  const re = await loadPretrained(CLS_DIR, { ...opts, numLabels: 3, ignoreMismatchedHead: true });
  assert.deepEqual(re.missingKeys, ["classifier.weight", "classifier.bias"]);
  re.model.dispose();

  const gpt = copyDir(CLS_DIR);
  fs.writeFileSync(path.join(gpt, "config.json"), JSON.stringify({ ...cfg, model_type: "gpt2" }));
  await rejects(loadPretrained(gpt, opts), UnsupportedModelError, /config\.json: field "model_type": "gpt2" is not supported/);
  fs.writeFileSync(path.join(gpt, "config.json"), "{ not json");
  await rejects(loadPretrained(gpt, opts), ModelConfigError, /config\.json: not valid JSON/);

  await rejects(loadCheckpoint(CLS_DIR), ModelConfigError, /num_labels/);
});

/** A protocol-2 pickle: BINUNICODE of `text`. */
function pickleString(text: string): Buffer {
  const b = Buffer.from(text, "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length);
  return Buffer.concat([Buffer.from([0x58]), len, b]);
}

test("legacy .bin errors: truncated, forbidden global (refused, nothing run), wrong magic, not a checkpoint", async () => {
  const opts = { numLabels: 5, pooling: "cls" as const, seed: 0 };
  const rejects = (dir: string, re: RegExp): Promise<void> =>
    assert.rejects(loadPretrained(dir, opts), (e: unknown) => {
      assert.ok(e instanceof WeightsFormatError, `${(e as Error).name}: ${(e as Error).message}`);
      assert.match((e as Error).message, re);
      return true;
    });
  const dir = copyDir(path.join(LEGACY_DIR, "f32"));
  const bin = path.join(dir, "pytorch_model.bin");
  const good = fs.readFileSync(bin);

  // cut inside the storage records, then inside the state_dict pickle
  fs.writeFileSync(bin, good.subarray(0, good.length - 100));
  await rejects(dir, /pytorch_model\.bin: truncated file: storage \d+ \(\d+ elements of 4 bytes\) needs bytes \d+\.\.\d+ but the file has \d+ bytes/);
  fs.writeFileSync(bin, good.subarray(0, 400));
  await rejects(dir, /pytorch_model\.bin \[legacy state_dict pickle \(from byte 137\)\]: pickle ends early/);

  // magic number, protocol version and sys info as torch writes them, then a pickle that calls os.system
  const magic = good.subarray(0, 15);
  const version = Buffer.from([0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e]); // BININT2 1001
  const sysInfo = Buffer.concat([Buffer.from([0x80, 0x02, 0x7d]), pickleString("little_endian"), Buffer.from([0x88, 0x73, 0x2e])]);
  const sentinel = path.join(dir, "pwned");
  const evil = (global: string): Buffer =>
    Buffer.concat([Buffer.from([0x80, 0x02, 0x63]), Buffer.from(global, "latin1"), pickleString(`touch ${sentinel}`), Buffer.from([0x85, 0x52, 0x2e])]);
  fs.writeFileSync(bin, Buffer.concat([magic, version, sysInfo, evil("os\nsystem\n")]));
  await rejects(dir, /pytorch_model\.bin \[legacy state_dict pickle \(from byte 45\)\]: refusing global os\.system at byte 13: .*never imports or runs code/);
  fs.writeFileSync(bin, Buffer.concat([magic, evil("posix\nsystem\n")])); // even where the protocol-version pickle belongs
  await rejects(dir, /\[legacy protocol-version pickle\]: refusing global posix\.system/);
  // the zip format's data.pkl goes through the same allowlist
  fs.writeFileSync(bin, zipSync({ "archive/data.pkl": evil("os\nsystem\n") }, { level: 0 }));
  await rejects(dir, /pytorch_model\.bin \[data\.pkl\]: refusing global os\.system/);
  assert.ok(!fs.existsSync(sentinel), "nothing was executed");

  // wrong magic number (one byte of it changed); a plain pickle of a dict; the protocol-version pickle missing
  const wrong = Buffer.from(good);
  wrong[6] ^= 0xff;
  fs.writeFileSync(bin, wrong);
  await rejects(dir, /pytorch_model\.bin: not a torch\.save file: it starts with a pickle, but not torch\.save's magic number 0x1950a86a20f9469cfc6c/);
  fs.writeFileSync(bin, Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e])); // pickle.dumps({}, protocol=2)
  await rejects(dir, /not a torch\.save file: it starts with a pickle, but not torch\.save's magic number/);
  fs.writeFileSync(bin, magic);
  await rejects(dir, /\[legacy protocol-version pickle\]: pickle ends early/);
  fs.writeFileSync(bin, "hello");
  await rejects(dir, /pytorch_model\.bin: not a PyTorch checkpoint \(neither a zip nor a pickle stream at byte 0\)/);
});
