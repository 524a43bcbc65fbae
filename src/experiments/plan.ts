/**
 * The seeds of the next study grid, fixed before it runs by a power calculation on today's shipped runs (issue: the
 * study at two encoder strengths). For each of the study's named comparisons (those its tables give a number for:
 * every encoding against Basic1, Weighted − Regular, Weighted+Aug − Weighted, their F1 ranges) the seeds that give
 * 80% power at the study's own difference, from today's observed spread of that comparison; at most MAX_SEEDS_PER_VARIANT
 * and never fewer than today's. A comparison that would need more says so. The plan is written once and committed
 * before the first run: no seed is added after looking.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { z } from "zod";
import { PLANNED_POWER, seedsToDetect, type MetricRow } from "../metrics";
import { STUDY_SEEDS, TABLE_NAMES, type TableName } from "./study-tables";
import { studyDifference, tableComparisonLines, type TableResult } from "./tables";
import { ConfigOverrideSchema, PROJECT_ROOT, type ConfigOverride } from "../runs/config";
import { signedPoints } from "../report/reading";

/** The most seeds any variant gets (a 2-core machine's budget: see the plan's hours). */
export const MAX_SEEDS_PER_VARIANT = 12;
export const STUDY_PLAN_FILE = "results/study-plan.json";

export interface PlannedComparison {
  table: TableName;
  a: string;
  b: string;
  metric: MetricRow;
  test: "paired" | "welch";
  /** the study's b − a, points (one run each) */
  study: number;
  /** today's seeds and spread (sd of the per-seed differences when paired; of each side when Welch) */
  observed: { seeds: number; spread: [number, number]; diff: number };
  /** seeds a side for 80% power at the study's difference from that spread; null past MAX_PLANNED_SEEDS */
  seedsForPower: number | null;
  /** what the plan gives it: seedsForPower within [today's seeds, MAX_SEEDS_PER_VARIANT] */
  planned: number;
  /** in words: what the planned seeds can decide */
  note: string;
}

export interface StudyPlan {
  format: 1;
  /** what the grid is: the study's four tables on the study's data, quick preset, the new checkpoint */
  grid: string;
  /** two-sided paired t-test (Welch where seeds do not pair), 5%, planned for 80% power */
  test: string;
  power: number;
  maxSeedsPerVariant: number;
  /** the shipped files the spreads were read from, with their digests */
  madeFrom: { file: string; sha256: string }[];
  comparisons: PlannedComparison[];
  /** seeds per variant and table (seeds 0 … n − 1); variants not named by a comparison keep today's count */
  seeds: Record<TableName, Record<string, number>>;
  /** the models table's ensemble row: no fine-tuning of its own (it averages the runs of two rows) */
  ensemble: { seeds: number; note: string };
  /** distinct fine-tunings (a run shared by two tables counts once), and the hours they take at today's pace */
  cost: { runs: number; minutesPerRun: number; shards: number; hours: number };
  /**
   * settings every job of the grid takes, applied to the preset before the tables derive their rows (grids.ts
   * gridBase; applyOverride: null removes a field, e.g. `"distill": null`), fixed before the first run (the numerics:
   * bf16 products, adopted on the selection split, bench/results/precision-selection.json); absent in plans made before it
   */
  override?: ConfigOverride;
}

function planNote(c: Pick<PlannedComparison, "seedsForPower" | "planned" | "study">): string {
  const study = signedPoints(c.study);
  if (c.seedsForPower === null) return `80% power at the study's ${study} needs more seeds than any plan here: ${c.planned} seeds can rule its value out, or leave it undecided`;
  if (c.seedsForPower > MAX_SEEDS_PER_VARIANT) return `80% power at the study's ${study} needs ${c.seedsForPower} seeds, over the cap of ${MAX_SEEDS_PER_VARIANT}: ${c.planned} seeds can rule its value out, or leave it undecided`;
  return `${c.planned} seeds: ≥ 80% power at the study's ${study} (${c.seedsForPower} needed at today's spread)`;
}

/** The plan from today's shipped tables (all four, loaded from results/study). */
export function studyPlan(tables: readonly TableResult<"shipped">[], grid: string, override?: StudyPlan["override"]): StudyPlan {
  const comparisons: PlannedComparison[] = [];
  for (const t of tables) {
    for (const c of tableComparisonLines(t.table, t.records, t.variants)) {
      const study = studyDifference(t.table, c.metric, c);
      if (study === undefined) continue;
      const need = seedsToDetect(c, study);
      const seedsForPower = Number.isFinite(need) ? need : null;
      const today = Math.min(c.seeds[0], c.seeds[1]);
      const planned = Math.min(MAX_SEEDS_PER_VARIANT, Math.max(today, seedsForPower ?? MAX_SEEDS_PER_VARIANT));
      const row = { table: t.table, a: c.a, b: c.b, metric: c.metric, test: c.test, study, observed: { seeds: today, spread: c.spread, diff: c.diff }, seedsForPower, planned };
      comparisons.push({ ...row, note: planNote(row) });
    }
  }
  // the grid's rows only: a computed row (the models table's ensemble) has no jobs to plan
  const gridRows = (t: TableResult<"shipped">) => [...new Set(t.meta.grid.map((g) => g.variant))];
  const seeds = Object.fromEntries(
    tables.map((t) => {
      const of = (v: string) => Math.max(STUDY_SEEDS.length, ...comparisons.filter((c) => c.table === t.table && (c.a === v || c.b === v)).map((c) => c.planned));
      return [t.table, Object.fromEntries(gridRows(t).map((v) => [v, of(v)]))];
    }),
  ) as StudyPlan["seeds"];
  return {
    format: 1,
    grid,
    test: "two-sided paired t-test at 5% (Welch where seeds do not pair), 95% intervals; seeds planned for 80% power at the study's own difference",
    power: PLANNED_POWER,
    maxSeedsPerVariant: MAX_SEEDS_PER_VARIANT,
    madeFrom: tables.map((t) => ({ file: path.relative(PROJECT_ROOT, t.file), sha256: createHash("sha256").update(fs.readFileSync(t.file)).digest("hex") })),
    comparisons,
    seeds,
    ensemble: {
      seeds: STUDY_SEEDS.length,
      note: "the encoder's and the n-gram's class probabilities averaged per seed (the same seed's two runs), the weight chosen on the selection split: no fine-tuning of its own",
    },
    cost: planCost(tables, seeds, gridRows),
    ...(override ? { override } : {}),
  };
}

/**
 * Distinct fine-tunings of the plan: a variant whose seed-0 run is another table's (Weighted Loss is in the loss and
 * the augmentation tables) shares its runs, so it counts once with the larger of the two seed counts. Minutes per
 * run are today's mean over the shipped encoder runs (two shards side by side, one BLAS thread each).
 */
function planCost(tables: readonly TableResult<"shipped">[], seeds: StudyPlan["seeds"], gridRows: (t: TableResult<"shipped">) => string[]): StudyPlan["cost"] {
  const groups = new Map<string, number>();
  for (const t of tables) {
    for (const v of gridRows(t)) {
      const first = t.meta.grid.find((g) => g.variant === v && g.seed === 0);
      const key = first?.hash ?? `${t.table}/${v}`;
      groups.set(key, Math.max(groups.get(key) ?? 0, seeds[t.table][v]));
    }
  }
  const encoderRuns = tables.flatMap((t) => t.runs).filter((r) => r.config.model.kind !== "ngram");
  const minutesPerRun = encoderRuns.reduce((s, r) => s + r.info.seconds.total, 0) / Math.max(1, encoderRuns.length) / 60;
  const runs = [...groups.values()].reduce((a, b) => a + b, 0);
  const shards = 2;
  return { runs, minutesPerRun, shards, hours: (runs * minutesPerRun) / shards / 60 };
}

/** The committed plan, or null when none is written yet. */
export function readStudyPlan(file = path.join(PROJECT_ROOT, STUDY_PLAN_FILE)): StudyPlan | null {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as StudyPlan) : null;
}

/** What a plan fixes of its grid's jobs: the seeds per variant of each table, and the override every job takes. */
export type PlanGrid = Pick<StudyPlan, "seeds" | "override">;

const PlanGridSchema = z.object({
  seeds: z.partialRecord(z.enum(TABLE_NAMES as [TableName, ...TableName[]]), z.record(z.string(), z.number().int().min(1).max(MAX_SEEDS_PER_VARIANT))),
  override: ConfigOverrideSchema.optional(),
});

/** A plan file's seeds and override, checked (what `reproduce --plan` runs); a problem names the file and the field. */
export function readPlanGrid(file: string): PlanGrid {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`--plan ${file}: not readable as JSON (${(e as Error).message})`);
  }
  const res = PlanGridSchema.safeParse(raw);
  if (!res.success) {
    const i = res.error.issues[0];
    throw new Error(`--plan ${file}: field ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  return { seeds: res.data.seeds as StudyPlan["seeds"], ...(res.data.override ? { override: res.data.override } : {}) };
}
