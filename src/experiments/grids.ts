/**
 * Grids for each study table (models, encodings, weighted loss, augmentation), each over seeds.
 * A grid is a flat list of jobs (variant × seed); `--shard i/n` takes every n-th job, so any scheduler can
 * split a grid across processes or machines. Tables are assembled from whatever runs exist.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ExperimentConfig, DataSpec } from "./config";
import { configHash } from "./config";
import { fromScratch, presetConfig, MODELS_DIR, type PresetName } from "./presets";
import { STUDY_ENCODINGS } from "../encoding/types";
import { STUDY_HARD_CLASSES } from "../data/labels";
import { DEFAULT_RUNS_DIR, loadRun, type RunResult } from "./store";

export type TableName = "models" | "encodings" | "loss" | "augmentation";
export const TABLE_NAMES: readonly TableName[] = ["models", "encodings", "loss", "augmentation"];
export const DEFAULT_SEEDS: readonly number[] = [0, 1, 2, 3];

/**
 * Seeds per table when none are given. The readings test each ablation with a paired t-test over seeds (3 seeds
 * need |t| > 4.30, 4 seeds 3.18, 7 seeds 2.45). Four seeds carry the models, encodings and augmentation tables on the
 * demo. The weighted-loss effect is the study's smallest (+1.7 Macro-F1) and its per-seed differences the noisiest
 * (the unweighted model's hard-class F1 swings by seed: 16–57 on the demo), so that table gets 7 (6 extra runs of
 * ≈37 s, about 2 min of `npm start`).
 */
export function tableSeeds(table: TableName): readonly number[] {
  return table === "loss" ? [0, 1, 2, 3, 4, 5, 6] : DEFAULT_SEEDS;
}

/** "4 seeds (7 for the weighted-loss table)": what npm start and the CLIs say they run. */
export function describeTableSeeds(): string {
  return `${DEFAULT_SEEDS.length} seeds (${tableSeeds("loss").length} for the weighted-loss table)`;
}

export interface Job {
  table: TableName;
  /** the row/column name the study's table uses (e.g. "Entity_marked2", "Weighted Loss") */
  variant: string;
  seed: number;
  config: ExperimentConfig;
}

export interface GridOptions {
  preset: PresetName;
  data?: DataSpec;
  seeds?: readonly number[];
  /** folder of real checkpoints (models/<name>/config.json) for the models table */
  modelsDir?: string;
  /** applied to every config last (e.g. a notebook's class-weight map) */
  override?: Partial<ExperimentConfig>;
}

const STUDY_WEIGHTS = Object.fromEntries(STUDY_HARD_CLASSES.map((l) => [l, 2.0]));

/** The study's checkpoints by folder name (models/<folder>), shown under the study's column names. */
export const KNOWN_CHECKPOINTS: Record<string, string> = {
  "chinese-roberta-wwm-ext": "Chinese-RoBERTa-wwm-ext",
  "medbert-base-wwm-chinese": "MedBERT",
  medbert: "MedBERT",
  "biobert-base-cased-v1.2": "BioBERT",
  biobert: "BioBERT",
};

/** Checkpoint folders under modelsDir that have a config.json. */
export function availableCheckpoints(modelsDir = MODELS_DIR): { name: string; dir: string }[] {
  if (!fs.existsSync(modelsDir)) return [];
  return fs
    .readdirSync(modelsDir)
    .map((f) => path.join(modelsDir, f))
    .filter((d) => fs.existsSync(path.join(d, "config.json")))
    .map((dir) => ({ name: KNOWN_CHECKPOINTS[path.basename(dir)] ?? path.basename(dir), dir }));
}

/** Weighted+Aug's augmentation: one extra copy per hard-class train row (entity substitution or character noise). */
const HARD_CLASS_AUG = { hardRule: "study", strategies: ["entity_substitution", "char_noise"], multiplier: 1 } as const;

function variants(table: TableName, base: ExperimentConfig, opts: GridOptions): { variant: string; config: ExperimentConfig }[] {
  const weighted: ExperimentConfig = { ...base, loss: { ...base.loss, scheme: "manual", manual: STUDY_WEIGHTS } };
  const weightedAug: ExperimentConfig = { ...weighted, augment: { ...HARD_CLASS_AUG, strategies: [...HARD_CLASS_AUG.strategies] } };
  // the study's model and encoding tables ran its full recipe (its Entity_marked2 row, 90.24 Macro-F1, is the
  // Weighted+Aug row of the augmentation table); the study preset's base already is that recipe
  const full = opts.preset === "study" ? base : weightedAug;
  switch (table) {
    case "models": {
      const out: { variant: string; config: ExperimentConfig }[] = [];
      if (opts.preset !== "study") {
        // the embedded presets: what in-domain pre-training buys, always available without downloads
        if (full.model.kind === "preset" && full.model.pretrained) {
          out.push({ variant: "tiny (pretrained in-domain)", config: full });
        }
        // same architecture as the pretrained one when there is one: the row isolates what pre-training buys
        out.push({
          variant: "tiny (from scratch)",
          config: { ...full, model: full.model.kind === "preset" ? fromScratch(full.model) : { kind: "preset", preset: "tiny", pretrained: null } },
        });
      }
      for (const ck of availableCheckpoints(opts.modelsDir)) {
        out.push({ variant: ck.name, config: { ...full, model: { kind: "checkpoint", dir: ck.dir, name: ck.name } } });
      }
      return out;
    }
    case "encodings":
      return STUDY_ENCODINGS.map((e) => ({ variant: e, config: { ...full, encoding: e } }));
    case "loss":
      return [
        { variant: "Regular Loss", config: { ...base, loss: { ...base.loss, scheme: "none", manual: undefined } } },
        { variant: "Weighted Loss", config: weighted },
      ];
    case "augmentation":
      return [
        { variant: "Weighted Loss", config: weighted },
        { variant: "Weighted+Aug", config: weightedAug },
      ];
  }
}

/** All jobs of one table's grid. */
export function gridJobs(table: TableName, opts: GridOptions): Job[] {
  const base0 = presetConfig(opts.preset);
  const base: ExperimentConfig = { ...base0, ...(opts.data ? { data: opts.data } : {}) };
  const seeds = opts.seeds ?? tableSeeds(table);
  const jobs: Job[] = [];
  for (const v of variants(table, base, opts)) {
    for (const seed of seeds) {
      jobs.push({ table, variant: v.variant, seed, config: { ...v.config, ...(opts.override ?? {}), seed } });
    }
  }
  return jobs;
}

/** Parse "i/n" (1-based i). */
export function parseShard(s: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`--shard must look like i/n (e.g. 1/4), got "${s}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) throw new Error(`--shard ${s}: need 1 ≤ i ≤ n`);
  return { index, count };
}

/** The jobs of shard i/n: distinct configs are dealt round-robin, so shards never train the same run twice. */
export function shardJobs(jobs: Job[], shard?: { index: number; count: number }): Job[] {
  if (!shard || shard.count === 1) return jobs;
  const hashes = [...new Set(jobs.map((j) => configHash(j.config)))];
  const mine = new Set(hashes.filter((_, i) => i % shard.count === shard.index - 1));
  return jobs.filter((j) => mine.has(configHash(j.config)));
}

export interface CollectedRuns {
  runs: (RunResult & { variant: string; seed: number })[];
  missing: Job[];
}

/** The runs that exist for these jobs, and which are missing (tables say so instead of failing). */
export function collectRuns(jobs: Job[], runsDir = DEFAULT_RUNS_DIR): CollectedRuns {
  const runs: CollectedRuns["runs"] = [];
  const missing: Job[] = [];
  for (const j of jobs) {
    const r = loadRun(path.join(runsDir, configHash(j.config)));
    if (r) runs.push({ ...r, variant: j.variant, seed: j.seed });
    else missing.push(j);
  }
  return { runs, missing };
}
