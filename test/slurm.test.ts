/**
 * environment/slurm/grid.sbatch run as SLURM would run one array task (its environment variables set by hand):
 * the shard it trains, the threads it asks for, and its errors. The real cluster test is `npm run test:slurm`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { shardJobs } from "../src/experiments";
import { reproduceGrid } from "../src/cli/reproduce";

const ROOT = path.resolve(__dirname, "..");
const SCRIPT = path.join(ROOT, "environment", "slurm", "grid.sbatch");

function task(env: Record<string, string>): { status: number | null; out: string; err: string } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SLURM_") && !k.startsWith("MEDREL_")));
  const r = spawnSync("bash", [SCRIPT], { cwd: os.tmpdir(), env: { ...base, SLURM_SUBMIT_DIR: ROOT, ...env }, encoding: "utf8" });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const ARRAY_TASK = { SLURM_ARRAY_JOB_ID: "7", SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_COUNT: "2", SLURM_ARRAY_TASK_MIN: "0" };

test("an array task trains its shard of the grid into MEDREL_RUNS_DIR, with --cpus-per-task BLAS threads", { timeout: 120_000 }, (t) => {
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-sbatch-"));
  t.after(() => fs.rmSync(runsDir, { recursive: true, force: true }));
  const r = task({ ...ARRAY_TASK, SLURM_CPUS_PER_TASK: "2", MEDREL_TABLE: "loss", MEDREL_PRESET: "smoke", MEDREL_SEEDS: "1", MEDREL_RUNS_DIR: runsDir });
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /^\[grid\] job 7_1 attempt 1 on .+: shard 2\/2, 2 BLAS thread\(s\)$/m);
  assert.match(r.out, /reproduce loss \(preset smoke, 1 seeds\), shard 2\/2: 1 distinct runs and 1 n-gram teachers/);
  assert.doesNotMatch(r.out, /== loss/, "--quiet: no table");
  const grid = reproduceGrid({ tables: ["loss"], preset: "smoke", seeds: 1 }).byTable.get("loss") ?? [];
  const mine = shardJobs(grid, { index: 2, count: 2 });
  assert.deepEqual(mine.map((j) => j.kind), ["teacher", "run"], "the shard's run and the teacher it reads");
  assert.deepEqual(fs.readdirSync(runsDir).sort(), mine.map((j) => j.hash).sort());
});

test("grid.sbatch refuses a missing table, a plain (non-array) job and an array not numbered 0..n-1", () => {
  const noTable = task({ ...ARRAY_TASK });
  assert.notEqual(noTable.status, 0);
  assert.match(noTable.err, /MEDREL_TABLE: set MEDREL_TABLE to models, encodings, loss, augmentation or all/);
  const plain = task({ MEDREL_TABLE: "loss" });
  assert.equal(plain.status, 2);
  assert.match(plain.err, /\[grid\] error: submit as a job array \(sbatch --array=0-N\), SLURM_ARRAY_TASK_ID is not set/);
  const offset = task({ ...ARRAY_TASK, SLURM_ARRAY_TASK_ID: "2", MEDREL_TABLE: "loss" });
  assert.equal(offset.status, 2);
  assert.match(offset.err, /the array must be 0\.\.n-1 \(got task 2 of 2, min 0\); submit with --array=0-1/);
});
