/**
 * Notebook 02's idea at work: the same two rows through the models table's two encoders — the in-domain pretrained
 * checkpoint and the same architecture from scratch — before any fine-tuning. What differs: the vocabulary each
 * reads the rows with, and how far apart the two rows' entity vectors (what the classifier reads) already are.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { DataFrame } from "danfojs-node";
import type { Row } from "../data/types";
import { NUM_LABELS } from "../data/labels";
import { RelationTokenizer, buildCharTokenizer, encodeRow } from "../encoding";
import { BertForRelationClassification, loadPretrained, parseConfig } from "../model";
import { batchInputs, collate } from "../train/batching";
import { loadDanfo } from "../report/danfo";
import { fromProjectPath, PROJECT_ROOT, type ExperimentConfig } from "../runs/config";
import { type VariantSpec } from "../experiments";

export interface EncoderReading {
  variant: string;
  /** where the weights come from */
  weights: string;
  /** vocabulary size, and where it comes from */
  vocabulary: string;
  parameters: number;
  /** each row's tokens as the encoder reads them (markers included) */
  tokens: string[][];
  /** tokens each row loses to [UNK] */
  unknown: number[];
  /** cosine similarity of the two rows' hidden states at the head and tail positions (1 = the same vector) */
  cosine: number;
}

/** The encoder and tokenizer a variant's config starts fine-tuning from (no training). */
async function initialEncoder(cfg: ExperimentConfig, train: readonly Row[]): Promise<{ model: BertForRelationClassification; tok: RelationTokenizer; weights: string; vocabulary: string }> {
  const m = cfg.model;
  if (m.kind === "preset" && m.pretrained) {
    const dir = fromProjectPath(m.pretrained);
    const tok = RelationTokenizer.fromDir(dir);
    const res = await loadPretrained(dir, { numLabels: NUM_LABELS, pooling: cfg.pooling, seed: cfg.seed, vocabSize: tok.vocabSize, ignoreMismatchedHead: true });
    return { model: res.model, tok, weights: `masked-LM pre-trained checkpoint (${path.relative(PROJECT_ROOT, dir)})`, vocabulary: `${tok.vocabSize} WordPiece tokens of the checkpoint` };
  }
  if (m.kind !== "preset" || !m.shapeFrom) throw new Error(`encoder comparison: the models table's two embedded rows are expected, got a ${m.kind} model`);
  // what a from-scratch run builds: a character vocabulary from train, the checkpoint's shape, random weights
  const tok = buildCharTokenizer(train.flatMap((r) => [r.sentence, r.h, r.t]), { minFreq: 1 });
  const shapeFile = `${fromProjectPath(m.shapeFrom)}/config.json`;
  const config = { ...parseConfig(JSON.parse(fs.readFileSync(shapeFile, "utf8")), shapeFile), vocab_size: tok.vocabSize };
  config.max_position_embeddings = Math.max(config.max_position_embeddings, cfg.maxLength);
  const model = new BertForRelationClassification(config, { numLabels: NUM_LABELS, pooling: cfg.pooling, seed: cfg.seed });
  return { model, tok, weights: `random (seed ${cfg.seed}), the checkpoint's shape`, vocabulary: `${tok.vocabSize} characters of the training sentences` };
}

function cosine(a: readonly number[], b: readonly number[]): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  a.forEach((x, i) => {
    ab += x * b[i];
    aa += x * x;
    bb += b[i] * b[i];
  });
  return ab / Math.sqrt(aa * bb);
}

/** Run two rows through each variant's starting encoder and read what differs. */
export async function readTwoRows(rows: readonly [Row, Row], variants: readonly VariantSpec[], train: readonly Row[]): Promise<EncoderReading[]> {
  const out: EncoderReading[] = [];
  for (const v of variants) {
    const { model, tok, weights, vocabulary } = await initialEncoder(v.config, train);
    const enc = rows.map((r) => encodeRow(tok, r, { encoding: v.config.encoding, maxLength: v.config.maxLength, faithful: v.config.faithful }));
    const inputs = batchInputs(collate(enc, [0, 1], tok.padId));
    const vectors = tf.tidy(() => {
      const h = model.forward(inputs, { training: false }).lastHiddenState;
      const at = (pos: readonly number[]) => tf.stack(pos.map((p, i) => h.slice([i, p, 0], [1, 1, -1]).reshape([-1])));
      return tf.concat([at(enc.map((e) => e.headPos)), at(enc.map((e) => e.tailPos))], 1).arraySync() as number[][];
    });
    tf.dispose(Object.values(inputs));
    out.push({
      variant: v.name,
      weights,
      vocabulary,
      parameters: model.numParameters(),
      tokens: enc.map((e) => tok.decodeTokens(e.inputIds)),
      unknown: enc.map((e) => e.inputIds.filter((id) => id === tok.unkId).length),
      cosine: cosine(vectors[0], vectors[1]),
    });
    model.dispose();
  }
  return out;
}

/** The readings side by side: one column per encoder, one row per thing that may differ. */
export function encoderReadingsFrame(readings: readonly EncoderReading[]): DataFrame {
  const { DataFrame } = loadDanfo();
  const cols = Object.fromEntries(
    readings.map((r) => [
      r.variant,
      [
        r.weights,
        r.vocabulary,
        r.parameters.toLocaleString("en-US"),
        ...r.tokens.map((t, i) => `${t.join(" ")} (${r.unknown[i]} [UNK])`),
        r.cosine.toFixed(3),
      ],
    ]),
  );
  const index = ["initial weights", "vocabulary", "parameters", "row 1 as read", "row 2 as read", "cosine of the two rows' entity vectors"];
  return new DataFrame(cols, { index });
}
