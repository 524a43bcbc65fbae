/**
 * A grid run from a study plan (issue 33, step 2): each row its planned seeds, every job the plan's override (null
 * removes a field: no distillation), the results file recording both, its checks applying them, and the
 * `--config FILE#HASH` re-make working on it. Today's results/study loads as before.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { reproduce } from "../src/cli/reproduce";
import { TABLE_NAMES, loadResults, presetConfig, runExperiment, shippedRun } from "../src/experiments";
import { readResultsFile } from "../src/experiments/results";
import { tableVariants } from "../src/experiments/grids";
import { FROM_SCRATCH_VARIANT, NGRAM_VARIANT, PRETRAINED_VARIANT } from "../src/experiments/study-tables";
import { applyOverride, configFrom, configHash } from "../src/runs/config";

process.env.MEDREL_PROGRESS = "silent";
const ROOT = path.resolve(__dirname, "..");
const tmp = (name: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `medrel-plan-grid-${name}-`));
const OVERRIDE = { distill: null, precision: "bf16" } as const;
const SEEDS = { Basic1: 2, Entity_marked2: 1 };

function writePlan(seeds: Record<string, number>): string {
  const file = path.join(tmp("plan"), "plan.json");
  fs.writeFileSync(file, JSON.stringify({ format: 1, seeds: { encodings: seeds }, override: OVERRIDE }));
  return file;
}

const editJson = (file: string, edit: (v: Record<string, unknown>) => void): void => {
  const v = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  edit(v);
  fs.writeFileSync(file, JSON.stringify(v));
};

test("applyOverride: null removes an optional field, keeps a field whose value null is (augment), sets the others", () => {
  const quick = presetConfig("quick");
  assert.ok(quick.distill, "the quick preset distils (else removing it proves nothing)");
  const cfg = applyOverride({ ...quick, augment: { multiplier: 2 } as never }, { distill: null, augment: null, precision: "bf16" });
  assert.equal("distill" in cfg, false);
  assert.equal(cfg.augment, null);
  assert.equal(cfg.precision, "bf16");
  assert.equal(applyOverride(quick, undefined), quick);
});

test("a grid's override applies to the preset before the table derives its rows: a new checkpoint is the pretrained row's and the from-scratch row's shape, never the n-gram row's", () => {
  const electra = "data/pretrained/electra";
  const rows = tableVariants("models", { preset: "smoke", override: { model: { kind: "preset", preset: "tiny", pretrained: electra }, distill: null } });
  const model = (name: string) => rows.find((r) => r.name === name)!.config.model;
  assert.deepEqual(model(PRETRAINED_VARIANT), { kind: "preset", preset: "tiny", pretrained: electra });
  assert.deepEqual(model(FROM_SCRATCH_VARIANT), { kind: "preset", preset: "tiny", pretrained: null, shapeFrom: electra });
  assert.deepEqual(model(NGRAM_VARIANT), { kind: "ngram" });
  assert.ok(rows.every((r) => r.config.distill === undefined));
});

test("reproduce --plan: each row its planned seeds, every job the override; the file records both, its checks apply them, a tampered file is refused; FILE#HASH re-makes a run", { timeout: 300_000 }, async () => {
  assert.ok(presetConfig("smoke").distill, "the smoke preset distils, so a run without distill shows the override");
  const out = tmp("export");
  const runsDir = tmp("runs");
  const plan = writePlan(SEEDS);
  const opts = { tables: ["encodings" as const], preset: "smoke" as const, export: out, runsDir, quiet: true };

  // refused before any work: --seeds with --plan; a row the plan does not name
  await assert.rejects(reproduce({ ...opts, plan, seeds: 2 }), /--plan .*plan\.json fixes the seeds of each row; --seeds cannot be given with it/);
  await assert.rejects(reproduce({ ...opts, plan: writePlan({ Basic1: 2 }) }), /--plan .*: table encodings: .*no count for "Entity_marked2"/);
  assert.deepEqual(fs.readdirSync(out), [], "nothing written");

  await reproduce({ ...opts, plan });
  const file = path.join(out, "encodings.json");
  const read = readResultsFile(file, "encodings");
  assert.deepEqual(read.rejected, []);
  const jobs = (xs: readonly { variant: string; seed: number }[]) => xs.map((r) => `${r.variant} ${r.seed}`).sort();
  assert.deepEqual(jobs(read.grid), ["Basic1 0", "Basic1 1", "Entity_marked2 0"]);
  assert.deepEqual(jobs(read.runs), jobs(read.grid), "every job of the plan ran and is believed");
  assert.deepEqual(read.override, OVERRIDE);
  assert.deepEqual(read.seeds, SEEDS);
  for (const r of read.runs) {
    assert.equal("distill" in r.config, false, `${r.variant} seed ${r.seed} distils`);
    assert.equal(r.config.precision, "bf16");
  }
  const table = loadResults("encodings", out)!;
  assert.equal(table.rejected.length, 0);
  assert.deepEqual(table.seeds, { Basic1: [0, 1], Entity_marked2: [0] });

  // again without training (another machine: no run folders): the shipped runs count as done, the file keeps them
  const before = fs.readFileSync(file, "utf8");
  await reproduce({ ...opts, plan, train: false, runsDir: tmp("no-runs") });
  const strip = (text: string) => ({ ...(JSON.parse(text) as object), generatedAt: "", gridSeconds: 0 });
  assert.deepEqual(strip(fs.readFileSync(file, "utf8")), strip(before));

  // a shard on a new machine (no run folders, no export) names the strength's folder: its shipped runs count as done
  const shardRuns = tmp("shard-runs");
  await reproduce({ tables: ["encodings"], preset: "smoke", plan, runsDir: shardRuns, resultsDir: out, shard: { index: 1, count: 2 }, quiet: true });
  assert.deepEqual(fs.readdirSync(shardRuns), [], "nothing retrained");
  await assert.rejects(reproduce({ ...opts, plan, resultsDir: tmp("other") }), /--export .* and --results-dir .*: an export takes the runs of its own folder as done; give one folder/);

  // tampered copies: without the recorded override every run is refused, naming the file, the run and the field
  const noOverride = tmp("no-override");
  fs.cpSync(out, noOverride, { recursive: true });
  editJson(path.join(noOverride, "encodings.json"), (j) => delete j.override);
  const bad = readResultsFile(path.join(noOverride, "encodings.json"), "encodings");
  assert.equal(bad.runs.length, 0);
  assert.equal(bad.rejected.length, 3);
  for (const r of bad.rejected) {
    assert.match(r.message, /encodings\.json: runs\[\d\] \((Basic1|Entity_marked2), seed \d, [0-9a-f]{12}\): config: not the encodings table's "(Basic1|Entity_marked2)" job for seed \d \(preset smoke\): config\.distill: \{.*\} → \(unset\); config\.precision: \(unset\) → "bf16"/);
  }
  // with one list of seeds for every row, the grid lacks Entity_marked2's seed 1
  const noSeeds = tmp("no-seeds");
  fs.cpSync(out, noSeeds, { recursive: true });
  editJson(path.join(noSeeds, "encodings.json"), (j) => delete j.seeds);
  assert.throws(() => readResultsFile(path.join(noSeeds, "encodings.json"), "encodings"), /encodings\.json: grid: lacks 1 job\(s\) of the encodings table for seeds 0, 1 \(Entity_marked2 seed 1\)/);
  // a grid job past its row's planned seeds
  const past = tmp("past");
  fs.cpSync(out, past, { recursive: true });
  editJson(path.join(past, "encodings.json"), (j) => ((j.seeds as Record<string, number>).Basic1 = 1));
  assert.throws(() => readResultsFile(path.join(past, "encodings.json"), "encodings"), /grid: Basic1, seed 1 is past the file's 1 seeds of that row/);

  // --config FILE#HASH: the run's whole config is in the file, and re-made it gives the same numbers
  const one = read.runs.find((r) => r.variant === "Entity_marked2")!;
  const shipped = shippedRun(`${file}#${one.hash}`);
  const remade = configFrom(presetConfig("quick"), shipped.config, {}, "test");
  assert.equal(configHash(remade), one.hash, "the re-made config is the shipped run, not the preset's");
  const again = await runExperiment(remade, { runsDir: tmp("again"), progress: false, verbose: false });
  assert.equal(again.metrics[one.split]?.macro_f1, one.metrics.macro_f1);
});

test("today's results/study: no override or seeds recorded, every run believed as before", () => {
  let runs = 0;
  for (const t of TABLE_NAMES) {
    const file = path.join(ROOT, "results", "study", `${t}.json`);
    const read = readResultsFile(file, t);
    assert.equal(read.override, undefined);
    assert.equal(read.seeds, undefined);
    assert.deepEqual(read.rejected, [], t);
    assert.equal(loadResults(t, path.join(ROOT, "results", "study"))!.rejected.length, 0);
    runs += read.runs.length;
  }
  assert.ok(runs > 0);
});
