/**
 * What a hostile (or unlucky) user does: --out onto their own folder, the same run started twice, TSV fields with
 * quotes, files that are not UTF-8, a config.json with absurd sizes, bad rows the CLI must show, empty files, typos in
 * a config, a full disk, a killed run's leftovers. Each test reproduces the input and asserts the message (file,
 * line, field where there is one) and that nothing was lost.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn } from "node:child_process";
import { promisify } from "node:util";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { presetConfig, runExperiment, type ExperimentConfig } from "../src/experiments";
import { lockRun, RUN_MARKER, readConfigFile, dataFingerprint, parseExperimentConfig } from "../src/runs";
import { DEMO_DIR, loadRows } from "../src/data";
import { loadPretrained } from "../src/model";
import { writeFolder } from "../src/train";
import { initBackend } from "../src/backend/select";
import { killWhen } from "./helpers";

const ROOT = path.resolve(__dirname, "..");
const run = promisify(execFile);
const tmp = (name: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `medrel-hostile-${name}-`));
const smoke = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({ ...presetConfig("smoke"), ...over });
const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");

/** A small study-layout folder (train/val/test) cut from the demo, optionally with extra raw lines in train. */
function dataDir(extraTrainLines: string[] = []): string {
  const dir = tmp("data");
  const lines = (f: string, n: number): string[] => fs.readFileSync(path.join(DEMO_DIR, f), "utf8").trim().split("\n").slice(0, n);
  fs.writeFileSync(path.join(dir, "train.jsonl"), [...lines("train.jsonl", 300), ...extraTrainLines].join("\n") + "\n");
  fs.writeFileSync(path.join(dir, "val.jsonl"), lines("val.jsonl", 60).join("\n") + "\n");
  fs.writeFileSync(path.join(dir, "test.jsonl"), lines("test.jsonl", 60).join("\n") + "\n");
  return dir;
}

test("--out onto a folder that is not a run of ours is refused before training; nothing in it is touched", async () => {
  const mine = tmp("mine");
  fs.writeFileSync(path.join(mine, "thesis.tex"), "my thesis");
  await assert.rejects(runExperiment(smoke(), { out: mine, progress: false, verbose: false }), (e: unknown) => {
    assert.match((e as Error).message, new RegExp(`${mine.replace(/[/\\]/g, ".")}: the folder exists and holds 1 entries that are not a run of this project`));
    return true;
  });
  assert.deepEqual(fs.readdirSync(mine), ["thesis.tex"]);
  assert.equal(fs.readFileSync(path.join(mine, "thesis.tex"), "utf8"), "my thesis");
  // a temp folder beside it was never created (refused before any work)
  assert.equal(fs.readdirSync(path.dirname(mine)).filter((n) => n.startsWith(path.basename(mine) + ".tmp-")).length, 0);
});

test("--out onto an earlier run of ours replaces it; a killed run's temp folder beside it is cleaned", async () => {
  const parent = tmp("out");
  const out = path.join(parent, "run");
  const first = await runExperiment(smoke(), { out, progress: false, verbose: false });
  assert.ok(fs.existsSync(path.join(out, RUN_MARKER)), "every run folder carries the marker");
  fs.mkdirSync(path.join(parent, `run.tmp-medrel-${os.hostname().replace(/[^A-Za-z0-9_.-]/g, "_")}-999999-1`)); // a dead writer's leftovers
  const again = await runExperiment(smoke(), { out, progress: false, verbose: false, force: true });
  assert.notEqual(again.info.startedAt, first.info.startedAt);
  assert.deepEqual(again.metrics, first.metrics);
  assert.deepEqual(fs.readdirSync(parent).sort(), ["run"], "the dead run's temp folder is gone, no other leftovers");
});

test("the same run started by two processes at once: one trains, the other waits and loads it; a stale lock is taken over", async () => {
  const runsDir = tmp("twice");
  const cfg = JSON.stringify(smoke({ seed: 11 }));
  const script = `import { runExperiment } from ${JSON.stringify(path.join(ROOT, "src", "experiments"))};
runExperiment(${cfg}, { runsDir: ${JSON.stringify(runsDir)}, progress: false, verbose: false }).then((r) => console.log(JSON.stringify({ started: r.info.startedAt, f1: r.metrics.dev.macro_f1 })));`;
  const file = path.join(runsDir, "..", `twice-${process.pid}.ts`);
  fs.writeFileSync(file, script);
  const one = (): Promise<{ code: number | null; out: string; err: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: ROOT });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("exit", (code) => resolve({ code, out, err }));
    });
  const [a, b] = await Promise.all([one(), one()]);
  assert.equal(a.code, 0, a.err);
  assert.equal(b.code, 0, b.err);
  const ra = JSON.parse(a.out.trim().split("\n").pop()!) as { started: string; f1: number };
  const rb = JSON.parse(b.out.trim().split("\n").pop()!) as { started: string; f1: number };
  assert.equal(ra.started, rb.started, "one training, loaded by the other");
  assert.equal(ra.f1, rb.f1);
  assert.deepEqual(fs.readdirSync(runsDir).filter((n) => !/^(teacher-)?[0-9a-f]{12}$/.test(n)), [], "no lock, temp or checkpoint left");
  assert.equal(fs.readdirSync(runsDir).filter((n) => n.startsWith("teacher-")).length, 1, "its teacher, fitted once too");
  // a lock left by a killed process (dead pid on this host) does not block
  const dir = path.join(runsDir, "abcdef012345");
  fs.writeFileSync(`${dir}.lock`, JSON.stringify({ host: os.hostname().replace(/[^A-Za-z0-9_.-]/g, "_"), pid: 999999, startedAt: "x" }));
  const release = await lockRun(dir);
  assert.match(fs.readFileSync(`${dir}.lock`, "utf8"), new RegExp(`"pid":${process.pid}`));
  release();
  assert.equal(fs.existsSync(`${dir}.lock`), false);
});

test("TSV has no quoting: a field starting with a double quote does not swallow the rows after it", () => {
  const dir = tmp("tsv");
  const file = path.join(dir, "rows.tsv");
  const rows = Array.from({ length: 200 }, (_, i) => `${i}\t${i === 3 ? '"引号开头的句子' : "句子"}${i}\t句子\t子\t临床表现`);
  fs.writeFileSync(file, ["id\tsentence\th\tt\tr", ...rows].join("\n") + "\n");
  const { rows: got, report } = loadRows(file, { mode: "lenient" });
  assert.equal(got.length, 200);
  assert.equal(got[3].sentence, '"引号开头的句子3');
  assert.equal(report.dropped, 0);
  // a row with a missing tab is an error naming file, line and the missing field
  fs.writeFileSync(file, "id\tsentence\th\tt\tr\n1\t句子\t句\t子\n");
  assert.throws(() => loadRows(file), /rows\.tsv:2: field "r": expected 5 tab-separated fields, found 4/);
});

test("invalid UTF-8 is never replaced silently: strict names file and line, lenient drops the row and reports it", () => {
  const dir = tmp("utf8");
  const file = path.join(dir, "rows.jsonl");
  const good = (i: number): string => JSON.stringify({ id: String(i), sentence: "糖尿病患者可出现口渴", h: "糖尿病", t: "口渴", r: "临床表现" });
  const bad = Buffer.concat([Buffer.from('{"id": "2", "sentence": "糖尿病'), Buffer.from([0xe7, 0xb3]), Buffer.from('患者", "h": "糖尿病", "t": "口渴", "r": "临床表现"}')]);
  fs.writeFileSync(file, Buffer.concat([Buffer.from(good(1) + "\n"), bad, Buffer.from("\n" + good(3) + "\n")]));
  assert.throws(() => loadRows(file), /rows\.jsonl:2: invalid UTF-8 on line 2/);
  const { rows, report } = loadRows(file, { mode: "lenient" });
  assert.deepEqual(rows.map((r) => r.id), ["1", "3"]);
  assert.equal(report.counts.malformed, 1);
  assert.ok(!rows.some((r) => r.sentence.includes("\uFFFD")));
});

test("a config.json with absurd sizes is refused from the weight file's shapes, before anything is built", async () => {
  await initBackend({ verbose: false });
  const dir = tmp("absurd");
  const src = path.join(ROOT, "test", "fixtures", "parity", "cls");
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, num_hidden_layers: 1000000 }));
  const t0 = Date.now();
  await assert.rejects(loadPretrained(dir, { numLabels: 10, pooling: "cls", seed: 0 }), /config\.json: field "num_hidden_layers": is 1000000, but .*model\.safetensors holds 2/);
  assert.ok(Date.now() - t0 < 5000, "refused at once");
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, hidden_size: 4096, num_attention_heads: 64 }));
  await assert.rejects(loadPretrained(dir, { numLabels: 10, pooling: "cls", seed: 0 }), /field "hidden_size": is 4096, but .* holds \d+/);
});

test("npm run experiment prints the data report (counts per reason, first lines); --strict fails on the first bad row", async () => {
  const dir = dataDir([
    '{"id": "x1", "sentence": "句子", "h": "句"}',
    '{"id": "x2", "sentence": "句子", "h": "句", "t": "子", "r": "不是标签"}',
    "not json at all",
  ]);
  const out = path.join(tmp("cli"), "run");
  const { stdout } = await run(tsx, ["src/cli/experiment.ts", "--data-dir", dir, "--preset", "smoke", "--out", out], { cwd: ROOT });
  assert.match(stdout, /train\.jsonl:301: field "t": missing/);
  assert.match(stdout, /error unknown_label: 1, 1 dropped/);
  assert.match(stdout, /train\.jsonl:303: malformed JSON line/);
  await assert.rejects(run(tsx, ["src/cli/experiment.ts", "--data-dir", dir, "--preset", "smoke", "--strict", "--out", `${out}2`], { cwd: ROOT }), (e: unknown) => {
    assert.match((e as { stderr: string }).stderr, /train\.jsonl:301: field "t": missing/);
    return true;
  });
});

test("an empty or fully rejected train file, an empty dev file, and predict on an all-bad input name the file and why", async () => {
  const dir = dataDir();
  fs.writeFileSync(path.join(dir, "train.jsonl"), '{"id": "1", "sentence": "句子"}\nnot json\n');
  await assert.rejects(runExperiment(smoke({ data: { kind: "dir", dir } }), { progress: false, verbose: false, runsDir: tmp("r") }), (e: unknown) => {
    const m = (e as Error).message;
    assert.match(m, /train split .*train\.jsonl: no usable rows \(2 read; rejected: 1 malformed, 1 missing_field\)/);
    assert.match(m, /train\.jsonl:1: field "h": missing/);
    return true;
  });
  const dir2 = dataDir();
  fs.writeFileSync(path.join(dir2, "val.jsonl"), "");
  await assert.rejects(runExperiment(smoke({ data: { kind: "dir", dir: dir2 } }), { progress: false, verbose: false, runsDir: tmp("r") }), /dev split .*val\.jsonl: no usable rows \(0 read\)/);
  const bad = path.join(tmp("pred"), "in.jsonl");
  fs.writeFileSync(bad, '{"id": "1"}\n{"sentence": "x"}\n');
  const runDir = (await runExperiment(smoke(), { progress: false, verbose: false, runsDir: tmp("r") })).dir!;
  await assert.rejects(run(tsx, ["src/cli/predict.ts", "--run", runDir, "--input", bad], { cwd: ROOT }), (e: unknown) => {
    assert.match((e as { stderr: string }).stderr, /in\.jsonl: no usable rows to predict \(2 read, 2 rejected/);
    assert.match((e as { stderr: string }).stderr, /in\.jsonl:1: field "sentence": missing/);
    return true;
  });
});

test("weak points: duplicate ids are reported, config typos and empty config files are refused by name, --seeds 0 is refused", async () => {
  const dir = tmp("weak");
  const file = path.join(dir, "rows.jsonl");
  const row = (id: string, t: string): string => JSON.stringify({ id, sentence: "糖尿病患者可出现口渴和乏力", h: "糖尿病", t, r: "临床表现" });
  fs.writeFileSync(file, [row("7", "口渴"), row("7", "乏力")].join("\n") + "\n");
  const { rows, report } = loadRows(file);
  assert.equal(rows.length, 2, "kept, as every warning");
  assert.equal(report.counts.duplicate_id, 1);
  assert.match(report.issues[0].message, /rows\.jsonl:2: field "id": id "7" is also the id of the row at line 1/);
  assert.throws(() => parseExperimentConfig({ ...smoke(), epoch: 3 } as unknown, "my.json"), /invalid experiment config \(my\.json\):\n {2}\(root\): Unrecognized key: "epoch"/);
  const empty = path.join(dir, "empty.json");
  fs.writeFileSync(empty, "");
  assert.throws(() => readConfigFile(empty), new RegExp(`${empty.replace(/[/\\.]/g, ".")}\\):\\n {2}the file is empty`));
  await assert.rejects(run(tsx, ["src/cli/reproduce.ts", "--table", "loss", "--seeds", "0"], { cwd: ROOT }), /--seeds must be a positive integer/);
  await assert.rejects(run(tsx, ["src/cli/experiment.ts", "--preset", "smoke", "--config", empty], { cwd: ROOT }), /empty\.json\):\n {2}the file is empty/);
});

test("a write that fails (a full disk) names the folder and leaves no temp folder behind", async () => {
  const dir = path.join(tmp("enospc"), "last");
  const full = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  await assert.rejects(
    writeFolder(dir, async (tmpDir) => {
      fs.writeFileSync(path.join(tmpDir, "half.bin"), "x");
      throw full;
    }),
    new RegExp(`${dir.replace(/[/\\]/g, ".")}: could not write it: ENOSPC`),
  );
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), [], "the partial temp folder was removed");
  // a loaded folder is untouched by a failed rewrite
  await writeFolder(dir, async (t) => fs.writeFileSync(path.join(t, "ok"), "1"));
  await assert.rejects(writeFolder(dir, async () => Promise.reject(full)));
  assert.equal(fs.readFileSync(path.join(dir, "ok"), "utf8"), "1");
});

test("kill -9 mid-epoch: re-running the same command resumes from the last mid-epoch save and ends with the uninterrupted run's numbers", { timeout: 600_000 }, async () => {
  const dir = tmp("kill9");
  const cfgFile = path.join(dir, "cfg.json");
  fs.writeFileSync(cfgFile, JSON.stringify({ maxTrainRows: 400, maxEvalRows: 60, epochs: 2 }));
  const args = (out: string): string[] => ["--import", "tsx", "src/cli/experiment.ts", "--preset", "quick", "--config", cfgFile, "--out", out, "--checkpoint-minutes", "0.002"];
  const env = { ...process.env, MEDREL_PROGRESS: "silent" };
  const straight = path.join(dir, "straight");
  await run(process.execPath, args(straight), { cwd: ROOT, env });
  const killed = path.join(dir, "killed");
  const state = path.join(`${killed}.ckpt`, "last", "trainer_state.json");
  const child = spawn(process.execPath, args(killed), { cwd: ROOT, env, stdio: "ignore" });
  await killWhen(child, () => {
    const s = fs.existsSync(state) ? (JSON.parse(fs.readFileSync(state, "utf8")) as { epochsDone: number; stepInEpoch?: number }) : undefined;
    return s !== undefined && s.epochsDone === 1 && (s.stepInEpoch ?? 0) > 0;
  }, "mid-epoch");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(fs.existsSync(killed), false, "no run folder from the killed attempt");
  const { stdout } = await run(process.execPath, args(killed), { cwd: ROOT, env: { ...env, MEDREL_PROGRESS: "lines" } });
  assert.match(stdout, /resumed from .*1\/2 epochs done and \d+ batches of epoch 2/);
  assert.equal(fs.readFileSync(path.join(killed, "metrics.json"), "utf8"), fs.readFileSync(path.join(straight, "metrics.json"), "utf8"));
  assert.equal(fs.existsSync(`${killed}.ckpt`), false, "checkpoints removed once the run is complete");
});

// ---- issue 35: predict's output, absurd sizes and counts, what is not a file or not a notebook ----------------

/** A folder that looks like a run of ours (its marker) with a sealed predictions file, and one input row. */
function fakeRun(): { runDir: string; sealed: string; input: string } {
  const runDir = tmp("run");
  fs.writeFileSync(path.join(runDir, RUN_MARKER), "{}");
  const sealed = path.join(runDir, "predictions-dev.jsonl");
  fs.writeFileSync(sealed, "sealed\n");
  const input = path.join(tmp("in"), "rows.jsonl");
  fs.writeFileSync(input, JSON.stringify({ id: "1", sentence: "糖尿病患者可出现口渴", h: "糖尿病", t: "口渴" }) + "\n");
  return { runDir, sealed, input };
}
const failure = (p: Promise<unknown>): Promise<{ stderr: string; stdout: string; code: number }> =>
  p.then(
    () => assert.fail("expected the command to fail"),
    (e: { stderr: string; stdout: string; code: number }) => e,
  );

test("defect 7: predict --output onto a run's own predictions-dev.jsonl is refused before predicting; a missing --output folder too", async () => {
  const { runDir, sealed, input } = fakeRun();
  const e = await failure(run(tsx, ["src/cli/predict.ts", "--run", runDir, "--input", input, "--output", sealed], { cwd: ROOT }));
  assert.match(e.stderr, /error: --output .*predictions-dev\.jsonl is inside the run folder .*: a run's files are sealed/);
  assert.equal(fs.readFileSync(sealed, "utf8"), "sealed\n", "the sealed file is untouched");
  const nowhere = path.join(tmp("out"), "no", "such", "preds.jsonl");
  const e2 = await failure(run(tsx, ["src/cli/predict.ts", "--run", runDir, "--input", input, "--output", nowhere], { cwd: ROOT }));
  assert.match(e2.stderr, /error: --output .*preds\.jsonl: the folder .*no\/such does not exist; create it first \(checked before predicting\)/);
});

test("defect 8: a 60 MB input line is refused as one row (its length named), not tokenized for minutes nor echoed", async () => {
  const { runDir } = fakeRun();
  const input = path.join(tmp("huge"), "rows.jsonl");
  fs.writeFileSync(input, JSON.stringify({ id: "big", sentence: "糖".repeat(20e6), h: "糖", t: "尿" }) + "\n"); // 60 MB of UTF-8
  const t0 = Date.now();
  const e = await failure(run(tsx, ["src/cli/predict.ts", "--run", runDir, "--input", input], { cwd: ROOT, maxBuffer: 1 << 20 }));
  assert.match(e.stderr, /field "?sentence"?.*20000000 characters, more than the 5000 a row's text may have/);
  assert.match(e.stderr, /no usable rows to predict/);
  assert.ok(e.stderr.length + e.stdout.length < 20_000, `the row is not echoed (${e.stderr.length} bytes)`);
  console.log(`# 60 MB line refused in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test("defect 9: --epochs 1e9, an augmentation multiplier of 1e6 and --seeds 100000000 are refused before any work", async () => {
  assert.throws(() => parseExperimentConfig({ ...smoke(), epochs: 1e9 }, "x.json"), /invalid experiment config \(x\.json\):\n {2}epochs: Too big: expected number to be <=1000/);
  assert.throws(() => parseExperimentConfig({ ...smoke(), augment: { hardRule: "study", strategies: ["oversample"], multiplier: 1e6 } }), /augment\.multiplier: Too big/);
  const e = await failure(run(tsx, ["src/cli/experiment.ts", "--epochs", "1e9"], { cwd: ROOT, env: { ...process.env, MEDREL_RUNS_DIR: tmp("runs") } }));
  assert.match(e.stderr, /--epochs 1e9: Too big: expected number to be <=1000/);
  const r = await failure(run(tsx, ["src/cli/reproduce.ts", "--table", "loss", "--seeds", "100000000", "--no-train"], { cwd: ROOT }));
  assert.match(r.stderr, /--seeds 100000000: at most 1000 seeds per variant/);
  const v = await failure(run(tsx, ["src/cli/reproduce.ts", "--table", "loss", "--variants", ",", "--no-train"], { cwd: ROOT }));
  assert.match(v.stderr, /--variants "," names no row of the table/);
});

test("defect 10 and weak points: a non-notebook to --execute, --port 70000, a folder, a FIFO, /dev/zero and a link loop as data are named plainly", async () => {
  const e = await failure(run(tsx, ["src/cli/notebook.ts", "--execute", "README.md"], { cwd: ROOT }));
  assert.match(e.stderr, /README\.md: not a Jupyter notebook \(expected a \.ipynb file: JSON with "nbformat" and "cells"\)/);
  assert.doesNotMatch(e.stderr + e.stdout, /Traceback|medrel-notebooks\n/, "no Python traceback, no echo of the file");
  const p = await failure(run(tsx, ["src/cli/notebook.ts", "--port", "70000"], { cwd: ROOT }));
  assert.match(p.stderr, /--port must be a port between 1 and 65535, got "70000"/);
  const dir = tmp("odd");
  fs.symlinkSync(path.join(dir, "loop"), path.join(dir, "loop"));
  execFileSync("mkfifo", [path.join(dir, "fifo")]);
  assert.throws(() => loadRows(dir), /is a folder, not a file of rows/);
  assert.throws(() => loadRows(path.join(dir, "loop")), /loop: a symbolic link loop/);
  assert.throws(() => loadRows(path.join(dir, "fifo")), /fifo: is not a regular file \(a pipe, FIFO or device/);
  assert.throws(() => loadRows("/dev/zero"), /\/dev\/zero: is not a regular file/);
  assert.throws(() => dataFingerprint({ kind: "files", train: path.join(dir, "fifo"), dev: path.join(dir, "fifo") }), /fifo: not a regular file \(a pipe, FIFO, device or folder\)/);
});
