/**
 * A results file's format (results/study/<table>.json: its grid, its runs) and whether a shipped run is believed
 * (results.ts readResultsFile calls these): it agrees with itself (every metric recomputed from its confusion matrix,
 * that matrix recomputed from its compact predictions, the reported split equal
 * to its `splits` entry) and with its table (its config is the job the table's spec makes for its variant and seed; its
 * hash is a job of the file's grid, and that grid is the spec's whole grid). A run that fails is named with its field
 * and left out; a grid that is not the spec's is an error for the whole file.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { LABEL_NAMES } from "../data/labels";
import { confusionMatrix, metricsDifference, metricsFromConfusion, type Metrics } from "../metrics";
import { DEFAULT_SELECTION } from "../data/selection";
import { canonicalJson, configDiff, hashOfParts, type ConfigHashParts, type ConfigOverride, type ExperimentConfig, type ValidConfig } from "../runs/config";
import type { EpochRow, PredictionSplit, RunSeconds, SplitMetrics } from "../runs/record";
import { compactPredictionsFile } from "../runs/predictions";
import { gridBase, jobConfig, rowSeeds, tableVariants, type VariantSeeds } from "./grids";
import { PRESET_NAMES, type PresetName } from "./presets";
import { STUDY_CHECKPOINTS, TABLE_SPECS, checkpointVariant, type TableName, type VariantSpec } from "./study-tables";

/** The part of a run's record (run.json) that is shipped: where and how fast it ran. */
interface ShippedInfo {
  backend: string;
  threads?: number;
  cpu?: string;
  blasCore?: string;
  startedAt: string;
  seconds: RunSeconds;
  numerics?: string;
  bestEpoch: number;
  trainRows: number;
  selectionRows?: number;
  devRows: number;
  testRows: number;
  node: string;
}

/**
 * A run as a results file ships it (results/study/<table>.json runs[]): its table row, the reported split's metrics,
 * and what stands in for its folder: every split's metrics, curve, info, fingerprints, predictions. The file's format
 * only: read, it is a RunRecord (asRunRecord), which is what everything after the reader sees.
 */
interface ResultRun {
  variant: string;
  seed: number;
  /** the run folder's name (configHash) */
  hash: string;
  /** the split `metrics` are from */
  split: "dev" | "test";
  /** the run's full saved config */
  config: ExperimentConfig;
  /** the reported split's metrics */
  metrics: Metrics;
  /** the split the best epoch was chosen on, when there was one */
  selection?: Pick<Metrics, "micro_f1" | "macro_f1" | "f1_range">;
  /** seconds the run took to train and evaluate */
  seconds: number;
  /** what the hash was made of besides the config's settings (checked on load) */
  identity: Pick<ConfigHashParts, "data" | "model">;
  /** every split's metrics (selection, dev, test), so the run stands in for its folder */
  splits: SplitMetrics;
  history: EpochRow[];
  info: ShippedInfo;
  /** compact predictions, predictions/<hash>-<split>.jsonl beside the file, with each file's sha256 */
  predictions: Partial<Record<PredictionSplit, string>>;
}

/** A job of the grid a file belongs to: what "n of N runs" counts. */
export interface GridJobRef {
  variant: string;
  seed: number;
  hash: string;
}

/** results/study/<table>.json: a table's grid and the runs of it done, each standing in for its run folder. */
export interface ResultsFile {
  format: number;
  table: TableName;
  /** the command that produced the file */
  command: string;
  generatedAt: string;
  /** wall time of the whole grid that produced it (all tables of the command), seconds */
  gridSeconds?: number;
  /** every job of the grid, done or not */
  grid: GridJobRef[];
  runs: ResultRun[];
  /** fields every job took, applied to the preset before its rows (grids.ts gridBase; a study plan's); absent: none, as in every file before plans */
  override?: ConfigOverride;
  /** seeds per variant (0..n−1 each; a study plan's); absent: every row has the seeds the grid lists */
  seeds?: Record<string, number>;
}

/** A run of a results file that is not believed: where it is, and the field and problem. */
export interface RejectedRun {
  index: number;
  variant: string;
  seed: number;
  hash: string;
  /** "runs[3] (Weighted Loss, seed 0): metrics.macro_f1: …" with the file in front */
  message: string;
}

/** A problem with one run, naming the field. */
export class RunProblem extends Error {}

const sha256 = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

// ---- agrees with itself -----------------------------------------------------------------------

/** A stored Metrics record against the metrics its own confusion matrix gives (same code, so equal to ~1e-9). */
export function checkMetrics(field: string, m: Metrics): void {
  let own: Metrics;
  try {
    own = metricsFromConfusion(m.confusion);
  } catch (e) {
    throw new RunProblem(`${field}.${(e as Error).message}`);
  }
  const d = metricsDifference(m, own);
  if (d) throw new RunProblem(`${field}.${d.replace(" vs ", " stored, but its own confusion matrix gives ")}`);
}

const confusionMemo = new Map<string, { digest: string; confusion: number[][] | string }>();

/**
 * The confusion matrix of a compact predictions file (predictions/<hash>-<split>.jsonl), after its digest is checked;
 * read once per path, size and modification time.
 */
function predictionsConfusion(file: string, digest: string): number[][] {
  if (!fs.existsSync(file)) throw new RunProblem(`predictions: ${path.basename(file)} is missing beside the results file`);
  const st = fs.statSync(file);
  const key = `${file}\0${st.size}\0${st.mtimeMs}`;
  let hit = confusionMemo.get(key);
  if (!hit) {
    const text = fs.readFileSync(file);
    const yTrue: number[] = [];
    const yPred: number[] = [];
    let problem: string | undefined;
    text.toString("utf8").split("\n").forEach((line, i) => {
      if (problem || !line.trim()) return;
      let row: { label?: unknown; pred?: unknown };
      try {
        row = JSON.parse(line) as typeof row;
      } catch {
        problem = `line ${i + 1} is not JSON`;
        return;
      }
      const [t, p] = [LABEL_NAMES.indexOf(row.label as never), LABEL_NAMES.indexOf(row.pred as never)];
      if (t < 0 || p < 0) problem = `line ${i + 1}: label ${JSON.stringify(row.label)} or pred ${JSON.stringify(row.pred)} is not a class`;
      yTrue.push(t);
      yPred.push(p);
    });
    hit = { digest: sha256(text), confusion: problem ?? confusionMatrix(yTrue, yPred, LABEL_NAMES.length) };
    confusionMemo.set(key, hit);
  }
  if (hit.digest !== digest) throw new RunProblem(`predictions: ${path.basename(file)} does not match the digest the results file records (edited or truncated)`);
  if (typeof hit.confusion === "string") throw new RunProblem(`predictions: ${path.basename(file)} ${hit.confusion}`);
  return hit.confusion;
}

/**
 * A run's numbers agree with themselves: each metrics record with its confusion matrix, the reported metrics with
 * `splits`, the selection headline with `splits.selection`, and each split's matrix with its compact predictions
 * (beside the results file, in `resultsDir`).
 */
export function checkRunMetrics(run: ResultRun, resultsDir: string): void {
  checkMetrics("metrics", run.metrics);
  for (const s of ["selection", "dev", "test"] as const) {
    const m = run.splits[s];
    if (m) checkMetrics(`splits.${s}`, m);
  }
  const reported = run.splits[run.split];
  if (!reported) throw new RunProblem(`splits.${run.split}: missing, though the run reports its ${run.split} split`);
  const d = metricsDifference(run.metrics, reported);
  if (d) throw new RunProblem(`metrics.${d.replace(" vs ", " stored, but splits." + run.split + " has ")}`);
  if (run.selection) {
    const sel = run.splits.selection;
    if (!sel) throw new RunProblem("splits.selection: missing, though the run records a selection headline");
    for (const f of ["micro_f1", "macro_f1", "f1_range"] as const) {
      if (Math.abs(run.selection[f] - sel[f]) > 1e-9) throw new RunProblem(`selection.${f}: ${run.selection[f]} stored, but splits.selection has ${sel[f]}`);
    }
  }
  if (!run.predictions[run.split]) throw new RunProblem(`predictions.${run.split}: missing (a run ships the predictions its metrics are computed from)`);
  for (const [s, digest] of Object.entries(run.predictions) as [PredictionSplit, string][]) {
    const m = run.splits[s];
    if (!m) throw new RunProblem(`predictions.${s}: a predictions file without splits.${s}`);
    const own = predictionsConfusion(compactPredictionsFile(resultsDir, run.hash, s), digest);
    const d = metricsDifference(m, metricsFromConfusion(own));
    if (d) throw new RunProblem(`splits.${s}.${d.replace(" vs ", " stored, but its shipped predictions give ")}`);
  }
}

// ---- agrees with its table --------------------------------------------------------------------

/** What a results file records of how its jobs were made besides its table's spec (a study plan's), none in older files. */
export type GridRecipe = Pick<ResultsFile, "override" | "seeds">;

/** The spec's rows for one preset and the file's data, which preset the file's runs were made with, and the file's recipe. */
export interface SpecMatch extends GridRecipe {
  preset: PresetName;
  variants: VariantSpec[];
}

/** The job config the spec makes for a variant and seed (grids.ts jobConfig; selection "auto" taken as the run resolved it). */
function expectedConfig(table: TableName, v: VariantSpec, seed: number, run: ValidConfig): ValidConfig {
  const autoOutcomes = [canonicalJson({ from: "dev" }), canonicalJson({ from: "train", ...DEFAULT_SELECTION })];
  const selection = v.config.selection === "auto" && autoOutcomes.includes(canonicalJson(run.selection)) ? run.selection : v.config.selection;
  return jobConfig(table, v.name, seed, { ...v.config, selection });
}

/** How a run's config differs from its table's job for its variant and seed (empty: it is that job). */
function specDifferences(table: TableName, m: SpecMatch, variant: string, seed: number, cfg: ValidConfig): string[] {
  const v = m.variants.find((x) => x.name === variant) ?? otherCheckpoint(table, m, variant, cfg);
  if (!v) return [`variant: "${variant}" is not a row of the ${table} table (its rows: ${m.variants.map((x) => `"${x.name}"`).join(", ")})`];
  return configDiff(expectedConfig(table, v, seed, cfg), cfg).map((d) => `config.${d}`);
}

/** A models-table row of a checkpoint that is not under models/ here (the machine that ran it had it). */
function otherCheckpoint(table: TableName, m: SpecMatch, variant: string, cfg: ValidConfig): VariantSpec | undefined {
  if (table !== "models" || cfg.model.kind !== "checkpoint" || cfg.model.name !== variant) return undefined;
  return checkpointVariant(gridBase({ preset: m.preset, data: cfg.data, override: m.override }), m.preset, { name: variant, dir: cfg.model.dir });
}

/**
 * The preset whose spec rows, with the file's recipe, the file's runs are (the one most of them match exactly), with
 * its rows; the data is the first run's. Undefined when no run carries a checked config.
 */
export function matchSpec(table: TableName, runs: readonly { variant: string; seed: number; config: ValidConfig }[], recipe: GridRecipe = {}): SpecMatch | undefined {
  if (runs.length === 0) return undefined;
  const data = runs[0].config.data;
  let best: { m: SpecMatch; n: number } | undefined;
  for (const preset of PRESET_NAMES) {
    const m: SpecMatch = { ...recipe, preset, variants: tableVariants(table, { preset, data, override: recipe.override }) };
    const n = runs.filter((r) => specDifferences(table, m, r.variant, r.seed, r.config).length === 0).length;
    if (!best || n > best.n) best = { m, n };
  }
  return best!.m;
}

/** A run is its table's job: its variant is a row of the spec and its config the one that row makes for its seed. */
export function checkRunSpec(table: TableName, m: SpecMatch, run: ResultRun, cfg: ValidConfig): void {
  const diffs = specDifferences(table, m, run.variant, run.seed, cfg);
  if (diffs.length) {
    throw new RunProblem(
      diffs[0].startsWith("variant:")
        ? diffs[0]
        : `config: not the ${table} table's "${run.variant}" job for seed ${run.seed} (preset ${m.preset}${m.override ? `, the file's override ${JSON.stringify(m.override)}` : ""}): ${diffs.slice(0, 3).join("; ")}${diffs.length > 3 ? ` and ${diffs.length - 3} more` : ""} (spec → file)`,
    );
  }
}

/** The rows a grid of this data must hold: every row but a machine's own checkpoints; the demo data's demo rows. */
function requiredVariants(table: TableName, m: SpecMatch, cfg: ValidConfig): string[] {
  if (cfg.data.kind === "demo") return [...TABLE_SPECS[table].demoVariants];
  return m.variants.filter((v) => v.config.model.kind !== "checkpoint").map((v) => v.name);
}

/**
 * The file's grid is the spec's grid for its data, preset, override and seeds: no job of a row missing for a seed the
 * grid has (with seeds per variant: for one of the row's own seeds, and no seed past them), no row the spec lacks, no
 * job twice; a job of a row that has a believed run carries the hash the spec's config and that run's fingerprints
 * give. Returns a problem, or undefined.
 */
export function gridProblem(
  table: TableName,
  m: SpecMatch,
  grid: readonly { variant: string; seed: number; hash: string }[],
  trusted: readonly { variant: string; seed: number; hash: string; config: ValidConfig; identity: ResultRun["identity"] }[],
): string | undefined {
  const key = (v: string, s: number) => `${v}\0${s}`;
  const seen = new Set<string>();
  for (const g of grid) {
    if (seen.has(key(g.variant, g.seed))) return `grid: ${g.variant}, seed ${g.seed} is listed twice`;
    seen.add(key(g.variant, g.seed));
    const checkpointRow = table === "models" && (g.variant in STUDY_CHECKPOINTS || trusted.some((r) => r.variant === g.variant && r.config.model.kind === "checkpoint"));
    if (!checkpointRow && !m.variants.some((v) => v.name === g.variant)) return `grid: "${g.variant}" is not a row of the ${table} table`;
  }
  const seeds = [...new Set(grid.map((g) => g.seed))].sort((a, b) => a - b);
  const perVariant: VariantSeeds | undefined = m.seeds;
  if (perVariant) {
    const extra = grid.find((g) => perVariant[g.variant] !== undefined && g.seed >= perVariant[g.variant]);
    if (extra) return `grid: ${extra.variant}, seed ${extra.seed} is past the file's ${perVariant[extra.variant]} seeds of that row (seeds: ${JSON.stringify(perVariant)})`;
  }
  const cfg = trusted[0]?.config;
  if (cfg) {
    const unnamed = perVariant ? requiredVariants(table, m, cfg).filter((v) => perVariant[v] === undefined) : [];
    if (unnamed.length) return `grid: the file's seeds per variant name no count for ${unnamed.map((v) => `"${v}"`).join(", ")}, a row of the ${table} table`;
    const lacking = requiredVariants(table, m, cfg).flatMap((v) => rowSeeds(table, v, perVariant ?? seeds).filter((s) => !seen.has(key(v, s))).map((s) => `${v} seed ${s}`));
    if (lacking.length) {
      const which = perVariant ? `for each row's own seeds (${JSON.stringify(perVariant)})` : `for seeds ${seeds.join(", ")}`;
      return `grid: lacks ${lacking.length} job(s) of the ${table} table ${which} (${lacking.slice(0, 4).join(", ")}${lacking.length > 4 ? ", …" : ""}); a grid lists every job, done or not`;
    }
  }
  for (const g of grid) {
    const same = trusted.find((r) => r.variant === g.variant);
    if (!same) continue; // no believed run of this row: its fingerprints are not recorded, so the hash cannot be recomputed
    const v = m.variants.find((x) => x.name === g.variant) ?? otherCheckpoint(table, m, g.variant, same.config);
    if (!v) continue;
    const { data: _d, model: _m, ...settings } = expectedConfig(table, v, g.seed, same.config);
    const hash = hashOfParts({ settings, ...same.identity });
    if (hash !== g.hash) return `grid: ${g.variant}, seed ${g.seed} has hash ${g.hash}, but the spec's config gives ${hash}`;
  }
  return undefined;
}
