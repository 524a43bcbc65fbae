/**
 * Parameter names, shapes and storage layout.
 *
 * `params` keys are Hugging Face BERT keys. The one difference from a PyTorch state_dict is the STORED LAYOUT
 * of Linear weights: PyTorch keeps nn.Linear.weight as [out, in] and computes x @ W^T; we store it transposed,
 * as [in, out], so every dense layer is a plain `tf.matMul(x, W)` (a transposed operand takes a slow path on
 * WASM). Loading transposes [out, in] -> [in, out]; saving transposes back, so files on disk are HF layout.
 * Embeddings, LayerNorm and biases are stored as in PyTorch.
 */
import type { BertConfig, Pooling } from "./config";

/** True for nn.Linear weights (stored transposed): q/k/v, every `.dense`, and the classifier. */
export function isLinearWeight(key: string): boolean {
  return /\.(query|key|value|dense)\.weight$/.test(key) || key === "classifier.weight";
}

/** Every parameter of BertForRelationClassification with its shape in Hugging Face (PyTorch) layout, in HF order. */
export function hfParamShapes(config: BertConfig, numLabels: number, pooling: Pooling): Map<string, number[]> {
  const H = config.hidden_size;
  const I = config.intermediate_size;
  const m = new Map<string, number[]>();
  m.set("bert.embeddings.word_embeddings.weight", [config.vocab_size, H]);
  m.set("bert.embeddings.position_embeddings.weight", [config.max_position_embeddings, H]);
  m.set("bert.embeddings.token_type_embeddings.weight", [config.type_vocab_size, H]);
  m.set("bert.embeddings.LayerNorm.weight", [H]);
  m.set("bert.embeddings.LayerNorm.bias", [H]);
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `bert.encoder.layer.${i}.`;
    for (const n of ["query", "key", "value"]) {
      m.set(`${p}attention.self.${n}.weight`, [H, H]);
      m.set(`${p}attention.self.${n}.bias`, [H]);
    }
    m.set(`${p}attention.output.dense.weight`, [H, H]);
    m.set(`${p}attention.output.dense.bias`, [H]);
    m.set(`${p}attention.output.LayerNorm.weight`, [H]);
    m.set(`${p}attention.output.LayerNorm.bias`, [H]);
    m.set(`${p}intermediate.dense.weight`, [I, H]);
    m.set(`${p}intermediate.dense.bias`, [I]);
    m.set(`${p}output.dense.weight`, [H, I]);
    m.set(`${p}output.dense.bias`, [H]);
    m.set(`${p}output.LayerNorm.weight`, [H]);
    m.set(`${p}output.LayerNorm.bias`, [H]);
  }
  // the pooler exists in every HF BertModel; entity_start pooling keeps it (loaded/saved) but does not use it
  m.set("bert.pooler.dense.weight", [H, H]);
  m.set("bert.pooler.dense.bias", [H]);
  m.set("classifier.weight", [numLabels, pooling === "entity_start" ? 2 * H : pooling === "entity_span" ? 4 * H : H]);
  m.set("classifier.bias", [numLabels]);
  return m;
}

/** Shape as stored in `params` (Linear weights transposed to [in, out]). */
export function storedShape(key: string, hfShape: readonly number[]): number[] {
  return isLinearWeight(key) ? [hfShape[1], hfShape[0]] : [...hfShape];
}

/** Row-major transpose of a [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c];
  }
  return out;
}

/** HF-layout values -> stored layout. */
export function toStoredLayout(key: string, hfShape: readonly number[], data: Float32Array): Float32Array {
  return isLinearWeight(key) ? transpose2d(data, hfShape[0], hfShape[1]) : data;
}

/** Stored-layout values -> HF layout (for saving, and to compare with PyTorch). */
export function toHfLayout(key: string, stored: readonly number[], data: Float32Array): { shape: number[]; data: Float32Array } {
  if (!isLinearWeight(key)) return { shape: [...stored], data };
  return { shape: [stored[1], stored[0]], data: transpose2d(data, stored[0], stored[1]) };
}

/** The parameters a pooling mode actually uses (the entity poolings skip the pooler). */
export function usesParam(key: string, pooling: Pooling): boolean {
  return !(pooling !== "cls" && key.startsWith("bert.pooler."));
}
