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
import { promisify } from "node:util";
import {
  RUN_MARKER,
  cleanIncompleteRuns,
  configHash,
  dataFingerprint,
  ensureFolder,
  existingRuns,
  loadRun,
  lockRun,
  modelFingerprint,
  presetConfig,
  processStartTicks,
  runExperiment,
  type ExperimentConfig,
} from "../src/experiments";
import { initBackend } from "../src/backend/select";
import { DEMO_DIR, loadRows } from "../src/data";
import { buildCharTokenizer, encodeDataset, type RelationTokenizer } from "../src/encoding";
import type { Encoded } from "../src/encoding/types";
import { BertForRelationClassification, shapeConfig } from "../src/model";
import { DEFAULT_TRAIN_CONFIG, train, type TrainConfig } from "../src/train";

const ROOT = path.resolve(__dirname, "..");
const CLS = path.join(ROOT, "test", "fixtures", "parity", "cls");
const HOST = os.hostname().replace(/[^A-Za-z0-9_.-]/g, "_");
const run = promisify(execFile);
const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
const smoke = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({ ...presetConfig("smoke"), maxTrainRows: 48, maxEvalRows: 16, ...over });
const quiet = { progress: false, verbose: false } as const;
const tmp = (name: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `medrel-trust-${name}-`));

test("fingerprints: files under 16 MiB hash exactly as before (pinned), so shipped runs keep their config hashes", () => {
  // the values the sampled-fingerprint code gave; the whole-file digest must give the same for small files
  assert.equal(modelFingerprint(CLS), "73a83e078e092f57");
  const files = { kind: "files", train: path.join(CLS, "config.json"), dev: path.join(CLS, "model.safetensors") } as const;
  assert.equal(dataFingerprint(files), "7aa81a22c43f99bf");
  assert.equal(dataFingerprint({ kind: "demo" }), "b5e7c3c0dfb0a223");
  assert.equal(configHash(presetConfig("smoke")), "d3c26aebb740");
  assert.equal(configHash(presetConfig("quick")), "1ba8c3fda4c6");
  const cfg: ExperimentConfig = { ...presetConfig("smoke"), data: { ...files, test: path.join(CLS, "pytorch_model.bin") } };
  assert.equal(configHash(cfg), "696ba257a0ad");
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
  const seal = JSON.parse(fs.readFileSync(path.join(first.dir, RUN_MARKER), "utf8")) as { hash: string; files: Record<string, string> };
  assert.equal(seal.hash, first.hash);
  assert.ok(["config.json", "metrics.json", "run.json", "predictions-dev.jsonl", "model/model.safetensors"].every((f) => f in seal.files), Object.keys(seal.files).join(", "));
  const file = (f: string): string => path.join(first.dir, f);
  const original = (f: string): string => fs.readFileSync(file(f), "utf8");
  const [metrics, config] = [original("metrics.json"), original("config.json")];
  const refused = (f: string, why: RegExp) => (e: unknown): boolean => {
    const m = (e as Error).message;
    assert.ok(m.includes(file(f)), m);
    assert.match(m, why);
    assert.match(m, /re-run it with --force/);
    return true;
  };
  const job = [{ hash: first.hash, config: cfg }];

  fs.writeFileSync(file("metrics.json"), metrics.replace(/"macro_f1": [0-9.e-]+/, '"macro_f1": 0.99'));
  await assert.rejects(runExperiment(cfg, { runsDir, ...quiet }), refused("metrics.json", /changed after the run was written/));
  assert.throws(() => existingRuns(job, runsDir), refused("metrics.json", /changed after the run was written/));
  assert.match(original("metrics.json"), /"macro_f1": 0\.99/, "the refused folder is left as it is");
  fs.writeFileSync(file("metrics.json"), metrics);

  fs.writeFileSync(file("config.json"), config.replace('"epochs": 1', '"epochs": 4'));
  assert.throws(() => loadRun(first.dir), refused("config.json", /changed after the run was written/));
  // a run written before seals carried digests: config.json is checked against the folder's name instead
  fs.writeFileSync(file(RUN_MARKER), JSON.stringify({ written: "2025-01-01T00:00:00.000Z" }));
  assert.throws(() => existingRuns(job, runsDir), refused("config.json", new RegExp(`hashes to [0-9a-f]{12}, but the folder is named as run ${first.hash}`)));
  fs.writeFileSync(file("config.json"), config);
  fs.writeFileSync(file("metrics.json"), metrics.slice(0, 100));
  await assert.rejects(runExperiment(cfg, { runsDir, ...quiet }), refused("metrics.json", /unreadable \(/));
  fs.writeFileSync(file("metrics.json"), "null");
  assert.throws(() => loadRun(first.dir), refused("metrics.json", /expected a JSON object with a "dev" object, got null/));

  // a sealed run copied under another run's name
  fs.writeFileSync(file("metrics.json"), metrics);
  fs.writeFileSync(file(RUN_MARKER), JSON.stringify(seal));
  const renamed = path.join(runsDir, "0123456789ab");
  fs.cpSync(first.dir, renamed, { recursive: true });
  assert.throws(() => loadRun(renamed), new RegExp(`named as run 0123456789ab but its \\.medrel-run says it is run ${first.hash}`));
  assert.deepEqual(loadRun(first.dir)?.metrics, first.metrics, "restored: trusted again");
  // --force retrains over an untrusted folder
  fs.writeFileSync(file("metrics.json"), "{");
  const forced = await runExperiment(cfg, { runsDir, ...quiet, force: true });
  assert.deepEqual(forced.metrics, first.metrics);
  assert.deepEqual(loadRun(first.dir)?.metrics, first.metrics);
});

test("--force onto a run folder keeps the files the user added there (moved into the new run folder)", async () => {
  const out = path.join(tmp("force"), "run");
  await runExperiment(smoke(), { out, ...quiet });
  fs.writeFileSync(path.join(out, "notes.txt"), "my notes");
  fs.writeFileSync(path.join(out, "model", "mine.txt"), "mine");
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
  assert.match(warned.join("\n"), /kept 2 file\(s\) you added to .*: model\/mine\.txt, notes\.txt/);
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
