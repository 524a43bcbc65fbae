/**
 * One typed experiment config. An `ExperimentConfig` is what a preset, a table spec, a file or the CLI's flags make;
 * `parseExperimentConfig` validates it once, at the edge where it comes in (the CLI, a notebook's or a script's
 * runExperiment, a grid's job, a results file, a run folder's config.json), into a `ValidConfig`: the only kind the
 * engine (runs, grids, teachers, rows, the store, hashes) takes, and trusts without checking again.
 * Paths in a validated config are relative to the project root, so a saved config means the same in every
 * checkout; its hash covers the content of the data and model files it names, never where they are, so a copied
 * or moved checkout (or a shipped runs/ folder) finds the same runs.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { ENCODING_NAMES, type EncodingName } from "../encoding/types";
import { LABEL_NAMES, type Label } from "../data/labels";
import { datasetFiles } from "../data/load";
import type { SplitName } from "../data/types";
import { DEMO_DIR } from "../data/demo";
import { DEFAULT_SELECTION } from "../data/selection";
import { POOLINGS, SHAPE_NAMES, type Pooling, type ShapeName } from "../model/config";
import { CLASS_WEIGHT_SCHEMES, STUDY_MANUAL_WEIGHTS, type ClassWeightScheme } from "../train/class-weights";
import { HyperparamsSchema, LossOptionsSchema } from "../train/config";
import { fileDigest } from "./digest";

const encodingEnum = z.enum(ENCODING_NAMES as unknown as [EncodingName, ...EncodingName[]]);

export const DataSpecSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("demo") }),
  /** a folder laid out as the study's: train.jsonl, val.jsonl, test.jsonl */
  z.strictObject({ kind: z.literal("dir"), dir: z.string().min(1) }),
  z.strictObject({ kind: z.literal("files"), train: z.string().min(1), dev: z.string().min(1), test: z.string().optional() }),
]);
export type DataSpec = z.infer<typeof DataSpecSchema>;

export const ModelSpecSchema = z.discriminatedUnion("kind", [
  /**
   * an embedded shape; `pretrained` is a local HF folder to start from, null = random init. `shapeFrom` (random
   * init only): take the architecture from this folder's config.json instead of the preset, so "from scratch"
   * and "pretrained" differ only in the initial weights.
   */
  z.strictObject({
    kind: z.literal("preset"),
    preset: z.enum(SHAPE_NAMES as unknown as [ShapeName, ...ShapeName[]]),
    pretrained: z.string().nullable(),
    shapeFrom: z.string().min(1).optional(),
  }),
  /** a local Hugging Face checkpoint folder (config.json, vocab.txt/tokenizer.json, weights) */
  z.strictObject({ kind: z.literal("checkpoint"), dir: z.string().min(1), name: z.string().optional() }),
  /**
   * no encoder: the character 1–3-gram TF-IDF logistic regression (src/model/ngram.ts), trained on the train split's
   * rows (row caps applied) and scored on dev and test; it reads the data, the seed and the caps of its config only
   */
  z.strictObject({ kind: z.literal("ngram") }),
]);
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

export const WeightSchemeSchema = z.enum(CLASS_WEIGHT_SCHEMES as unknown as [ClassWeightScheme, ...ClassWeightScheme[]]);

export const LossSpecSchema = z.strictObject({
  scheme: WeightSchemeSchema,
  /** per-label weight map for `manual` (missing labels weigh 1) */
  manual: z.record(z.string(), z.number().positive()).optional(),
  /** `hard_classes`: w_c = 1 + alpha (1 - F1_c) from a previous run's dev per-class F1 */
  alpha: z.number().nonnegative().optional(),
  devF1: z.record(z.string(), z.number()).optional(),
  /** `effective_number`: Cui et al. 2019 */
  beta: z.number().min(0).max(1).optional(),
  ...LossOptionsSchema.shape,
});
export type LossSpec = z.infer<typeof LossSpecSchema>;

export const AugmentSpecSchema = z.strictObject({
  hardRule: z.enum(["study", "lowest_dev_f1", "lowest_frequency"]),
  strategies: z.array(z.enum(["oversample", "entity_substitution", "char_noise"])),
  /** augmented copies per original hard-class row */
  multiplier: z.number().nonnegative().max(100),
});

export const DistillSpecSchema = z.strictObject({
  teacher: z.literal("ngram"),
  alpha: z.number().min(0).max(1),
  temperature: z.number().positive(),
  folds: z.number().int().min(2).max(50),
  /** fit the teacher with the student's class weights, so a weighted student is not pulled back to the unweighted prior */
  classWeighted: z.boolean(),
});

/**
 * Where the best epoch (and early stopping) is chosen: the data's dev split when a test split is reported, else a
 * fixed sentence-grouped slice of train (src/data/selection.ts), so the split a table reports is never looked at
 * before it is reported. "auto" resolves to one of the two when the config is validated.
 */
export const SelectionSpecSchema = z.union([
  z.literal("auto"),
  z.strictObject({ from: z.literal("dev") }),
  z.strictObject({ from: z.literal("train"), fraction: z.number().gt(0).lt(1), seed: z.number().int().nonnegative() }),
]);
export type SelectionSpec = z.infer<typeof SelectionSpecSchema>;

export const ExperimentConfigSchema = z.strictObject({
  data: DataSpecSchema,
  selection: SelectionSpecSchema,
  model: ModelSpecSchema,
  encoding: encodingEnum.describe("how the entities are marked in the text"),
  faithful: z.boolean().describe("the study's quirks (double [CLS], replace-every-occurrence markers)"),
  pooling: z.enum(POOLINGS as unknown as [Pooling, ...Pooling[]]).describe("what the classifier reads of the encoder's states"),
  maxLength: z.number().int().min(16).max(512).describe("max tokens per row"),
  loss: LossSpecSchema,
  sampler: z.enum(["shuffle", "study"]).describe("batch sampler (shuffle: bucketed random batches; study: 2 balanced epochs, then priority-sampler epochs)"),
  /**
   * how many batches make a `study` sampler epoch: `rows` = one pass over the training rows' count (as many rows as a
   * shuffled epoch, so comparisons train as long), `first_exhausted` = the authors' code (stop when the first class
   * runs out: on the study's balanced split the same balanced epochs, priority epochs 2.5× shorter; on imbalanced
   * data, an epoch of a few batches)
   */
  samplerEpoch: z.enum(["rows", "first_exhausted"]).describe("how many batches make a study-sampler epoch"),
  /**
   * `study` sampler: deal each class's rows out by length within chunks of 50 batches, so a batch keeps its class quotas
   * and holds rows of similar length (augment/samplers.ts lengthAlignedSampler); a `shuffle` epoch always buckets by
   * length. Absent = off, the study's random class-balanced batches (and absent from the hash)
   */
  lengthAligned: z.boolean().optional().describe("study sampler: rows of similar length share a batch, class quotas kept"),
  augment: AugmentSpecSchema.nullable(),
  /** the trainer's hyperparameters (src/train/config.ts lists them) */
  ...HyperparamsSchema.shape,
  /**
   * knowledge distillation from the n-gram baseline (cross-fitted on train, `folds` parts): loss =
   * (1 − alpha)·CE + alpha·T²·KL(teacher ‖ student). Absent = off (and absent from the hash).
   */
  distill: DistillSpecSchema.optional(),
  /**
   * the dense products' precision: "bf16" rounds their operands to bfloat16 and sums in float32 (backend/precision.ts);
   * absent = "f32" (and absent from the hash, so every run made before it keeps its name)
   */
  precision: z.enum(["f32", "bf16"]).optional().describe("dense products: f32, or bf16 operands with f32 sums"),
  /** the smoke preset caps rows to run in seconds */
  maxTrainRows: z.number().int().nonnegative().describe("cap on training rows, label-stratified (0 = all)"),
  maxEvalRows: z.number().int().nonnegative().describe("cap on dev and test rows, label-stratified (0 = all)"),
});
export type ExperimentConfig = z.infer<typeof ExperimentConfigSchema>;

declare const VALID: unique symbol;

/**
 * A config that parseExperimentConfig made: its schema checked, its paths project-relative, its selection resolved
 * (never "auto"). Nothing else makes one (withoutClassWeights derives one from another), so a function that takes it
 * never validates again.
 */
export type ValidConfig = Omit<ExperimentConfig, "selection"> & { selection: Exclude<SelectionSpec, "auto">; readonly [VALID]: true };

export class ConfigError extends Error {
  constructor(where: string, issues: string[]) {
    super(`invalid experiment config (${where}):\n  ${issues.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/**
 * Validate an unknown value (a parsed file, CLI flags merged onto a preset) into an ExperimentConfig: unknown keys
 * are refused, paths become project-relative, and selection "auto" is resolved against the data's splits.
 */
export function parseExperimentConfig(value: unknown, where = "config"): ValidConfig {
  const res = ExperimentConfigSchema.safeParse(value);
  if (!res.success) {
    throw new ConfigError(where, issueLines(res.error));
  }
  const cfg = { ...res.data, data: projectData(res.data.data), model: projectModel(res.data.model) };
  if (cfg.loss.manual) {
    for (const k of Object.keys(cfg.loss.manual)) {
      if (!LABEL_NAMES.includes(k as Label)) throw new ConfigError(where, [`loss.manual: unknown label "${k}"`]);
    }
  }
  if (cfg.model.kind === "ngram") {
    // what the n-gram baseline cannot do is refused here, once, rather than ignored by its run
    const encoderOnly = [cfg.loss.scheme !== "none" ? `loss.scheme "${cfg.loss.scheme}"` : "", cfg.augment ? "augment" : "", cfg.distill ? "distill" : ""].filter(Boolean);
    if (encoderOnly.length) throw new ConfigError(where, [`model "ngram": ${encoderOnly.join(", ")} apply to encoder runs only; set them off for the n-gram baseline`]);
  }
  const hasTest = dataFiles(cfg.data).test !== undefined;
  const selection = cfg.selection === "auto" ? (hasTest ? { from: "dev" as const } : { from: "train" as const, ...DEFAULT_SELECTION }) : cfg.selection;
  if (selection.from === "dev" && !hasTest) {
    throw new ConfigError(where, ["selection: choosing epochs on dev needs a test split to report (the data has none); use \"auto\" or { from: \"train\", fraction, seed }"]);
  }
  return { ...cfg, selection } as ValidConfig;
}

/** What a command line asks of a run besides a preset and a file: scalar fields, and the flags that change one. */
export interface ConfigFlags {
  /** scalar fields given as flags of the same name (seed, epochs, lr, …) */
  fields?: Partial<ExperimentConfig>;
  data?: DataSpec;
  model?: ModelSpec;
  /** the model's from-scratch twin (fromScratch) */
  fromScratch?: boolean;
  /** the loss's class-weight scheme; manual without weights of its own takes the study's */
  weights?: ClassWeightScheme;
}

/**
 * The config a command asks for, made and validated once: a whole config from a file (a run's config.json, a shipped
 * run's) is the run itself, so the preset does not fill its absent options; a partial one applies over the preset;
 * flags apply last.
 */
export function configFrom(preset: ExperimentConfig, file: Partial<ExperimentConfig> | undefined, flags: ConfigFlags, where: string): ValidConfig {
  const cfg: ExperimentConfig = file && ExperimentConfigSchema.safeParse(file).success ? { ...(file as ExperimentConfig) } : { ...preset, ...file };
  if (flags.data) cfg.data = flags.data;
  if (flags.model) cfg.model = flags.model;
  if (flags.fromScratch) cfg.model = fromScratch(cfg.model);
  if (flags.weights) {
    cfg.loss = { ...cfg.loss, scheme: flags.weights };
    if (flags.weights === "manual" && !cfg.loss.manual) cfg.loss.manual = { ...STUDY_MANUAL_WEIGHTS };
  }
  return parseExperimentConfig({ ...cfg, ...flags.fields }, where);
}

/**
 * Fields set over a config, as a plan or a results file writes them in JSON: null removes an optional field
 * (`{"distill": null}`: fine-tuning without distillation), since JSON has no way to write "absent".
 */
export type ConfigOverride = { [K in keyof ExperimentConfig]?: ExperimentConfig[K] | null };

/** An override as read from a file: only the config's fields, each valid or null. */
export const ConfigOverrideSchema = z.strictObject(
  Object.fromEntries(Object.entries(ExperimentConfigSchema.shape).map(([k, s]) => [k, (s as z.ZodType).nullable().optional()])),
) as unknown as z.ZodType<ConfigOverride>;

/** A failed parse's issues, one "path: message" each (what every config error lists). */
function issueLines(err: z.ZodError): string[] {
  return err.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
}

/**
 * An override given as JSON on a command line (`flag` names it in errors: --set, --override), validated and returned
 * as written (key order kept: records that store it compare it as text).
 */
export function parseConfigOverride(json: string, flag: string): ConfigOverride {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new Error(`${flag} is not JSON: ${(e as Error).message}`);
  }
  const res = ConfigOverrideSchema.safeParse(value);
  if (!res.success) throw new Error(`${flag}: ${issueLines(res.error).join("; ")}`);
  return value as ConfigOverride;
}

/**
 * `cfg` with `override` applied: its fields spread over, then each field it sets to null removed, except where null
 * is the field's own value (`augment: null`, no augmentation). The one place an override is applied.
 */
export function applyOverride(cfg: ExperimentConfig, override: ConfigOverride | undefined): ExperimentConfig {
  if (!override) return cfg;
  const out: Record<string, unknown> = { ...cfg, ...override };
  const shape: Record<string, z.ZodType> = ExperimentConfigSchema.shape;
  for (const [k, v] of Object.entries(override)) if (v === null && !shape[k]?.safeParse(null).success) delete out[k];
  return out as ExperimentConfig;
}

/**
 * The "from scratch" twin of a preset model: random init in the SAME architecture as its pretrained checkpoint
 * (so the ablation measures the initial weights only), with a character vocabulary from train.
 */
export function fromScratch(model: ModelSpec): ModelSpec {
  if (model.kind !== "preset") throw new Error("--from-scratch applies to the embedded presets, not to a checkpoint folder");
  if (!model.pretrained) return model;
  return { kind: "preset", preset: model.preset, pretrained: null, shapeFrom: model.pretrained };
}

/**
 * The same config trained without class weights (where a `hard_classes` loss reads which classes are hard): only the
 * loss changes, to a scheme that is valid whatever the rest is, so it stays a ValidConfig without a second check.
 */
export function withoutClassWeights(cfg: ValidConfig): ValidConfig {
  return { ...cfg, loss: { ...cfg.loss, scheme: "none", alpha: undefined, devF1: undefined, beta: undefined, manual: undefined } };
}

/** Read a config file (a run's config.json, or a few fields to apply over a preset); errors name the file. */
export function readConfigFile(file: string): Partial<ExperimentConfig> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, [`cannot read it (${(e as Error).message})`]);
  }
  if (text.trim() === "") throw new ConfigError(file, ["the file is empty (expected a JSON object of config fields)"]);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, [`not valid JSON (${(e as Error).message})`]);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(file, ["expected a JSON object of config fields"]);
  return value as Partial<ExperimentConfig>;
}

/** JSON with sorted keys at every level: equal configs give equal strings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Content fingerprint of a model folder's files (config, weights, vocabulary), so replacing a checkpoint in
 * place (a re-run `npm run pretrain`, another download) names new runs instead of loading stale ones.
 * Every byte of every file is hashed (once per path, size and mtime: digest.ts).
 */
export function modelFingerprint(dir: string, files = ["config.json", "model.safetensors", "pytorch_model.bin", "vocab.txt", "tokenizer.json"]): string {
  const h = createHash("sha256");
  for (const name of files) {
    const f = path.join(dir, name);
    if (fs.existsSync(f)) h.update(`${name}:${fileDigest(f)};`);
  }
  return h.digest("hex").slice(0, 16);
}

/** The project's root folder (this file sits in src/runs, or dist/runs once built). */
export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

/** A path as configs store it: relative to the project root, forward slashes. A relative input is taken as project-relative. */
export function toProjectPath(p: string): string {
  const rel = path.relative(PROJECT_ROOT, path.resolve(PROJECT_ROOT, p));
  return (rel === "" ? "." : rel).split(path.sep).join("/");
}

/** A config's (project-relative) path on this machine. */
export function fromProjectPath(p: string): string {
  return path.resolve(PROJECT_ROOT, p);
}

function projectData(d: DataSpec): DataSpec {
  switch (d.kind) {
    case "demo":
      return d;
    case "dir":
      return { kind: "dir", dir: toProjectPath(d.dir) };
    case "files":
      return { kind: "files", train: toProjectPath(d.train), dev: toProjectPath(d.dev), ...(d.test === undefined ? {} : { test: toProjectPath(d.test) }) };
  }
}

function projectModel(m: ModelSpec): ModelSpec {
  if (m.kind === "ngram") return m;
  if (m.kind === "checkpoint") return { ...m, dir: toProjectPath(m.dir) };
  return { ...m, pretrained: m.pretrained === null ? null : toProjectPath(m.pretrained), ...(m.shapeFrom ? { shapeFrom: toProjectPath(m.shapeFrom) } : {}) };
}

/** The files a data spec reads, by split (absolute; a split without a file is left out). */
export function dataFiles(d: DataSpec): Partial<Record<SplitName, string>> {
  if (d.kind !== "files") return datasetFiles(d.kind === "demo" ? DEMO_DIR : fromProjectPath(d.dir));
  return { train: fromProjectPath(d.train), dev: fromProjectPath(d.dev), ...(d.test === undefined ? {} : { test: fromProjectPath(d.test) }) };
}

/**
 * Content fingerprint of the data a config reads (each split's file), so editing or regenerating a split in place
 * names new runs instead of loading results trained on the old rows. A file that does not exist yet hashes as
 * absent (the run itself reports it when it loads the data).
 */
export function dataFingerprint(d: DataSpec): string {
  const files = dataFiles(d);
  const h = createHash("sha256");
  for (const split of ["train", "dev", "test"] as const) {
    const f = files[split];
    h.update(`${split}:${f !== undefined && fs.existsSync(f) ? fileDigest(f) : "absent"};`);
  }
  return h.digest("hex").slice(0, 16);
}

/** config.json fields that say how a checkpoint was made or is stored, not what architecture it has. */
const NON_ARCHITECTURE_KEYS = ["medrel", "architectures", "torch_dtype", "vocab_size", "_name_or_path", "transformers_version", "tie_word_embeddings"];

/**
 * Fingerprint of the architecture in a folder's config.json, for `shapeFrom` (random init in that shape): a
 * from-scratch run reads the shape only (its vocabulary comes from train), so a re-exported checkpoint of the
 * same shape (more pre-training steps) keeps naming the same from-scratch runs.
 */
export function architectureFingerprint(dir: string): string {
  const file = path.join(dir, "config.json");
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: cannot read the architecture for shapeFrom (${(e as Error).message})`);
  }
  const arch = Object.fromEntries(Object.entries(raw).filter(([k]) => !NON_ARCHITECTURE_KEYS.includes(k)));
  return createHash("sha256").update(canonicalJson(arch)).digest("hex").slice(0, 16);
}

/** What a model spec trains from, by content: the weights' fingerprint, or the architecture a random init takes. */
function modelIdentity(m: ModelSpec): object {
  if (m.kind === "ngram") return m;
  if (m.kind === "checkpoint") return { kind: "checkpoint", weights: modelFingerprint(fromProjectPath(m.dir)) };
  return {
    kind: "preset",
    preset: m.preset,
    pretrained: m.pretrained ? modelFingerprint(fromProjectPath(m.pretrained)) : null,
    shape: m.shapeFrom ? architectureFingerprint(fromProjectPath(m.shapeFrom)) : undefined,
  };
}

/**
 * Short, stable hash of a config (what names its run folder): its settings, plus the content of the data files and
 * model folder it names — not their paths, so a run means the same wherever the project lives.
 */
export function configHash(config: ValidConfig): string {
  return hashOfParts(configHashParts(config));
}

/** What a config's hash is made of: its settings, and the content (not the paths) of the data and model it reads. */
export interface ConfigHashParts {
  settings: Record<string, unknown>;
  data: { kind: string; content: string };
  model: object;
}

export function configHashParts(config: ValidConfig): ConfigHashParts {
  const { data, model, ...settings } = config;
  return { settings, data: { kind: data.kind, content: dataFingerprint(data) }, model: modelIdentity(model) };
}

/** The hash of recorded parts: a shipped run proves its name without the data files present (results.ts). */
export function hashOfParts(parts: ConfigHashParts): string {
  return createHash("sha256").update(canonicalJson(parts)).digest("hex").slice(0, 12);
}

/**
 * Where two configs differ, one "path: a → b" line per differing field (objects walked, arrays compared whole,
 * missing fields shown as "(unset)"): e.g. what --from-scratch changes.
 */
export function configDiff(a: unknown, b: unknown, prefix = ""): string[] {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => configDiff(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  const show = (x: unknown): string => (x === undefined ? "(unset)" : JSON.stringify(x));
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${prefix || "(config)"}: ${show(a)} → ${show(b)}`];
}
