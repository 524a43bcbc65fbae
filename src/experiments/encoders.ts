/**
 * An encoder in words, from its config (and its checkpoint's config.json): every verdict of a table names the encoder
 * it was measured on.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseConfig } from "../model";
import { fromProjectPath, type ExperimentConfig } from "../runs/config";

/** Parameters of a BERT encoder of this shape (embeddings, layers, no pooler: the entity poolings skip it). */
function encoderParameters(c: { vocab_size: number; hidden_size: number; num_hidden_layers: number; intermediate_size: number; max_position_embeddings: number; type_vocab_size: number }): number {
  const h = c.hidden_size;
  const i = c.intermediate_size;
  const embeddings = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * h + 2 * h;
  const layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h;
  return embeddings + c.num_hidden_layers * layer;
}

/**
 * The encoder a run was measured on, in a few words ("tiny BERT, 4 layers × 192, 2.3 M parameters, masked-LM
 * pre-trained 5,000 steps (data/pretrained/quick)"): every verdict names it, so that "rules out" is read as a
 * statement about this encoder, not about RoBERTa-base.
 */
export function describeEncoder(model: ExperimentConfig["model"], opts: { short?: boolean } = {}): string {
  if (model.kind === "ngram") return opts.short ? "n-gram TF-IDF + LR" : "no encoder (n-gram TF-IDF + logistic regression)";
  if (model.kind === "checkpoint") return `the checkpoint ${model.name ?? model.dir}`;
  const from = model.pretrained ?? model.shapeFrom;
  const file = from ? path.join(fromProjectPath(from), "config.json") : undefined;
  if (!file || !fs.existsSync(file)) return `${model.preset} BERT${model.pretrained ? ", pre-trained" : ", from scratch"}`;
  const raw = JSON.parse(fs.readFileSync(file, "utf8")) as { medrel?: { pretrain?: { steps?: number } } };
  const c = parseConfig(raw, file);
  const shape = `${model.preset} BERT, ${c.num_hidden_layers} layers × ${c.hidden_size}`;
  if (opts.short) return `${model.preset} BERT ${c.num_hidden_layers} × ${c.hidden_size}${model.pretrained ? ` (${(encoderParameters(c) / 1e6).toFixed(1)} M), pre-trained` : ", from scratch"}`;
  const steps = raw.medrel?.pretrain?.steps;
  // from scratch, the vocabulary (and so the parameter count) is the training text's characters, not the checkpoint's
  return model.pretrained
    ? `${shape}, ${(encoderParameters(c) / 1e6).toFixed(1)} M parameters, masked-LM pre-trained${steps ? ` ${steps.toLocaleString("en-US")} steps` : ""} (${model.pretrained})`
    : `${shape} (${from}'s shape), from scratch`;
}
