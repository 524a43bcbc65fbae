/**
 * ELECTRA replaced-token detection (Clark et al. 2020; google-research/electra `run_pretraining.py`, Hugging Face
 * `modeling_electra.py`) over the BERT encoder of bert.ts:
 *
 *   generator      a narrow BERT (hidden ¼ of the discriminator's) reading the SHARED embedding block (word,
 *                  position, token type, LayerNorm: HF ties `generator.electra.embeddings` to the discriminator's)
 *                  through `embeddings_project` (Linear H → H_gen, HF ElectraModel when the sizes differ), with an
 *                  MLM head: dense H_gen → H, GELU, LayerNorm, decoder tied to the shared word embeddings + bias
 *                  (HF ElectraGeneratorPredictions + generator_lm_head); loss: mean cross-entropy at the masked tokens
 *   sampling       one token per masked position from the generator's softmax (host side, seeded: no gradient flows
 *                  through it); the discriminator reads the original text with those tokens in place
 *   discriminator  the plain BERT encoder (exported alone for fine-tuning) + per-token head: dense H → H, GELU,
 *                  dense H → 1 (HF ElectraDiscriminatorPredictions); label 1 where the token differs from the
 *                  original (a sample equal to the original counts as original); loss: mean binary cross-entropy
 *                  over the non-padding tokens
 *   loss           generator MLM + discWeight (50) × discriminator BCE, one backward pass for both networks
 *
 * Keys: the discriminator's are the BERT checkpoint keys (`bert.*`) plus `discriminator_predictions.*` (HF
 * names); the generator's are prefixed `generator.` (`generator.bert.encoder.*`, `generator.embeddings_project.*`,
 * `generator.cls.predictions.*`). Linear weights are stored [in, out] as everywhere here (layout.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../random";
import { BertForRelationClassification, fillNormal, gatherRows, gelu, type ModelInputs } from "./bert";
import type { BertConfig } from "./config";
import { MlmHead, mlmCrossEntropy } from "./mlm";

export interface GeneratorShape {
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
}

/** google-research/electra `get_generator_config`: hidden × size, same depth, 4 × hidden feed-forward, one head per 64 dims (at least 1). */
export function defaultGeneratorShape(disc: BertConfig, size = 0.25): GeneratorShape {
  const hidden = Math.round(disc.hidden_size * size);
  return { hidden, layers: disc.num_hidden_layers, heads: Math.max(1, Math.floor(hidden / 64)), intermediate: 4 * hidden };
}

export function generatorConfig(disc: BertConfig, g: GeneratorShape): BertConfig {
  return { ...disc, hidden_size: g.hidden, num_hidden_layers: g.layers, num_attention_heads: g.heads, intermediate_size: g.intermediate };
}

/** The per-token binary head of the discriminator, HF shapes ([out, in] for Linear weights). */
export function discriminatorHeadShapes(H: number): Map<string, number[]> {
  return new Map([
    ["discriminator_predictions.dense.weight", [H, H]],
    ["discriminator_predictions.dense.bias", [H]],
    ["discriminator_predictions.dense_prediction.weight", [1, H]],
    ["discriminator_predictions.dense_prediction.bias", [1]],
  ]);
}

/** Keys of this module that are Linear weights beyond layout.ts's rule (stored [in, out], HF [out, in]). */
export function isElectraLinear(key: string): boolean {
  return key.endsWith("embeddings_project.weight") || key.endsWith("dense_prediction.weight");
}

/** A batch as ELECTRA reads it (host arrays, flat [B*T]). */
export interface ElectraBatch {
  B: number;
  T: number;
  /** the generator's input: the text with the chosen words masked */
  maskedIds: Int32Array;
  /** the original text */
  originalIds: Int32Array;
  attentionMask: Int32Array;
  /** flat indices b*T+t of the masked tokens, ascending */
  positions: Int32Array;
}

/** Draws one token id per row of generator logits [N, V] (row-major). */
export type Sampler = (logits: Float32Array, N: number, V: number) => Int32Array;

export interface ElectraLosses {
  total: tf.Scalar;
  genLoss: tf.Scalar;
  discLoss: tf.Scalar;
  /** masked tokens the generator's argmax gets right */
  genCorrect: tf.Scalar;
  /** non-padding tokens the discriminator classifies right (logit > 0 ⇔ replaced) */
  discCorrect: tf.Scalar;
  /** tokens replaced by a sample different from the original, and non-padding tokens */
  replaced: number;
  active: number;
  sampled: Int32Array;
}

let electraCounter = 0;

export class Electra {
  readonly disc: BertForRelationClassification;
  readonly gen: BertForRelationClassification;
  readonly genHead: MlmHead;
  /** every trainable parameter (no pooler / classifier of either encoder, no generator embeddings), by key */
  readonly params = new Map<string, tf.Variable>();
  readonly discWeight: number;
  private readonly own: tf.Variable[] = [];

  constructor(
    readonly config: BertConfig,
    readonly genShape: GeneratorShape,
    opts: { seed: number; discWeight?: number },
  ) {
    this.discWeight = opts.discWeight ?? 50;
    this.disc = new BertForRelationClassification(config, { numLabels: 1, pooling: "entity_start", seed: opts.seed });
    const gc = generatorConfig(config, genShape);
    const genSeed = (opts.seed ^ 0x67656e) >>> 0;
    this.gen = new BertForRelationClassification(gc, { numLabels: 1, pooling: "entity_start", seed: genSeed });
    this.genHead = new MlmHead(config, genSeed, { inputSize: genShape.hidden });
    for (const [k, v] of this.disc.params) if (k.startsWith("bert.") && !k.startsWith("bert.pooler.")) this.params.set(k, v);
    const prefix = `electra${electraCounter++}/`;
    const rng = new Rng((opts.seed ^ 0x656c6563) >>> 0);
    const add = (key: string, hfShape: number[], init: "normal" | "zero"): void => {
      const stored = hfShape.length === 2 ? [hfShape[1], hfShape[0]] : hfShape;
      const size = hfShape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      if (init === "normal") fillNormal(rng, data, config.initializer_range);
      const t = tf.tensor(data, stored, "float32");
      const v = tf.variable(t, true, prefix + key);
      t.dispose();
      this.own.push(v);
      this.params.set(key, v);
    };
    for (const [k, s] of discriminatorHeadShapes(config.hidden_size)) add(k, s, k.endsWith("weight") ? "normal" : "zero");
    add("generator.embeddings_project.weight", [genShape.hidden, config.hidden_size], "normal");
    add("generator.embeddings_project.bias", [genShape.hidden], "zero");
    for (const [k, v] of this.gen.params) if (k.startsWith("bert.encoder.")) this.params.set(`generator.${k}`, v);
    for (const [k, v] of this.genHead.params) this.params.set(`generator.${k}`, v);
  }

  private p(key: string): tf.Variable {
    const v = this.params.get(key);
    if (!v) throw new Error(`internal: no ELECTRA parameter ${key}`);
    return v;
  }

  /** Number of trainable scalars (discriminator encoder + head, generator). */
  numParameters(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /**
   * Both losses for one batch (call inside tf.variableGrads). `seed` seeds dropout (generator and discriminator
   * apart); `sample` draws the replacements from the generator's logits (their values only).
   */
  losses(b: ElectraBatch, opts: { training: boolean; seed: number; sample: Sampler }): ElectraLosses {
    const { B, T } = b;
    const N = b.positions.length;
    const zerosB = (): tf.Tensor1D => tf.zeros([B], "int32");
    const inputs = (ids: Int32Array): ModelInputs => ({
      inputIds: tf.tensor2d(ids, [B, T], "int32"),
      tokenTypeIds: tf.zeros([B, T], "int32") as tf.Tensor2D,
      attentionMask: tf.tensor2d(b.attentionMask, [B, T], "int32"),
      headPos: zerosB(),
      tailPos: zerosB(),
    });
    const positions = tf.tensor1d(b.positions, "int32");
    const wordEmb = this.p("bert.embeddings.word_embeddings.weight");

    // generator: shared embeddings -> embeddings_project -> narrow encoder -> MLM head at the masked tokens
    const gIn = inputs(b.maskedIds);
    const emb = this.disc.embed(gIn, { training: opts.training, dropoutSeed: mixSeed(opts.seed, 1) });
    const projected = tf.add(tf.matMul(emb, this.p("generator.embeddings_project.weight")), this.p("generator.embeddings_project.bias")) as tf.Tensor2D;
    const g = this.gen.forward(gIn, { training: opts.training, dropoutSeed: mixSeed(opts.seed, 2), inputEmbeds: projected });
    const Hg = this.genShape.hidden;
    const genLogits = this.genHead.logits(gatherRows(tf.reshape(g.lastHiddenState, [B * T, Hg]), positions), wordEmb);
    const labels = new Int32Array(N);
    for (let i = 0; i < N; i++) labels[i] = b.originalIds[b.positions[i]];
    const labelsT = tf.tensor1d(labels, "int32");
    const genLoss = mlmCrossEntropy(genLogits, labelsT);
    const genCorrect = tf.sum(tf.cast(tf.equal(tf.argMax(genLogits, 1), labelsT), "float32")) as tf.Scalar;

    // replacements: sampled on the host from the logits' values (no gradient through the sampling)
    const V = genLogits.shape[1];
    const sampled = N > 0 ? opts.sample(genLogits.dataSync() as Float32Array, N, V) : new Int32Array(0);
    const discIds = b.originalIds.slice();
    for (let i = 0; i < N; i++) discIds[b.positions[i]] = sampled[i];
    const isReplaced = new Float32Array(B * T);
    let replaced = 0;
    let active = 0;
    for (let i = 0; i < B * T; i++) {
      if (b.attentionMask[i]) active++;
      if (discIds[i] !== b.originalIds[i]) {
        isReplaced[i] = 1;
        replaced++;
      }
    }

    // discriminator: the full encoder on the corrupted text, per-token logit
    const d = this.disc.forward(inputs(discIds), { training: opts.training, dropoutSeed: mixSeed(opts.seed, 3) });
    const H = this.config.hidden_size;
    const hid = gelu(
      tf.add(tf.matMul(tf.reshape(d.lastHiddenState, [B * T, H]), this.p("discriminator_predictions.dense.weight")), this.p("discriminator_predictions.dense.bias")) as tf.Tensor2D,
      this.config.hidden_act,
    );
    const z = tf.reshape(tf.add(tf.matMul(hid, this.p("discriminator_predictions.dense_prediction.weight")), this.p("discriminator_predictions.dense_prediction.bias")), [B * T]);
    const y = tf.tensor1d(isReplaced, "float32");
    const w = tf.tensor1d(Float32Array.from(b.attentionMask), "float32");
    // BCE with logits, stable: max(z, 0) − z·y + log(1 + e^−|z|), mean over the non-padding tokens
    const bce = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
    const discLoss = tf.div(tf.sum(tf.mul(bce, w)), Math.max(1, active)) as tf.Scalar;
    const discCorrect = tf.sum(tf.mul(tf.cast(tf.equal(tf.cast(tf.greater(z, 0), "float32"), y), "float32"), w)) as tf.Scalar;
    const total = tf.add(genLoss, tf.mul(this.discWeight, discLoss)) as tf.Scalar;
    return { total, genLoss, discLoss, genCorrect, discCorrect, replaced, active, sampled };
  }

  dispose(): void {
    for (const v of this.own) v.dispose();
    this.genHead.dispose();
    this.gen.dispose();
    this.disc.dispose();
  }
}

function mixSeed(seed: number, k: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ k) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Categorical sampling from softmax(logits) per row by inverse CDF with one uniform draw per row, in float64 on
 * the host (exact and repeatable). `banned` ids (specials, markers) get probability 0.
 */
export function categoricalSampler(rng: Rng, banned: ReadonlySet<number>): Sampler {
  return (logits, N, V) => {
    const allowed = new Uint8Array(V).fill(1);
    for (const j of banned) if (j < V) allowed[j] = 0;
    const out = new Int32Array(N);
    const p = new Float64Array(V);
    for (let r = 0; r < N; r++) {
      const base = r * V;
      let mx = -Infinity;
      for (let j = 0; j < V; j++) if (allowed[j] && logits[base + j] > mx) mx = logits[base + j];
      let sum = 0;
      for (let j = 0; j < V; j++) {
        p[j] = allowed[j] ? Math.exp(logits[base + j] - mx) : 0;
        sum += p[j];
      }
      const u = rng.next() * sum;
      let acc = 0;
      let pick = -1;
      for (let j = 0; j < V; j++) {
        if (p[j] === 0) continue;
        acc += p[j];
        pick = j;
        if (u < acc) break;
      }
      out[r] = pick;
    }
    return out;
  };
}
