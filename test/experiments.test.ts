/**
 * The experiment layer as a user runs it: config validation and hashing, the run cache (load, not
 * retrain), atomic writes and recovery from a killed grid, shards, the CLIs on the real shared data,
 * prediction, reproducibility, and a short training that must beat the majority class by a wide margin.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  presetConfig,
  runExperiment,
  runJobs,
  gridJobs,
  shardJobs,
  parseShard,
  TABLE_SPECS,
  NGRAM_VARIANT,
  type ExperimentConfig,
} from "../src/experiments";
import { loadTeacher } from "../src/experiments/teacher";
import { gridPlan } from "../src/experiments/grids";
import { configHash, canonicalJson, cleanIncompleteRuns, loadRun, ConfigError, parseExperimentConfig, fromScratch } from "../src/runs";
import { cachedTable } from "../src/experiments/tables";
import { generateDemo, writeDataset, LABEL_NAMES } from "../src/data";
import { selectVariants } from "../src/cli/reproduce";
import { killWhen } from "./helpers";

const ROOT = path.resolve(__dirname, "..");
const SHARED = path.resolve(ROOT, "..", "shared", "data");
const tmp = (name: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `medrel-${name}-`));
const smoke = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({ ...presetConfig("smoke"), ...over });

test("config hash is canonical: key order does not matter, any field change does", () => {
  const a = smoke();
  const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(a).reverse()))) as ExperimentConfig;
  assert.equal(canonicalJson(a), canonicalJson(reordered));
  assert.equal(configHash(parseExperimentConfig(a)), configHash(parseExperimentConfig(reordered)));
  assert.notEqual(configHash(parseExperimentConfig(a)), configHash(parseExperimentConfig({ ...a, seed: 1 })));
  assert.notEqual(configHash(parseExperimentConfig(a)), configHash(parseExperimentConfig({ ...a, encoding: "QA" })));
  assert.match(configHash(parseExperimentConfig(a)), /^[0-9a-f]{12}$/);
  // the same folder named from two working directories (a notebook's ../../shared/data, the CLI's ../shared/data)
  const here = smoke({ data: { kind: "dir", dir: path.join("..", "shared", "data") } });
  const abs = smoke({ data: { kind: "dir", dir: path.resolve("..", "shared", "data") } });
  assert.equal(configHash(parseExperimentConfig(here)), configHash(parseExperimentConfig(abs)));
  assert.notEqual(configHash(parseExperimentConfig(here)), configHash(parseExperimentConfig(smoke({ data: { kind: "dir", dir: path.resolve("..", "other") } }))));
});

test("config hash covers the model folder's content: replacing the weights in place names a new run", () => {
  const dir = tmp("fp");
  fs.writeFileSync(path.join(dir, "config.json"), "{}");
  fs.writeFileSync(path.join(dir, "model.safetensors"), Buffer.alloc(1000, 1));
  const cfg = parseExperimentConfig(smoke({ model: { kind: "preset", preset: "tiny", pretrained: dir } }));
  const h1 = configHash(cfg);
  assert.equal(configHash(cfg), h1, "stable");
  fs.writeFileSync(path.join(dir, "model.safetensors"), Buffer.alloc(1000, 2));
  assert.notEqual(configHash(cfg), h1, "new weights, new run");
  const big = path.join(dir, "pytorch_model.bin"); // > 16 MiB: size + head + tail
  fs.writeFileSync(big, Buffer.alloc(17 << 20, 0));
  const h2 = configHash(cfg);
  const fd = fs.openSync(big, "r+");
  fs.writeSync(fd, Buffer.from([7]), 0, 1, (17 << 20) - 10);
  fs.closeSync(fd);
  fs.utimesSync(big, new Date(), new Date(Date.now() + 5000));
  assert.notEqual(configHash(cfg), h2, "a change in the tail of a large file");
  // from scratch in the pretrained shape: the shape's config.json counts, its weights do not
  const scratch = smoke({ model: fromScratch(cfg.model) });
  const h3 = configHash(parseExperimentConfig(scratch));
  fs.writeFileSync(path.join(dir, "model.safetensors"), Buffer.alloc(1000, 3));
  assert.equal(configHash(parseExperimentConfig(scratch)), h3);
  fs.writeFileSync(path.join(dir, "config.json"), `{"hidden_size": 8}`);
  fs.utimesSync(path.join(dir, "config.json"), new Date(), new Date(Date.now() + 9000));
  const h4 = configHash(parseExperimentConfig(scratch));
  assert.notEqual(h4, h3, "another architecture, another from-scratch run");
  // a re-export of the same shape after more pre-training (steps, dtype, vocabulary size) keeps its scratch runs
  fs.writeFileSync(path.join(dir, "config.json"), `{"medrel": {"pretrain": {"steps": 14000}}, "torch_dtype": "float16", "vocab_size": 99, "hidden_size": 8}`);
  assert.equal(configHash(parseExperimentConfig(scratch)), h4);
});

test("config hash covers the data files' content: regenerating a split in place names a new run", () => {
  const dir = tmp("datafp");
  const row = (s: string): string => JSON.stringify({ id: "1", sentence: s, h: "甲", t: "乙", r: "同义词" }) + "\n";
  fs.writeFileSync(path.join(dir, "train.jsonl"), row("甲又称乙。"));
  fs.writeFileSync(path.join(dir, "val.jsonl"), row("甲也叫乙。"));
  const cfg = parseExperimentConfig(smoke({ data: { kind: "dir", dir } }));
  const h1 = configHash(cfg);
  assert.equal(configHash(cfg), h1, "stable");
  fs.writeFileSync(path.join(dir, "test.jsonl"), row("甲即乙。"));
  const h2 = configHash(cfg);
  assert.notEqual(h2, h1, "a test split appeared");
  fs.writeFileSync(path.join(dir, "train.jsonl"), row("甲又名乙。"));
  fs.utimesSync(path.join(dir, "train.jsonl"), new Date(), new Date(Date.now() + 5000));
  assert.notEqual(configHash(cfg), h2, "train rows changed");
  // explicit files (--train/--dev) are fingerprinted too
  const files = smoke({ data: { kind: "files", train: path.join(dir, "train.jsonl"), dev: path.join(dir, "val.jsonl") } });
  const h3 = configHash(parseExperimentConfig(files));
  fs.writeFileSync(path.join(dir, "val.jsonl"), row("甲亦称乙。"));
  fs.utimesSync(path.join(dir, "val.jsonl"), new Date(), new Date(Date.now() + 9000));
  assert.notEqual(configHash(parseExperimentConfig(files)), h3, "dev rows changed");
  // a folder that does not exist yet still hashes (the run reports the missing data when it loads it)
  assert.match(configHash(parseExperimentConfig(smoke({ data: { kind: "dir", dir: path.join(dir, "nope") } }))), /^[0-9a-f]{12}$/);
});

test("the n-gram baseline row is an ordinary run: named by its data's content, so a regenerated split retrains it", { timeout: 120_000 }, async () => {
  const dir = tmp("basefp");
  const runsDir = tmp("baseruns");
  writeDataset(generateDemo({ seed: 1, rows: 300 }), dir);
  const [job] = gridJobs("models", { preset: "smoke", data: { kind: "dir", dir }, seeds: [0], variants: [NGRAM_VARIANT] });
  assert.deepEqual(job.config.model, { kind: "ngram" });
  assert.deepEqual(job.needs, {}, "no teacher, no reference");
  const a = await runExperiment(job.config, { runsDir, verbose: false });
  assert.equal(a.hash, job.hash);
  assert.deepEqual(fs.readdirSync(runsDir).sort(), [job.hash]);
  assert.ok(a.metrics.dev.macro_f1 > 0 && a.metrics.test, "scored on dev and test");
  assert.equal(a.metrics.selection, undefined, "it chooses no epoch");
  assert.equal((await runExperiment(job.config, { runsDir, verbose: false })).info.startedAt, a.info.startedAt, "loaded, not retrained");
  writeDataset(generateDemo({ seed: 2, rows: 300 }), dir);
  const b = await runExperiment(job.config, { runsDir, verbose: false });
  assert.notEqual(b.hash, a.hash, "new rows, new run");
  assert.notDeepEqual(b.metrics.dev, a.metrics.dev, "and it was retrained on them");
  await assert.rejects(runExperiment({ ...job.config, distill: smoke().distill }, { runsDir }), /model "ngram": distill apply to encoder runs only/);
});

test("a distilled run reads its n-gram teacher from a job of its own: one teacher per training rows and weights, fitted once", { timeout: 300_000 }, async () => {
  const runsDir = tmp("teacher");
  const [basic, marked] = gridJobs("encodings", { preset: "smoke", seeds: [0], variants: ["Basic1", "Entity_marked2"] });
  const teacher = basic.needs.teacher!;
  assert.equal(marked.needs.teacher!.hash, teacher.hash, "same rows, same weights: one teacher");
  assert.match(teacher.hash, /^teacher-[0-9a-f]{12}$/);
  const [run] = await runJobs([basic], { runsDir, progress: false });
  const fitted = loadTeacher(path.join(runsDir, teacher.hash))!;
  assert.equal(fitted.rows, run.info.trainRows);
  assert.deepEqual(fitted.classWeights, run.info.teacherClassWeights, "fitted with the run's class weights");
  const before = fs.statSync(path.join(runsDir, teacher.hash, "teacher.json")).mtimeMs;
  await runJobs([marked], { runsDir, progress: false });
  assert.equal(fs.statSync(path.join(runsDir, teacher.hash, "teacher.json")).mtimeMs, before, "read, not refitted");
  assert.deepEqual(fs.readdirSync(runsDir).filter((n) => !n.endsWith(".lock")).sort(), [basic.hash, marked.hash, teacher.hash].sort());
});

test("a hard_classes run reads the unweighted run of its config, made first as a job of its own, not inside its lock", { timeout: 300_000 }, async () => {
  const runsDir = tmp("hard");
  const [regular, hard] = gridJobs("loss", { preset: "smoke", seeds: [0], variants: ["Regular Loss", "Hard-class weights"] });
  assert.equal(hard.needs.reference?.hash, regular.hash, "its reference is the table's Regular Loss run");
  assert.equal(hard.needs.teacher?.needs.reference?.hash, regular.hash, "and its teacher's weights read the same run");
  assert.notEqual(hard.needs.teacher?.hash, regular.needs.teacher?.hash, "a weighted teacher is another teacher");
  assert.deepEqual(gridPlan([hard]).map((j) => j.hash), [regular.needs.teacher!.hash, regular.hash, hard.needs.teacher!.hash, hard.hash]);
  assert.deepEqual(gridPlan([hard, regular])[1], regular, "a table's own job is listed, not the need that equals it");
  const run = await runExperiment(hard.config, { runsDir, progress: false, verbose: false });
  const ref = loadRun(path.join(runsDir, regular.hash));
  assert.ok(ref, "the reference is a run folder of its own");
  const f1 = LABEL_NAMES.map((n) => ref.metrics.selection!.per_class[n].f1);
  assert.deepEqual(run.info.classWeights, f1.map((f) => 1 + (1 - f)), "w_c = 1 + (1 − F1_c) from the reference's selection split");
  assert.ok(run.info.classWeights!.some((w) => w > 1.05));
  assert.deepEqual(loadTeacher(path.join(runsDir, hard.needs.teacher!.hash))?.classWeights, run.info.classWeights);
});

test("invalid configs are rejected with the field named", () => {
  assert.throws(() => parseExperimentConfig({ ...smoke(), encoding: "Basic3" }, "my.json"), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match((e as Error).message, /my\.json/);
    assert.match((e as Error).message, /encoding/);
    return true;
  });
  assert.throws(() => parseExperimentConfig({ ...smoke(), lr: -1 }), /lr/);
  assert.throws(
    () => parseExperimentConfig({ ...smoke(), loss: { ...smoke().loss, scheme: "manual", manual: { 不存在: 2 } } }),
    /unknown label "不存在"/,
  );
});

test("a run that exists is loaded, not retrained; force retrains; same seed gives identical metrics", async () => {
  const runsDir = tmp("cache");
  const cfg = smoke();
  const first = await runExperiment(cfg, { runsDir, progress: false, verbose: false });
  const again = await runExperiment(cfg, { runsDir, progress: false, verbose: false });
  assert.equal(again.info.startedAt, first.info.startedAt, "second call loaded the run folder");
  for (const f of ["config.json", "metrics.json", "confusion.json", "history.json", "run.json", "predictions-dev.jsonl", "model/config.json"]) {
    assert.ok(fs.existsSync(path.join(first.dir!, f)), `${f} written`);
  }
  const forced = await runExperiment(cfg, { runsDir, progress: false, verbose: false, force: true });
  assert.notEqual(forced.info.startedAt, first.info.startedAt);
  assert.deepEqual(forced.metrics, first.metrics, "same seed + config -> identical metrics on the same backend");
  const m = JSON.parse(fs.readFileSync(path.join(first.dir!, "metrics.json"), "utf8")) as Record<string, Record<string, unknown>>;
  for (const split of ["dev", "test"]) {
    for (const k of ["per_class", "macro_precision", "macro_recall", "macro_f1", "micro_f1", "f1_range"]) assert.ok(k in m[split], `${split}.${k}`);
  }
});

test("temp folders of killed runs are removed; complete runs, checkpoints and folders that are not ours stay", async () => {
  const runsDir = tmp("clean");
  const done = await runExperiment(smoke(), { runsDir, progress: false, verbose: false });
  const dead = `abcdef012345.tmp-medrel-${os.hostname().replace(/[^A-Za-z0-9_.-]/g, "_")}-999999-1`;
  fs.mkdirSync(path.join(runsDir, dead), { recursive: true }); // a dead writer's temp folder
  fs.mkdirSync(path.join(runsDir, "0123456789ab"), { recursive: true });
  fs.writeFileSync(path.join(runsDir, "0123456789ab", "config.json"), "{}"); // not a run of ours (no marker): never removed
  fs.mkdirSync(path.join(runsDir, "ngram-0123456789ab"), { recursive: true }); // a baseline cache
  fs.mkdirSync(path.join(runsDir, "fedcba987654.ckpt", "last"), { recursive: true }); // a killed run's checkpoints
  const removed = cleanIncompleteRuns(runsDir).sort();
  assert.deepEqual(removed, [dead]);
  assert.ok(fs.existsSync(path.join(runsDir, "0123456789ab", "config.json")), "a folder without the run marker is kept");
  assert.ok(loadRun(done.dir!), "the complete run is kept");
  assert.ok(fs.existsSync(path.join(runsDir, "ngram-0123456789ab")), "baseline caches are not runs: kept");
  assert.ok(fs.existsSync(path.join(runsDir, "fedcba987654.ckpt")), "checkpoints for resuming are kept");
});

test("shards split a grid into disjoint parts that cover it", () => {
  const jobs = gridJobs("encodings", { preset: "smoke", seeds: [0, 1, 2] });
  assert.equal(jobs.length, 15);
  const parts = [1, 2, 3].map((i) => shardJobs(jobs, { index: i, count: 3 }));
  const hashes = parts.map((p) => new Set(p.filter((j) => j.kind === "run").map((j) => j.hash)));
  assert.equal(hashes.reduce((a, s) => a + s.size, 0), 15);
  assert.equal(new Set(hashes.flatMap((s) => [...s])).size, 15);
  for (const j of parts.flat()) if (j.kind === "run") assert.equal(j.hash, configHash(j.config));
  // the smoke preset distils: one teacher per seed (the five encodings train on the same rows), dealt with its first reader
  const teachers = parts.map((p) => p.filter((j) => j.kind === "teacher").map((j) => j.hash));
  assert.equal(new Set(teachers.flat()).size, 3);
  assert.equal(teachers.flat().length, 3, "each teacher in one shard");
  for (const [i, p] of parts.entries()) {
    for (const t of teachers[i]) {
      const readers = p.filter((j) => j.kind === "run" && j.needs.teacher?.hash === t);
      assert.ok(readers.length > 0 && p.indexOf(readers[0]) > p.findIndex((j) => j.hash === t), `${t} is listed before the runs of shard ${i + 1} that read it`);
    }
  }
  assert.deepEqual(parseShard("2/4"), { index: 2, count: 4 });
  assert.throws(() => parseShard("5/4"), /1 ≤ i ≤ n/);
  assert.throws(() => parseShard("x"), /i\/n/);
});

test("--variants picks rows of a table's grid and names the valid ones on a typo", () => {
  const jobs = gridJobs("encodings", { preset: "smoke", seeds: [0, 1, 2] });
  const picked = selectVariants(jobs, ["Basic1", "Entity_marked2"]);
  assert.deepEqual([...new Set(picked.map((j) => j.variant))], ["Basic1", "Entity_marked2"]);
  assert.equal(picked.length, 6);
  assert.throws(() => selectVariants(jobs, ["Basic1", "Entity_marked3"]), /unknown "Entity_marked3"; this table has "Basic1", "Basic2", "QA", "Entity_marked1", "Entity_marked2"/);
});

const TWO_ROWS = TABLE_SPECS.loss.demoVariants;

test("killing a grid mid-way and re-running it redoes only the missing runs", { timeout: 300_000 }, async () => {
  const runsDir = tmp("grid");
  const script = path.join(runsDir, "grid.ts");
  fs.writeFileSync(
    script,
    `import { gridJobs, runJobs } from ${JSON.stringify(path.join(ROOT, "src", "experiments"))};\n` +
      `runJobs(gridJobs("loss", { preset: "smoke", seeds: [0, 1], variants: ${JSON.stringify(TWO_ROWS)} }), { runsDir: ${JSON.stringify(runsDir)}, progress: false })` +
      `.then(() => process.exit(0));\n`,
  );
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, stdio: "ignore" });
  const complete = (): string[] => fs.readdirSync(runsDir).filter((n) => /^[0-9a-f]{12}$/.test(n) && loadRun(path.join(runsDir, n)));
  // kill it as soon as the first run is complete
  await killWhen(child, () => complete().length >= 1, "the grid's first run");
  await new Promise((r) => setTimeout(r, 200));
  const before = new Map(complete().map((h) => [h, loadRun(path.join(runsDir, h))!.info.startedAt]));
  assert.ok(before.size >= 1 && before.size < 4, `killed with ${before.size} of 4 runs complete`);
  // a notebook's cachedTable assembles what exists and trains nothing; with no runs at all it is null
  const partial = await cachedTable("loss", { preset: "smoke", seeds: [0, 1], variants: TWO_ROWS, runsDir });
  assert.ok(partial, "some runs exist");
  assert.equal(partial.records.length, before.size);
  assert.equal(partial.missing.length, 4 - before.size);
  assert.equal(complete().length, before.size, "cachedTable trained nothing");
  assert.equal(await cachedTable("loss", { preset: "smoke", seeds: [0, 1], variants: TWO_ROWS, runsDir: tmp("empty") }), null);
  const jobs = gridJobs("loss", { preset: "smoke", seeds: [0, 1], variants: TWO_ROWS });
  const runs = await runJobs(jobs, { runsDir, progress: false });
  assert.equal(runs.length, 4);
  for (const [h, started] of before) assert.equal(loadRun(path.join(runsDir, h))!.info.startedAt, started, `${h} was not retrained`);
  assert.equal(complete().length, 4);
  assert.deepEqual(fs.readdirSync(runsDir).filter((n) => n.includes(".tmp-")), [], "no temp folders left");
});

test("npm run experiment on the study's real data (--data-dir ../shared/data, smoke), then predict", { timeout: 300_000 }, () => {
  const dir = tmp("study");
  // the study's layout: train.jsonl, val.jsonl, test.jsonl (the withheld test is stood in for by val here)
  fs.symlinkSync(path.join(SHARED, "study_train.jsonl"), path.join(dir, "train.jsonl"));
  fs.symlinkSync(path.join(SHARED, "study_val.jsonl"), path.join(dir, "val.jsonl"));
  fs.symlinkSync(path.join(SHARED, "study_val.jsonl"), path.join(dir, "test.jsonl"));
  const out = path.join(dir, "run");
  const log = execFileSync("npx", ["tsx", "src/cli/experiment.ts", "--data-dir", dir, "--preset", "smoke", "--out", out], { cwd: ROOT }).toString();
  assert.match(log, /dev +Macro-P/);
  const metrics = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8")) as { dev: { n: number }; test: { n: number } | null };
  assert.ok(metrics.dev.n > 0 && metrics.test && metrics.test.n > 0, "dev and test metrics written");
  const info = JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")) as { dataReport: string[] };
  assert.match(info.dataReport.join("\n"), /subject_placeholder/, "the load report (placeholders kept and counted) is saved with the run");

  // predict: unlabelled rows in, one JSON line per row with probabilities out
  const input = path.join(dir, "new.jsonl");
  fs.writeFileSync(input, [
    JSON.stringify({ id: "a", sentence: "糖尿病@患者可出现多饮、多尿等症状。", h: "糖尿病", t: "多尿" }),
    JSON.stringify({ id: "b", sentence: "高血压可用氨氯地平治疗。", h: "高血压", t: "氨氯地平" }),
  ].join("\n") + "\n");
  const outFile = path.join(dir, "pred.jsonl");
  execFileSync("npx", ["tsx", "src/cli/predict.ts", "--run", out, "--input", input, "--output", outFile], { cwd: ROOT, stdio: "pipe" });
  const preds = fs.readFileSync(outFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { id: string; pred: string; probs: Record<string, number> });
  assert.deepEqual(preds.map((p) => p.id), ["a", "b"]);
  for (const p of preds) {
    assert.equal(Object.keys(p.probs).length, 10);
    assert.ok(Math.abs(Object.values(p.probs).reduce((a, b) => a + b, 0) - 1) < 1e-4);
  }
});

test("CLI errors are one clear line, not a stack trace", () => {
  const run = (args: string[]): string => {
    try {
      execFileSync("npx", ["tsx", ...args], { cwd: ROOT, stdio: "pipe" });
      return "";
    } catch (e) {
      return String((e as { stderr: Buffer }).stderr);
    }
  };
  assert.match(run(["src/cli/experiment.ts", "--encoding", "Basic9"]), /--encoding must be one of Basic1/);
  assert.match(run(["src/cli/experiment.ts", "--data-dir", "/nonexistent"]), /^error: .*\/nonexistent/m);
  const err = run(["src/cli/experiment.ts", "--data-dir", "/nonexistent"]);
  assert.ok(!/WasmBackendModule|at Object\./.test(err), "no minified source or stack in the message");
  assert.match(run(["src/cli/reproduce.ts", "--table", "nope"]), /--table must be one of models, encodings, loss, augmentation, all/);
});

test("a short training of the tiny model on the demo data beats the majority class by a wide margin", { timeout: 300_000 }, async () => {
  const cfg: ExperimentConfig = { ...presetConfig("quick"), model: { kind: "preset", preset: "tiny", pretrained: null }, epochs: 3, lr: 2e-3, maxLength: 128 };
  const run = await runExperiment(cfg, { runsDir: tmp("learn"), progress: false, verbose: false });
  // the demo is balanced: the majority class scores 10% micro-F1
  assert.ok(run.metrics.dev.micro_f1 > 0.4, `dev micro-F1 ${run.metrics.dev.micro_f1} should be far above 0.10`);
  assert.ok(run.metrics.dev.macro_f1 > 0.35, `dev macro-F1 ${run.metrics.dev.macro_f1}`);
});

test("a run killed after an epoch resumes from its checkpoint and ends exactly where an uninterrupted run does", { timeout: 300_000 }, async () => {
  const runsDir = tmp("resume");
  const cfg: ExperimentConfig = { ...smoke(), epochs: 3 };
  const hash = configHash(parseExperimentConfig(cfg));
  const script = path.join(runsDir, "one.ts");
  fs.writeFileSync(
    script,
    `import { runExperiment } from ${JSON.stringify(path.join(ROOT, "src", "experiments"))};\n` +
      `runExperiment(${JSON.stringify(cfg)}, { runsDir: ${JSON.stringify(runsDir)}, progress: false }).then(() => process.exit(0));\n`,
  );
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, stdio: "ignore" });
  const state = path.join(runsDir, `${hash}.ckpt`, "last", "trainer_state.json");
  await killWhen(child, () => fs.existsSync(state), "after its first epoch");
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(loadRun(path.join(runsDir, hash)), undefined, "no complete run yet");
  const resumed = await runExperiment(cfg, { runsDir, progress: false, verbose: false });
  assert.ok((resumed.info.resumedFromEpoch ?? 0) >= 1, "resumed from the checkpoint");
  assert.ok(!fs.existsSync(path.join(runsDir, `${hash}.ckpt`)), "checkpoints removed once the run is complete");
  const straight = await runExperiment(cfg, { runsDir: tmp("straight"), progress: false, verbose: false });
  assert.equal(straight.info.resumedFromEpoch, 0);
  assert.deepEqual(resumed.metrics, straight.metrics);
});


test("a copied or moved checkout reuses its runs: configs store project-relative paths and hashes cover content, not location", async () => {
  const base = tmp("moved");
  const copy = (from: string, to: string): void => {
    fs.mkdirSync(to, { recursive: true });
    for (const item of ["src", "data", "package.json", "tsconfig.json"]) fs.cpSync(path.join(from, item), path.join(to, item), { recursive: true });
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(to, "node_modules"));
  };
  const a = path.join(base, "a", "medrel");
  copy(ROOT, a);
  const cli = (cwd: string): string =>
    execFileSync(process.execPath, ["--import", "tsx", "src/cli/experiment.ts", "--preset", "smoke", "--seed", "3"], { cwd, env: { ...process.env, MEDREL_PROGRESS: "silent" } }).toString();
  const first = cli(a);
  const hash = /run ([0-9a-f]{12})/.exec(first)?.[1];
  assert.ok(hash, first);
  const saved = JSON.parse(fs.readFileSync(path.join(a, "runs", hash, "config.json"), "utf8")) as ExperimentConfig;
  assert.equal(saved.model.kind === "preset" && saved.model.pretrained, "data/pretrained/quick", "the checkpoint is named relative to the project");
  // the whole checkout, runs included, moved somewhere else (deeper, another name)
  const b = path.join(base, "elsewhere", "deeper", "copy");
  copy(a, b);
  fs.cpSync(path.join(a, "runs"), path.join(b, "runs"), { recursive: true });
  fs.rmSync(a, { recursive: true, force: true });
  const second = cli(b);
  assert.match(second, new RegExp(`run ${hash}: loaded from .*copy.runs.${hash} \\(not retrained\\)`));
});

test("selection off the reported split: without a test split the epoch is chosen on a train slice; a weighted run's teacher is weighted too", async () => {
  const dir = tmp("sel");
  const demo = (f: string, n: number): string => fs.readFileSync(path.join(ROOT, "data", "demo", f), "utf8").trim().split("\n").slice(0, n).join("\n") + "\n";
  fs.writeFileSync(path.join(dir, "train.jsonl"), demo("train.jsonl", 400));
  fs.writeFileSync(path.join(dir, "val.jsonl"), demo("val.jsonl", 80));
  const cfg = parseExperimentConfig(smoke({ data: { kind: "dir", dir }, maxTrainRows: 0, maxEvalRows: 0 }));
  assert.deepEqual(cfg.selection, { from: "train", fraction: 0.1, seed: 0 }, "no test split: select on a slice of train");
  assert.deepEqual(parseExperimentConfig(smoke()).selection, { from: "dev" }, "the demo has a test split: select on dev, report test");
  assert.throws(() => parseExperimentConfig(smoke({ data: { kind: "dir", dir }, selection: { from: "dev" } })), /selection: choosing epochs on dev needs a test split/);
  const runsDir = tmp("sel-runs");
  const r = await runExperiment(cfg, { runsDir, progress: false, verbose: false });
  assert.equal(r.info.devRows, 80, "val is only reported");
  assert.equal((r.info.selectionRows ?? 0) + r.info.trainRows, 400);
  assert.ok((r.info.selectionRows ?? 0) >= 30 && (r.info.selectionRows ?? 0) <= 50, `selection rows ${r.info.selectionRows}`);
  const best = r.history[r.info.bestEpoch];
  assert.equal(best.devMacroF1, r.metrics.selection?.macro_f1, "the best epoch's score is the selection split's, not val's");
  const predicted = fs.readFileSync(path.join(r.dir!, "predictions-dev.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { sentence: string; h: string; t: string });
  assert.equal(predicted.length, 80);
  assert.ok(predicted.every((p) => p.sentence.length > 0 && p.h.length > 0 && p.t.length > 0), "predictions carry sentence, head and tail");
  const weighted = await runExperiment({ ...cfg, loss: { ...cfg.loss, scheme: "manual", manual: { 并发症: 2 } } }, { runsDir, progress: false, verbose: false });
  assert.equal(weighted.info.teacherClassWeights?.[4], 2, "the teacher is fitted with the student's class weights");
  const unweightedTeacher = { ...weighted.config, distill: { ...weighted.config.distill!, classWeighted: false } };
  assert.notEqual(configHash(parseExperimentConfig(unweightedTeacher)), weighted.hash, "the teacher's weighting is part of the run's identity");
});

test("reproduce --export writes each run with its full config; experiment --config on one reproduces its numbers exactly", { timeout: 600_000 }, async () => {
  const dir = tmp("export-data");
  const demo = (f: string, n: number): string => fs.readFileSync(path.join(ROOT, "data", "demo", f), "utf8").trim().split("\n").slice(0, n).join("\n") + "\n";
  fs.writeFileSync(path.join(dir, "train.jsonl"), demo("train.jsonl", 300));
  fs.writeFileSync(path.join(dir, "val.jsonl"), demo("val.jsonl", 60));
  const out = tmp("export");
  const runsDir = tmp("export-runs");
  const log = execFileSync(process.execPath, ["--import", "tsx", "src/cli/reproduce.ts", "--table", "loss", "--preset", "smoke", "--data-dir", dir, "--seeds", "2", "--export", out, "--runs-dir", runsDir, "--quiet"], {
    cwd: ROOT,
    env: { ...process.env, MEDREL_PROGRESS: "silent" },
  }).toString();
  assert.match(log, /grid done in \d+ s/);
  const file = JSON.parse(fs.readFileSync(path.join(out, "loss.json"), "utf8")) as { runs: { variant: string; seed: number; hash: string; split: string; config: ExperimentConfig; metrics: { micro_f1: number; per_class: object } }[]; command: string; gridSeconds: number };
  assert.deepEqual([...new Set(file.runs.map((r) => r.variant))], TABLE_SPECS.loss.variants(presetConfig("smoke"), { preset: "smoke" }).map((v) => v.name));
  assert.equal(file.runs.length, 8);
  assert.ok(file.runs.every((r) => r.split === "dev" && r.config.selection !== "auto" && typeof r.metrics.micro_f1 === "number" && Object.keys(r.metrics.per_class).length === 10));
  assert.ok(file.gridSeconds > 0 && /--export/.test(file.command));
  const one = file.runs.find((r) => r.variant === TABLE_SPECS.loss.baseline && r.seed === 1)!;
  const cfgFile = path.join(out, "one.json");
  fs.writeFileSync(cfgFile, JSON.stringify(one.config));
  const again = path.join(tmp("again"), "run");
  execFileSync(process.execPath, ["--import", "tsx", "src/cli/experiment.ts", "--config", cfgFile, "--out", again], { cwd: ROOT, env: { ...process.env, MEDREL_PROGRESS: "silent" } });
  const m = JSON.parse(fs.readFileSync(path.join(again, "metrics.json"), "utf8")) as { dev: { micro_f1: number } };
  assert.equal(m.dev.micro_f1, one.metrics.micro_f1, "the exported config re-runs to the same val micro-F1");
  assert.equal(configHash(parseExperimentConfig(one.config)), one.hash);
});
