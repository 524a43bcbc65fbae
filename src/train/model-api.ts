/**
 * What the training loop needs from a model: the shape of src/model's BertForRelationClassification,
 * stated structurally so that any model with HF-keyed parameters and this forward() can be trained.
 */
import type * as tf from "@tensorflow/tfjs";

export interface ModelInputs {
  /** int32 [B, T] */
  inputIds: tf.Tensor2D;
  tokenTypeIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  /** int32 [B] */
  headPos: tf.Tensor1D;
  tailPos: tf.Tensor1D;
}

export interface TrainableModel {
  readonly numLabels: number;
  readonly config: object;
  /** parameters by Hugging Face key */
  readonly params: Map<string, tf.Variable>;
  forward(inputs: ModelInputs, opts: { training: boolean; dropoutSeed?: number }): { logits: tf.Tensor2D };
  trainableVariables(): tf.Variable[];
}

/** The padding id from the model config (HF `pad_token_id`), 0 when the config has none. */
export function padIdOf(model: TrainableModel): number {
  const c = model.config as { padTokenId?: unknown; pad_token_id?: unknown };
  const v = c.padTokenId ?? c.pad_token_id;
  return typeof v === "number" ? v : 0;
}
