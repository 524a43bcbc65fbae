/**
 * src/pretrain/quantize + snapshot: the compact committed snapshot of a pre-training run. Its codes (8-bit log
 * moments, second moment rounded up, float16 weights); that an uninterrupted run and a run resumed from a
 * snapshot on another "machine" (no local state) end with byte-equal weights and moments, for ELECTRA and MLM;
 * and the git budget: the ledger of committed bytes, a refused snapshot, a commit of the snapshot folder alone.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync, spawn } from "node:child_process";
import { initBackend } from "../src/backend/select";
import { Rng } from "../src/random";
import { decodeSecondMoment, decodeSigned, encodeSecondMoment, encodeSigned, QUANT_BLOCK } from "../src/pretrain/quantize";
import { runPretrain, type PretrainConfig, type Pretrainer } from "../src/pretrain/pretrain";
import { commitSnapshot, gitLedger, writeSnapshot, type SnapshotFormat } from "../src/pretrain/snapshot";
import { PRETRAIN_SENTENCES as SENTENCES, tinyPretrainConfig } from "./helpers";


// the production backend (WASM + OpenBLAS kernels, AdamW moments on the host): the bits that must repeat are its bits
const ready = initBackend({ verbose: false });

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "medrel-snapshot-"));
}

function texts(): string[] {
  const rng = new Rng(9);
  const out: string[] = [];
  for (let i = 0; i < 48; i++) out.push(SENTENCES[i % SENTENCES.length].slice(rng.int(6)));
  return out;
}

function config(objective: "mlm" | "electra"): PretrainConfig {
  // curve points every 3 steps, snapshots every 4: a resume starts mid-window
  return tinyPretrainConfig({ maxLength: 40, batchSize: 8, totalSteps: 12, saveEvery: 3, logEvery: 3, seed: 5, ...(objective === "electra" ? { discWeight: 50 } : {}) }, objective === "electra");
}

test("quantize: moments survive as 8-bit log codes; v rounds up and never to 0; signs and zeros kept", () => {
  const rng = new Rng(3);
  const n = 5 * QUANT_BLOCK + 17;
  const m = new Float32Array(n);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // values over ~12 decades, some exact zeros
    const mag = 10 ** (-12 * rng.next());
    m[i] = i % 97 === 0 ? 0 : (rng.next() < 0.5 ? -1 : 1) * mag;
    v[i] = i % 89 === 0 ? 0 : mag * mag;
  }
  const dm = decodeSigned(encodeSigned(m));
  const dv = decodeSecondMoment(encodeSecondMoment(v));
  let mIn = 0;
  for (let i = 0; i < n; i++) {
    if (m[i] === 0) assert.equal(dm[i], 0);
    else if (dm[i] !== 0) assert.equal(Math.sign(dm[i]), Math.sign(m[i]));
    const s = Math.max(...Array.from(m.subarray(Math.floor(i / QUANT_BLOCK) * QUANT_BLOCK, Math.floor(i / QUANT_BLOCK) * QUANT_BLOCK + QUANT_BLOCK), Math.abs));
    if (Math.abs(m[i]) > s * 2 ** -15) {
      mIn++;
      assert.ok(Math.abs(dm[i] / m[i] - 1) < 0.045, `m[${i}] ${m[i]} -> ${dm[i]}`);
    }
    if (v[i] === 0) assert.equal(dv[i], 0);
    else {
      assert.ok(dv[i] > 0, `v[${i}] ${v[i]} decoded to 0`);
      assert.ok(dv[i] >= v[i] * (1 - 1e-6), `v[${i}] ${v[i]} rounded down to ${dv[i]}`);
    }
  }
  assert.ok(mIn > n / 3, "most m values are in range");
  // in range, v's code is within one step (2^(1/16) on √v) above the truth
  const q = new Float32Array(QUANT_BLOCK).map((_, i) => 1e-4 * (1 + i));
  const dq = decodeSecondMoment(encodeSecondMoment(q));
  q.forEach((x, i) => assert.ok(dq[i] / x >= 1 - 1e-6 && dq[i] / x <= 2 ** (2 / 16) * (1 + 1e-6), `v ${x} -> ${dq[i]}`));
});

async function weightsOf(t: Pretrainer): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of t.params) out.set(k, (await v.data()) as Float32Array);
  for (const [k, x] of await t.optimizer.stateTensors()) out.set(`adam:${k}`, x.data);
  return out;
}

function assertSameBits(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, x] of a) {
    const y = b.get(k)!;
    assert.ok(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength)), `${what}: ${k} differs`);
  }
}

const CASES: ["electra" | "mlm", SnapshotFormat][] = [["electra", {}], ["mlm", {}], ["electra", { firstMoment: "none" }]];
for (const [objective, format] of CASES) {
  test(`snapshot (${objective}${format.firstMoment ? `, first moment ${format.firstMoment}` : ""}): a run resumed from the committed snapshot on a fresh machine is bit-identical to the uninterrupted run`, async () => {
    await ready;
    const cfg = config(objective);
    const quiet = { log: () => undefined };
    // A: 12 steps straight, snapshots at 4, 8, 12 (each a round trip of the live state)
    const a = tmpDir();
    const straight = await runPretrain(cfg, texts(), path.join(a, "work"), { ...quiet, snapshot: { dir: path.join(a, "snapshot"), everySteps: 4, format } });
    assert.deepEqual(straight.state.snapshotSteps, [4, 8, 12]);
    const wa = await weightsOf(straight);
    const curveA = straight.state.curve;
    straight.dispose();

    // B: the same run killed at step 4 (its snapshot written), then its machine lost: only the snapshot folder moves on
    const b = tmpDir();
    const part = await runPretrain(cfg, texts(), path.join(b, "work"), { ...quiet, stopAtStep: 4, snapshot: { dir: path.join(b, "snapshot"), everySteps: 4, format } });
    assert.equal(part.state.step, 4);
    part.dispose();
    const moved = tmpDir();
    fs.cpSync(path.join(b, "snapshot"), path.join(moved, "snapshot"), { recursive: true });
    const lines: string[] = [];
    const resumed = await runPretrain(cfg, texts(), path.join(moved, "work"), { log: (l) => lines.push(l), snapshot: { dir: path.join(moved, "snapshot"), everySteps: 4, format } });
    assert.ok(lines.some((l) => /resumed at step 4 from the snapshot/.test(l)), lines.join("\n"));
    assert.equal(resumed.state.step, 12);
    assertSameBits(wa, await weightsOf(resumed), "resumed vs straight");
    assert.deepEqual(resumed.state.curve, curveA.map((p, i) => ({ ...p, seconds: resumed.state.curve[i].seconds })), "the same curve");
    resumed.dispose();

    // the round trip is real: without snapshots the same steps end elsewhere
    const none = await runPretrain(cfg, texts(), path.join(tmpDir(), "work"), quiet);
    const wn = await weightsOf(none);
    none.dispose();
    const k = "bert.encoder.layer.0.attention.self.query.weight";
    assert.ok(!Buffer.from(wn.get(k)!.buffer).equals(Buffer.from(wa.get(k)!.buffer)), "snapshots changed nothing: the test would prove nothing");

    // a local state further on than the snapshot wins (the machine that wrote it)
    const again = await runPretrain({ ...cfg, totalSteps: 14 }, texts(), path.join(a, "work"), { log: (l) => lines.push(l), snapshot: { dir: path.join(b, "snapshot"), everySteps: 4, format } });
    assert.ok(lines.some((l) => new RegExp(`resumed at step 12 from ${path.join(a, "work").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`).test(l)));
    again.dispose();
  });
}

test("snapshot budget: the ledger counts every committed version, a snapshot past the budget is refused, commit stages the snapshot folder alone", async () => {
  await ready;
  const repo = tmpDir();
  const g = (...args: string[]): string => execFileSync("git", args, { cwd: repo, encoding: "utf8" });
  g("init", "-q");
  g("config", "user.email", "t@example.com");
  g("config", "user.name", "t");
  fs.writeFileSync(path.join(repo, "other.txt"), "not part of the snapshot\n");
  g("add", "other.txt");
  g("commit", "-q", "-m", "init");
  fs.writeFileSync(path.join(repo, "other.txt"), "changed, staged, must not be committed\n");
  g("add", "other.txt");
  const out = path.join(repo, "data", "pretrained", "x");
  const snapDir = path.join(out, "snapshot");
  const cfg = config("electra");
  const t = await runPretrain({ ...cfg, totalSteps: 2, logEvery: 1 }, texts(), path.join(repo, ".cache"), { log: () => undefined });
  // a budget smaller than one snapshot: refused, the trainer untouched
  const before = await weightsOf(t);
  const refused = await writeSnapshot(t, snapDir, { root: out, bytes: 10_000, reserve: 0 });
  assert.equal(refused.written, false);
  assert.match(refused.message, /NOT written/);
  assert.ok(!fs.existsSync(snapDir));
  assertSameBits(before, await weightsOf(t), "refused snapshot");
  const ok = await writeSnapshot(t, snapDir, { root: out, bytes: 60 * 1048576, reserve: 0 });
  assert.ok(ok.written && ok.addedBytes > 0 && ok.usedBytes === 0, ok.message);
  const msg = commitSnapshot(snapDir, { root: out, budgetBytes: 60 * 1048576, name: "x" });
  assert.match(msg ?? "", /pretrain x: snapshot at step 2\/2, gen MLM loss [\d.]+, disc loss [\d.]+ .*MB of 60\.00 MB/);
  assert.deepEqual(g("show", "--name-only", "--format=", "HEAD").trim().split("\n").every((f) => f.startsWith("data/pretrained/x/snapshot/")), true);
  assert.match(g("status", "--porcelain"), /^M  other\.txt/m, "the other staged change stays staged, uncommitted");
  const l1 = gitLedger(out);
  assert.ok(Math.abs(l1.bytes - ok.addedBytes) < 0.02 * ok.addedBytes + 2048, `ledger ${l1.bytes} vs estimate ${ok.addedBytes}`);
  assert.equal(commitSnapshot(snapDir, { root: out, budgetBytes: 60 * 1048576 }), null, "unchanged: nothing to commit");
  // a second version: both count
  await t.step();
  await writeSnapshot(t, snapDir, { root: out, bytes: 60 * 1048576, reserve: 0 });
  commitSnapshot(snapDir, { root: out, budgetBytes: 60 * 1048576 });
  const l2 = gitLedger(out);
  assert.equal(l2.versions, 2);
  assert.ok(l2.bytes > 1.8 * l1.bytes - 100_000, `two versions ${l2.bytes} vs one ${l1.bytes}`);
  assert.throws(() => {
    fs.appendFileSync(path.join(snapDir, "curve.csv"), "x\n");
    commitSnapshot(snapDir, { root: out, budgetBytes: l2.bytes + 10 });
  }, /refused/);
  t.dispose();
});

const SHARED_DATA = path.resolve(__dirname, "..", "..", "shared", "data");

test("npm run pretrain: a SIGTERM to npm ends the run with its snapshot, state and export (the machine is taken away)", { skip: !fs.existsSync(SHARED_DATA) && "../shared/data is absent" }, async () => {
  const dir = tmpDir();
  const out = path.join(dir, "out");
  // a run far longer than the test: only the signal ends it. Steps of ≈ 0.1 s: a launcher that kills its child when
  // it does not answer a signal within a few ms (tsx's does, after 60 ms) fails here
  const args = ["run", "--silent", "pretrain", "--", "--objective", "electra", "--layers", "2", "--hidden", "64", "--heads", "1", "--intermediate", "256",
    "--batch-size", "32", "--max-length", "64", "--steps", "1000000", "--data-dir", SHARED_DATA, "--out", out, "--work", path.join(dir, "work")];
  const child = spawn("npm", args, { cwd: path.resolve(__dirname, ".."), stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, MEDREL_BLAS_THREADS: "1" } });
  let log = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no training step within 120 s:\n${log}`)), 120_000);
    const onData = (b: Buffer): void => {
      log += b.toString();
      if (/step 20\/1000000/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
  });
  child.kill("SIGTERM"); // to npm itself, as a machine's shutdown or a job scheduler sends it
  // npm exits as soon as it has passed the signal on; the trainer finishes its step and writes
  await exited;
  const deadline = Date.now() + 60_000;
  while (!/exported step \d+/.test(log) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const stopped = Number(/stopping at step (\d+) \(signal\)/.exec(log)?.[1]);
  assert.ok(stopped >= 20, `the trainer saw the signal:\n${log.slice(-2000)}`);
  assert.match(log, new RegExp(`snapshot at step ${stopped}:`));
  assert.match(log, new RegExp(`exported step ${stopped} to`));
  assert.ok(fs.existsSync(path.join(out, "model.safetensors")) && fs.existsSync(path.join(out, "snapshot")));
  const state = JSON.parse(fs.readFileSync(path.join(dir, "work", "state", "state.json"), "utf8")) as { step: number };
  assert.equal(state.step, stopped, "state/ saved at the step the signal ended");
});
