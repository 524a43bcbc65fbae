/**
 * The config hashes that name run folders and key the shipped study results, and the numbers those results show, pinned: every preset, and every job of
 * the demo grids (as they were: 4 seeds, 7 for loss, every encoding) and of the study-data grids (`npm run reproduce -- --table all --data-dir ../shared/data --seeds 5`,
 * quick; the smoke preset's 2-seed grid of test/fixtures/results-smoke; the study preset's). The values in
 * test/fixtures/config-hashes.json were computed on commit 544952c, before the config schema and the grids were
 * restructured; a refactor that changes one of them orphans every run folder and shipped result of that config.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { reproduceGrid } from "../src/cli/reproduce";
import { PRESET_NAMES, STUDY_DATA_DIR, TABLE_NAMES, MODELS_DIR, gridJobs, presetConfig, NGRAM_VARIANT, type PresetName, type TableName } from "../src/experiments";
import { configHash, parseExperimentConfig } from "../src/runs";
import { toTrainConfig, trajectoryFingerprint } from "../src/train";
import { assertClose } from "./helpers";
import { STUDY_RESULTS, tableNumbers } from "./shipped-numbers";

const PINNED = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "config-hashes.json"), "utf8")) as Record<string, string>;

/** The study preset names a real checkpoint under models/: its hashes hold only where that folder is absent (as when pinned). */
const STUDY_CHECKPOINT_ABSENT = !fs.existsSync(path.join(MODELS_DIR, "chinese-roberta-wwm-ext"));

function currentHashes(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const preset of PRESET_NAMES) {
    out[`preset ${preset} · demo`] = configHash(parseExperimentConfig(presetConfig(preset)));
    out[`preset ${preset} · study data`] = configHash(parseExperimentConfig({ ...presetConfig(preset), data: { kind: "dir", dir: STUDY_DATA_DIR } }));
  }
  // the demo grids were pinned with their seeds and rows of the time (4 seeds, 7 for loss, every encoding): every row
  // of each table over seeds 0–6 covers them, whatever the demo grid runs now
  for (const preset of ["smoke", "quick"] as const) {
    for (const t of TABLE_NAMES) {
      for (const j of gridJobs(t, { preset, seeds: [0, 1, 2, 3, 4, 5, 6] })) out[`${preset} · demo grid · ${t} · ${j.variant} · seed ${j.seed}`] = j.hash;
    }
  }
  const grids: { name: string; preset: PresetName; dataDir?: string; seeds?: number }[] = [
    { name: "study · study data · 5 seeds", preset: "study", dataDir: STUDY_DATA_DIR, seeds: 5 },
    { name: "quick · study data · 5 seeds", preset: "quick", dataDir: STUDY_DATA_DIR, seeds: 5 },
    { name: "smoke · study data · 2 seeds", preset: "smoke", dataDir: STUDY_DATA_DIR, seeds: 2 },
  ];
  for (const g of grids) {
    for (const [t, jobs] of reproduceGrid({ tables: [...TABLE_NAMES], preset: g.preset, dataDir: g.dataDir, seeds: g.seeds }).byTable) {
      for (const j of jobs) out[`${g.name} · ${t} · ${j.variant} · seed ${j.seed}`] = j.hash;
    }
  }
  return out;
}

test("the config hash of every preset and of every grid job is the one pinned before the refactor", { skip: !fs.existsSync(STUDY_DATA_DIR) && "the study's data (../shared/data) is not here" }, () => {
  const now = currentHashes();
  const keep = (k: string) => STUDY_CHECKPOINT_ABSENT || !k.startsWith("preset study") && !k.startsWith("study ·");
  const pinned = Object.fromEntries(Object.entries(PINNED).filter(([k]) => keep(k)));
  assert.ok(Object.keys(pinned).length >= 200, `only ${Object.keys(pinned).length} pinned hashes`);
  assert.deepEqual(Object.fromEntries(Object.entries(now).filter(([k]) => k in pinned)), pinned);
  // the one kind of job the study-data grids gained since: the n-gram baseline row, now an ordinary run of the models table
  const added = Object.keys(now).filter((k) => !(k in PINNED) && !k.includes(" · demo grid · "));
  assert.deepEqual(added.filter((k) => !k.includes(` · models · ${NGRAM_VARIANT} · seed `)), []);
  // (the quick study-data grid's five are pinned too, since they shipped in results/study on 2026-12-06)
  assert.equal(added.length, 5 + 2, "an n-gram row per seed of each other study-data models grid");
});

test("the pins agree with the hashes shipped in test/fixtures/results-smoke (written by an earlier grid)", { skip: !fs.existsSync(STUDY_DATA_DIR) && "the study's data (../shared/data) is not here" }, () => {
  let checked = 0;
  const now = currentHashes();
  for (const table of TABLE_NAMES) {
    const file = path.join(__dirname, "fixtures", "results-smoke", `${table}.json`);
    const shipped = JSON.parse(fs.readFileSync(file, "utf8")) as { runs: { variant: string; seed: number; hash: string | null }[] };
    for (const r of shipped.runs.filter((x) => x.hash !== null)) {
      const key = `smoke · study data · 2 seeds · ${table} · ${r.variant} · seed ${r.seed}`;
      // the n-gram rows became runs after the pins were taken (the first test allows exactly those): today's hash
      assert.equal(PINNED[key] ?? (r.variant === NGRAM_VARIANT ? now[key] : undefined), r.hash, `${file}: ${r.variant} seed ${r.seed}`);
      checked++;
    }
  }
  assert.equal(checked, 32 + 2);
});

/** What each preset's trainer config resumes against (runs/<hash>.ckpt/last/trainer_state.json), as written on 544952c. */
const PINNED_FINGERPRINTS: Record<PresetName, Record<string, unknown>> = {
  smoke: {"layerwiseLrDecay":1,"bucketChunkBatches":50,"epochs":1,"batchSize":16,"lr":0.002,"weightDecay":0.01,"warmupRatio":0.1,"schedule":"linear","stepGamma":0.5,"maxGradNorm":1,"classWeights":[1,2,1,1,2,1,1,1,1,1],"lossReduction":"weighted_mean","labelSmoothing":0,"focalGamma":0,"seed":0,"earlyStoppingPatience":0,"distill":{"alpha":0.5,"temperature":2,"teacher":"30:dac3cb89f7d87f47"}},
  quick: {"layerwiseLrDecay":1,"bucketChunkBatches":50,"epochs":3,"batchSize":32,"lr":0.001,"weightDecay":0.01,"warmupRatio":0.1,"schedule":"linear","stepGamma":0.5,"maxGradNorm":1,"classWeights":[1,2,1,1,2,1,1,1,1,1],"lossReduction":"weighted_mean","labelSmoothing":0,"focalGamma":0,"seed":0,"earlyStoppingPatience":0,"distill":{"alpha":0.5,"temperature":2,"teacher":"30:dac3cb89f7d87f47"}},
  study: {"layerwiseLrDecay":1,"bucketChunkBatches":50,"epochs":4,"batchSize":16,"lr":0.00001,"weightDecay":0.01,"warmupRatio":0,"schedule":"step","stepGamma":0.5,"maxGradNorm":1,"classWeights":[1,2,1,1,2,1,1,1,1,1],"lossReduction":"weighted_mean","labelSmoothing":0,"focalGamma":0,"seed":0,"earlyStoppingPatience":0},
};

test("a run's resume fingerprint is the one its interrupted attempt wrote (a killed study run resumes after the refactor)", () => {
  const probs = Float32Array.from({ length: 30 }, (_, i) => (i % 10) / 45);
  for (const preset of PRESET_NAMES) {
    const cfg = parseExperimentConfig(presetConfig(preset));
    const distill = cfg.distill ? { alpha: cfg.distill.alpha, temperature: cfg.distill.temperature, teacherProbs: probs } : undefined;
    const tc = toTrainConfig(cfg, { classWeights: [1, 2, 1, 1, 2, 1, 1, 1, 1, 1], checkpointDir: "/x", checkpointEverySeconds: 600, distill });
    assert.deepEqual(trajectoryFingerprint(tc), PINNED_FINGERPRINTS[preset], preset);
  }
});

test("the study results shipped in results/study keep their names: each run's hash is the one pinned for its row and seed", () => {
  const dir = path.join(__dirname, "..", "results", "study");
  let checked = 0;
  for (const table of TABLE_NAMES) {
    const file = path.join(dir, `${table}.json`);
    if (!fs.existsSync(file)) continue;
    const shipped = JSON.parse(fs.readFileSync(file, "utf8")) as { grid?: { variant: string; seed: number; hash: string }[]; runs: { variant: string; seed: number; hash: string | null }[] };
    for (const r of [...(shipped.grid ?? []), ...shipped.runs.filter((x) => x.hash !== null)]) {
      assert.equal(PINNED[`quick · study data · 5 seeds · ${table} · ${r.variant} · seed ${r.seed}`], r.hash, `${file}: ${r.variant} seed ${r.seed}`);
      checked++;
    }
  }
  assert.ok(checked >= 12, `${checked} shipped hashes checked`);
});

const NO_STUDY_DATA = !fs.existsSync(STUDY_DATA_DIR) && "the study's data (../shared/data) is not here";

test("every run shipped in results/study re-computes its hash from the config it ships with", { skip: NO_STUDY_DATA }, () => {
  let checked = 0;
  for (const table of TABLE_NAMES) {
    const file = path.join(STUDY_RESULTS, `${table}.json`);
    if (!fs.existsSync(file)) continue;
    const shipped = JSON.parse(fs.readFileSync(file, "utf8")) as { runs: { variant: string; seed: number; hash: string | null; config: unknown }[] };
    for (const r of shipped.runs) {
      assert.ok(r.hash !== null && r.config !== null, `${file}: ${r.variant} seed ${r.seed} ships without its hash or config`);
      assert.equal(configHash(parseExperimentConfig(r.config as Parameters<typeof configHash>[0])), r.hash, `${file}: ${r.variant} seed ${r.seed}`);
      checked++;
    }
  }
  assert.ok(checked >= 79, `${checked} shipped runs checked`);
});

/** Pinned numbers against today's, numbers within 1e-9 (relative), null for NaN, everything else equal. */
function assertSameNumbers(now: unknown, pinned: unknown, where: string): void {
  if (typeof pinned === "number") {
    assert.equal(typeof now, "number", `${where}: ${JSON.stringify(now)} vs ${pinned}`);
    assertClose(now as number, pinned, 1e-9, where);
  } else if (pinned !== null && typeof pinned === "object") {
    assert.ok(now !== null && typeof now === "object", `${where}: missing`);
    assert.deepEqual(Object.keys(now as object).sort(), Object.keys(pinned).sort(), `${where}: keys`);
    for (const [k, v] of Object.entries(pinned)) assertSameNumbers((now as Record<string, unknown>)[k], v, `${where} › ${k}`);
  } else {
    assert.equal(now, pinned, where);
  }
}

test("the numbers read from results/study are the pinned ones: every run's metrics, each variant's mean ± std, each reading", () => {
  const pinned = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "shipped-numbers.json"), "utf8")) as Record<TableName, { runs: Record<string, unknown> }>;
  assert.deepEqual(Object.keys(pinned), [...TABLE_NAMES]);
  for (const table of TABLE_NAMES) {
    // over the pinned runs only: a file that gains runs keeps every pinned number
    const now = tableNumbers(table, new Set(Object.keys(pinned[table].runs)));
    assert.ok(now, `results/study/${table}.json is gone`);
    assertSameNumbers(now, pinned[table], table);
  }
});
