/**
 * The masked-language-model head of Hugging Face `BertForMaskedLM` (`cls.predictions.*`), for in-domain
 * pre-training of the encoder of BertForRelationClassification:
 *   h -> dense (H -> H) -> GELU -> LayerNorm -> · word_embeddingsᵀ (tied decoder) + cls.predictions.bias.
 * Parameters use HF key names; the dense weight is stored [in, out] like every Linear here (layout.ts).
 * The decoder has no weight of its own: it is `bert.embeddings.word_embeddings.weight`, as in HF.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../random";
import { fillNormal, gatherRows, gelu, layerNorm } from "./bert";
import type { BertConfig } from "./config";
import { ModelInputError } from "./errors";

/**
 * HF keys of the MLM head with their HF (PyTorch) shapes. `inputSize`: the width of the hidden states it reads
 * when it differs from the embeddings' (ELECTRA's generator: its dense maps the generator's hidden size to the
 * shared embedding size, HF ElectraGeneratorPredictions); default hidden_size.
 */
export function mlmHeadShapes(config: BertConfig, inputSize = config.hidden_size): Map<string, number[]> {
  const H = config.hidden_size;
  return new Map<string, number[]>([
    ["cls.predictions.transform.dense.weight", [H, inputSize]],
    ["cls.predictions.transform.dense.bias", [H]],
    ["cls.predictions.transform.LayerNorm.weight", [H]],
    ["cls.predictions.transform.LayerNorm.bias", [H]],
    ["cls.predictions.bias", [config.vocab_size]],
  ]);
}

let headCounter = 0;

export class MlmHead {
  /** HF keys -> variables (dense weight stored [in, out]). */
  readonly params: Map<string, tf.Variable>;

  /** width of the hidden states the head reads (the dense layer's input) */
  readonly inputSize: number;

  constructor(
    readonly config: BertConfig,
    seed: number,
    opts: { inputSize?: number } = {},
  ) {
    const prefix = `mlm${headCounter++}/`;
    this.params = new Map();
    this.inputSize = opts.inputSize ?? config.hidden_size;
    const rng = new Rng((seed ^ 0x6d6c6d) >>> 0);
    for (const [key, shape] of mlmHeadShapes(config, this.inputSize)) {
      const size = shape.reduce((a, b) => a * b, 1);
      const v = new Float32Array(size);
      if (key.endsWith("LayerNorm.weight")) v.fill(1);
      else if (key === "cls.predictions.transform.dense.weight") fillNormal(rng, v, config.initializer_range);
      // the dense weight is stored [in, out] (layout.ts)
      const t = tf.tensor(v, key.endsWith("dense.weight") ? [shape[1], shape[0]] : shape, "float32");
      this.params.set(key, tf.variable(t, true, prefix + key));
      t.dispose();
    }
  }

  private p(key: string): tf.Variable {
    const v = this.params.get(key);
    if (!v) throw new Error(`internal: no MLM parameter ${key}`);
    return v;
  }

  /** Vocabulary logits [N, V] for hidden states [N, H] (call inside tf.tidy / variableGrads). */
  logits(hidden: tf.Tensor2D, wordEmbeddings: tf.Tensor): tf.Tensor2D {
    const c = this.config;
    if (hidden.shape[1] !== this.inputSize) throw new ModelInputError("hidden", `expected [N, ${this.inputSize}], got [${hidden.shape.join(", ")}]`);
    const d = tf.add(tf.matMul(hidden, this.p("cls.predictions.transform.dense.weight") as tf.Tensor2D), this.p("cls.predictions.transform.dense.bias"));
    const t = layerNorm(gelu(d as tf.Tensor2D, c.hidden_act), this.p("cls.predictions.transform.LayerNorm.weight"), this.p("cls.predictions.transform.LayerNorm.bias"), c.layer_norm_eps);
    // tied decoder: an explicit [H, V] transpose keeps the product a plain matMul (transposed operands are slow on WASM)
    return tf.add(tf.matMul(t, tf.transpose(wordEmbeddings as tf.Tensor2D)), this.p("cls.predictions.bias"));
  }

  /**
   * Mean cross-entropy over masked positions. `lastHiddenState` [B, T, H]; `positions` flat indices b*T+t of the
   * masked tokens; `labels` their original ids.
   */
  loss(lastHiddenState: tf.Tensor3D, positions: tf.Tensor1D, labels: tf.Tensor1D, wordEmbeddings: tf.Tensor): tf.Scalar {
    const [B, T, H] = lastHiddenState.shape;
    const picked = gatherRows(tf.reshape(lastHiddenState, [B * T, H]), positions);
    return mlmCrossEntropy(this.logits(picked, wordEmbeddings), labels);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

/** Mean cross-entropy of vocabulary logits [N, V] against token ids [N]. */
export function mlmCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  const logp = tf.logSoftmax(logits);
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]), logp), 1))) as tf.Scalar;
}
