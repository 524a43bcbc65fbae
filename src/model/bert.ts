/**
 * BERT for relation classification, read top to bottom like the paper (Devlin et al. 2019) and Hugging Face
 * `modeling_bert.py`: embeddings -> L x (self-attention, add & norm, feed-forward, add & norm) -> pooling ->
 * dropout -> classifier.
 *
 * Parameters live in `params` under Hugging Face keys; Linear weights are stored TRANSPOSED, [in, out]
 * (see layout.ts), so each dense layer is a plain `x @ W + b` on a 2-D [B*T, in] activation.
 *
 * The layers call the fused ops of src/backend (one kernel each way for linear, self-attention from the
 * projections to the merged heads, LayerNorm, GELU, dropout on WASM; plain tf ops under tf.customGrad on
 * other backends). Dropout masks are a seeded counter hash (backend `dropout`), identical on every backend.
 */
import * as tf from "@tensorflow/tfjs";
import * as ops from "../backend/ops";
import { checkpoint } from "../backend/recompute";
import { memoryLimitBytes } from "../backend/select";
import { Rng } from "../random";
import type { BertConfig, Pooling } from "./config";
import { ModelInputError } from "./errors";
import { hfParamShapes, storedShape, usesParam } from "./layout";

export interface ModelInputs {
  /** int32 [B, T] */
  inputIds: tf.Tensor2D;
  /** int32 [B, T] */
  tokenTypeIds: tf.Tensor2D;
  /** int32 [B, T], 1 = real token, 0 = padding */
  attentionMask: tf.Tensor2D;
  /** int32 [B], token index of the head entity's start (used by entity_start pooling) */
  headPos: tf.Tensor1D;
  /** int32 [B] */
  tailPos: tf.Tensor1D;
  /** int32 [B], one past the head entity's last token (its span is [headPos, headEnd)); entity_span pooling */
  headEnd?: tf.Tensor1D;
  /** int32 [B] */
  tailEnd?: tf.Tensor1D;
}

export interface ModelOptions {
  numLabels: number;
  pooling: Pooling;
  /** seeds random init (per parameter, so one key's values do not depend on which others were given) and default dropout */
  seed: number;
  /**
   * Values for some or all parameters, in STORED layout (Linear weights [in, out]); the rest are randomly
   * initialised. Used by the checkpoint loaders so a 110M-parameter model is not initialised twice.
   */
  initialValues?: Map<string, Float32Array>;
  /** encoder layers that recompute their activations in backward (see `recompute`); default "auto" */
  recompute?: RecomputePolicy;
}

/**
 * Gradient checkpointing per encoder layer: a count of layers (from the bottom) whose activations are recomputed in
 * backward instead of kept, or "auto": as few as let a training step fit the backend's memory (the WASM heap's
 * 4 GiB; none on backends without such a ceiling). Recomputing costs one more forward of each such layer.
 */
export type RecomputePolicy = number | "auto";

/** HF BERT's additive mask value for padded keys (modern HF uses finfo.min; identical after softmax). */
const MASK_NEGATIVE = -10000;

let modelCounter = 0;

/**
 * Bytes the tape keeps for backward per encoder layer at B × T (what recomputing the layer saves): eight [B*T, H]
 * float32 activations (the input, q, k, v, the attention context, the two residual sums, the first LayerNorm's
 * output) and two [B*T, I] (before and after GELU). Not the attention probabilities [B, heads, T, T]: with the
 * OpenBLAS kernels their gradient recomputes them (composite backends keep them: this undercounts there, where
 * memory has no 4 GiB ceiling).
 */
export function layerActivationBytes(c: BertConfig, B: number, T: number): number {
  return 4 * B * T * (8 * c.hidden_size + 2 * c.intermediate_size);
}

export interface StepMemory {
  /** bytes held when the forward starts (weights, optimizer moments, inputs, ...) */
  inUse: number;
  /** bytes of the trainable parameters (= of their gradients) */
  gradBytes: number;
  /** the backend's ceiling (Infinity: none) */
  limit: number;
}

/**
 * Fewest encoder layers to recompute so that a training step at B × T fits 90% of `m.limit` (the rest for the
 * allocator). A step peaks at one of three points (with src/backend/tape.ts freeing as backward goes): the start of
 * backward (the kept activations, recomputed layers' inputs only, and the top layer's backward scratch), the replay
 * of the last recomputed layer (its activations and scratch beside nearly all gradients), or the optimizer (the
 * gradients, their clipped copy, and AdamW's new p/m/v of the largest parameter, the word embeddings). Returns the
 * layer count when even recomputing all does not fit (the step may then still run out of memory).
 */
export function layersToRecompute(c: BertConfig, B: number, T: number, m: StepMemory): number {
  const L = c.num_hidden_layers;
  if (!Number.isFinite(m.limit)) return 0;
  const act = layerActivationBytes(c, B, T);
  const input = 4 * B * T * c.hidden_size;
  const scratch = 4 * B * T * (6 * c.hidden_size + 2 * c.intermediate_size);
  const optimizer = m.inUse + 2 * m.gradBytes + 3 * 4 * c.vocab_size * c.hidden_size;
  const peak = (k: number): number => {
    const backwardStart = m.inUse + (L - k) * act + (k + 5) * input + scratch; // +5 inputs' worth: embeddings, pooling
    const replay = k > 0 ? m.inUse + k * input + m.gradBytes + act + scratch : 0;
    return Math.max(backwardStart, replay, optimizer);
  };
  for (let k = 0; k < L; k++) if (peak(k) <= 0.9 * m.limit) return k;
  return L;
}

/** FNV-1a hash of a string, for per-key seeds. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mix two 32-bit integers into one (murmur3 finaliser), for dropout site seeds. */
function mix32(a: number, b: number): number {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ (b >>> 0)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Fill with N(0, std^2) by Marsaglia's polar method (two samples per accepted pair; ~3x faster than rng.normal() for 100M values). */
export function fillNormal(rng: Rng, out: Float32Array, std: number): Float32Array {
  for (let i = 0; i < out.length; ) {
    const x = 2 * rng.next() - 1;
    const y = 2 * rng.next() - 1;
    const s = x * x + y * y;
    if (s >= 1 || s === 0) continue;
    const f = Math.sqrt((-2 * Math.log(s)) / s) * std;
    out[i++] = x * f;
    if (i < out.length) out[i++] = y * f;
  }
  return out;
}

/**
 * Row lookup `table[ids]` with a scatter-add gradient; scatterND sums duplicate indices (a token repeated in the
 * batch) on every backend. tf.gather's own gradient (UnsortedSegmentSum) gives the same numbers no faster, and this
 * one also works on stock tfjs-wasm.
 */
const gatherRowsOp = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const table = args[0] as tf.Tensor2D;
  const ids = args[1] as tf.Tensor1D;
  const save = args[2] as tf.GradSaveFunc;
  save([ids]);
  const shape = table.shape;
  return {
    value: tf.gather(table, ids),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      tf.scatterND(tf.expandDims(saved[0], 1), dy, shape),
      tf.zerosLike(saved[0]),
    ],
  };
});
export function gatherRows(table: tf.Tensor, ids: tf.Tensor): tf.Tensor2D {
  return gatherRowsOp(table, ids) as tf.Tensor2D;
}

/** LayerNorm over the last axis with biased variance, as torch.nn.LayerNorm (the fused backend op). */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor2D {
  return ops.layerNorm(x, gamma, beta, eps);
}

/** "gelu": exact x * Phi(x) with erf (the fused backend op); "gelu_new": the tanh approximation (GPT-2 / HF gelu_new). */
export function gelu(x: tf.Tensor2D, kind: string): tf.Tensor2D {
  if (kind === "gelu_new") {
    return tf.tidy(() => {
      const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
    });
  }
  return ops.gelu(x);
}

/** Dense layer on a 2-D activation with W stored [in, out], bias fused (the backend op). */
function linear(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  return ops.linear(x, w, b) as tf.Tensor2D;
}

interface ForwardContext {
  training: boolean;
  seedBase: number;
  site: number;
}

export class BertForRelationClassification {
  readonly config: BertConfig;
  readonly pooling: Pooling;
  readonly numLabels: number;
  /** Hugging Face keys -> variables; Linear `.weight`s stored transposed as [in, out] (see layout.ts). */
  readonly params: Map<string, tf.Variable>;
  private readonly seed: number;
  /** gradient checkpointing of the encoder layers (settable between steps) */
  recompute: RecomputePolicy;
  /** encoder layers the last training forward recomputes in backward (for logs and benchmarks) */
  lastRecomputed = 0;
  private trainingCalls = 0;
  private disposed = false;

  constructor(config: BertConfig, opts: ModelOptions) {
    if (!Number.isInteger(opts.numLabels) || opts.numLabels < 1) {
      throw new ModelInputError("numLabels", `must be a positive integer, got ${opts.numLabels}`);
    }
    if (opts.pooling !== "cls" && opts.pooling !== "entity_start" && opts.pooling !== "entity_span") {
      throw new ModelInputError("pooling", `must be "cls", "entity_start" or "entity_span", got "${String(opts.pooling)}"`);
    }
    this.config = { ...config };
    this.pooling = opts.pooling;
    this.numLabels = opts.numLabels;
    this.seed = opts.seed >>> 0;
    this.recompute = opts.recompute ?? "auto";
    if (this.recompute !== "auto" && !(Number.isInteger(this.recompute) && this.recompute >= 0)) {
      throw new ModelInputError("recompute", `must be "auto" or a layer count ≥ 0, got ${String(this.recompute)}`);
    }
    // variable names must be unique per tfjs engine; the prefix lets several models coexist (optimisers key by name)
    const prefix = `m${modelCounter++}/`;
    this.params = new Map();
    for (const [key, hfShape] of hfParamShapes(config, opts.numLabels, opts.pooling)) {
      const shape = storedShape(key, hfShape);
      const size = shape.reduce((a, b) => a * b, 1);
      let values = opts.initialValues?.get(key);
      if (values !== undefined && values.length !== size) {
        throw new ModelInputError("initialValues", `${key} has ${values.length} values, expected ${size} for [${shape.join(", ")}]`);
      }
      values ??= this.initValues(key, size);
      const init = tf.tensor(values, shape, "float32");
      this.params.set(key, tf.variable(init, usesParam(key, opts.pooling), prefix + key));
      init.dispose(); // the variable holds its own reference to the data
    }
  }

  /** HF `_init_weights`: normal(0, initializer_range) for Linear and Embedding weights (padding row zeroed), zero biases, LayerNorm ones/zeros. */
  private initValues(key: string, size: number): Float32Array {
    const out = new Float32Array(size);
    if (key.endsWith("LayerNorm.weight")) return out.fill(1);
    if (key.endsWith(".bias")) return out;
    fillNormal(new Rng(mix32(this.seed, hashString(key))), out, this.config.initializer_range);
    if (key === "bert.embeddings.word_embeddings.weight") {
      const H = this.config.hidden_size;
      out.fill(0, this.config.pad_token_id * H, (this.config.pad_token_id + 1) * H);
    }
    return out;
  }

  private p(key: string): tf.Variable {
    const v = this.params.get(key);
    if (!v) throw new Error(`internal: no parameter ${key}`);
    return v;
  }

  /** Variables the optimiser should update: all but the pooler under the entity poolings (it gets no gradient). */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()].filter((v) => v.trainable);
  }

  /** Number of scalar parameters (all of `params`). */
  numParameters(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.params.values()) v.dispose();
    this.disposed = true;
  }

  /** Dropout with a reproducible seed per call site: seedBase (dropoutSeed or a per-call counter) mixed with the site index. */
  private dropout<T extends tf.Tensor>(x: T, rate: number, ctx: ForwardContext): T {
    if (!ctx.training || rate === 0) return x;
    return ops.dropout(x, rate, mix32(ctx.seedBase, ctx.site++));
  }

  /**
   * The embedding block alone (word + position + token type, LayerNorm, dropout): [B*T, H]. ELECTRA's generator
   * runs its encoder on the discriminator's embeddings (src/model/electra.ts); call inside tf.tidy / variableGrads.
   */
  embed(inputs: ModelInputs, opts: { training: boolean; dropoutSeed: number }): tf.Tensor2D {
    if (this.disposed) throw new ModelInputError("model", "embed() on a disposed model");
    const [B, T] = this.checkInputs(inputs);
    return this.embeddings(inputs, B, T, { training: opts.training, seedBase: opts.dropoutSeed >>> 0, site: 0 });
  }

  /**
   * `inputEmbeds` [B*T, H]: the encoder's input given instead of this model's own embeddings (which it then does
   * not use), as Hugging Face's `inputs_embeds` after the embedding block.
   */
  forward(inputs: ModelInputs, opts: { training: boolean; dropoutSeed?: number; inputEmbeds?: tf.Tensor2D }): { logits: tf.Tensor2D; lastHiddenState: tf.Tensor3D } {
    if (this.disposed) throw new ModelInputError("model", "forward() on a disposed model");
    const [B, T] = this.checkInputs(inputs);
    const seedBase = opts.dropoutSeed ?? mix32(this.seed, opts.training ? this.trainingCalls++ : 0);
    const ctx: ForwardContext = { training: opts.training, seedBase: seedBase >>> 0, site: 0 };
    const c = this.config;
    const H = c.hidden_size;
    // the bottom k encoder layers keep only their input and replay themselves in backward (gradient checkpointing)
    const k = opts.training ? this.recomputedLayers(B, T) : 0;
    if (opts.training) this.lastRecomputed = k;

    return tf.tidy(() => {
      // 1. embeddings: word + position + token type, LayerNorm, dropout. Activations stay 2-D [B*T, H].
      // (a tidy per stage frees what the tape does not keep as the forward goes, not when it ends)
      const given = opts.inputEmbeds;
      if (given && (given.rank !== 2 || given.shape[0] !== B * T || given.shape[1] !== H)) {
        throw new ModelInputError("inputEmbeds", `expected [${B * T}, ${H}], got [${given.shape.join(", ")}]`);
      }
      let x = given ?? tf.tidy(() => this.embeddings(inputs, B, T, ctx));

      // 2. additive attention mask [B, T]: 0 for real keys, -10000 for padding
      const maskAdd = tf.mul(tf.sub(1, tf.cast(inputs.attentionMask, "float32")), MASK_NEGATIVE);

      // 3. the encoder layers
      for (let i = 0; i < c.num_hidden_layers; i++) {
        const input = x;
        x = tf.tidy(() => (i < k ? this.recomputedLayer(i, input, maskAdd, B, ctx) : this.layer(i, input, maskAdd, B, ctx)));
      }
      const lastHiddenState = tf.reshape(x, [B, T, H]) as tf.Tensor3D;

      // 4. pooling -> dropout -> classifier
      const rowStart = tf.range(0, B * T, T, "int32"); // flat index of each sequence's token 0
      let pooled: tf.Tensor2D;
      if (this.pooling === "cls") {
        // BertPooler: dense + tanh on the [CLS] token, exactly BertForSequenceClassification
        const cls = gatherRows(x, rowStart as tf.Tensor1D);
        pooled = tf.tanh(linear(cls, this.p("bert.pooler.dense.weight"), this.p("bert.pooler.dense.bias")));
      } else {
        // entity start: [h_head; h_tail] from the last hidden states, no pooler
        const head = gatherRows(x, tf.add(rowStart, inputs.headPos) as tf.Tensor1D);
        const tail = gatherRows(x, tf.add(rowStart, inputs.tailPos) as tf.Tensor1D);
        pooled = tf.concat([head, tail], 1);
        if (this.pooling === "entity_span") {
          // mean of each entity's span: a [B, 1, T] averaging row times the hidden states [B, T, H]
          const spanMean = (start: tf.Tensor1D, end: tf.Tensor1D): tf.Tensor2D => {
            const t = tf.reshape(tf.range(0, T, 1, "int32"), [1, T]);
            const inSpan = tf.cast(tf.logicalAnd(tf.greaterEqual(t, tf.reshape(start, [B, 1])), tf.less(t, tf.reshape(end, [B, 1]))), "float32");
            const avg = tf.div(inSpan, tf.sum(inSpan, 1, true));
            return tf.reshape(tf.matMul(tf.reshape(avg, [B, 1, T]), lastHiddenState), [B, H]);
          };
          pooled = tf.concat([pooled, spanMean(inputs.headPos, inputs.headEnd!), spanMean(inputs.tailPos, inputs.tailEnd!)], 1);
        }
      }
      pooled = this.dropout(pooled, c.hidden_dropout_prob, ctx);
      const logits = linear(pooled, this.p("classifier.weight"), this.p("classifier.bias"));
      return { logits, lastHiddenState };
    });
  }

  /** Word + position + token type embeddings, LayerNorm, dropout: [B*T, H]. */
  private embeddings(inputs: ModelInputs, B: number, T: number, ctx: ForwardContext): tf.Tensor2D {
    const c = this.config;
    const H = c.hidden_size;
    const words = gatherRows(this.p("bert.embeddings.word_embeddings.weight"), tf.reshape(inputs.inputIds, [B * T]));
    const types = gatherRows(this.p("bert.embeddings.token_type_embeddings.weight"), tf.reshape(inputs.tokenTypeIds, [B * T]));
    const positions = tf.slice(this.p("bert.embeddings.position_embeddings.weight"), [0, 0], [T, H]);
    const sum = tf.add(tf.reshape(tf.add(words, types), [B, T, H]), positions); // positions broadcast over B
    const x = layerNorm(
      tf.reshape(sum, [B * T, H]),
      this.p("bert.embeddings.LayerNorm.weight"),
      this.p("bert.embeddings.LayerNorm.bias"),
      c.layer_norm_eps,
    );
    return this.dropout(x, c.hidden_dropout_prob, ctx);
  }

  /** Layers to recompute at B × T under `recompute` (bottom ones: their replay runs when the layers above are freed). */
  private recomputedLayers(B: number, T: number): number {
    const L = this.config.num_hidden_layers;
    if (this.recompute !== "auto") return Math.min(this.recompute, L);
    let gradBytes = 0;
    for (const v of this.trainableVariables()) gradBytes += 4 * v.size;
    return layersToRecompute(this.config, B, T, { inUse: tf.memory().numBytes, gradBytes, limit: memoryLimitBytes() });
  }

  /** `layer` under gradient checkpointing; the replay starts from the same dropout site, so it draws the same masks. */
  private recomputedLayer(i: number, x: tf.Tensor2D, maskAdd: tf.Tensor, B: number, ctx: ForwardContext): tf.Tensor2D {
    const site = ctx.site;
    let next = site;
    const prefix = `bert.encoder.layer.${i}.`;
    const weights = [...this.params].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
    const run = (input: tf.Tensor, mask: tf.Tensor): tf.Tensor2D => {
      const replayCtx = { ...ctx, site };
      const y = this.layer(i, input as tf.Tensor2D, mask, B, replayCtx);
      next = replayCtx.site;
      return y;
    };
    const y = checkpoint(run, x, [maskAdd], weights);
    ctx.site = next;
    return y;
  }

  /** One transformer layer: multi-head self-attention, add & norm, feed-forward (GELU), add & norm. */
  private layer(i: number, x: tf.Tensor2D, maskAdd: tf.Tensor, B: number, ctx: ForwardContext): tf.Tensor2D {
    const c = this.config;
    const H = c.hidden_size;
    const nh = c.num_attention_heads;
    const d = H / nh;
    const p = `bert.encoder.layer.${i}.`;
    const w = (name: string): tf.Variable => this.p(p + name);

    // self-attention: softmax(Q K^T / sqrt(d) + mask) V per head, heads split and merged inside the fused op;
    // dropout on the probabilities gets this site's seed (training only)
    const q = linear(x, w("attention.self.query.weight"), w("attention.self.query.bias"));
    const k = linear(x, w("attention.self.key.weight"), w("attention.self.key.bias"));
    const v = linear(x, w("attention.self.value.weight"), w("attention.self.value.bias"));
    const rate = ctx.training ? c.attention_probs_dropout_prob : 0;
    const seed = rate > 0 ? mix32(ctx.seedBase, ctx.site++) : 0;
    const context = ops.selfAttention(q, k, v, maskAdd, { heads: nh, batch: B, scale: 1 / Math.sqrt(d), dropoutRate: rate, seed }) as tf.Tensor2D;

    // attention output: dense, dropout, residual, LayerNorm
    const a = this.addNorm(linear(context, w("attention.output.dense.weight"), w("attention.output.dense.bias")), x, p + "attention.output.LayerNorm", ctx);

    // feed-forward: dense H -> I, GELU, dense I -> H, dropout, residual, LayerNorm
    const inter = gelu(linear(a, w("intermediate.dense.weight"), w("intermediate.dense.bias")), c.hidden_act);
    return this.addNorm(linear(inter, w("output.dense.weight"), w("output.dense.bias")), a, p + "output.LayerNorm", ctx);
  }

  /** Add & norm: LayerNorm(dropout(x) + residual) in one fused op; the dropout seed is this site's, drawn as this.dropout draws it. */
  private addNorm(x: tf.Tensor2D, residual: tf.Tensor2D, norm: string, ctx: ForwardContext): tf.Tensor2D {
    const rate = ctx.training ? this.config.hidden_dropout_prob : 0;
    const seed = rate > 0 ? mix32(ctx.seedBase, ctx.site++) : 0;
    return ops.addLayerNorm(x, residual, this.p(norm + ".weight"), this.p(norm + ".bias"), this.config.layer_norm_eps, { rate, seed });
  }

  /** Shapes, dtypes and index ranges, checked before any kernel runs (out-of-range gathers fail silently on some backends). */
  private checkInputs(inputs: ModelInputs): [number, number] {
    const { inputIds, tokenTypeIds, attentionMask, headPos, tailPos } = inputs;
    if (inputIds.rank !== 2) throw new ModelInputError("inputIds", `expected rank 2 [B, T], got shape [${inputIds.shape.join(", ")}]`);
    const [B, T] = inputIds.shape;
    const c = this.config;
    const same2d: Array<[string, tf.Tensor]> = [["tokenTypeIds", tokenTypeIds], ["attentionMask", attentionMask]];
    for (const [name, t] of same2d) {
      if (t.rank !== 2 || t.shape[0] !== B || t.shape[1] !== T) {
        throw new ModelInputError(name, `expected shape [${B}, ${T}] like inputIds, got [${t.shape.join(", ")}]`);
      }
    }
    for (const [name, t] of [["headPos", headPos], ["tailPos", tailPos]] as Array<[string, tf.Tensor]>) {
      if (t.rank !== 1 || t.shape[0] !== B) throw new ModelInputError(name, `expected shape [${B}], got [${t.shape.join(", ")}]`);
    }
    for (const [name, t] of [["inputIds", inputIds], ["tokenTypeIds", tokenTypeIds], ["headPos", headPos], ["tailPos", tailPos]] as Array<[string, tf.Tensor]>) {
      if (t.dtype !== "int32") throw new ModelInputError(name, `expected dtype int32, got ${t.dtype}`);
    }
    if (T > c.max_position_embeddings) {
      throw new ModelInputError("inputIds", `sequence length ${T} exceeds max_position_embeddings ${c.max_position_embeddings}`);
    }
    if (T < 1 || B < 1) throw new ModelInputError("inputIds", `empty batch [${B}, ${T}]`);
    const range = (name: string, t: tf.Tensor, hi: number): void => {
      const data = t.dataSync();
      for (let i = 0; i < data.length; i++) {
        if (!(data[i] >= 0 && data[i] < hi)) throw new ModelInputError(name, `value ${data[i]} at flat index ${i} is outside [0, ${hi})`);
      }
    };
    range("inputIds", inputIds, c.vocab_size);
    range("tokenTypeIds", tokenTypeIds, c.type_vocab_size);
    range("headPos", headPos, T);
    range("tailPos", tailPos, T);
    if (this.pooling === "entity_span") {
      for (const [name, end, start] of [["headEnd", inputs.headEnd, headPos], ["tailEnd", inputs.tailEnd, tailPos]] as const) {
        if (!end) throw new ModelInputError(name, "entity_span pooling needs the entity span ends (Encoded.headEnd / tailEnd)");
        if (end.rank !== 1 || end.shape[0] !== B || end.dtype !== "int32") throw new ModelInputError(name, `expected int32 [${B}], got ${end.dtype} [${end.shape.join(", ")}]`);
        const e = end.dataSync();
        const s = start.dataSync();
        for (let i = 0; i < B; i++) {
          if (!(e[i] > s[i] && e[i] <= T)) throw new ModelInputError(name, `value ${e[i]} at row ${i} is outside (${s[i]}, ${T}]`);
        }
      }
    }
    return [B, T];
  }
}

