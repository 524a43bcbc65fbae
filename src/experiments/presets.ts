/**
 * Presets: `smoke` (seconds, for tests), `quick` (CPU, tiny model — the default) and `study`
 * (the authors' recipe from study-recipe.md, meant for a real checkpoint on a GPU).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_MAX_LENGTH } from "../encoding";
import type { ExperimentConfig } from "../runs/config";
import { STUDY_MANUAL_WEIGHTS } from "../train/class-weights";
import { DEFAULT_HYPERPARAMS, DEFAULT_LOSS_OPTIONS } from "../train/config";

export type PresetName = "smoke" | "quick" | "study";
export const PRESET_NAMES: readonly PresetName[] = ["smoke", "quick", "study"];

/** The committed in-domain pretrained tiny checkpoint (issue: quality without a GPU), if present. */
export const PRETRAINED_TINY_DIR = path.resolve(__dirname, "..", "..", "data", "pretrained", "quick");
/** The study's own splits beside the project (`../shared/data`: study_train.jsonl, study_val.jsonl). */
export const STUDY_DATA_DIR = path.resolve(__dirname, "..", "..", "..", "shared", "data");
/** Where users put real Hugging Face checkpoints (models/chinese-roberta-wwm-ext/ etc.). */
export const MODELS_DIR = path.resolve(__dirname, "..", "..", "models");

function pretrainedTiny(): string | null {
  return fs.existsSync(path.join(PRETRAINED_TINY_DIR, "config.json")) ? PRETRAINED_TINY_DIR : null;
}


export function presetConfig(name: PresetName): ExperimentConfig {
  const base: ExperimentConfig = {
    data: { kind: "demo" },
    selection: "auto",
    model: { kind: "preset", preset: "tiny", pretrained: pretrainedTiny() },
    encoding: "Entity_marked2",
    faithful: false,
    // entity-span pooling: the two start-marker states plus the mean of each entity's span, so a small encoder reads
    // what the entities are, not only where they start
    pooling: "entity_span",
    // 160 tokens keep 84% of the study's rows whole; 3 epochs (DEFAULT_HYPERPARAMS) fit the 10-minute budget on one
    // core. How each lever was chosen is recorded with the checkpoint (data/pretrained/quick/README.md)
    maxLength: 160,
    loss: { scheme: "none", ...DEFAULT_LOSS_OPTIONS },
    sampler: "shuffle",
    samplerEpoch: "rows",
    augment: null,
    ...DEFAULT_HYPERPARAMS,
    // distillation from the n-gram baseline, cross-fitted on train (the teacher never scores a row it saw)
    distill: { teacher: "ngram", alpha: 0.5, temperature: 2, folds: 5, classWeighted: true },
    maxTrainRows: 0,
    maxEvalRows: 0,
  };
  switch (name) {
    case "quick":
      return base;
    case "smoke":
      return { ...base, epochs: 1, lr: 2e-3, maxLength: 64, maxTrainRows: 200, maxEvalRows: 60, batchSize: 16 };
    case "study":
      return {
        ...base,
        model: { kind: "checkpoint", dir: path.join(MODELS_DIR, "chinese-roberta-wwm-ext"), name: "Chinese-RoBERTa-wwm-ext" },
        pooling: "cls",
        distill: undefined,
        maxLength: DEFAULT_MAX_LENGTH,
        loss: { scheme: "manual", manual: { ...STUDY_MANUAL_WEIGHTS }, ...DEFAULT_LOSS_OPTIONS },
        sampler: "study",
        samplerEpoch: "first_exhausted",
        epochs: 4,
        batchSize: 16,
        lr: 1e-5,
        schedule: "step",
        warmupRatio: 0,
        weightDecay: 0.01,
      };
  }
}

export function isPresetName(s: string): s is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(s);
}

/** The preset a notebook runs: MEDREL_PRESET (the test suite sets `smoke`) or `quick`. */
export function notebookPreset(): PresetName {
  const p = process.env.MEDREL_PRESET ?? "quick";
  if (!isPresetName(p)) throw new Error(`MEDREL_PRESET="${p}" is not one of ${PRESET_NAMES.join(", ")}`);
  return p;
}
