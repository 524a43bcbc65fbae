/**
 * Trust nothing unverified (issue 26): what a careless or hostile user does to the run store, to checkpoints and to
 * the files a hash is made of. Each test reproduces the input and asserts the message (file, field, numbers) and
 * that nothing of the user's was lost.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, execFile } from "node:child_process";
import * as tf from "@tensorflow/tfjs";
import { unzipSync, zipSync } from "fflate";
import { promisify } from "node:util";
import {
  existingRuns,
  presetConfig,
  runExperiment,
  type ExperimentConfig,
} from "../src/experiments";
import { readResultsFile } from "../src/experiments/results";
import { RUN_MARKER, cleanIncompleteRuns, configHash, dataFingerprint, ensureFolder, loadRun, lockRun, modelFingerprint, processStartTicks, hashOfParts, sentencesProblem, savedPredictions, parseExperimentConfig } from "../src/runs";
import { leftOutLines, showErrorAnalysis } from "../src/views";
import { initBackend } from "../src/backend/select";
import { DEMO_DIR, loadRows } from "../src/data";
import { buildCharTokenizer, encodeDataset, type RelationTokenizer } from "../src/encoding";
import type { Encoded } from "../src/encoding/types";
import { BertForRelationClassification, PytorchSource, SafetensorsSource, loadCheckpoint, saveCheckpoint, shapeConfig } from "../src/model";
import { DEFAULT_TRAIN_CONFIG, evaluate, predict, train, type TrainConfig } from "../src/train";
import { LABELS } from "../src/data/labels";
import { predictWithRun, studyLabelsOf } from "../src/cli/predict";
import { blasThreads } from "../src/backend/native";
import {
  STUDY_DATA_DIR,
  TABLE_NAMES,
  exportResults,
  loadResults,
  resultsProgress,
  shippedRun,
  type TableName,
} from "../src/experiments";
import { metricsFromConfusion, type Metrics } from "../src/metrics";
import { reproduce } from "../src/cli/reproduce";

const ROOT = path.resolve(__dirname, "..");
const CLS = path.join(ROOT, "test", "fixtures", "parity", "cls");
const HOST = os.hostname().replace(/[^A-Za-z0-9_.-]/g, "_");
const run = promisify(execFile);
const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
const smoke = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({ ...presetConfig("smoke"), maxTrainRows: 48, maxEvalRows: 16, ...over });
const quiet = { progress: false, verbose: false } as const;
const tmp = (name: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `medrel-trust-${name}-`));

const editJson = (file: string, edit: (v: Record<string, unknown>) => void): void => {
  const v = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  edit(v);
  fs.writeFileSync(file, JSON.stringify(v));
};

test("fingerprints: files under 16 MiB hash exactly as before (pinned), so shipped runs keep their config hashes", () => {
  // the values the sampled-fingerprint code gave; the whole-file digest must give the same for small files
  assert.equal(modelFingerprint(CLS), "73a83e078e092f57");
  const files = { kind: "files", train: path.join(CLS, "config.json"), dev: path.join(CLS, "model.safetensors") } as const;
  assert.equal(dataFingerprint(files), "7aa81a22c43f99bf");
  assert.equal(dataFingerprint({ kind: "demo" }), "b5e7c3c0dfb0a223");
  assert.equal(configHash(parseExperimentConfig(presetConfig("smoke"))), "d3c26aebb740");
  assert.equal(configHash(parseExperimentConfig(presetConfig("quick"))), "1ba8c3fda4c6");
  const cfg: ExperimentConfig = { ...presetConfig("smoke"), data: { ...files, test: path.join(CLS, "pytorch_model.bin") } };
  assert.equal(configHash(parseExperimentConfig(cfg)), "696ba257a0ad");
});

test("fingerprints read every byte: 17 labels changed in the middle of a 17.9 MB train file name a new run", () => {
  const dir = tmp("big");
  const row = (i: number, r: string): string => JSON.stringify({ id: String(i), sentence: "糖尿病患者可出现口渴和乏力，需要长期随访观察", h: "糖尿病", t: "口渴", r });
  const n = 17.9e6 / (row(0, "临床表现").length + 1);
  const lines = Array.from({ length: Math.ceil(n) }, (_, i) => row(i, "临床表现"));
  const train = path.join(dir, "train.jsonl");
  const dev = path.join(dir, "val.jsonl");
  fs.writeFileSync(train, lines.join("\n") + "\n");
  fs.writeFileSync(dev, lines.slice(0, 10).join("\n") + "\n");
  assert.ok(fs.statSync(train).size > 16 * 2 ** 20, "over 16 MiB: the size that used to be sampled");
  const spec = { kind: "files", train, dev } as const;
  const before = dataFingerprint(spec);
  const mid = Math.floor(lines.length / 2);
  for (let k = 0; k < 17; k++) lines[mid + k] = row(mid + k, "病理分型"); // same byte length: the size does not change
  fs.writeFileSync(train, lines.join("\n") + "\n");
  const later = new Date(fs.statSync(dev).mtimeMs + 5000); // a distinct mtime even on a coarse clock
  fs.utimesSync(train, later, later);
  const after = dataFingerprint(spec);
  assert.notEqual(after, before, "a change in the middle is seen");
  assert.equal(dataFingerprint(spec), after, "stable (and memoised) for an unchanged file");
});

test("clean-up removes only what this project made: a user's photos.tmp-12-2024/ beside --out and mynotes.old-999999/ in runs/ survive", async () => {
  const parent = tmp("clean");
  const user = (name: string, file: string): string => {
    fs.mkdirSync(path.join(parent, name));
    fs.writeFileSync(path.join(parent, name, file), `mine: ${name}`);
    return path.join(parent, name, file);
  };
  const photo = user("photos.tmp-12-2024", "a.jpg");
  const notes = user("mynotes.old-999999", "n.txt");
  const oldStyle = user("run1.tmp-vm-999999-1", "half.json"); // an older-style name without our marker: not provably ours
  const dead = path.join(parent, `run1.tmp-medrel-${HOST}-999999-1`); // a dead writer's leftovers, our token
  fs.mkdirSync(dead);
  const deadOld = path.join(parent, "run1.old-999998"); // an older-style name that holds our marker
  fs.mkdirSync(deadOld);
  fs.writeFileSync(path.join(deadOld, RUN_MARKER), "{}");
  await runExperiment(smoke(), { out: path.join(parent, "run1"), ...quiet });
  for (const f of [photo, notes, oldStyle]) assert.equal(fs.readFileSync(f, "utf8"), `mine: ${path.basename(path.dirname(f))}`, `${f} kept`);
  assert.equal(fs.existsSync(dead), false, "our dead temp folder is removed");
  assert.equal(fs.existsSync(deadOld), false, "an older temp folder with our marker is removed");
  assert.deepEqual(fs.readdirSync(parent).sort(), ["mynotes.old-999999", "photos.tmp-12-2024", "run1", "run1.tmp-vm-999999-1"]);
  // the same in a runs folder, called directly
  const runsDir = tmp("runs");
  fs.mkdirSync(path.join(runsDir, "mynotes.old-999999"));
  fs.mkdirSync(path.join(runsDir, "abcdef012345.tmp-12-2024"));
  assert.deepEqual(cleanIncompleteRuns(runsDir), []);
  assert.deepEqual(fs.readdirSync(runsDir).sort(), ["abcdef012345.tmp-12-2024", "mynotes.old-999999"]);
});

test("a run folder proves itself: an edited metrics.json or config.json, a corrupt or null metrics.json and a renamed folder are refused by name with the --force hint", async () => {
  const runsDir = tmp("seal");
  const cfg = smoke({ seed: 3 });
  const first = await runExperiment(cfg, { runsDir, ...quiet });
  const seal = JSON.parse(fs.readFileSync(path.join(first.dir!, RUN_MARKER), "utf8")) as { hash: string; files: Record<string, string> };
  assert.equal(seal.hash, first.hash);
  assert.ok(["config.json", "metrics.json", "run.json", "predictions-dev.jsonl", "model/model.safetensors"].every((f) => f in seal.files), Object.keys(seal.files).join(", "));
  const file = (f: string): string => path.join(first.dir!, f);
  const original = (f: string): string => fs.readFileSync(file(f), "utf8");
  const [metrics, config] = [original("metrics.json"), original("config.json")];
  const refused = (f: string, why: RegExp) => (e: unknown): boolean => {
    const m = (e as Error).message;
    assert.ok(m.includes(file(f)), m);
    assert.match(m, why);
    assert.match(m, /re-run it with --force/);
    return true;
  };
  const job = [{ hash: first.hash, config: parseExperimentConfig(cfg) }];

  fs.writeFileSync(file("metrics.json"), metrics.replace(/"macro_f1": [0-9.e-]+/, '"macro_f1": 0.99'));
  await assert.rejects(runExperiment(cfg, { runsDir, ...quiet }), refused("metrics.json", /changed after the run was written/));
  assert.throws(() => existingRuns(job, runsDir), refused("metrics.json", /changed after the run was written/));
  assert.match(original("metrics.json"), /"macro_f1": 0\.99/, "the refused folder is left as it is");
  fs.writeFileSync(file("metrics.json"), metrics);

  fs.writeFileSync(file("config.json"), config.replace('"epochs": 1', '"epochs": 4'));
  assert.throws(() => loadRun(first.dir!), refused("config.json", /changed after the run was written/));
  // a run written before seals carried digests: config.json is checked against the folder's name instead
  fs.writeFileSync(file(RUN_MARKER), JSON.stringify({ written: "2025-01-01T00:00:00.000Z" }));
  assert.throws(() => existingRuns(job, runsDir), refused("config.json", new RegExp(`hashes to [0-9a-f]{12}, but the folder is named as run ${first.hash}`)));
  fs.writeFileSync(file("config.json"), config);
  fs.writeFileSync(file("metrics.json"), metrics.slice(0, 100));
  await assert.rejects(runExperiment(cfg, { runsDir, ...quiet }), refused("metrics.json", /unreadable \(/));
  fs.writeFileSync(file("metrics.json"), "null");
  assert.throws(() => loadRun(first.dir!), refused("metrics.json", /expected a JSON object with a "dev" object, got null/));

  // a sealed run copied under another run's name
  fs.writeFileSync(file("metrics.json"), metrics);
  fs.writeFileSync(file(RUN_MARKER), JSON.stringify(seal));
  const renamed = path.join(runsDir, "0123456789ab");
  fs.cpSync(first.dir!, renamed, { recursive: true });
  assert.throws(() => loadRun(renamed), new RegExp(`named as run 0123456789ab but its \\.medrel-run says it is run ${first.hash}`));
  assert.deepEqual(loadRun(first.dir!)?.metrics, first.metrics, "restored: trusted again");
  // --force retrains over an untrusted folder
  fs.writeFileSync(file("metrics.json"), "{");
  const forced = await runExperiment(cfg, { runsDir, ...quiet, force: true });
  assert.deepEqual(forced.metrics, first.metrics);
  assert.deepEqual(loadRun(first.dir!)?.metrics, first.metrics);
});

test("--force onto a run folder keeps the files the user added there (moved into the new run folder)", async () => {
  const out = path.join(tmp("force"), "run");
  await runExperiment(smoke(), { out, ...quiet });
  fs.writeFileSync(path.join(out, "notes.txt"), "my notes");
  fs.writeFileSync(path.join(out, "model", "mine.txt"), "mine");
  // a file the old run did not write but the new one does (as if the old run had no test split): kept, renamed
  editJson(path.join(out, RUN_MARKER), (seal) => delete (seal.files as Record<string, string>)["predictions-test.jsonl"]);
  fs.writeFileSync(path.join(out, "predictions-test.jsonl"), "my predictions\n");
  const warned: string[] = [];
  const warn = console.warn;
  console.warn = (m: string) => void warned.push(m);
  try {
    await runExperiment(smoke(), { out, ...quiet, force: true });
  } finally {
    console.warn = warn;
  }
  assert.equal(fs.readFileSync(path.join(out, "notes.txt"), "utf8"), "my notes");
  assert.equal(fs.readFileSync(path.join(out, "model", "mine.txt"), "utf8"), "mine");
  assert.equal(fs.readFileSync(path.join(out, "predictions-test.jsonl.yours"), "utf8"), "my predictions\n");
  assert.notEqual(fs.readFileSync(path.join(out, "predictions-test.jsonl"), "utf8"), "my predictions\n", "the new run's own file");
  assert.match(warned.join("\n"), /kept 3 file\(s\) you added to .*: model\/mine\.txt, notes\.txt, predictions-test\.jsonl \(as predictions-test\.jsonl\.yours\)/);
  assert.ok(loadRun(out), "the new run is whole and trusted");
});

test("a runs folder or --export that names a file is a clear error, not a bare EEXIST", async () => {
  const dir = tmp("file");
  const file = path.join(dir, "runs");
  fs.writeFileSync(file, "not a folder");
  await assert.rejects(runExperiment(smoke(), { runsDir: file, ...quiet }), new RegExp(`runs folder ${file.replace(/[/\\.]/g, ".")}: a file of that name exists; expected a folder`));
  assert.throws(() => ensureFolder(path.join(file, "sub"), "--export"), /--export .*runs\/sub: a file is in the way/);
  await assert.rejects(run(tsx, ["src/cli/experiment.ts", "--preset", "smoke"], { cwd: ROOT, env: { ...process.env, MEDREL_RUNS_DIR: file } }), (e: unknown) => {
    assert.match((e as { stderr: string }).stderr, /error: MEDREL_RUNS_DIR .*runs: a file of that name exists; expected a folder/);
    return true;
  });
  assert.equal(fs.readFileSync(file, "utf8"), "not a folder");
});

test("locks carry the holder's start time and boot id: a reused PID or an earlier boot is taken over with a message; a live holder is waited for", async () => {
  const dir = path.join(tmp("lock"), "abcdef012345");
  const lock = `${dir}.lock`;
  const child = spawn("sleep", ["60"], { stdio: "ignore" }); // a live process that is not the holder
  try {
    const pid = child.pid!;
    const ticks = processStartTicks(pid);
    assert.ok(ticks && /^\d+$/.test(ticks), `start ticks of ${pid}: ${ticks}`);
    const boot = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const take = async (info: object): Promise<string[]> => {
      fs.writeFileSync(lock, JSON.stringify({ host: HOST, pid, startedAt: new Date().toISOString(), ...info }));
      const said: string[] = [];
      const release = await lockRun(dir, undefined, (m) => said.push(m));
      assert.match(fs.readFileSync(lock, "utf8"), new RegExp(`"pid":${process.pid},.*"bootId":"${boot}","pidStart":"\\d+"`));
      release();
      return said;
    };
    assert.match((await take({ bootId: boot, pidStart: String(Number(ticks) - 1) })).join(), new RegExp(`PID ${pid} now belongs to a process started later .*; taking it over`));
    assert.match((await take({ bootId: "another-boot", pidStart: ticks })).join(), /ran before this machine rebooted \(boot another-boot/);
    // an older lock without start ticks, taken before the process with its PID started
    assert.match((await take({ startedAt: "2000-01-01T00:00:00.000Z" })).join(), new RegExp(`PID ${pid} now belongs to a process started at`));
    // the real holder (same PID and start time) is waited for, until it is gone
    fs.writeFileSync(lock, JSON.stringify({ host: HOST, pid, startedAt: new Date().toISOString(), bootId: boot, pidStart: ticks }));
    const waited: string[] = [];
    const said: string[] = [];
    const pending = lockRun(dir, (h) => waited.push(h), (m) => said.push(m));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(waited.length, 1, "waiting for a live holder");
    assert.equal(said.length, 0);
    child.kill("SIGKILL");
    const release = await pending;
    assert.match(said.join(), new RegExp(`process ${pid} on ${HOST}.* is no longer running; taking it over`));
    release();
    assert.equal(fs.existsSync(lock), false);
  } finally {
    child.kill("SIGKILL");
  }
});

/** A tiny random model and 64 encoded demo rows: enough to train an epoch in a second. */
async function tinySetup(): Promise<{ tokenizer: RelationTokenizer; rows: Encoded[]; model: () => BertForRelationClassification }> {
  await initBackend({ verbose: false });
  const raw = loadRows(path.join(DEMO_DIR, "train.jsonl")).rows.slice(0, 64);
  const tokenizer = buildCharTokenizer(raw.flatMap((r) => [r.sentence, r.h, r.t]));
  const rows = encodeDataset(tokenizer, raw, { encoding: "Entity_marked2", maxLength: 64, faithful: false }).encoded;
  const config = { ...shapeConfig("tiny", tokenizer.vocabSize), max_position_embeddings: 64 };
  return { tokenizer, rows, model: () => new BertForRelationClassification(config, { numLabels: 10, pooling: "cls", seed: 0 }) };
}

test("a resumed trainer state is checked against its config: epochsDone 999 (or beyond the epochs, or without its history) is refused, never counted as done", async () => {
  const { rows, model } = await tinySetup();
  const dir = tmp("resume");
  const cfg: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, epochs: 2, batchSize: 16, lr: 1e-3, checkpointDir: dir };
  const crash = { progress: false as const, onEpochEnd: () => Promise.reject(new Error("killed after epoch 1")) };
  await assert.rejects(train(model(), rows, rows.slice(0, 16), cfg, crash), /killed after epoch 1/);
  const stateFile = path.join(dir, "last", "trainer_state.json");
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as { epochsDone: number; history: unknown[] };
  assert.equal(state.epochsDone, 1);
  const refuse = async (edit: object, why: RegExp): Promise<void> => {
    fs.writeFileSync(stateFile, JSON.stringify({ ...state, ...edit }));
    await assert.rejects(train(model(), rows, rows.slice(0, 16), cfg, { progress: false }), (e: unknown) => {
      const m = (e as Error).message;
      assert.ok(m.startsWith(stateFile), m);
      assert.match(m, why);
      assert.match(m, new RegExp(`cannot be trusted: delete ${dir.replace(/[/\\.]/g, ".")} to train the run afresh`));
      return true;
    });
  };
  await refuse({ epochsDone: 999 }, /epochsDone 999 is not between 0 and this run's 2 epochs/);
  await refuse({ epochsDone: 2 }, /epochsDone 2, but its history holds 1 epochs/);
  await refuse({ globalStep: 10_000 }, /step 10000 is beyond the \d+ steps the run plans/);
  assert.ok(fs.existsSync(stateFile), "the checkpoint is left for the user to inspect");
  // the untouched state resumes and trains the second epoch
  fs.writeFileSync(stateFile, JSON.stringify(state));
  const done = await train(model(), rows, rows.slice(0, 16), cfg, { progress: false });
  assert.equal(done.resumedFromEpoch, 1);
  assert.equal(done.history.length, 2);
  tf.disposeVariables();
});

/** A fine-tuned tiny checkpoint with `layers` encoder layers, saved as a Hugging Face folder. */
async function savedTiny(layers: number): Promise<string> {
  await initBackend({ verbose: false });
  const dir = tmp("ckpt");
  const model = new BertForRelationClassification({ ...shapeConfig("tiny", 40), num_hidden_layers: layers }, { numLabels: 10, pooling: "cls", seed: 1 });
  await saveCheckpoint(model, dir);
  model.dispose();
  return dir;
}

test("a model config.json with fewer layers than its weights (2 vs 4) is refused, naming both files and the numbers", async () => {
  const dir = await savedTiny(4);
  const config = path.join(dir, "config.json");
  editJson(config, (c) => (c.num_hidden_layers = 2));
  await assert.rejects(loadCheckpoint(dir), (e: unknown) => {
    const m = (e as Error).message;
    assert.ok(m.startsWith(`${config}: field "num_hidden_layers": is 2, but ${path.join(dir, "model.safetensors")} holds 4`), m);
    return true;
  });
  editJson(config, (c) => (c.num_hidden_layers = 4));
  assert.equal((await loadCheckpoint(dir)).config.num_hidden_layers, 4, "the true config loads");
});

test("id2label is checked: odd keys, a duplicate name or a disagreeing label2id are refused; a permuted one is followed with a warning", async () => {
  const dir = await savedTiny(2);
  const config = path.join(dir, "config.json");
  const good = fs.readFileSync(config, "utf8");
  const edit = (f: (c: { id2label: Record<string, string>; label2id: Record<string, number> }) => void): void => editJson(config, (c) => f(c as never));
  edit((c) => {
    delete c.id2label["3"];
    c.id2label["10"] = "x";
  });
  await assert.rejects(loadCheckpoint(dir), /config\.json: field "id2label": has no label name for class 3 \(keys: 0, 1, 2, 4, .*10; num_labels 10\)/);
  fs.writeFileSync(config, good);
  edit((c) => (c.id2label["1"] = c.id2label["0"]));
  await assert.rejects(loadCheckpoint(dir), new RegExp(`field "id2label": names "${LABELS[0].zh}" for classes 0 and 1`));
  fs.writeFileSync(config, good);
  edit((c) => (c.label2id[LABELS[2].zh] = 5));
  await assert.rejects(loadCheckpoint(dir), new RegExp(`field "label2id": maps "${LABELS[2].zh}" to 5, id2label to 2`));
  // the study's labels in another order: predictions follow id2label, and the user is told
  fs.writeFileSync(config, good);
  edit((c) => {
    [c.id2label["0"], c.id2label["1"]] = [c.id2label["1"], c.id2label["0"]];
    [c.label2id[LABELS[0].zh], c.label2id[LABELS[1].zh]] = [1, 0];
  });
  const { labels } = await loadCheckpoint(dir);
  const warned: string[] = [];
  const classes = studyLabelsOf(labels, config, (m) => warned.push(m));
  assert.deepEqual(classes.slice(0, 3), [LABELS[1].zh, LABELS[0].zh, LABELS[2].zh]);
  assert.match(warned.join(), new RegExp(`id2label orders the labels differently from the study \\(0: ${LABELS[1].zh} \\(the study's 0 is ${LABELS[0].zh}\\); 1: ${LABELS[0].zh}`));
  assert.throws(() => studyLabelsOf(["LABEL_0", ...labels.slice(1)], config, () => {}), /class 0 is "LABEL_0", not one of the study's labels/);
});

test("NaN weights: loading names the file and tensor; outputs that are NaN stop predict and evaluation instead of class 0", async () => {
  const dir = await savedTiny(2);
  const file = path.join(dir, "model.safetensors");
  const key = "bert.embeddings.LayerNorm.weight";
  const src = new SafetensorsSource(file);
  const header = 8 + Number(fs.readFileSync(file).readBigUInt64LE(0));
  const offsets = (JSON.parse(fs.readFileSync(file).subarray(8, header).toString("utf8")) as Record<string, { data_offsets: [number, number] }>)[key].data_offsets;
  src.close();
  const bytes = fs.readFileSync(file);
  for (let at = header + offsets[0]; at < header + offsets[1]; at += 4) bytes.writeFloatLE(NaN, at);
  fs.writeFileSync(file, bytes);
  await assert.rejects(loadCheckpoint(dir), new RegExp(`model\\.safetensors \\[${key.replace(/\./g, "\\.")}\\]: 128 of 128 values are NaN or infinite`));
  // a model whose weights went NaN in memory: predict says so and names them
  const { rows, model } = await tinySetup();
  const m = model();
  const ln = m.params.get(key)!;
  ln.assign(tf.fill(ln.shape, NaN));
  await assert.rejects(predict(m, rows), new RegExp(`outputs are NaN for 64 of 64 rows; no prediction can be made \\(weights that are NaN or infinite: ${key.replace(/\./g, "\\.")} \\(128 of 128\\)\\)`));
  await assert.rejects(evaluate(m, rows), /outputs are NaN for 64 of 64 rows/);
  m.dispose();
});

test("predict checks its run: a sealed model edited, a tokenizer smaller than the embedding rows, --output equal to --input", async () => {
  const runsDir = tmp("predict");
  const r = await runExperiment(smoke(), { runsDir, ...quiet });
  const input = path.join(runsDir, "in.jsonl");
  const rows = loadRows(path.join(DEMO_DIR, "test.jsonl")).rows.slice(0, 5);
  fs.writeFileSync(input, rows.map((x) => JSON.stringify(x)).join("\n") + "\n");
  assert.equal((await predictWithRun(r.dir!, rows)).length, 5);
  const weights = path.join(r.dir!, "model", "model.safetensors");
  const saved = fs.readFileSync(weights);
  const bytes = Buffer.from(saved);
  bytes[bytes.length - 1] ^= 1;
  fs.writeFileSync(weights, bytes);
  await assert.rejects(predictWithRun(r.dir!, rows), new RegExp(`${weights.replace(/[/\\.]/g, ".")}: changed after the run was written`));
  fs.writeFileSync(weights, saved);
  // an older run without digests: the tokenizer is checked against the embedding rows
  fs.writeFileSync(path.join(r.dir!, RUN_MARKER), JSON.stringify({ written: "2025-01-01T00:00:00.000Z" }));
  const modelDir = path.join(r.dir!, "model");
  fs.rmSync(path.join(modelDir, "tokenizer.json"), { force: true });
  const vocab = fs.readFileSync(path.join(modelDir, "vocab.txt"), "utf8").split("\n").slice(0, 50);
  fs.writeFileSync(path.join(modelDir, "vocab.txt"), vocab.join("\n") + "\n");
  await assert.rejects(predictWithRun(r.dir!, rows), /vocab\.txt: \d+ tokens, but .*config\.json and its weights have \d+ word-embedding rows: this is not the tokenizer the model was trained with/);
  const before = fs.readFileSync(input, "utf8");
  await assert.rejects(run(tsx, ["src/cli/predict.ts", "--run", r.dir!, "--input", input, "--output", path.join(runsDir, ".", "in.jsonl")], { cwd: ROOT }), (e: unknown) => {
    assert.match((e as { stderr: string }).stderr, /error: --output .*in\.jsonl is the --input file: writing the predictions there would overwrite the rows/);
    return true;
  });
  assert.equal(fs.readFileSync(input, "utf8"), before, "the input is untouched");
});

/** A torch.save zip whose one storage (`declared` F32 values) holds `bytes` of zeros instead, deflated. */
function bombZip(declared: number, bytes: number): Buffer {
  const pkl = Buffer.concat([
    Buffer.from([0x80, 0x02, 0x7d]), // PROTO 2, EMPTY_DICT
    pickleStr("w"),
    Buffer.from("ctorch._utils\n_rebuild_tensor_v2\n(", "latin1"),
    Buffer.from("("), pickleStr("storage"), Buffer.from("ctorch\nFloatStorage\n", "latin1"), pickleStr("0"), pickleStr("cpu"),
    Buffer.from([0x4a]), int32(declared), Buffer.from("tQ", "latin1"), // (…) TUPLE, BINPERSID
    Buffer.from([0x4b, 0x00]), // storage offset 0
    Buffer.from([0x4a]), int32(declared), Buffer.from([0x85]), // size (declared,)
    Buffer.from([0x4b, 0x01, 0x85]), // stride (1,)
    Buffer.from([0x89, 0x7d]), Buffer.from("tRs.", "latin1"), // False, {} ) REDUCE SETITEM STOP
  ]);
  return Buffer.from(zipSync({ "archive/data.pkl": [pkl, { level: 0 }], "archive/data/0": [new Uint8Array(bytes), { level: 9 }] }));
}
function pickleStr(s: string): Buffer {
  return Buffer.concat([Buffer.from([0x58]), int32(Buffer.byteLength(s)), Buffer.from(s)]);
}
function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}

/** Overwrite the uncompressed size an entry declares, in its local header and in the central directory. */
function declareSize(zip: Buffer, name: string, size: number): void {
  const n = Buffer.from(name);
  for (let i = 0; i + 46 < zip.length; i++) {
    const sig = zip.readUInt32LE(i);
    if (sig === 0x04034b50 && zip.readUInt16LE(i + 26) === n.length && zip.subarray(i + 30, i + 30 + n.length).equals(n)) zip.writeUInt32LE(size, i + 22);
    if (sig === 0x02014b50 && zip.readUInt16LE(i + 28) === n.length && zip.subarray(i + 46, i + 46 + n.length).equals(n)) zip.writeUInt32LE(size, i + 24);
  }
}

test("a zip pytorch_model.bin that would inflate far beyond the sizes its pickle declares is refused (1 KB declared, 50 MB inflated)", () => {
  const dir = tmp("bomb");
  const file = path.join(dir, "pytorch_model.bin");
  fs.writeFileSync(file, bombZip(256, 256 * 4));
  const ok = new PytorchSource(file);
  assert.deepEqual([...ok.readFloat32("w")].slice(0, 3), [0, 0, 0], "the honest file reads");
  ok.close();
  const bomb = bombZip(256, 50 << 20);
  assert.ok(bomb.length < 200_000, `${bomb.length} bytes on disk`);
  fs.writeFileSync(file, bomb);
  assert.throws(() => new PytorchSource(file), /pytorch_model\.bin \[archive\/data\/0\]: the zip entry declares 52428800 bytes, but data\.pkl declares storage 0 as 256 F32 values \(1024 bytes\): refused/);
  // the entry lies too (declares 1 KB): inflation stops at the declared size
  declareSize(bomb, "archive/data/0", 1024);
  fs.writeFileSync(file, bomb);
  const liar = new PytorchSource(file);
  assert.throws(() => liar.readFloat32("w"), /\[archive\/data\/0\]: inflates to more than the 1024 bytes its zip entry declares: refused/);
  liar.close();
  // a data.pkl that declares gigabytes is refused before it is read
  const pkl = Buffer.from(zipSync({ "archive/data.pkl": [new Uint8Array(1 << 20), { level: 9 }] }));
  declareSize(pkl, "archive/data.pkl", 2 ** 31);
  fs.writeFileSync(file, pkl);
  assert.throws(() => new PytorchSource(file), /\[archive\/data\.pkl\]: the zip entry declares 2147483648 bytes; a state_dict's data\.pkl is far below 67108864: refused/);
});

test("weights files that alias or run backwards: overlapping safetensors data_offsets and a negative pickle stride are refused by name", () => {
  const dir = tmp("alias");
  const file = path.join(dir, "model.safetensors");
  const header = Buffer.from(JSON.stringify({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] }, b: { dtype: "F32", shape: [4], data_offsets: [8, 24] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  fs.writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(24)]));
  assert.throws(() => new SafetensorsSource(file), /model\.safetensors \[b\]: data_offsets \[8, 24\] overlap those of "a" \[0, 16\]: tensors must not share bytes/);
  const bin = path.join(dir, "pytorch_model.bin");
  const entries = unzipSync(bombZip(4, 16));
  const pkl = Buffer.from(entries["archive/data.pkl"]);
  const stride = pkl.indexOf(Buffer.from([0x4b, 0x01, 0x85]));
  const negative = Buffer.concat([pkl.subarray(0, stride), Buffer.from([0x4a]), int32(-1), pkl.subarray(stride + 2)]);
  fs.writeFileSync(bin, Buffer.from(zipSync({ "archive/data.pkl": negative, "archive/data/0": entries["archive/data/0"] }, { level: 0 })));
  assert.throws(() => new PytorchSource(bin), /pytorch_model\.bin \[w\]: tensor view with storage offset 0, size \[4\], stride \[-1\]: negative values are not a tensor torch can write/);
});

test("head == tail rows are kept and reported as a warning of the load report", () => {
  const file = path.join(tmp("same"), "rows.jsonl");
  const row = (id: string, h: string, t: string): string => JSON.stringify({ id, sentence: "糖尿病患者可出现口渴", h, t, r: "临床表现" });
  fs.writeFileSync(file, [row("1", "糖尿病", "口渴"), row("2", "糖尿病", "糖尿病")].join("\n") + "\n");
  const { rows, report } = loadRows(file);
  assert.equal(rows.length, 2, "kept");
  assert.equal(report.counts.same_entity, 1);
  assert.match(report.issues.find((i) => i.kind === "same_entity")!.message, /rows\.jsonl:2: field "t": head and tail are the same entity "糖尿病"/);
});

test("MEDREL_BLAS_THREADS beyond what the pool runs is capped with a warning; beyond the cores it is kept with a warning", () => {
  const said: string[] = [];
  assert.equal(blasThreads({ MEDREL_BLAS_THREADS: "999" }, (m) => said.push(m), 2), 64);
  assert.match(said[0], /MEDREL_BLAS_THREADS=999 capped at 64, the most the native pool runs \(this machine has 2 cores\)/);
  assert.equal(blasThreads({ MEDREL_BLAS_THREADS: "4" }, (m) => said.push(m), 2), 4);
  assert.match(said[1], /MEDREL_BLAS_THREADS=4 is more than this machine's 2 cores/);
  assert.equal(blasThreads({ MEDREL_BLAS_THREADS: "2" }, (m) => said.push(m), 2), 2);
  assert.equal(blasThreads({}, (m) => said.push(m), 2), 2);
  assert.equal(said.length, 2, "no warning for a count the machine has");
  assert.throws(() => blasThreads({ MEDREL_BLAS_THREADS: "0" }), /must be a positive integer, got "0"/);
});

// ---- issue 35: shipped results prove themselves ------------------------------------------------

/** A copy of the shipped results/study (the four files and their predictions) to edit. */
function studyCopy(): string {
  const dir = tmp("study");
  fs.cpSync(path.join(ROOT, "results", "study"), dir, { recursive: true });
  return dir;
}
type ShippedJson = { grid: { variant: string; seed: number; hash: string }[]; runs: (Record<string, unknown> & { variant: string; seed: number; hash: string; metrics: Metrics; splits: Record<string, Metrics> })[] };
const editResults = (file: string, edit: (j: ShippedJson) => void): void => editJson(file, edit as unknown as (v: Record<string, unknown>) => void);
const listing = (dir: string): string[] => fs.readdirSync(dir, { recursive: true }).map(String).sort();

test("the four shipped results files prove themselves: every run's metrics recompute from its predictions, every hash is its table's job", () => {
  const t0 = Date.now();
  const runs = TABLE_NAMES.map((t) => readResultsFile(path.join(ROOT, "results", "study", `${t}.json`), t));
  assert.deepEqual(runs.flatMap((r) => r.rejected.map((x) => x.message)), [], "no shipped run is left out");
  assert.ok(new Set(runs.flatMap((r) => r.runs.map((x) => x.hash))).size >= 58);
  console.log(`# four shipped files checked in ${Date.now() - t0} ms`);
});

test("defect 1: a macro_f1 raised by 5 points is left out by name (its own confusion matrix, splits.dev and predictions disagree); --config FILE#HASH refuses it", () => {
  const dir = studyCopy();
  const file = path.join(dir, "loss.json");
  const before = loadResults("loss", dir)!;
  editResults(file, (j) => j.runs.filter((r) => r.variant === "Weighted Loss").forEach((r) => (r.metrics.macro_f1 += 0.05)));
  const t = loadResults("loss", dir)!;
  assert.equal(t.rejected.length, 5);
  for (const r of t.rejected) assert.match(r.message, /loss\.json: runs\[\d+\] \(Weighted Loss, seed \d, [0-9a-f]{12}\): metrics\.macro_f1: [\d.]+ stored, but its own confusion matrix gives [\d.]+/);
  assert.deepEqual(t.seeds["Weighted Loss"], [], "left out of the table and its readings");
  assert.equal(t.records.length, 15);
  assert.deepEqual(t.progress, { done: 15, total: 20 });
  assert.notDeepEqual(t.readings, before.readings);
  assert.match(leftOutLines(t).join("\n"), /5 run\(s\) of .*loss\.json are left out of every number below/);
  const hash = t.rejected[0].hash!;
  assert.throws(() => shippedRun(`${file}#${hash}`), new RegExp(`loss\\.json: run ${hash} does not prove itself, so nothing is compared with it: .*metrics\\.macro_f1`));
  // edited coherently (a class's F1, macro-F1, the matrix and splits.dev all agree): the shipped predictions still disagree
  editResults(file, (j) => {
    const r = j.runs.find((x) => x.variant === "Regular Loss")!;
    const cm = r.metrics.confusion.map((row) => [...row]);
    const p = cm[0].findIndex((n, k) => k > 0 && n > 0); // one mistake of class 0 made right
    cm[0][p] -= 1;
    cm[0][0] += 1;
    r.metrics = metricsFromConfusion(cm);
    r.splits.dev = r.metrics;
  });
  const again = loadResults("loss", dir)!;
  assert.match(again.rejected.find((r) => r.variant === "Regular Loss")!.message, /splits\.dev\.\S+: [\d.]+ stored, but its shipped predictions give [\d.]+/);
});

test("defect 2: swapped variant strings, an augmentation run pasted into loss.json and jobs deleted from a grid are each named, never ranked", () => {
  const dir = studyCopy();
  const loss = path.join(dir, "loss.json");
  const good = fs.readFileSync(loss, "utf8");
  const swap: Record<string, string> = { "Regular Loss": "Weighted Loss", "Weighted Loss": "Regular Loss" };
  editResults(loss, (j) => j.runs.forEach((r) => (r.variant = swap[r.variant] ?? r.variant)));
  const swapped = loadResults("loss", dir)!;
  assert.equal(swapped.rejected.length, 10);
  assert.match(swapped.rejected[0].message, /loss\.json: runs\[\d+\] \(Weighted Loss, seed 0, [0-9a-f]{12}\): config: not the loss table's "Weighted Loss" job for seed 0 \(preset quick\): config\.loss\.scheme: "manual" → "none"/);
  assert.deepEqual([swapped.seeds["Regular Loss"], swapped.seeds["Weighted Loss"]], [[], []]);
  // an augmentation run pasted in: not a row of the loss table, not a fifth row of it
  fs.writeFileSync(loss, good);
  const aug = (JSON.parse(fs.readFileSync(path.join(dir, "augmentation.json"), "utf8")) as ShippedJson).runs.find((r) => r.variant === "Weighted+Aug")!;
  editResults(loss, (j) => j.runs.push(aug));
  const pasted = loadResults("loss", dir)!;
  assert.equal(pasted.rejected.length, 1);
  assert.match(pasted.rejected[0].message, /loss\.json: runs\[20\] \(Weighted\+Aug, seed 0, [0-9a-f]{12}\): variant: "Weighted\+Aug" is not a row of the loss table/);
  assert.deepEqual(pasted.variants, ["Regular Loss", "Weighted Loss", "Hard-class weights", "Effective-number weights"]);
  assert.ok(pasted.records.every((r) => r.variant !== "Weighted+Aug") && !pasted.summary.join(" ").includes("Weighted+Aug"), "not ranked");
  // a row's runs and then the missing jobs deleted from augmentation.json's grid: the file is refused, not "all runs of the grid"
  const augFile = path.join(dir, "augmentation.json");
  editResults(augFile, (j) => {
    j.runs = j.runs.filter((r) => r.variant !== "Weighted+char noise");
    j.grid = j.grid.filter((g) => j.runs.some((r) => r.hash === g.hash));
  });
  assert.throws(() => loadResults("augmentation", dir), /augmentation\.json: grid: lacks 5 job\(s\) of the augmentation table for seeds 0, 1, 2, 3, 4 \(Weighted\+char noise seed 0, .*restore it from git/);
  assert.throws(() => resultsProgress(dir), /grid: lacks 5 job/);
});

test("defects 3 and 4: --export refuses to drop shipped runs (a tampered entry, another grid's runs) before writing anything; --replace does it on purpose", async () => {
  const dir = studyCopy();
  const loss = path.join(dir, "loss.json");
  editResults(loss, (j) => {
    j.runs[3].metrics.macro_f1 = 0.99;
    j.runs[4].variant = "Super Loss";
  });
  const tampered = fs.readFileSync(loss, "utf8");
  const files = listing(dir);
  const runsDir = tmp("no-runs");
  const opts = { tables: ["loss"] as TableName[], preset: "quick" as const, dataDir: STUDY_DATA_DIR, seeds: 5, export: dir, train: false, runsDir, quiet: true };
  await assert.rejects(reproduce(opts), (e: Error) => {
    assert.equal(e.name, "ExportConflictError");
    assert.match(e.message, /loss\.json holds 2 run\(s\) this export would drop .*2 of them do not prove themselves \(.*runs\[3\] .*metrics\.macro_f1.*Nothing was written\. .*--replace/);
    return true;
  });
  assert.equal(fs.readFileSync(loss, "utf8"), tampered, "the file is not rewritten");
  // defect 4: the demo smoke grid exported into the study's folder (--data-dir forgotten)
  fs.cpSync(path.join(ROOT, "results", "study", "loss.json"), loss);
  const shipped = fs.readFileSync(loss, "utf8");
  await assert.rejects(reproduce({ ...opts, preset: "smoke", dataDir: undefined, seeds: 1 }), (e: Error) => {
    assert.match(e.message, /--export .*: .*loss\.json holds 20 run\(s\) this export would drop \(Regular Loss seed 0 \(251bcd44b080\), .*written by `npm run reproduce -- --table all --data-dir \.\.\/shared\/data --seeds 5/);
    return true;
  });
  assert.equal(fs.readFileSync(loss, "utf8"), shipped);
  assert.deepEqual(listing(dir), files, "no demo predictions added, nothing removed");
  // on purpose: the demo grid replaces the file (its runs are not in this runs folder: 0 of 2)
  await reproduce({ ...opts, preset: "smoke", dataDir: undefined, seeds: 1, replace: true });
  assert.equal((JSON.parse(fs.readFileSync(loss, "utf8")) as ShippedJson).grid.length, 2);
});

test("defects 5 and 6: a shipped run's sentences are joined only to the data it was made on; without that data the error analysis says what is missing", () => {
  const t = loadResults("loss", path.join(ROOT, "results", "study"))!;
  const run = t.runs.find((r) => r.variant === "Weighted Loss")!;
  const dataAt = (dir: string) => ({ ...run, config: { ...run.config!, data: { kind: "dir" as const, dir } } });
  // the same data in another folder: joined (the fingerprint is of content, not of where it is)
  const same = tmp("same-data");
  fs.cpSync(STUDY_DATA_DIR, same, { recursive: true });
  assert.equal(sentencesProblem(dataAt(same), "dev"), undefined);
  const joined = savedPredictions(dataAt(same), "dev");
  assert.equal(joined.length, 2000);
  // defect 6: the same ids and labels, other sentences: refused by the recorded fingerprint, nothing shown
  const other = tmp("other-data");
  fs.cpSync(STUDY_DATA_DIR, other, { recursive: true });
  const val = path.join(other, "study_val.jsonl");
  fs.chmodSync(val, 0o644);
  fs.writeFileSync(val, fs.readFileSync(val, "utf8").replace(/"sentence":\s*"/g, '"sentence": "另一句话。'));
  assert.throws(() => savedPredictions(dataAt(other), "dev"), (e: Error) => {
    assert.match(e.message, new RegExp(`${run.hash}-dev\\.jsonl: .*other-data[^ ]* on this machine is not the data run ${run.hash} was made on \\(fingerprint [0-9a-f]{16}, the results file records 669fa8dc7ebb21e6\\): .*none is shown`));
    return true;
  });
  // defect 5: no data folder at all; the error analysis shows the summed matrix's pairs and says what is missing
  const gone = path.join(tmp("clone"), "shared", "data");
  assert.match(sentencesProblem(dataAt(gone), "dev")!, /the sentences of these predictions are in the dev split of .*shared\/data, which is not on this machine; every number shown comes from results\/study alone/);
  const logged: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void logged.push(a.join(" "));
  try {
    showErrorAnalysis({ ...t, runs: t.runs.map((r) => (r.variant === "Weighted Loss" ? dataAt(gone) : r)) }, { variant: "Weighted Loss" });
  } finally {
    console.log = log;
  }
  assert.match(logged.join("\n"), /Weighted Loss: most confused pairs summed over 5 seeds, as in the matrix above \(no example sentences: the sentences of these predictions are in the dev split/);
});

test("weak point: an export that cannot be written names the file and the reason, and leaves no temp file", () => {
  const parent = tmp("export-fail");
  const blocker = path.join(parent, "not-a-folder");
  fs.writeFileSync(blocker, "mine");
  assert.throws(() => exportResults(path.join(blocker, "study"), { table: "loss", grid: [], runs: [], command: "test" }), /--export: cannot write .*not-a-folder\/study \((ENOTDIR|EEXIST): .*a read-only folder or a full disk\?/);
  assert.deepEqual(fs.readdirSync(parent), ["not-a-folder"]);
  assert.equal(fs.readFileSync(blocker, "utf8"), "mine");
});

test("weak point: a duplicated run or a run of another split in a results file is left out with the file named", () => {
  const dir = studyCopy();
  const loss = path.join(dir, "loss.json");
  editResults(loss, (j) => {
    j.runs.push(j.runs[0]);
    j.runs[1].split = "test";
  });
  const t = loadResults("loss", dir)!;
  assert.deepEqual(t.rejected.map((r) => r.index), [1, 20]);
  assert.match(t.rejected[0].message, /loss\.json: runs\[1\] \(.*\): splits\.test: missing, though the run reports its test split/);
  assert.match(t.rejected[1].message, /loss\.json: runs\[20\] \(Regular Loss, seed 0, 251bcd44b080\): duplicates runs\[0\] \(the same run listed twice\)/);
  assert.equal(t.records.length, 19);
});

test("a models-table run of a checkpoint this machine lacks (models/ is not shipped) is still its table's job, not left out", () => {
  const dir = studyCopy();
  const file = path.join(dir, "models.json");
  editResults(file, (j) => {
    const r = j.runs.find((x) => x.variant === "tiny (pretrained in-domain)" && x.seed === 0)!;
    const config = { ...(r.config as ExperimentConfig), model: { kind: "checkpoint" as const, dir: "models/biobert-elsewhere", name: "BioBERT" } };
    const identity = { ...(r.identity as { data: { kind: string; content: string } }), model: { kind: "checkpoint", weights: "0123456789abcdef" } };
    const hashOf = (seed: number) => {
      const { data: _d, model: _m, ...settings } = { ...config, seed };
      return hashOfParts({ settings, ...identity });
    };
    for (const s of ["selection", "dev"]) fs.copyFileSync(path.join(dir, "predictions", `${r.hash}-${s}.jsonl`), path.join(dir, "predictions", `${hashOf(0)}-${s}.jsonl`));
    j.runs.push({ ...r, variant: "BioBERT", config, identity, hash: hashOf(0) });
    j.grid.push(...[0, 1, 2, 3, 4].map((seed) => ({ variant: "BioBERT", seed, hash: hashOf(seed) })));
  });
  const t = loadResults("models", dir)!;
  assert.deepEqual(t.rejected, []);
  assert.deepEqual(t.seeds.BioBERT, [0]);
});
