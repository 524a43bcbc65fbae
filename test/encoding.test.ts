import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  ENCODING_NAMES,
  ENCODING_FIXED_TEXT,
  QA_QUESTION,
  MARKER_TOKENS,
  RelationTokenizer,
  buildCharTokenizer,
  encodeDataset,
  encodeRow,
  encodeRowWithInfo,
  renderEncoding,
  unkRate,
  EncodingError,
  STUDY_ENCODINGS,
  type EncodingName,
} from "../src/encoding";
import type { Row } from "../src/data/types";
import type { Label } from "../src/data/labels";

const DATA = path.resolve(__dirname, "../../shared/data");
const VOCAB = path.join(DATA, "bert-base-chinese-vocab.txt");
const FIXTURE = path.join(__dirname, "fixtures/encoding/wordpiece_reference.json");

interface Reference {
  vocab_size: number;
  hand: { text: string; tokens: string[]; ids: number[] }[];
  train: { rows: number; total_tokens: number; unk_tokens: number; per_row: [number, number, number][] };
}
const ref = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as Reference;

const tok = RelationTokenizer.fromVocabFile(VOCAB);

function readRows(file: string): Row[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim().length > 0)
    .map((l) => {
      const o = JSON.parse(l) as { id: number; sentence: string; h: string; t: string; r: Label };
      return { id: String(o.id), sentence: o.sentence, h: o.h, t: o.t, r: o.r };
    });
}
const train = readRows(path.join(DATA, "study_train.jsonl"));

/** same hash as make_fixtures.py */
function fnv1a(ids: number[]): number {
  let h = 0x811c9dc5;
  for (const i of ids)
    for (const b of Buffer.from(`${i},`)) {
      h ^= b;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  return h >>> 0;
}

const toks = (ids: number[]): string[] => tok.decodeTokens(ids);
const row = (sentence: string, h: string, t: string, extra: Partial<Row> = {}): Row => ({
  id: "hand",
  sentence,
  h,
  t,
  r: "临床表现",
  ...extra,
});

// ---------------------------------------------------------------- tokenizer on the real vocabulary

test("real vocab: special ids, markers on [unusedN] slots, append mode grows the vocab", () => {
  assert.equal(tok.vocabSize, 21128);
  assert.equal(ref.vocab_size, 21128);
  assert.deepEqual([tok.padId, tok.unkId, tok.clsId, tok.sepId, tok.maskId], [0, 100, 101, 102, 103]);
  // bert-base-chinese replaced [unused1..3] by “ ” …, so the first free slots are 4..11
  assert.deepEqual(
    MARKER_TOKENS.map((m) => tok.tokenToId(m)),
    [4, 5, 6, 7, 8, 9, 10, 11],
  );
  assert.equal(tok.tokenToId("[unused4]"), undefined);
  assert.equal(tok.tokenToId("[unused12]"), 12);
  assert.deepEqual(tok.addedTokens, []);

  const app = RelationTokenizer.fromVocabFile(VOCAB, { markerSlots: "append" });
  assert.equal(app.vocabSize, 21136);
  assert.deepEqual(app.addedTokens, [...MARKER_TOKENS]);
  assert.equal(app.tokenToId("[E1]"), 21128);
  assert.equal(app.tokenToId("[/实体2]"), 21135);
  assert.equal(app.tokenToId("[unused4]"), 4);
  assert.equal(app.idToToken(21130), "[E2]");
});

test("markers and literal special tokens are never split", () => {
  for (const t of [tok, RelationTokenizer.fromVocabFile(VOCAB, { markerSlots: "append" })]) {
    assert.deepEqual(t.tokenize("HBV[E1]DNA[/E1]x[实体1]病[/实体1][E2][/E2][实体2]A[/实体2]"), [
      "h",
      "##b",
      "##v",
      "[E1]",
      "dna",
      "[/E1]",
      "x",
      "[实体1]",
      "病",
      "[/实体1]",
      "[E2]",
      "[/E2]",
      "[实体2]",
      "a",
      "[/实体2]",
    ]);
    assert.deepEqual(t.tokenize("[CLS] 癌[SEP]"), ["[CLS]", "癌", "[SEP]"]);
    for (const m of MARKER_TOKENS) assert.deepEqual(t.encodeText(m), [t.tokenToId(m)]);
  }
  // without registration the Chinese marker would fall apart: the plain pipeline splits it
  assert.deepEqual(tok.tokenize("[实体3]"), ["[", "实", "体", "3", "]"]);
});

test("real vocab: hand strings match the Python BERT reference (lowercase, accents, ##pieces, punctuation)", () => {
  for (const h of ref.hand) {
    assert.deepEqual(tok.tokenize(h.text), h.tokens, h.text);
    assert.deepEqual(tok.encodeText(h.text), h.ids, h.text);
  }
  assert.deepEqual(tok.tokenize("Héllo WORLD"), ["hello", "world"]);
});

test("real train sentences: ids match the reference, one token per Chinese character, [UNK] rate < 1%", () => {
  assert.equal(train.length, ref.train.rows);
  for (const [i, n, hash] of ref.train.per_row) {
    const ids = tok.encodeText(train[i].sentence);
    assert.equal(ids.length, n, `row ${i} length`);
    assert.equal(fnv1a(ids), hash, `row ${i} ids`);
  }
  const u = unkRate(
    tok,
    train.map((r) => r.sentence),
  );
  assert.equal(u.total, ref.train.total_tokens);
  assert.equal(u.unk, ref.train.unk_tokens);
  assert.ok(u.rate < 0.01, `UNK rate ${u.rate}`);
  assert.ok(u.rate > 0, "some rare characters are [UNK] in bert-base-chinese");

  // every CJK character is exactly one token (itself, or [UNK] when out of vocab)
  const cjk = /[\u4e00-\u9fff]/;
  for (const r of train.slice(0, 500)) {
    const chars = [...r.sentence].filter((c) => cjk.test(c));
    const got = tok.tokenize(r.sentence).filter((t) => cjk.test(t) || t === "[UNK]");
    const want = chars.map((c) => (tok.tokenToId(c) === undefined ? "[UNK]" : c));
    // [UNK] from non-CJK words may interleave; compare the CJK tokens only when no UNK occurs
    if (!got.includes("[UNK]")) assert.deepEqual(got, want, r.id);
    for (const t of got) if (t !== "[UNK]") assert.equal([...t].length, 1);
  }
});

// ---------------------------------------------------------------- the encodings on hand-written rows

const A = row("患者糖尿病伴口渴。", "糖尿病", "口渴");

const EXPECTED: Record<EncodingName, { clean: [string, string[], number, number, string]; faithful: [string, number, number] }> = {
  Basic1: {
    clean: [
      "[CLS] 糖尿病 [SEP] 患者糖尿病伴口渴。 [SEP] 口渴 [SEP]",
      "[CLS] 糖 尿 病 [SEP] 患 者 糖 尿 病 伴 口 渴 。 [SEP] 口 渴 [SEP]".split(" "),
      7,
      11,
      "000001111111111111",
    ],
    faithful: ["[CLS] [CLS] 糖尿病 [SEP] 患者糖尿病伴口渴。 [SEP] 口渴 [SEP]", 8, 12],
  },
  Basic2: {
    clean: [
      "[CLS] 糖尿病 [SEP] 口渴 [SEP] 患者糖尿病伴口渴。 [SEP]",
      "[CLS] 糖 尿 病 [SEP] 口 渴 [SEP] 患 者 糖 尿 病 伴 口 渴 。 [SEP]".split(" "),
      10,
      14,
      "000000001111111111",
    ],
    faithful: ["[CLS] [CLS] 糖尿病 [SEP] 口渴 [SEP] 患者糖尿病伴口渴。 [SEP]", 11, 15],
  },
  QA: {
    clean: [
      "[CLS] 糖尿病和口渴之间的关系是什么？[SEP] 患者糖尿病伴口渴。 [SEP]",
      "[CLS] 糖 尿 病 和 口 渴 之 间 的 关 系 是 什 么 ？ [SEP] 患 者 糖 尿 病 伴 口 渴 。 [SEP]".split(" "),
      19,
      23,
      "00000000000000000" + "1111111111",
    ],
    faithful: ["[CLS] [CLS] 糖尿病和口渴之间的关系是什么？[SEP] 患者糖尿病伴口渴。 [SEP]", 20, 24],
  },
  Entity_marked1: {
    clean: [
      "[CLS] 患者[E1]糖尿病[/E1]伴[E2]口渴[/E2]。 [SEP]",
      "[CLS] 患 者 [E1] 糖 尿 病 [/E1] 伴 [E2] 口 渴 [/E2] 。 [SEP]".split(" "),
      3,
      9,
      "000000000000000",
    ],
    faithful: ["[CLS] [CLS] 患者[E1]糖尿病[/E1]伴[E2]口渴[/E2]。 [SEP] [SEP]", 4, 10],
  },
  Entity_marked2: {
    clean: [
      "[CLS] 患者[实体1]糖尿病[/实体1]伴[实体2]口渴[/实体2]。 [SEP]",
      "[CLS] 患 者 [实体1] 糖 尿 病 [/实体1] 伴 [实体2] 口 渴 [/实体2] 。 [SEP]".split(" "),
      3,
      9,
      "000000000000000",
    ],
    faithful: ["[CLS] [CLS] 患者[实体1]糖尿病[/实体1]伴[实体2]口渴[/实体2]。 [SEP] [SEP]", 4, 10],
  },
  typed_marker_punct: {
    clean: [
      "[CLS] 患者@ 糖尿病 @伴# 口渴 #。 [SEP]",
      "[CLS] 患 者 @ 糖 尿 病 @ 伴 # 口 渴 # 。 [SEP]".split(" "),
      3,
      9,
      "000000000000000",
    ],
    faithful: ["[CLS] [CLS] 患者@ 糖尿病 @伴# 口渴 #。 [SEP] [SEP]", 4, 10],
  },
};

test("every encoding: exact rendered text, tokens, positions and token types (clean and faithful)", () => {
  assert.deepEqual(STUDY_ENCODINGS, ["Basic1", "Basic2", "QA", "Entity_marked1", "Entity_marked2"]);
  for (const enc of ENCODING_NAMES) {
    const [text, tokens, hp, tp, types] = EXPECTED[enc].clean;
    assert.equal(renderEncoding(A, enc), text, enc);
    const e = encodeRow(tok, A, { encoding: enc });
    assert.deepEqual(toks(e.inputIds), tokens, enc);
    assert.deepEqual(tok.tokenize(text), tokens, `${enc}: render tokenizes to the same sequence`);
    assert.equal(e.headPos, hp, `${enc} headPos`);
    assert.equal(e.tailPos, tp, `${enc} tailPos`);
    assert.equal(e.tokenTypeIds.join(""), types, `${enc} types`);
    assert.deepEqual(e.attentionMask, new Array(tokens.length).fill(1));
    assert.equal(e.inputIds[0], 101);
    assert.equal(e.inputIds[e.inputIds.length - 1], 102);

    const [ftext, fhp, ftp] = EXPECTED[enc].faithful;
    assert.equal(renderEncoding(A, enc, { faithful: true }), ftext, `${enc} faithful`);
    const f = encodeRow(tok, A, { encoding: enc, faithful: true });
    assert.deepEqual(toks(f.inputIds), tok.tokenize(ftext), `${enc} faithful tokens`);
    assert.deepEqual(f.inputIds.slice(0, 2), [101, 101], "double [CLS]");
    assert.equal(f.headPos, fhp, `${enc} faithful headPos`);
    assert.equal(f.tailPos, ftp, `${enc} faithful tailPos`);
    assert.ok(f.tokenTypeIds.every((x) => x === 0));
  }
  // marker ids on the real vocab
  const e = encodeRow(tok, A, { encoding: "Entity_marked1" });
  assert.deepEqual(e.inputIds.slice(3, 8), [4, tok.tokenToId("糖")!, tok.tokenToId("尿")!, tok.tokenToId("病")!, 5]);
});

test("typed_marker_punct uses entity types when known, untyped markers otherwise", () => {
  const typed = { ...A, hType: "疾病", tType: "症状" };
  assert.equal(renderEncoding(typed, "typed_marker_punct"), "[CLS] 患者@ * 疾病 * 糖尿病 @伴# ^ 症状 ^ 口渴 #。 [SEP]");
  const r = encodeRowWithInfo(tok, typed, { encoding: "typed_marker_punct" });
  assert.deepEqual(toks(r.encoded.inputIds), "[CLS] 患 者 @ * 疾 病 * 糖 尿 病 @ 伴 # ^ 症 状 ^ 口 渴 # 。 [SEP]".split(" "));
  assert.equal(r.encoded.headPos, 3);
  assert.equal(r.encoded.tailPos, 13);
  assert.equal(r.info.untypedMarkers, false);
  const half = { ...A, hType: "疾病" };
  assert.equal(renderEncoding(half, "typed_marker_punct"), "[CLS] 患者@ * 疾病 * 糖尿病 @伴# 口渴 #。 [SEP]");
  assert.equal(encodeRowWithInfo(tok, half, { encoding: "typed_marker_punct" }).info.untypedMarkers, true);
  // a sentence with CMeIE's own "@" still points at the inserted marker
  const at = row("糖尿病@口渴是糖尿病的症状", "糖尿病", "口渴");
  const e = encodeRow(tok, at, { encoding: "typed_marker_punct" });
  assert.equal(renderEncoding(at, "typed_marker_punct"), "[CLS] @ 糖尿病 @@# 口渴 #是糖尿病的症状 [SEP]");
  assert.equal(e.headPos, 1);
  assert.equal(e.tailPos, 7);
});

test("repeated mentions: clean marks the head nearest the tail once, faithful marks every occurrence", () => {
  const r = row("糖尿病：多饮。口渴是糖尿病的症状。", "糖尿病", "口渴");
  assert.equal(renderEncoding(r, "Entity_marked1"), "[CLS] 糖尿病：多饮。[E2]口渴[/E2]是[E1]糖尿病[/E1]的症状。 [SEP]");
  assert.equal(
    renderEncoding(r, "Entity_marked1", { faithful: true }),
    "[CLS] [CLS] [E1]糖尿病[/E1]：多饮。[E2]口渴[/E2]是[E1]糖尿病[/E1]的症状。 [SEP] [SEP]",
  );
  const c = encodeRow(tok, r, { encoding: "Entity_marked1" });
  assert.equal(toks(c.inputIds)[c.headPos], "[E1]");
  assert.equal(c.headPos, 13);
  assert.equal(c.tailPos, 8);
  assert.equal(c.inputIds.filter((x) => x === 4).length, 1);
  const f = encodeRow(tok, r, { encoding: "Entity_marked1", faithful: true });
  assert.equal(f.headPos, 2, "faithful: the first [E1]");
  assert.equal(f.inputIds.filter((x) => x === 4).length, 2);
  // Basic encodings point at the chosen (nearest) mention inside the sentence
  const b = encodeRow(tok, r, { encoding: "Basic1" });
  const bt = toks(b.inputIds);
  assert.deepEqual(bt.slice(b.headPos, b.headPos + 3), ["糖", "尿", "病"]);
  assert.equal(b.headPos, 5 + 10);
  assert.deepEqual(bt.slice(b.tailPos, b.tailPos + 2), ["口", "渴"]);
});

test("entity spans (headEnd / tailEnd): markers and mention in the marked encodings, the mention in the others", () => {
  const r = row("糖尿病：多饮。口渴是糖尿病的症状。", "糖尿病", "口渴");
  const c = encodeRow(tok, r, { encoding: "Entity_marked1" });
  assert.deepEqual(toks(c.inputIds).slice(c.headPos, c.headEnd), ["[E1]", "糖", "尿", "病", "[/E1]"]);
  assert.deepEqual(toks(c.inputIds).slice(c.tailPos, c.tailEnd), ["[E2]", "口", "渴", "[/E2]"]);
  const b = encodeRow(tok, r, { encoding: "Basic1" });
  assert.deepEqual(toks(b.inputIds).slice(b.headPos, b.headEnd), ["糖", "尿", "病"]);
  assert.deepEqual(toks(b.inputIds).slice(b.tailPos, b.tailEnd), ["口", "渴"]);
  // nested: the tail span holds the head's
  const n = encodeRow(tok, row("糖尿病肾病患者", "糖尿病", "糖尿病肾病"), { encoding: "Entity_marked1" });
  assert.deepEqual(toks(n.inputIds).slice(n.tailPos, n.tailEnd), ["[E2]", "[E1]", "糖", "尿", "病", "[/E1]", "肾", "病", "[/E2]"]);
  // an entity that is not in the sentence has no span (pooling falls back to its start token); faithful has none
  const missing = encodeRow(tok, row("患者口渴", "糖尿病", "口渴"), { encoding: "Basic1" });
  assert.equal(missing.headEnd, undefined);
  assert.equal(encodeRow(tok, r, { encoding: "Entity_marked1", faithful: true }).headEnd, undefined);
});

test("nested and overlapping entities", () => {
  // head inside tail, no other head occurrence: nested markers (clean); the study's replace-all loses the tail
  const n1 = row("糖尿病肾病患者", "糖尿病", "糖尿病肾病");
  assert.equal(renderEncoding(n1, "Entity_marked1"), "[CLS] [E2][E1]糖尿病[/E1]肾病[/E2]患者 [SEP]");
  const e1 = encodeRowWithInfo(tok, n1, { encoding: "Entity_marked1" });
  assert.deepEqual([e1.encoded.headPos, e1.encoded.tailPos], [2, 1]);
  assert.equal(e1.info.relation, "nested");
  assert.equal(renderEncoding(n1, "Entity_marked1", { faithful: true }), "[CLS] [CLS] [E1]糖尿病[/E1]肾病患者 [SEP] [SEP]");
  const f1 = encodeRowWithInfo(tok, n1, { encoding: "Entity_marked1", faithful: true });
  assert.equal(f1.info.tailFound, false);
  assert.equal(f1.encoded.tailPos, 0, "no [E2]: falls back to [CLS]");
  // tail inside head: both modes nest
  const n2 = row("糖尿病肾病患者", "糖尿病肾病", "肾病");
  assert.equal(renderEncoding(n2, "Entity_marked2"), "[CLS] [实体1]糖尿病[实体2]肾病[/实体2][/实体1]患者 [SEP]");
  assert.equal(
    renderEncoding(n2, "Entity_marked2", { faithful: true }),
    "[CLS] [CLS] [实体1]糖尿病[实体2]肾病[/实体2][/实体1]患者 [SEP] [SEP]",
  );
  assert.equal(encodeRowWithInfo(tok, n2, { encoding: "Entity_marked2", faithful: true }).info.relation, "nested");
  // a separate head occurrence is preferred over the one inside the tail
  const n3 = row("糖尿病肾病是糖尿病的并发症", "糖尿病", "糖尿病肾病");
  assert.equal(renderEncoding(n3, "Entity_marked1"), "[CLS] [E2]糖尿病肾病[/E2]是[E1]糖尿病[/E1]的并发症 [SEP]");
  // crossing spans
  const n4 = row("甲乙丙丁", "甲乙丙", "乙丙丁");
  assert.equal(renderEncoding(n4, "Entity_marked1"), "[CLS] [E1]甲[E2]乙丙[/E1]丁[/E2] [SEP]");
  // identical strings occurring once: one span, head outside
  const n5 = row("肝炎", "肝炎", "肝炎");
  assert.equal(renderEncoding(n5, "Entity_marked1"), "[CLS] [E1][E2]肝炎[/E2][/E1] [SEP]");
  // a mention starting inside a Latin run: cut at the word boundary, pointing at the run
  const n6 = row("HBVDNA升高", "DNA", "升高");
  const b6 = encodeRow(tok, n6, { encoding: "Basic1" });
  assert.deepEqual(toks(b6.inputIds).slice(b6.headPos, b6.headPos + 4), ["h", "##b", "##vd", "##na"]);
  assert.deepEqual(toks(b6.inputIds), tok.tokenize(renderEncoding(n6, "Basic1")));
  assert.equal(renderEncoding(n6, "Entity_marked1"), "[CLS] HBV[E1]DNA[/E1][E2]升高[/E2] [SEP]");
});

test("entity not found: prepended/appended in marked encodings, own segment in the others", () => {
  const r = row("患者伴口渴。", "subject_placeholder", "口渴");
  assert.equal(renderEncoding(r, "Entity_marked1"), "[CLS] [E1]subject_placeholder[/E1] 患者伴[E2]口渴[/E2]。 [SEP]");
  const e = encodeRowWithInfo(tok, r, { encoding: "Entity_marked1" });
  assert.equal(e.info.headFound, false);
  assert.equal(e.encoded.headPos, 1);
  assert.deepEqual(toks(e.encoded.inputIds).slice(1, 11), ["[E1]", "su", "##b", "##ject", "_", "place", "##ho", "##ld", "##er", "[/E1]"]);
  const tNot = row("患者糖尿病。", "糖尿病", "object_placeholder");
  assert.equal(renderEncoding(tNot, "Entity_marked2"), "[CLS] 患者[实体1]糖尿病[/实体1]。 [实体2]object_placeholder[/实体2] [SEP]");
  // faithful: nothing added, position falls back to [CLS]
  assert.equal(renderEncoding(r, "Entity_marked1", { faithful: true }), "[CLS] [CLS] 患者伴[E2]口渴[/E2]。 [SEP] [SEP]");
  assert.equal(encodeRow(tok, r, { encoding: "Entity_marked1", faithful: true }).headPos, 0);
  // Basic1/QA: the h segment
  assert.equal(encodeRow(tok, r, { encoding: "Basic1" }).headPos, 1);
  assert.equal(encodeRow(tok, r, { encoding: "QA" }).headPos, 1);
  assert.equal(encodeRow(tok, r, { encoding: "QA", faithful: true }).headPos, 2);
});

test("truncation keeps both entities: windows around markers, h/t segments kept, never a cut marker", () => {
  const filler = "患者出现发热咳嗽乏力等症状，需要进一步检查。".repeat(30); // 660 characters
  const r = row(`糖尿病${filler}口渴`, "糖尿病", "口渴");
  for (const enc of ["Entity_marked1", "Entity_marked2", "typed_marker_punct"] as const) {
    const { encoded: e, info } = encodeRowWithInfo(tok, r, { encoding: enc, maxLength: 64 });
    const t = toks(e.inputIds);
    assert.equal(info.truncated, true);
    assert.equal(e.inputIds.length, 64, enc);
    assert.deepEqual([t[0], t[63]], ["[CLS]", "[SEP]"]);
    const [o1, c1, o2, c2] = enc === "Entity_marked1" ? ["[E1]", "[/E1]", "[E2]", "[/E2]"] : enc === "Entity_marked2" ? ["[实体1]", "[/实体1]", "[实体2]", "[/实体2]"] : ["@", "@", "#", "#"];
    assert.equal(t[e.headPos], o1);
    assert.deepEqual(t.slice(e.headPos + 1, e.headPos + 4), ["糖", "尿", "病"]);
    assert.equal(t[e.headPos + 4], c1);
    assert.equal(t[e.tailPos], o2);
    assert.deepEqual(t.slice(e.tailPos + 1, e.tailPos + 3), ["口", "渴"]);
    assert.equal(t[e.tailPos + 3], c2);
    if (enc !== "typed_marker_punct") for (const m of [o1, c1, o2, c2]) assert.equal(t.filter((x) => x === m).length, 1);
  }
  // a window around two close entities in the middle of a long sentence: context on both sides
  const mid = row(`${filler}糖尿病伴口渴${filler}`, "糖尿病", "口渴");
  const m = encodeRow(tok, mid, { encoding: "Entity_marked1", maxLength: 32 });
  assert.equal(m.inputIds.length, 32);
  assert.ok(m.headPos >= 8 && m.headPos <= 14, `centred window, headPos ${m.headPos}`);
  // Basic1: h and t segments kept, sentence windowed around both mentions
  const b = encodeRow(tok, r, { encoding: "Basic1", maxLength: 40 });
  const bt = toks(b.inputIds);
  assert.equal(b.inputIds.length, 40);
  assert.deepEqual(bt.slice(0, 5), ["[CLS]", "糖", "尿", "病", "[SEP]"]);
  assert.deepEqual(bt.slice(-4), ["[SEP]", "口", "渴", "[SEP]"]);
  assert.deepEqual(bt.slice(b.headPos, b.headPos + 3), ["糖", "尿", "病"]);
  assert.deepEqual(bt.slice(b.tailPos, b.tailPos + 2), ["口", "渴"]);
  assert.ok(b.headPos > 4 && b.tailPos < 36);
  // faithful: the study's truncation from the end loses the tail marker
  const f = encodeRowWithInfo(tok, r, { encoding: "Entity_marked1", maxLength: 64, faithful: true });
  assert.equal(f.encoded.inputIds.length, 64);
  assert.equal(f.encoded.inputIds[63], 102);
  assert.equal(f.encoded.tailPos, 0);
  assert.equal(f.info.markerLost, true);
  assert.ok(!f.encoded.inputIds.includes(6), "no [E2] left");
  // too small to hold the markers
  assert.throws(() => encodeRow(tok, r, { encoding: "Entity_marked1", maxLength: 5 }), EncodingError);
});

test("real rows: render == tokens, truncated clean encodings keep exactly one of each marker", () => {
  const sample = train.filter((_, i) => i % 5 === 0);
  for (const enc of ENCODING_NAMES)
    for (const faithful of [false, true])
      for (const r of sample.slice(0, 300)) {
        const e = encodeRow(tok, r, { encoding: enc, faithful, maxLength: 1000 });
        assert.deepEqual(toks(e.inputIds), tok.tokenize(renderEncoding(r, enc, { faithful })), `${enc} ${faithful} row ${r.id}`);
      }
  for (const enc of ["Entity_marked1", "Entity_marked2"] as const) {
    const opens = enc === "Entity_marked1" ? [4, 6] : [8, 10];
    for (const r of sample) {
      const e = encodeRow(tok, r, { encoding: enc, maxLength: 48 });
      assert.ok(e.inputIds.length <= 48);
      assert.equal(e.inputIds[e.headPos], opens[0], `row ${r.id}`);
      assert.equal(e.inputIds[e.tailPos], opens[1], `row ${r.id}`);
      for (let m = opens[0]; m < opens[0] + 4; m++) assert.equal(e.inputIds.filter((x) => x === m).length, 1, `row ${r.id} marker ${m}`);
    }
  }
});

test("encodeDataset: labels, stats and speed on the 7,000 train rows", () => {
  const t0 = Date.now();
  const { encoded, stats } = encodeDataset(tok, train, { encoding: "Entity_marked1" });
  const ms = Date.now() - t0;
  assert.ok(ms < 15000, `took ${ms} ms`);
  assert.equal(encoded.length, 7000);
  assert.equal(encoded[0].label, 0);
  assert.deepEqual(
    new Array(10).fill(0).map((_, k) => encoded.filter((e) => e.label === k).length),
    new Array(10).fill(700),
  );
  // data README: 123 subject_placeholder, 150 object_placeholder rows
  assert.equal(stats.headNotFound, 123);
  assert.equal(stats.tailNotFound, 150);
  assert.equal(stats.entityNotFound, 273);
  assert.ok(stats.maxLen <= 300);
  const full = encodeDataset(tok, train, { encoding: "Entity_marked1", maxLength: 100000 }).encoded;
  assert.equal(stats.truncated, full.filter((e) => e.inputIds.length > 300).length);
  assert.ok(stats.truncated > 0);
  assert.ok(stats.maxFullLen >= stats.maxLen);
  const f = encodeDataset(tok, train, { encoding: "Entity_marked1", faithful: true }).stats;
  assert.ok(f.tailNotFound > stats.tailNotFound, "replace-all hides tails that contain the head");
  assert.ok(f.overlapping > 0);
});

// ---------------------------------------------------------------- tiny-model char tokenizer, save/load

test("char tokenizer: layout of ids, save -> load round trip gives identical ids", () => {
  const texts = train.slice(0, 2000).map((r) => r.sentence);
  const ct = buildCharTokenizer(texts, { minFreq: 2 });
  assert.deepEqual(
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...MARKER_TOKENS, "@", "*", "#", "^"].map((t) => ct.tokenToId(t)),
    Array.from({ length: 17 }, (_, i) => i),
  );
  assert.deepEqual(ct.tokenize("晚发GBS感染"), ["晚", "发", "g", "##b", "##s", "感", "染"]);
  assert.ok(unkRate(ct, texts).rate < 0.005);
  // the QA question's characters are rare in the corpus (什, 么, ？): a vocabulary for the encodings must hold them
  const question = QA_QUESTION.between + QA_QUESTION.ask;
  assert.ok(ct.tokenize(question).includes("[UNK]"), "the fixture corpus should lack some question characters");
  const withQa = buildCharTokenizer(texts, { minFreq: 2, alwaysInclude: ENCODING_FIXED_TEXT });
  assert.deepEqual(withQa.tokenize(question), [..."和之间的关系是什么？"]);
  const capped = buildCharTokenizer(texts, { maxSize: 300 });
  assert.equal(capped.vocabSize, 300);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-enc-"));
  try {
    ct.save(dir);
    const fromDir = RelationTokenizer.fromDir(dir);
    const fromJson = RelationTokenizer.fromTokenizerJson(path.join(dir, "tokenizer.json"));
    const fromVocab = RelationTokenizer.fromVocabFile(path.join(dir, "vocab.txt"));
    for (const r of train.slice(2000, 2200))
      for (const enc of ENCODING_NAMES) {
        const want = encodeRow(ct, r, { encoding: enc, maxLength: 128 }).inputIds;
        for (const t of [fromDir, fromJson, fromVocab]) assert.deepEqual(encodeRow(t, r, { encoding: enc, maxLength: 128 }).inputIds, want);
      }
    assert.equal(fromDir.vocabSize, ct.vocabSize);
    const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")) as { model: { type: string }; normalizer: { type: string } };
    assert.equal(json.model.type, "WordPiece");
    assert.equal(json.normalizer.type, "BertNormalizer");

    // the real vocab, both marker policies
    for (const slots of ["unused", "append"] as const) {
      const t = RelationTokenizer.fromVocabFile(VOCAB, { markerSlots: slots });
      const d = path.join(dir, slots);
      t.save(d);
      const back = RelationTokenizer.fromDir(d);
      assert.equal(back.vocabSize, t.vocabSize);
      assert.deepEqual(back.addedTokens, t.addedTokens);
      const viaVocab = RelationTokenizer.fromVocabFile(path.join(d, "vocab.txt"));
      for (const r of train.slice(0, 50)) {
        const want = encodeRow(t, r, { encoding: "Entity_marked2" }).inputIds;
        assert.deepEqual(encodeRow(back, r, { encoding: "Entity_marked2" }).inputIds, want);
        assert.deepEqual(encodeRow(viaVocab, r, { encoding: "Entity_marked2" }).inputIds, want);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the committed quick checkpoint's vocabulary holds the QA question and every marker: no [UNK] from an encoding", () => {
  const quick = RelationTokenizer.fromDir(path.resolve(__dirname, "..", "data", "pretrained", "quick"));
  assert.deepEqual(quick.tokenize(QA_QUESTION.between + QA_QUESTION.ask), [..."和之间的关系是什么？"]);
  for (const m of MARKER_TOKENS) assert.deepEqual(quick.tokenize(m), [m], m);
  const row = train[0];
  const ids = encodeRow(quick, row, { encoding: "QA", maxLength: 256 }).inputIds;
  const question = quick.tokenize(QA_QUESTION.ask).map((t) => quick.tokenToId(t) ?? -1);
  assert.ok(question.every((id) => ids.includes(id)), "the QA encoding carries the question's ids");
});
