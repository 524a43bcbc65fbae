/**
 * Hugging Face folders in and out.
 *
 * - `loadPretrained(dir, …)`: a pretrained (or fine-tuned) HF BERT folder: config.json + model.safetensors or
 *   pytorch_model.bin. Heads missing from the file (pooler, classifier) are randomly initialised and reported.
 *   Standard HF key fixes: old `gamma`/`beta` LayerNorm names, keys saved from a bare BertModel (no `bert.`
 *   prefix); `*.position_ids` buffers are skipped silently, other extra keys (MLM/NSP heads `cls.*`) are
 *   listed in `unexpectedKeys`.
 * - `saveCheckpoint(model, dir, …)`: config.json (+ num_labels, id2label/label2id, pooling) and model.safetensors
 *   in HF layout and key names (Linear weights transposed back to [out, in]), plus the tokenizer files.
 * - `loadCheckpoint(dir)`: restores a model saved by saveCheckpoint exactly (every key required).
 */
import * as fs from "fs";
import * as path from "path";
import { LABELS, NUM_LABELS } from "../data/labels";
import { Rng } from "../random";
import { BertForRelationClassification, fillNormal } from "./bert";
import { type BertConfig, parseConfig, type Pooling, POOLINGS } from "./config";
import { MissingFileError, ModelConfigError, ShapeMismatchError, VocabSizeError, WeightsFormatError } from "./errors";
import { hfParamShapes, toHfLayout, toStoredLayout } from "./layout";
import { type HostTensor, SafetensorsSource, writeSafetensors } from "./weights/safetensors";
import type { WeightSource } from "./weights/source";
import { PytorchSource } from "./weights/torch";

export const WEIGHT_FILES = ["model.safetensors", "pytorch_model.bin"] as const;
/** Tokenizer files copied next to a saved checkpoint, so the folder is self-contained. */
export const TOKENIZER_FILES = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"] as const;

/** How rows for added tokens (entity markers) are initialised when the tokenizer is bigger than the checkpoint. */
export type NewRowsInit = "normal" | "mean";

export interface LoadPretrainedOptions {
  numLabels: number;
  pooling: Pooling;
  seed: number;
  /** the tokenizer's size (marker tokens included); larger than the checkpoint's vocabulary -> embeddings resized */
  vocabSize?: number;
  /**
   * "normal" (default): N(0, initializer_range), what transformers 4.40 (the study's version) did in
   * resize_token_embeddings; "mean": the mean of the existing rows (transformers >= 4.46 default).
   */
  newRowsInit?: NewRowsInit;
  /** a classifier/pooler of another shape in the file (another label count) is re-initialised instead of an error */
  ignoreMismatchedHead?: boolean;
  /** read this file of the folder instead of the first of WEIGHT_FILES present (e.g. "pytorch_model.bin") */
  weightsFile?: string;
}

export interface LoadPretrainedResult {
  model: BertForRelationClassification;
  config: BertConfig;
  /** expected keys not in the file (randomly initialised) */
  missingKeys: string[];
  /** keys in the file that the model does not use (e.g. 5 `cls.predictions.*` MLM-head keys), as spelled in the file */
  unexpectedKeys: string[];
  /** the weights file read */
  weightsFile: string;
  /** one line per adjustment made (key renames, resize, re-initialised head) */
  notes: string[];
}

/** Open a weights file by extension: .safetensors, or a torch.save file (.bin/.pt/.pth; zip or legacy pre-1.6). */
export function openWeights(file: string): WeightSource {
  if (!fs.existsSync(file)) throw new MissingFileError(file, "weights file not found");
  return file.endsWith(".safetensors") ? new SafetensorsSource(file) : new PytorchSource(file);
}

/** HF's key fixes: `.gamma`/`.beta` -> `.weight`/`.bias`, and the `bert.` prefix for a bare BertModel's keys. */
export function normalizeHfKey(key: string): string {
  let k = key;
  if (k.endsWith(".gamma")) k = `${k.slice(0, -".gamma".length)}.weight`;
  else if (k.endsWith(".beta")) k = `${k.slice(0, -".beta".length)}.bias`;
  if (/^(embeddings|encoder|pooler)\./.test(k)) k = `bert.${k}`;
  return k;
}

function readConfigFile(dir: string): { file: string; raw: Record<string, unknown>; config: BertConfig } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new MissingFileError(dir, "model folder not found");
  const file = path.join(dir, "config.json");
  if (!fs.existsSync(file)) {
    throw new MissingFileError(file, "config.json not found: a Hugging Face model folder needs config.json next to its weights");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new ModelConfigError(file, undefined, `not valid JSON (${(e as Error).message})`);
  }
  const config = parseConfig(raw, file);
  return { file, raw: raw as Record<string, unknown>, config };
}

function findWeightsFile(dir: string): string {
  for (const name of WEIGHT_FILES) {
    const f = path.join(dir, name);
    if (fs.existsSync(f)) return f;
  }
  const present = fs.readdirSync(dir);
  const sharded = present.find((n) => n.endsWith(".index.json"));
  if (sharded) throw new MissingFileError(path.join(dir, sharded), "sharded checkpoints are not supported (BERT-base fits in one file; merge the shards)");
  const other = present.find((n) => ["tf_model.h5", "flax_model.msgpack"].includes(n) || n.startsWith("model.ckpt"));
  const hint = other ? ` (found ${other}: TensorFlow/Flax weights are not supported; convert to model.safetensors with transformers)` : "";
  throw new MissingFileError(dir, `no weights file: expected ${WEIGHT_FILES.join(" or ")}${hint}`);
}

function isHeadKey(key: string): boolean {
  return key.startsWith("classifier.") || key.startsWith("bert.pooler.");
}

interface ReadResult {
  values: Map<string, Float32Array>;
  missingKeys: string[];
  unexpectedKeys: string[];
  notes: string[];
  /** word-embedding rows in the file (undefined if absent) */
  fileVocab?: number;
}

/**
 * config.json against the weight file, from the file's keys and shapes alone (nothing is built yet): a config that
 * does not describe these weights (e.g. num_hidden_layers 1000000) is refused before it can allocate anything.
 */
function checkConfigAgainstWeights(source: WeightSource, config: BertConfig, configFile: string): void {
  const shapes = new Map(source.keys().map((k) => [normalizeHfKey(k), k]));
  const shapeOf = (suffix: string): number[] | undefined => {
    const key = [...shapes.keys()].find((k) => k === `bert.${suffix}` || k === suffix);
    return key === undefined ? undefined : source.info(shapes.get(key)!).shape;
  };
  const layers = new Set([...shapes.keys()].map((k) => /(?:^|\.)encoder\.layer\.(\d+)\./.exec(k)?.[1]).filter((x) => x !== undefined));
  const checks: [keyof BertConfig, number | undefined][] = [
    ["num_hidden_layers", layers.size || undefined],
    ["hidden_size", shapeOf("embeddings.word_embeddings.weight")?.[1]],
    ["max_position_embeddings", shapeOf("embeddings.position_embeddings.weight")?.[0]],
    ["type_vocab_size", shapeOf("embeddings.token_type_embeddings.weight")?.[0]],
    ["intermediate_size", shapeOf("encoder.layer.0.intermediate.dense.weight")?.[0]],
  ];
  for (const [field, inFile] of checks) {
    if (inFile !== undefined && config[field] !== inFile) {
      throw new ModelConfigError(configFile, field, `is ${String(config[field])}, but ${source.file} holds ${inFile} (is this config.json the one that belongs to these weights?)`);
    }
  }
}

/** A tensor's values, refused when any is NaN or infinite (a diverged or damaged checkpoint predicts garbage). */
function finiteValues(source: WeightSource, key: string): Float32Array {
  const v = source.readFloat32(key);
  let bad = 0;
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) bad++;
  if (bad) throw new WeightsFormatError(source.file, key, `${bad} of ${v.length} values are NaN or infinite: the checkpoint is damaged (a diverged training run?) and cannot be used`);
  return v;
}

/**
 * Read every expected key from `source` into stored layout. Word embeddings may have any row count here
 * (checked against config/tokenizer by the caller); every other shape must match.
 */
function readWeights(source: WeightSource, config: BertConfig, numLabels: number, pooling: Pooling, ignoreMismatchedHead: boolean): ReadResult {
  const expected = hfParamShapes(config, numLabels, pooling);
  const values = new Map<string, Float32Array>();
  const unexpectedKeys: string[] = [];
  const notes: string[] = [];
  let renamed = 0;
  let fileVocab: number | undefined;
  for (const key of source.keys()) {
    const k = normalizeHfKey(key);
    if (k.endsWith(".position_ids")) continue; // a buffer (arange), not a weight
    const shape = expected.get(k);
    if (!shape || values.has(k)) {
      unexpectedKeys.push(key);
      continue;
    }
    if (k !== key) renamed++;
    const info = source.info(key);
    const isWordEmb = k === "bert.embeddings.word_embeddings.weight";
    const matches = info.shape.length === shape.length && info.shape.every((d, i) => d === shape[i] || (isWordEmb && i === 0));
    if (!matches) {
      if (ignoreMismatchedHead && isHeadKey(k)) {
        notes.push(`${key}: shape [${info.shape.join(", ")}] in the file, [${shape.join(", ")}] needed; re-initialised`);
        continue;
      }
      const hint = isHeadKey(k)
        ? `the file's head was trained for another label count or pooling; pass ignoreMismatchedHead to re-initialise it`
        : `is config.json (hidden_size ${config.hidden_size}, intermediate_size ${config.intermediate_size}, max_position_embeddings ${config.max_position_embeddings}) the one that belongs to these weights?`;
      throw new ShapeMismatchError(source.file, key, shape, info.shape, hint);
    }
    if (!["F32", "F16", "BF16", "F64"].includes(info.dtype)) {
      throw new WeightsFormatError(source.file, key, `dtype ${info.dtype} is not a floating-point weight`);
    }
    if (isWordEmb) fileVocab = info.shape[0];
    values.set(k, toStoredLayout(k, info.shape, finiteValues(source, key)));
  }
  if (renamed) notes.push(`${renamed} keys renamed to HF BERT names (gamma/beta -> weight/bias, or added "bert." prefix)`);
  if (![...values.keys()].some((k) => k.startsWith("bert."))) {
    const sample = source.keys().slice(0, 3).join(", ");
    throw new WeightsFormatError(source.file, undefined, `no BERT weights found (keys look like: ${sample}); is this a BERT checkpoint?`);
  }
  const missingKeys = [...expected.keys()].filter((k) => !values.has(k));
  if (unexpectedKeys.length) {
    const byHead = unexpectedKeys.filter((k) => k.startsWith("cls.")).length;
    notes.push(`${unexpectedKeys.length} unused keys ignored${byHead ? ` (${byHead} from the pretraining heads cls.*)` : ""}`);
  }
  return { values, missingKeys, unexpectedKeys, notes, fileVocab };
}

/** Load a Hugging Face BERT folder for fine-tuning (see the module comment). */
export async function loadPretrained(dir: string, opts: LoadPretrainedOptions): Promise<LoadPretrainedResult> {
  const { config, file: configFile } = readConfigFile(dir);
  if (!POOLINGS.includes(opts.pooling)) throw new ModelConfigError("<options>", "pooling", `must be one of ${POOLINGS.join(", ")}`);
  const weightsFile = opts.weightsFile !== undefined ? path.join(dir, opts.weightsFile) : findWeightsFile(dir);
  const source = openWeights(weightsFile);
  let read: ReadResult;
  try {
    checkConfigAgainstWeights(source, config, configFile);
    read = readWeights(source, config, opts.numLabels, opts.pooling, opts.ignoreMismatchedHead ?? false);
  } finally {
    source.close();
  }
  const { values, missingKeys, unexpectedKeys, notes } = read;
  const H = config.hidden_size;
  const wordKey = "bert.embeddings.word_embeddings.weight";

  // vocabulary: config.json, the file and the tokenizer must agree; a bigger tokenizer (added markers) resizes
  if (read.fileVocab !== undefined && read.fileVocab !== config.vocab_size) {
    throw new ShapeMismatchError(
      weightsFile,
      wordKey,
      [config.vocab_size, H],
      [read.fileVocab, H],
      `config.json says vocab_size ${config.vocab_size} but the file has ${read.fileVocab} word embeddings`,
    );
  }
  const fileVocab = config.vocab_size;
  if (opts.vocabSize !== undefined && opts.vocabSize !== fileVocab) {
    if (opts.vocabSize < fileVocab) {
      throw new VocabSizeError(
        weightsFile,
        opts.vocabSize,
        fileVocab,
        `the tokenizer has ${opts.vocabSize} tokens but the checkpoint has ${fileVocab} word embeddings (vocab_size): ` +
          `is this the tokenizer of this checkpoint? (a bigger tokenizer, with added marker tokens, is resized automatically)`,
      );
    }
    const old = values.get(wordKey);
    if (old) {
      const init = opts.newRowsInit ?? "normal";
      values.set(wordKey, resizeRows(old, fileVocab, opts.vocabSize, H, init, config.initializer_range, opts.seed));
      notes.push(`word embeddings resized ${fileVocab} -> ${opts.vocabSize} rows (new rows: ${init})`);
    }
    config.vocab_size = opts.vocabSize;
  }

  const model = new BertForRelationClassification(config, { numLabels: opts.numLabels, pooling: opts.pooling, seed: opts.seed, initialValues: values });
  if (missingKeys.length) notes.push(`${missingKeys.length} keys not in the file, randomly initialised: ${missingKeys.join(", ")}`);
  return { model, config: { ...model.config }, missingKeys, unexpectedKeys, weightsFile, notes };
}

/** Grow a [rows, H] embedding to [newRows, H]; new rows ~ N(0, std) or the mean of the old rows. */
export function resizeRows(old: Float32Array, rows: number, newRows: number, H: number, init: NewRowsInit, std: number, seed: number): Float32Array {
  const out = new Float32Array(newRows * H);
  out.set(old.subarray(0, rows * H));
  if (init === "mean") {
    const mean = new Float64Array(H);
    for (let r = 0; r < rows; r++) for (let j = 0; j < H; j++) mean[j] += old[r * H + j];
    for (let j = 0; j < H; j++) mean[j] /= rows;
    for (let r = rows; r < newRows; r++) for (let j = 0; j < H; j++) out[r * H + j] = mean[j];
  } else {
    fillNormal(new Rng((seed ^ 0x7e5123) >>> 0), out.subarray(rows * H), std);
  }
  return out;
}

export interface SaveCheckpointOptions {
  /** folder whose tokenizer files (vocab.txt, tokenizer.json, …) are copied beside the weights */
  tokenizerDir?: string;
  /** anything else to record (run config, metrics), stored under config.json "medrel.extra" */
  extra?: object;
  /** "F32" (default, exact round trip) or "F16" (half the size) */
  dtype?: "F32" | "F16";
  /** label names by index; default: the study's 10 labels when numLabels is 10, else LABEL_i */
  labels?: readonly string[];
}

/** Write a fine-tuned model as a Hugging Face folder. Returns the files written. */
export async function saveCheckpoint(model: BertForRelationClassification, dir: string, opts: SaveCheckpointOptions = {}): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const labels =
    opts.labels ?? (model.numLabels === NUM_LABELS ? LABELS.map((l) => l.zh) : Array.from({ length: model.numLabels }, (_, i) => `LABEL_${i}`));
  if (labels.length !== model.numLabels) {
    throw new ModelConfigError("<saveCheckpoint>", "labels", `${labels.length} labels for a ${model.numLabels}-label model`);
  }
  const written: string[] = [];

  const tensors = new Map<string, HostTensor>();
  for (const [key, v] of model.params) {
    const data = (await v.data()) as Float32Array;
    tensors.set(key, toHfLayout(key, v.shape, data));
  }
  const weightsFile = path.join(dir, "model.safetensors");
  writeSafetensors(weightsFile, tensors, { dtype: opts.dtype ?? "F32", metadata: { format: "pt" } });
  written.push(weightsFile);

  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  labels.forEach((l, i) => {
    id2label[String(i)] = l;
    label2id[l] = i;
  });
  const config = {
    ...model.config,
    model_type: "bert",
    // cls pooling is exactly BertForSequenceClassification, so transformers can load it as one
    architectures: [model.pooling === "cls" ? "BertForSequenceClassification" : "BertForRelationClassification"],
    num_labels: model.numLabels,
    id2label,
    label2id,
    pooling: model.pooling,
    torch_dtype: opts.dtype === "F16" ? "float16" : "float32",
    medrel: { pooling: model.pooling, num_labels: model.numLabels, extra: opts.extra ?? {} },
  };
  const configFile = path.join(dir, "config.json");
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2) + "\n");
  written.push(configFile);

  if (opts.tokenizerDir !== undefined) {
    let copied = 0;
    for (const name of TOKENIZER_FILES) {
      const src = path.join(opts.tokenizerDir, name);
      if (!fs.existsSync(src)) continue;
      const dst = path.join(dir, name);
      if (path.resolve(src) !== path.resolve(dst)) fs.copyFileSync(src, dst);
      written.push(dst);
      copied++;
    }
    if (copied === 0) throw new MissingFileError(opts.tokenizerDir, `no tokenizer files (${TOKENIZER_FILES.join(", ")}) to copy`);
  }
  return written;
}

export interface LoadedCheckpoint {
  model: BertForRelationClassification;
  config: BertConfig;
  pooling: Pooling;
  numLabels: number;
  /** label names by index, from config.json id2label */
  labels: string[];
  /** what saveCheckpoint recorded under medrel.extra */
  extra: Record<string, unknown>;
}

/**
 * Label names by class index from config.json: id2label must name classes 0..n−1 once each, with distinct names,
 * agree with num_labels and label2id where those are given; a checkpoint without id2label gets LABEL_i.
 */
function checkpointLabels(file: string, raw: Record<string, unknown>): string[] {
  const id2label = raw.id2label ?? {};
  if (typeof id2label !== "object" || id2label === null || Array.isArray(id2label)) throw new ModelConfigError(file, "id2label", "must be an object of class index → label name");
  const entries = Object.entries(id2label as Record<string, unknown>);
  const numLabels = typeof raw.num_labels === "number" ? raw.num_labels : entries.length;
  if (!Number.isInteger(numLabels) || numLabels < 1) throw new ModelConfigError(file, "num_labels", "a fine-tuned checkpoint needs num_labels or id2label");
  if (entries.length === 0) return Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`);
  const labels: string[] = [];
  for (let i = 0; i < numLabels; i++) {
    const name = (id2label as Record<string, unknown>)[String(i)];
    if (typeof name !== "string" || name === "") throw new ModelConfigError(file, "id2label", `has no label name for class ${i} (keys: ${entries.map(([k]) => k).join(", ")}; num_labels ${numLabels})`);
    if (labels.includes(name)) throw new ModelConfigError(file, "id2label", `names "${name}" for classes ${labels.indexOf(name)} and ${i}`);
    labels.push(name);
  }
  if (entries.length !== numLabels) throw new ModelConfigError(file, "id2label", `has ${entries.length} entries, num_labels is ${numLabels}`);
  const label2id = raw.label2id as Record<string, unknown> | undefined;
  const disagree = label2id && typeof label2id === "object" ? labels.findIndex((l, i) => label2id[l] !== undefined && Number(label2id[l]) !== i) : -1;
  if (disagree >= 0) throw new ModelConfigError(file, "label2id", `maps "${labels[disagree]}" to ${String(label2id![labels[disagree]])}, id2label to ${disagree}`);
  return labels;
}

/** Restore a model written by saveCheckpoint (or any HF folder with num_labels/id2label and a complete head). */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const { file, raw, config } = readConfigFile(dir);
  const medrel = (raw.medrel ?? {}) as { pooling?: unknown; extra?: unknown };
  const pooling = (raw.pooling ?? medrel.pooling ?? "cls") as Pooling;
  if (!POOLINGS.includes(pooling)) throw new ModelConfigError(file, "pooling", `must be one of ${POOLINGS.join(", ")}, got ${JSON.stringify(pooling)}`);
  const labels = checkpointLabels(file, raw);
  const numLabels = labels.length;
  const source = openWeights(findWeightsFile(dir));
  let read: ReadResult;
  try {
    checkConfigAgainstWeights(source, config, file);
    read = readWeights(source, config, numLabels, pooling, false);
    if (read.missingKeys.length) {
      throw new WeightsFormatError(source.file, read.missingKeys[0], `fine-tuned checkpoint is missing ${read.missingKeys.length} keys: ${read.missingKeys.join(", ")}`);
    }
    if (read.fileVocab !== config.vocab_size) {
      throw new ShapeMismatchError(source.file, "bert.embeddings.word_embeddings.weight", [config.vocab_size, config.hidden_size], [read.fileVocab ?? 0, config.hidden_size]);
    }
  } finally {
    source.close();
  }
  const model = new BertForRelationClassification(config, { numLabels, pooling, seed: 0, initialValues: read.values });
  const extra = typeof medrel.extra === "object" && medrel.extra !== null ? (medrel.extra as Record<string, unknown>) : {};
  return { model, config: { ...model.config }, pooling, numLabels, labels, extra };
}
