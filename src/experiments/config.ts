/**
 * One typed experiment config. Validated once at the edge (CLI, notebook, file) with zod, typed after.
 * Its canonical hash names the run folder, so the same config is never trained twice.
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
import { SHAPE_NAMES, type ShapeName } from "../model/config";
import { CLASS_WEIGHT_SCHEMES, type ClassWeightScheme } from "../train/class-weights";

const encodingEnum = z.enum(ENCODING_NAMES as unknown as [EncodingName, ...EncodingName[]]);

export const DataSpecSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("demo") }),
  /** a folder laid out as the study's: train.jsonl, val.jsonl, test.jsonl */
  z.object({ kind: z.literal("dir"), dir: z.string().min(1) }),
  z.object({ kind: z.literal("files"), train: z.string().min(1), dev: z.string().min(1), test: z.string().optional() }),
]);
export type DataSpec = z.infer<typeof DataSpecSchema>;

export const ModelSpecSchema = z.discriminatedUnion("kind", [
  /**
   * an embedded shape; `pretrained` is a local HF folder to start from, null = random init. `shapeFrom` (random
   * init only): take the architecture from this folder's config.json instead of the preset, so "from scratch"
   * and "pretrained" differ only in the initial weights.
   */
  z.object({
    kind: z.literal("preset"),
    preset: z.enum(SHAPE_NAMES as unknown as [ShapeName, ...ShapeName[]]),
    pretrained: z.string().nullable(),
    shapeFrom: z.string().min(1).optional(),
  }),
  /** a local Hugging Face checkpoint folder (config.json, vocab.txt/tokenizer.json, weights) */
  z.object({ kind: z.literal("checkpoint"), dir: z.string().min(1), name: z.string().optional() }),
]);
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

export const WeightSchemeSchema = z.enum(CLASS_WEIGHT_SCHEMES as unknown as [ClassWeightScheme, ...ClassWeightScheme[]]);
export type WeightScheme = z.infer<typeof WeightSchemeSchema>;

export const LossSpecSchema = z.object({
  scheme: WeightSchemeSchema,
  /** per-label weight map for `manual` (missing labels weigh 1) */
  manual: z.record(z.string(), z.number().positive()).optional(),
  /** `hard_classes`: w_c = 1 + alpha (1 - F1_c) from a previous run's dev per-class F1 */
  alpha: z.number().nonnegative().optional(),
  devF1: z.record(z.string(), z.number()).optional(),
  /** `effective_number`: Cui et al. 2019 */
  beta: z.number().min(0).max(1).optional(),
  focalGamma: z.number().nonnegative(),
  reduction: z.enum(["weighted_mean", "mean"]),
  labelSmoothing: z.number().min(0).max(0.5),
});
export type LossSpec = z.infer<typeof LossSpecSchema>;

export const AugmentSpecSchema = z.object({
  hardRule: z.enum(["study", "lowest_dev_f1", "lowest_frequency"]),
  strategies: z.array(z.enum(["oversample", "entity_substitution", "char_noise"])),
  /** augmented copies per original hard-class row */
  multiplier: z.number().nonnegative(),
});
export type AugmentSpec = z.infer<typeof AugmentSpecSchema>;

export const DistillSpecSchema = z.object({
  teacher: z.literal("ngram"),
  alpha: z.number().min(0).max(1),
  temperature: z.number().positive(),
  folds: z.number().int().min(2),
});
export type DistillSpec = z.infer<typeof DistillSpecSchema>;

export const ExperimentConfigSchema = z.object({
  data: DataSpecSchema,
  model: ModelSpecSchema,
  encoding: encodingEnum,
  /** the study's quirks (double [CLS], replace-every-occurrence) */
  faithful: z.boolean(),
  pooling: z.enum(["cls", "entity_start", "entity_span"]),
  maxLength: z.number().int().min(16).max(512),
  loss: LossSpecSchema,
  /** `shuffle` = bucketed random batches; `study` = 2 balanced epochs then priority-sampler epochs */
  sampler: z.enum(["shuffle", "study"]),
  augment: AugmentSpecSchema.nullable(),
  seed: z.number().int().nonnegative(),
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  lr: z.number().positive(),
  schedule: z.enum(["linear", "step", "constant"]),
  warmupRatio: z.number().min(0).max(1),
  weightDecay: z.number().nonnegative(),
  maxGradNorm: z.number().positive(),
  earlyStoppingPatience: z.number().int().nonnegative(),
  layerwiseLrDecay: z.number().positive().max(1),
  /**
   * knowledge distillation from the n-gram baseline (cross-fitted on train, `folds` parts): loss =
   * (1 − alpha)·CE + alpha·T²·KL(teacher ‖ student). Absent = off (and absent from the hash).
   */
  distill: DistillSpecSchema.optional(),
  /** cap on training rows (0 = all); the smoke preset uses it to run in seconds */
  maxTrainRows: z.number().int().nonnegative(),
  maxEvalRows: z.number().int().nonnegative(),
});
export type ExperimentConfig = z.infer<typeof ExperimentConfigSchema>;

export class ConfigError extends Error {
  constructor(where: string, issues: string[]) {
    super(`invalid experiment config (${where}):\n  ${issues.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** Validate an unknown value (a parsed file, CLI flags merged onto a preset) into an ExperimentConfig. */
export function parseExperimentConfig(value: unknown, where = "config"): ExperimentConfig {
  const res = ExperimentConfigSchema.safeParse(value);
  if (!res.success) {
    throw new ConfigError(
      where,
      res.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    );
  }
  const cfg = res.data;
  if (cfg.loss.manual) {
    for (const k of Object.keys(cfg.loss.manual)) {
      if (!LABEL_NAMES.includes(k as Label)) throw new ConfigError(where, [`loss.manual: unknown label "${k}"`]);
    }
  }
  return cfg;
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

const fingerprintMemo = new Map<string, string>();

/**
 * Content fingerprint of a model folder's files (config, weights, vocabulary), so replacing a checkpoint in
 * place (a re-run `npm run pretrain`, another download) names new runs instead of loading stale ones.
 * Files up to 16 MiB are hashed whole; larger weights by size plus their first and last 4 MiB. Memoised by
 * path, size and mtime.
 */
export function modelFingerprint(dir: string, files = ["config.json", "model.safetensors", "pytorch_model.bin", "vocab.txt", "tokenizer.json"]): string {
  const h = createHash("sha256");
  for (const name of files) {
    const f = path.join(dir, name);
    if (fs.existsSync(f)) h.update(`${name}:${fileDigest(f)};`);
  }
  return h.digest("hex").slice(0, 16);
}

/** sha256 of a file (whole up to 16 MiB; larger: size plus the first and last 4 MiB), memoised by path, size, mtime. */
function fileDigest(f: string): string {
  const st = fs.statSync(f);
  const key = `${f}\0${st.size}\0${st.mtimeMs}`;
  let digest = fingerprintMemo.get(key);
  if (digest === undefined) {
    const fh = createHash("sha256");
    const CHUNK = 4 << 20;
    if (st.size <= 4 * CHUNK) fh.update(fs.readFileSync(f));
    else {
      const fd = fs.openSync(f, "r");
      try {
        const buf = Buffer.alloc(CHUNK);
        fs.readSync(fd, buf, 0, CHUNK, 0);
        fh.update(buf);
        fs.readSync(fd, buf, 0, CHUNK, st.size - CHUNK);
        fh.update(buf);
      } finally {
        fs.closeSync(fd);
      }
    }
    digest = fh.update(String(st.size)).digest("hex");
    fingerprintMemo.set(key, digest);
  }
  return digest;
}

/**
 * Content fingerprint of the data a config reads (each split's file), so editing or regenerating a split in place
 * names new runs instead of loading results trained on the old rows. A folder or file that does not exist yet
 * hashes as absent (the run itself reports it when it loads the data).
 */
export function dataFingerprint(d: DataSpec): string {
  const files: Partial<Record<SplitName, string>> =
    d.kind === "files" ? { train: d.train, dev: d.dev, test: d.test } : datasetFiles(d.kind === "demo" ? DEMO_DIR : d.dir);
  const h = createHash("sha256");
  for (const split of ["train", "dev", "test"] as const) {
    const f = files[split];
    h.update(`${split}:${f !== undefined && fs.existsSync(f) ? fileDigest(path.resolve(f)) : "absent"};`);
  }
  return h.digest("hex").slice(0, 16);
}

/**
 * The data spec with absolute paths: a notebook (cwd notebooks/, `../../shared/data`) and the CLI (cwd the repo,
 * `../shared/data`) name the same folder, so they must name the same runs.
 */
function absoluteData(d: DataSpec): DataSpec {
  switch (d.kind) {
    case "demo":
      return d;
    case "dir":
      return { kind: "dir", dir: path.resolve(d.dir) };
    case "files":
      return { kind: "files", train: path.resolve(d.train), dev: path.resolve(d.dev), test: d.test === undefined ? undefined : path.resolve(d.test) };
  }
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

/**
 * Short, stable hash of a config (what names its run folder). It covers the content of the data files the config
 * reads (dataFingerprint) and, for a config that points at a model folder, that folder's content (modelFingerprint).
 */
export function configHash(cfg: ExperimentConfig): string {
  cfg = { ...cfg, data: absoluteData(cfg.data) };
  const m = cfg.model;
  const dir = m.kind === "checkpoint" ? m.dir : m.pretrained;
  const shapeFrom = m.kind === "preset" ? m.shapeFrom : undefined;
  const weights = dir ? modelFingerprint(dir) : undefined;
  const shape = shapeFrom ? architectureFingerprint(shapeFrom) : undefined;
  const payload = canonicalJson({ config: cfg, data: dataFingerprint(cfg.data), weights, shape });
  return createHash("sha256").update(payload).digest("hex").slice(0, 12);
}
