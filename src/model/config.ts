/**
 * BERT configuration: the Hugging Face `config.json` fields we compute with, validated once at the edge
 * (`parseConfig`) and typed everywhere after. Presets for quick experiments; `base` is the
 * chinese-roberta-wwm-ext / bert-base-chinese shape.
 */
import { z } from "zod";
import { ModelConfigError, UnsupportedModelError } from "./errors";

export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  initializer_range: number;
  pad_token_id: number;
  model_type?: string;
  architectures?: string[];
}

export type ShapeName = "tiny" | "small" | "base";
export const SHAPE_NAMES: readonly ShapeName[] = ["tiny", "small", "base"];

/** How the relation head reads the encoder: [CLS] through the pooler, or [h_head; h_tail] at the entity starts. */
/**
 * `cls`: BertPooler on [CLS] (BertForSequenceClassification). `entity_start`: [h_head; h_tail] at the entity
 * start markers (Baldini Soares et al. 2019). `entity_span`: those two plus the mean of each entity's span
 * (markers and mention), so the classifier also reads what the entities are, not only where they start.
 */
export type Pooling = "cls" | "entity_start" | "entity_span";
export const POOLINGS: readonly Pooling[] = ["cls", "entity_start", "entity_span"];

/** Activations we implement: "gelu" is the exact erf GELU (HF/PyTorch default), "gelu_new" the tanh approximation. */
export const SUPPORTED_ACTIVATIONS = ["gelu", "gelu_new"] as const;

/** vocab.txt of bert-base-chinese / chinese-roberta-wwm-ext (21,128 tokens). */
const CHINESE_VOCAB = 21128;

const common = {
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  initializer_range: 0.02,
  pad_token_id: 0,
  model_type: "bert",
  architectures: ["BertForMaskedLM"],
};

export const SHAPES: Record<ShapeName, BertConfig> = {
  tiny: {
    ...common,
    vocab_size: CHINESE_VOCAB,
    hidden_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 512,
    max_position_embeddings: 128,
  },
  small: {
    ...common,
    vocab_size: CHINESE_VOCAB,
    hidden_size: 256,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    intermediate_size: 1024,
    max_position_embeddings: 512,
  },
  base: {
    ...common,
    vocab_size: CHINESE_VOCAB,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 3072,
    max_position_embeddings: 512,
  },
};

/** A fresh copy of a preset, optionally with the tokenizer's vocabulary size (marker tokens included). */
export function shapeConfig(name: ShapeName, vocabSize?: number): BertConfig {
  const base = SHAPES[name];
  if (!base) throw new ModelConfigError("<shape>", "name", `unknown model shape "${name}" (use ${SHAPE_NAMES.join(", ")})`);
  if (vocabSize !== undefined && !(Number.isInteger(vocabSize) && vocabSize > 0)) {
    throw new ModelConfigError(`<preset ${name}>`, "vocab_size", `must be a positive integer, got ${vocabSize}`);
  }
  return { ...base, architectures: [...(base.architectures ?? [])], vocab_size: vocabSize ?? base.vocab_size };
}

const posInt = z.number().int().positive();
const prob = z.number().min(0).lt(1);

// Missing optional fields take Hugging Face BertConfig's defaults (old Google-style configs omit some).
const schema = z.object({
  vocab_size: posInt,
  hidden_size: posInt,
  num_hidden_layers: posInt,
  num_attention_heads: posInt,
  intermediate_size: posInt,
  hidden_act: z.string().default("gelu"),
  hidden_dropout_prob: prob.default(0.1),
  attention_probs_dropout_prob: prob.default(0.1),
  max_position_embeddings: posInt.default(512),
  type_vocab_size: posInt.default(2),
  layer_norm_eps: z.number().positive().default(1e-12),
  initializer_range: z.number().positive().default(0.02),
  pad_token_id: z.number().int().min(0).nullable().default(0),
  model_type: z.string().optional(),
  architectures: z.array(z.string()).nullable().optional(),
  position_embedding_type: z.string().optional(),
  is_decoder: z.boolean().optional(),
  add_cross_attention: z.boolean().optional(),
});

const NOT_BERT: Record<string, string> = {
  roberta:
    "RoBERTa checkpoints offset position ids by padding_idx + 1 (positions start at 2) and use one token type; " +
    "this BERT forward would silently compute different outputs. (hfl/chinese-roberta-wwm-ext is a BERT checkpoint " +
    'with model_type "bert" and loads fine.)',
  xlm_roberta: "XLM-RoBERTa uses RoBERTa's offset position ids; not the BERT computation implemented here.",
  camembert: "CamemBERT uses RoBERTa's offset position ids; not the BERT computation implemented here.",
  gpt2: "GPT-2 is a causal decoder (pre-LayerNorm, learned causal attention, Conv1D weights), not a BERT encoder.",
  albert: "ALBERT shares layers and factorises embeddings; its weights do not map onto BERT keys.",
  distilbert: "DistilBERT uses different key names and no token types; convert it or use a BERT checkpoint.",
  electra: "ELECTRA discriminators use different key names (electra.*) and embedding projections.",
  ernie: "ERNIE adds task-type embeddings that BERT does not have.",
};

/** Architectures whose `bert.*` weights are a plain BertModel (any head is ignored or ours). */
const BERT_ARCHITECTURE = /^Bert(Model|ForMaskedLM|ForPreTraining|ForSequenceClassification|ForRelationClassification|ForTokenClassification|ForNextSentencePrediction|ForMultipleChoice|ForQuestionAnswering|LMHeadModel)$/;

/**
 * Validate a parsed config.json. Throws ModelConfigError (wrong/missing field) or UnsupportedModelError
 * (another model family or a BERT option we do not implement), both naming `file` and the field.
 */
export function parseConfig(json: unknown, file: string): BertConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ModelConfigError(file, undefined, "expected a JSON object");
  }
  const raw = json as Record<string, unknown>;
  // family first: a GPT-2 config fails field checks for reasons that would only confuse
  const modelType = typeof raw.model_type === "string" ? raw.model_type : undefined;
  if (modelType !== undefined && modelType !== "bert") {
    const why = NOT_BERT[modelType] ?? "only BERT encoders (model_type \"bert\") are implemented.";
    throw new UnsupportedModelError(file, "model_type", `"${modelType}" is not supported: ${why}`);
  }
  if (Array.isArray(raw.architectures)) {
    for (const a of raw.architectures) {
      if (typeof a === "string" && !BERT_ARCHITECTURE.test(a)) {
        const fam = Object.keys(NOT_BERT).find((k) => a.toLowerCase().startsWith(k.replace("_", "")));
        const why = fam ? NOT_BERT[fam] : "only BERT architectures (BertModel, BertForMaskedLM, BertFor…) are supported.";
        throw new UnsupportedModelError(file, "architectures", `"${a}" is not supported: ${why}`);
      }
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.map(String).join(".") || undefined;
    const got = field !== undefined ? ` (got ${JSON.stringify(raw[issue.path[0] as string])})` : "";
    throw new ModelConfigError(file, field, `${issue.message}${got}`);
  }
  const c = parsed.data;
  if (!(SUPPORTED_ACTIVATIONS as readonly string[]).includes(c.hidden_act)) {
    throw new UnsupportedModelError(
      file,
      "hidden_act",
      `"${c.hidden_act}" is not supported (use ${SUPPORTED_ACTIVATIONS.map((a) => `"${a}"`).join(" or ")})`,
    );
  }
  if (c.position_embedding_type !== undefined && c.position_embedding_type !== "absolute") {
    throw new UnsupportedModelError(
      file,
      "position_embedding_type",
      `"${c.position_embedding_type}" is not supported (only "absolute" position embeddings are implemented)`,
    );
  }
  if (c.is_decoder || c.add_cross_attention) {
    throw new UnsupportedModelError(file, c.is_decoder ? "is_decoder" : "add_cross_attention", "decoder/cross-attention BERT is not supported");
  }
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new ModelConfigError(
      file,
      "num_attention_heads",
      `hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`,
    );
  }
  const out: BertConfig = {
    vocab_size: c.vocab_size,
    hidden_size: c.hidden_size,
    num_hidden_layers: c.num_hidden_layers,
    num_attention_heads: c.num_attention_heads,
    intermediate_size: c.intermediate_size,
    hidden_act: c.hidden_act,
    hidden_dropout_prob: c.hidden_dropout_prob,
    attention_probs_dropout_prob: c.attention_probs_dropout_prob,
    max_position_embeddings: c.max_position_embeddings,
    type_vocab_size: c.type_vocab_size,
    layer_norm_eps: c.layer_norm_eps,
    initializer_range: c.initializer_range,
    pad_token_id: c.pad_token_id ?? 0,
  };
  if (out.pad_token_id >= out.vocab_size) {
    throw new ModelConfigError(file, "pad_token_id", `${out.pad_token_id} is not below vocab_size ${out.vocab_size}`);
  }
  if (modelType !== undefined) out.model_type = modelType;
  if (c.architectures) out.architectures = [...c.architectures];
  return out;
}
