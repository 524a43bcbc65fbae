/**
 * The grid behind each study table (its spec's variants × seeds) as a flat list of jobs, each carrying its config
 * hash (computed once) and the jobs it reads: a run that distils reads its n-gram teacher, a `hard_classes` run
 * reads the same config trained without class weights. `gridPlan` lists every job once, each after the jobs it
 * reads, so what a grid does is its job list; `--shard i/n` deals that list, so any scheduler can split a grid
 * across processes or machines.
 */
import type { ExperimentConfig, DataSpec, ValidConfig, ConfigOverride } from "../runs/config";
import { applyOverride, configHash, parseExperimentConfig, withoutClassWeights } from "../runs/config";
import { presetConfig, type PresetName } from "./presets";
import { TABLE_SPECS, type TableName, type VariantSpec } from "./study-tables";
import { teacherHash, teacherSpec, type TeacherSpec } from "./teacher";

/** A run folder to make: one validated experiment config. */
export interface RunJob {
  kind: "run";
  config: ValidConfig;
  /** configHash(config): the run's folder name */
  hash: string;
  /** the jobs this run reads, made before it (each under its own lock, never inside this run's) */
  needs: { reference?: RunJob; teacher?: TeacherJob };
  /** what the progress display calls it */
  label?: string;
}

/** A distillation teacher to fit (runs/teacher-<hash>/): the probabilities its runs distil from. */
export interface TeacherJob {
  kind: "teacher";
  spec: TeacherSpec;
  /** teacherHash(spec): the teacher's folder name */
  hash: string;
  /** the run whose selection F1 its `hard_classes` weights read */
  needs: { reference?: RunJob };
  label: string;
}

/** Anything a grid schedules. */
export type GridJob = RunJob | TeacherJob;

/** One row × seed of a study table. */
export interface Job extends RunJob {
  table: TableName;
  /** the row/column name the study's table uses (e.g. "Entity_marked2", "Weighted Loss") */
  variant: string;
  seed: number;
}

export interface GridOptions {
  preset: PresetName;
  data?: DataSpec;
  /** the same seeds for every row, or a count per row (seeds 0..n−1 each, a study plan's): a row it does not name throws */
  seeds?: readonly number[] | VariantSeeds;
  /** folder of real checkpoints (models/<name>/config.json) for the models table */
  modelsDir?: string;
  /**
   * applied to the preset's config before the table derives its rows from it (applyOverride: null removes a field), so
   * each row keeps what makes it that row: a plan's `model` is the pretrained row's and the from-scratch row's shape,
   * never the n-gram row's
   */
  override?: ConfigOverride;
  /** only these rows of the table (a name the table does not have throws) */
  variants?: readonly string[];
}

/**
 * The job of a validated config, with the jobs it reads: the unweighted reference of a `hard_classes` loss without
 * per-class F1, and the n-gram teacher of a distilled run (fitted with the reference's weights when it needs them).
 */
export function runJob(config: ValidConfig, label?: string, hash = configHash(config)): RunJob {
  const { scheme, devF1 } = config.loss;
  const reference = scheme === "hard_classes" && !devF1 ? runJob(withoutClassWeights(config), `the unweighted reference of run ${hash}`) : undefined;
  const spec = teacherSpec(config);
  const teacherReads = spec?.weights?.scheme === "hard_classes" && !spec.weights.devF1 ? reference : undefined;
  const teacher: TeacherJob | undefined = spec && {
    kind: "teacher",
    spec,
    hash: teacherHash(spec, teacherReads?.hash),
    needs: teacherReads ? { reference: teacherReads } : {},
    label: `the n-gram teacher of run ${hash}`,
  };
  return { kind: "run", config, hash, needs: { ...(reference ? { reference } : {}), ...(teacher ? { teacher } : {}) }, ...(label ? { label } : {}) };
}

/**
 * The config of a table's row for one seed, validated: where a table spec's configs (code, not a file) come into the
 * engine, once. Grids make their jobs of it; a results file's runs are checked against it.
 */
export function jobConfig(table: TableName, variant: string, seed: number, config: ExperimentConfig): ValidConfig {
  return parseExperimentConfig({ ...config, seed }, `${table} table, ${variant}, seed ${seed}`);
}

/** A job for one row and seed of a table: its config validated (jobConfig) and hashed here, once. */
export function makeJob(table: TableName, variant: string, seed: number, config: ExperimentConfig): Job {
  return { ...runJob(jobConfig(table, variant, seed, config)), table, variant, seed };
}

/** The config a table's rows derive from: the preset's, on the data, with the grid's override. */
export function gridBase(opts: Pick<GridOptions, "preset" | "data" | "override">): ExperimentConfig {
  return applyOverride({ ...presetConfig(opts.preset), ...(opts.data ? { data: opts.data } : {}) }, opts.override);
}

/** A table's rows (variant name and config, seed not yet set) for a preset, data and override: what its grid's jobs are made of. */
export function tableVariants(table: TableName, opts: Pick<GridOptions, "preset" | "data" | "modelsDir" | "override">): VariantSpec[] {
  return TABLE_SPECS[table].variants(gridBase(opts), { preset: opts.preset, modelsDir: opts.modelsDir });
}

/** Seeds per row of a table as a study plan fixes them: a count n each, meaning seeds 0..n−1. */
export type VariantSeeds = Readonly<Record<string, number>>;

/** Seeds 0..n−1. */
export function seedRange(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** The seeds of one row: the grid's list, or the row's count (a row the counts do not name is an error naming it). */
export function rowSeeds(table: TableName, variant: string, seeds: readonly number[] | VariantSeeds): readonly number[] {
  if (Array.isArray(seeds)) return seeds as readonly number[];
  const n = (seeds as VariantSeeds)[variant];
  if (n === undefined) throw new Error(`table ${table}: the seeds per variant name no count for "${variant}" (they name ${Object.keys(seeds).map((v) => `"${v}"`).join(", ")})`);
  return seedRange(n);
}

/** All jobs of one table's grid. */
export function gridJobs(table: TableName, opts: GridOptions): Job[] {
  const spec = TABLE_SPECS[table];
  const seeds = opts.seeds ?? spec.seeds;
  const all = tableVariants(table, opts);
  const unknown = (opts.variants ?? []).filter((v) => !all.some((x) => x.name === v));
  if (unknown.length) throw new Error(`table ${table}: no variant ${unknown.map((v) => `"${v}"`).join(", ")} (it has ${all.map((x) => `"${x.name}"`).join(", ")})`);
  return all
    .filter((v) => !opts.variants || opts.variants.includes(v.name))
    .flatMap((v) => rowSeeds(table, v.name, seeds).map((seed) => makeJob(table, v.name, seed, { ...v.config, seed })));
}

/** The jobs a job reads. */
export function jobNeeds(job: GridJob): GridJob[] {
  return Object.values(job.needs).filter((j): j is GridJob => j !== undefined);
}

/**
 * Every job of a grid once (by hash; a table's own job is kept over the same run met as another's need), each
 * after the jobs it reads, the given order kept otherwise: the grid's job list.
 */
export function gridPlan(jobs: readonly GridJob[]): GridJob[] {
  const given = new Map<string, GridJob>();
  for (const j of jobs) if (!given.has(j.hash)) given.set(j.hash, j);
  const plan: GridJob[] = [];
  const placed = new Set<string>();
  const place = (j: GridJob): void => {
    if (placed.has(j.hash)) return;
    placed.add(j.hash);
    for (const need of jobNeeds(j)) place(given.get(need.hash) ?? need);
    plan.push(given.get(j.hash) ?? j);
  };
  jobs.forEach(place);
  return plan;
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

/**
 * The jobs of shard i/n, in plan order (gridPlan): the runs are dealt round-robin, so shards never train the same
 * run twice; a teacher goes to the shard of the first run that reads it. A run whose reference or teacher another
 * shard holds waits for it (the lock), or makes it when no shard has started it.
 */
export function shardJobs(jobs: readonly GridJob[], shard?: { index: number; count: number }): GridJob[] {
  const plan = gridPlan(jobs);
  if (!shard || shard.count === 1) return plan;
  const runs = plan.filter((j) => j.kind === "run").map((j) => j.hash);
  const shardOf = new Map(runs.map((h, i) => [h, i % shard.count]));
  for (const j of plan) {
    if (j.kind !== "run") continue;
    for (const need of jobNeeds(j)) if (!shardOf.has(need.hash)) shardOf.set(need.hash, shardOf.get(j.hash)!);
  }
  return plan.filter((j) => shardOf.get(j.hash) === shard.index - 1);
}
