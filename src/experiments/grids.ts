/**
 * The grid behind each study table (its spec's variants × seeds) as a flat list of jobs, each carrying its config
 * hash (computed once). `--shard i/n` takes every n-th distinct config, so any scheduler can split a grid across
 * processes or machines.
 */
import type { ExperimentConfig, DataSpec } from "../runs/config";
import { configHash, parseExperimentConfig } from "../runs/config";
import { presetConfig, type PresetName } from "./presets";
import { TABLE_SPECS, type TableName } from "./study-tables";

export interface Job {
  table: TableName;
  /** the row/column name the study's table uses (e.g. "Entity_marked2", "Weighted Loss") */
  variant: string;
  seed: number;
  config: ExperimentConfig;
  /** configHash(config): the run's folder name */
  hash: string;
}

export interface GridOptions {
  preset: PresetName;
  data?: DataSpec;
  seeds?: readonly number[];
  /** folder of real checkpoints (models/<name>/config.json) for the models table */
  modelsDir?: string;
  /** applied to every config last (e.g. a notebook's class-weight map) */
  override?: Partial<ExperimentConfig>;
  /** only these rows of the table (a name the table does not have throws) */
  variants?: readonly string[];
}

/** A job for one config, validated (project-relative paths, selection resolved) and hashed here, once. */
export function makeJob(table: TableName, variant: string, seed: number, config: ExperimentConfig): Job {
  const parsed = parseExperimentConfig(config, `${table} table, ${variant}, seed ${seed}`);
  return { table, variant, seed, config: parsed, hash: configHash(parsed) };
}

/** All jobs of one table's grid. */
export function gridJobs(table: TableName, opts: GridOptions): Job[] {
  const spec = TABLE_SPECS[table];
  const base: ExperimentConfig = { ...presetConfig(opts.preset), ...(opts.data ? { data: opts.data } : {}) };
  const seeds = opts.seeds ?? spec.seeds;
  const all = spec.variants(base, { preset: opts.preset, modelsDir: opts.modelsDir });
  const unknown = (opts.variants ?? []).filter((v) => !all.some((x) => x.name === v));
  if (unknown.length) throw new Error(`table ${table}: no variant ${unknown.map((v) => `"${v}"`).join(", ")} (it has ${all.map((x) => `"${x.name}"`).join(", ")})`);
  return all
    .filter((v) => !opts.variants || opts.variants.includes(v.name))
    .flatMap((v) => seeds.map((seed) => makeJob(table, v.name, seed, { ...v.config, ...(opts.override ?? {}), seed })));
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
  const hashes = [...new Set(jobs.map((j) => j.hash))];
  const mine = new Set(hashes.filter((_, i) => i % shard.count === shard.index - 1));
  return jobs.filter((j) => mine.has(j.hash));
}
