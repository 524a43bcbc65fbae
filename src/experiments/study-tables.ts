/**
 * The study's four tables, one spec each: which study table it mirrors, its variants (and how each variant's
 * config derives from the preset), the baseline the readings compare against, the metrics compared and the
 * seeds. Grids, the report, `npm start`, the CLIs, the notebooks and the README read these specs; a variant
 * name is typed here and nowhere else.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { STUDY_ENCODINGS } from "../encoding/types";
import { STUDY_MANUAL_WEIGHTS } from "../train/class-weights";
import type { MetricRow } from "../metrics/records";
import type { StudyOrientation, StudyTableName } from "../report/study";
import { fromScratch, type ExperimentConfig } from "../runs/config";
import { MODELS_DIR, type PresetName } from "./presets";

export type TableName = "models" | "encodings" | "loss" | "augmentation";
export const TABLE_NAMES: readonly TableName[] = ["models", "encodings", "loss", "augmentation"];

/** What a table's variants may depend on besides the preset's base config. */
export interface VariantContext {
  preset: PresetName;
  /** folder of real checkpoints (models/<name>/config.json) for the models table */
  modelsDir?: string;
}

export interface VariantSpec {
  /** the row/column name the study's table uses where it has one (e.g. "Entity_marked2", "Weighted Loss") */
  name: string;
  config: ExperimentConfig;
}

/** One reading: b against a on each of the table's metrics (paired t-test unless `test` says otherwise). */
export interface Comparison {
  a: string;
  b: string;
  test?: "welch";
}

export interface TableSpec {
  name: TableName;
  /** the table's key in data/study-tables.json */
  studyKey: StudyTableName;
  /** how that table lays its variants out, as on the study's slide (the encodings table has them as rows) */
  studyOrientation: StudyOrientation;
  title: string;
  /** the variant the others are compared against */
  baseline: string;
  /** metrics the readings compare */
  metrics: readonly MetricRow[];
  /** seeds of the demo grid, planned for power (DEMO_POWER below); the study-data grid runs STUDY_SEEDS */
  seeds: readonly number[];
  /** the variants the demo grid runs (npm start's budget); the study-data grid runs them all */
  demoVariants: readonly string[];
  variants(base: ExperimentConfig, ctx: VariantContext): VariantSpec[];
  /** the study's own comparison (its Variation column, or its best row against the baseline); tableSummary reads it */
  headline?: Comparison;
  /** the readings; default: every other variant against the baseline */
  comparisons?(variants: readonly string[]): Comparison[];
  /** other spellings of the study's names that runs may use */
  aliases?: Readonly<Record<string, readonly string[]>>;
}

export const NGRAM_VARIANT = "n-gram TF-IDF + LR (no pretraining)";
export const PRETRAINED_VARIANT = "tiny (pretrained in-domain)";
export const FROM_SCRATCH_VARIANT = "tiny (from scratch)";
/** The models table's computed row (ensemble.ts): no run of its own, so no job of any grid. */
export const ENSEMBLE_VARIANT = "ensemble: encoder + n-gram (weight chosen on selection)";
const REGULAR = "Regular Loss";
const WEIGHTED = "Weighted Loss";
const WEIGHTED_AUG = "Weighted+Aug";
const HARD_CLASS_WEIGHTS = "Hard-class weights";
const EFFECTIVE_NUMBER = "Effective-number weights";
/** Seeds of every study-data grid (results/study): five, so the paired t-test resolves gaps of about a point. */
export const STUDY_SEEDS: readonly number[] = [0, 1, 2, 3, 4];

/** The study's checkpoints by folder name under models/, shown under the study's column names. */
export const STUDY_CHECKPOINTS: Readonly<Record<string, readonly string[]>> = {
  BioBERT: ["biobert-base-cased-v1.2", "biobert", "dmis-lab/biobert-base-cased-v1.2", "biobert-base"],
  "Chinese-RoBERTa-wwm-ext": ["chinese-roberta-wwm-ext", "hfl/chinese-roberta-wwm-ext", "chinese-roberta", "roberta-wwm-ext", "roberta"],
  MedBERT: ["medbert-base-wwm-chinese", "medbert", "trueto/medbert-base-wwm-chinese", "medbert-base"],
};

/** The display name of a checkpoint folder: the study's name when the folder is one of its checkpoints. */
export function checkpointName(folder: string): string {
  const f = path.basename(folder).toLowerCase();
  return Object.entries(STUDY_CHECKPOINTS).find(([, names]) => names.includes(f))?.[0] ?? path.basename(folder);
}

/** Checkpoint folders under modelsDir that have a config.json. */
export function availableCheckpoints(modelsDir = MODELS_DIR): { name: string; dir: string }[] {
  if (!fs.existsSync(modelsDir)) return [];
  return fs
    .readdirSync(modelsDir)
    .map((f) => path.join(modelsDir, f))
    .filter((d) => fs.existsSync(path.join(d, "config.json")))
    .map((dir) => ({ name: checkpointName(dir), dir }));
}

// ---- the recipes the variants are built from -------------------------------------------------

/** The study's weighted cross-entropy: 2.0 on the hard classes. */
export function withStudyWeights(c: ExperimentConfig): ExperimentConfig {
  return { ...c, loss: { ...c.loss, scheme: "manual", manual: { ...STUDY_MANUAL_WEIGHTS } } };
}

function unweighted(c: ExperimentConfig): ExperimentConfig {
  return { ...c, loss: { ...c.loss, scheme: "none", manual: undefined } };
}

/**
 * The no-pretraining floor: the n-gram baseline (model "ngram") on the same data, seed and row caps; it has no
 * class weights, augmentation or teacher, and reads nothing else of the config.
 */
function ngramBaseline(c: ExperimentConfig): ExperimentConfig {
  return { ...unweighted(c), model: { kind: "ngram" }, augment: null, distill: undefined };
}

/**
 * The study's own augmentation: its batch samplers (balanced, 2 rows of each class, for two epochs; then priority,
 * 4 rows of each hard class and 1 of every other) — hard-class rows seen more often, no new sentences.
 */
function withStudySampler(c: ExperimentConfig): ExperimentConfig {
  return { ...c, sampler: "study" };
}

type TextStrategy = "oversample" | "entity_substitution" | "char_noise";

/** Text augmentation: one extra copy of each hard-class train row, made by `strategy`. */
function withTextAug(c: ExperimentConfig, strategy: TextStrategy): ExperimentConfig {
  return { ...c, augment: { hardRule: "study", strategies: [strategy], multiplier: 1 } };
}

const TEXT_AUG_ROWS: readonly [string, TextStrategy][] = [
  ["Weighted+oversample", "oversample"],
  ["Weighted+entity substitution", "entity_substitution"],
  ["Weighted+char noise", "char_noise"],
];

/**
 * The study's model and encoding tables ran its full recipe (its Entity_marked2 row, 90.24 Macro-F1, is the
 * Weighted+Aug row of the augmentation table); the study preset's base already is that recipe.
 */
function fullRecipe(base: ExperimentConfig, preset: PresetName): ExperimentConfig {
  return preset === "study" ? base : withStudySampler(withStudyWeights(base));
}

/**
 * The models table's row of one checkpoint folder (rows exist only for the checkpoints under models/ on the machine
 * that makes the grid; a shipped run of another machine's checkpoint is checked against this too).
 */
export function checkpointVariant(base: ExperimentConfig, preset: PresetName, ck: { name: string; dir: string }): VariantSpec {
  return { name: ck.name, config: { ...fullRecipe(base, preset), model: { kind: "checkpoint", dir: ck.dir, name: ck.name } } };
}

// ---- the four tables ------------------------------------------------------------------------

/**
 * The demo's seeds, fixed before its runs: as many as a paired t-test needs to show each table's effect at power 0.8
 * (α = 0.05), planned from an earlier demo grid's effects and spreads (that grid's numbers are in the plan's commit:
 * `git show a28a7a2 -- src/experiments/study-tables.ts`); each reading prints what its seeds can detect. The demo is
 * an illustration (its generator builds these effects in); the seeds keep `npm start` inside 10 minutes.
 */
const DEMO_POWER = { models: [0, 1, 2], encodings: [0, 1, 2], loss: [0, 1, 2, 3, 4, 5], augmentation: [0, 1, 2, 3, 4] } as const;

export const TABLE_SPECS: Readonly<Record<TableName, TableSpec>> = {
  models: {
    name: "models",
    studyKey: "model_comparison",
    studyOrientation: "variants-as-columns",
    title: "Pretrained model comparison",
    baseline: FROM_SCRATCH_VARIANT,
    metrics: ["Micro-F1", "Macro-F1"],
    seeds: DEMO_POWER.models,
    demoVariants: [PRETRAINED_VARIANT, FROM_SCRATCH_VARIANT, NGRAM_VARIANT],
    headline: { a: FROM_SCRATCH_VARIANT, b: PRETRAINED_VARIANT },
    aliases: STUDY_CHECKPOINTS,
    variants(base, ctx) {
      const full = fullRecipe(base, ctx.preset);
      const out: VariantSpec[] = [];
      if (ctx.preset !== "study" && full.model.kind === "preset") {
        // the embedded presets: what in-domain pre-training buys, same architecture either way
        if (full.model.pretrained) out.push({ name: PRETRAINED_VARIANT, config: full });
        out.push({ name: FROM_SCRATCH_VARIANT, config: { ...full, model: fromScratch(full.model) } });
      }
      for (const ck of availableCheckpoints(ctx.modelsDir)) out.push(checkpointVariant(base, ctx.preset, ck));
      out.push({ name: NGRAM_VARIANT, config: ngramBaseline(base) });
      return out;
    },
    comparisons(names) {
      // what pre-training buys over the same architecture from scratch, and over the n-gram floor (whose seed ties
      // nothing to the encoder's, hence Welch); with no from-scratch row (the study preset) every model vs the floor
      const encoders = names.filter((v) => v !== FROM_SCRATCH_VARIANT && v !== NGRAM_VARIANT && v !== ENSEMBLE_VARIANT);
      const out: Comparison[] = names.includes(FROM_SCRATCH_VARIANT) ? encoders.map((b) => ({ a: FROM_SCRATCH_VARIANT, b })) : [];
      const vsFloor = names.includes(FROM_SCRATCH_VARIANT) ? encoders.filter((v) => v === PRETRAINED_VARIANT) : encoders;
      if (names.includes(NGRAM_VARIANT)) out.push(...vsFloor.map((b): Comparison => ({ a: NGRAM_VARIANT, b, test: "welch" })));
      // the ensemble's seed s averages the encoder's and the n-gram's seed-s runs, so it pairs with each of them
      if (names.includes(ENSEMBLE_VARIANT)) out.push(...[NGRAM_VARIANT, PRETRAINED_VARIANT].filter((a) => names.includes(a)).map((a) => ({ a, b: ENSEMBLE_VARIANT })));
      return out;
    },
  },
  encodings: {
    name: "encodings",
    studyKey: "encoding_ablation",
    studyOrientation: "variants-as-rows",
    title: "Encoding strategy impact",
    baseline: "Basic1",
    metrics: ["Macro-F1"],
    seeds: DEMO_POWER.encodings,
    // the demo shows the study's own comparison; all five encodings run on the study's data
    demoVariants: ["Basic1", "Entity_marked2"],
    headline: { a: "Basic1", b: "Entity_marked2" },
    variants: (base, ctx) => STUDY_ENCODINGS.map((e) => ({ name: e, config: { ...fullRecipe(base, ctx.preset), encoding: e } })),
  },
  loss: {
    name: "loss",
    studyKey: "weighted_loss",
    studyOrientation: "variants-as-columns",
    title: "Weighted loss",
    baseline: REGULAR,
    metrics: ["Macro-F1", "F1 Range"],
    // the study's smallest effect, and the unweighted model's hard-class F1 swings by seed: more seeds
    seeds: DEMO_POWER.loss,
    demoVariants: [REGULAR, WEIGHTED],
    headline: { a: REGULAR, b: WEIGHTED },
    aliases: { [REGULAR]: ["regular", "ce", "unweighted", "plain"], [WEIGHTED]: ["weighted", "weighted-ce", "weighted_ce"] },
    variants: (base) => [
      { name: REGULAR, config: unweighted(base) },
      { name: WEIGHTED, config: withStudyWeights(base) },
      // w_c = 1 + (1 − F1_c), F1 from the unweighted run of the same seed on the selection split
      { name: HARD_CLASS_WEIGHTS, config: { ...base, loss: { ...base.loss, scheme: "hard_classes", alpha: 1, manual: undefined } } },
      { name: EFFECTIVE_NUMBER, config: { ...base, loss: { ...base.loss, scheme: "effective_number", beta: 0.999, manual: undefined } } },
    ],
  },
  augmentation: {
    name: "augmentation",
    studyKey: "augmentation",
    studyOrientation: "variants-as-columns",
    title: "Hard-class augmentation",
    baseline: WEIGHTED,
    metrics: ["Macro-F1", "F1 Range"],
    seeds: DEMO_POWER.augmentation,
    demoVariants: [WEIGHTED, WEIGHTED_AUG],
    headline: { a: WEIGHTED, b: WEIGHTED_AUG },
    aliases: {
      [WEIGHTED]: ["weighted", "weighted-ce", "weighted_ce", "no-aug", "noaug"],
      [WEIGHTED_AUG]: ["weighted-aug", "weighted_aug", "aug", "augmented", "augmentation", "weighted+augmentation"],
    },
    variants: (base) => [
      { name: WEIGHTED, config: withStudyWeights(base) },
      { name: WEIGHTED_AUG, config: withStudySampler(withStudyWeights(base)) },
      ...TEXT_AUG_ROWS.map(([name, strategy]) => ({ name, config: withTextAug(withStudyWeights(base), strategy) })),
    ],
  },
};

/** "3–6 seeds (models 3, encodings 3, loss 6, augmentation 5)": what npm start and the CLIs say they run. */
export function describeTableSeeds(): string {
  const n = TABLE_NAMES.map((t) => TABLE_SPECS[t].seeds.length);
  return `${Math.min(...n)}–${Math.max(...n)} seeds (${TABLE_NAMES.map((t, i) => `${t} ${n[i]}`).join(", ")})`;
}

/** The readings of a table whose runs cover `present`; a comparison naming a variant the table lacks throws. */
export function tableComparisons(spec: TableSpec, variants: readonly string[]): Comparison[] {
  const list = spec.comparisons ? spec.comparisons(variants) : variants.filter((v) => v !== spec.baseline).map((b) => ({ a: spec.baseline, b }));
  for (const c of list) {
    for (const v of [c.a, c.b]) {
      if (!variants.includes(v)) throw new Error(`table ${spec.name}: no variant "${v}" (it has ${variants.map((x) => `"${x}"`).join(", ")})`);
    }
  }
  return list;
}
