/**
 * bench:throughput's derived numbers (FLOPs from the shapes, best-vs-best and equal-threads ratios, the printed
 * lines) on hand-made results, the README table they render, a row per CPU (test/readme.test.ts checks README.md
 * against it), PyTorch's OpenBLAS cores and the per-configuration time limit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { GRID_PHASES, readGridFile, renderGridBlock } from "../bench/grid";
import { TABLE_HEADER, readResult, readResults, renderReadmeTable } from "../bench/readme-table";
import { runJson } from "../bench/throughput";
import {
  SIZES,
  bestLine,
  compare,
  cpuShortName,
  cpuSlug,
  equalLine,
  flopsLine,
  limitError,
  stats,
  stepFlops,
  torchCores,
  upgradeResult,
  type ConfigRun,
  type ThroughputResult,
  type ThroughputResultV1,
} from "../bench/throughput-results";
import type { BlasCoreChoice } from "../src/backend/cpu";

function run(side: ConfigRun["side"], blas: number, torchThreads: number | undefined, train: number, evalS: number, extra: Partial<ConfigRun> = {}): ConfigRun {
  return { side, blasThreads: blas, torchThreads, seq: 96, train: stats([train, train * 0.99, train * 1.02]), eval: stats([evalS]), wallSeconds: 1, ...extra };
}

/** tiny with the reviewer's figures: tfjs 143 / 131 ms, torch 142 (1, 1) and 110 (2, 1) ms */
function result(): ThroughputResult {
  const runs = [
    run("tfjs", 1, undefined, 0.143, 0.04),
    run("torch", 1, 1, 0.142, 0.03),
    run("torch", 1, 2, 0.15, 0.032),
    run("tfjs", 2, undefined, 0.131, 0.035),
    run("torch", 2, 1, 0.11, 0.028),
    run("torch", 2, 2, 0.125, 0.029),
    run("tfjs", 1, undefined, 0.05, 0.01, { native: false }), // a pure-WASM reference never counts as "best"
    { side: "torch", blasThreads: 2, torchThreads: 2, seq: 96, wallSeconds: 1, error: "killed" },
  ] as ConfigRun[];
  return {
    schema: 2,
    date: "2026-12-02T10:00:00.000Z",
    command: "npm run bench:throughput",
    quick: false,
    machine: { cpu: "AMD EPYC", cores: 2, memoryGiB: 24, loadavgStart: [0.1, 0.1, 0.1], loadavgEnd: [1, 1, 1], env: { OPENBLAS_CORETYPE: "Haswell", MEDREL_X: "1" }, blasCore: { source: "user", core: "Haswell" }, denormalsFlushed: true },
    versions: { torch: "1.13.0a0", openblas: "OpenBLAS 0.3.21 DYNAMIC_ARCH Haswell; core Haswell; 1 thread(s)" },
    settings: {},
    sgemm: [
      { threads: 1, gflops: stats([80]) },
      { threads: 2, gflops: stats([150]) },
    ],
    sizes: [{ size: SIZES.tiny, flops: stepFlops(SIZES.tiny), runs }],
    seq: [],
    totalSeconds: 840,
  };
}

test("stats: median and quartiles by linear interpolation", () => {
  const s = stats([5, 1, 4, 2, 3]);
  assert.deepEqual([s.median, s.q1, s.q3], [3, 2, 4]);
  assert.deepEqual([stats([1, 2, 3, 4]).median, stats([1, 2, 3, 4]).q1], [2.5, 1.75]);
});

test("stepFlops counts the base step by hand", () => {
  // dense 12·(4·768² + 2·768·3072) = 84,934,656 weights over 8·128 tokens: 2·84,934,656·1024 = 173,946,175,488;
  // attention 4·B·L·T²·H = 4·8·12·128²·768 = 4,831,838,208; pooler + classifier 2·8·(768² + 768·10) = 9,560,064
  const fwd = 173_946_175_488 + 4_831_838_208 + 9_560_064;
  assert.deepEqual(stepFlops(SIZES.base), { train: 3 * fwd, eval: fwd });
});

test("best-vs-best and equal-threads ratios pick each side's fastest configuration", () => {
  const runs = result().sizes[0].runs;
  assert.equal(bestLine("tiny", runs, "train"), "best-vs-best tiny: ratio 1.19 (tfjs 131 ms/step, 2 threads; torch 110 ms/step, OpenBLAS 2, torch 1)");
  assert.equal(equalLine("tiny", runs, "train"), "equal-threads tiny: ratio 1.01 (1 thread) / 1.19 (2 threads)");
  assert.equal(bestLine("tiny", runs, "eval"), "eval best-vs-best tiny: ratio 1.25 (tfjs 35.0 ms/batch, 2 threads; torch 28.0 ms/batch, OpenBLAS 2, torch 1)");
  assert.equal(equalLine("tiny", runs, "eval"), "eval equal-threads tiny: ratio 1.33 (1 thread) / 1.25 (2 threads)");
  // torch (1, 2) uses two threads: it is not a 1-thread configuration
  assert.equal(compare(runs, "train", 1)?.torch.torchThreads, 1);
});

test("GFLOP/s line: the step's FLOPs over our fastest step against the sgemm rate at its threads", () => {
  const r = result();
  // tiny train: 3·(2·393,216·3,072 + 4·32·2·96²·128 + 2·32·(128² + 1,280)) = 8,157,118,464 FLOP in 0.131 s
  assert.equal(r.sizes[0].flops.train, 8_157_118_464);
  assert.equal(flopsLine(r, r.sizes[0]), "GFLOP/s tiny: tfjs step 62.3 GFLOP/s (8.16 GFLOP/step) = 42% of sgemm 150.0 GFLOP/s at 2 thread(s)");
});

test("the README table renders a row per size naming its CPU, and a caption; a --quick result is refused", () => {
  const table = renderReadmeTable([result()]).split("\n");
  assert.equal(table[0], TABLE_HEADER);
  assert.equal(table[2], "| AMD EPYC | tiny (2/128/96/32) | 131 (2) | 110 (2, 1) | 1.19 | 1.01 / 1.19 | 1.25 | 1.33 / 1.25 | 62 (42%) |");
  assert.equal(
    table[6],
    "- **AMD EPYC** (2 cores, 24 GiB): measured 2026-12-02 (load average 0.1 at the start) by `npm run bench:throughput` in 14 min, bench/results/throughput/amd-epyc.json. " +
      "Our OpenBLAS core Haswell, OPENBLAS_CORETYPE=Haswell set in the environment: sgemm 1024³ 80 / 150 GFLOP/s at 1 / 2 thread(s). " +
      "PyTorch 1.13.0a0 core not recorded. Denormal floats: flushed to zero in our kernels, not recorded for PyTorch. " +
      "No times: tiny T=96 torch OpenBLAS 2, torch 2 (killed).",
  );
  assert.throws(() => renderReadmeTable([{ ...result(), quick: true }]), /AMD EPYC result is a --quick one, not for the README/);
});

test("CPU names: short for the table, a file name per model", () => {
  assert.equal(cpuShortName("Intel(R) Xeon(R) Platinum 8480C CPU @ 2.00GHz"), "Intel Xeon Platinum 8480C");
  assert.equal(cpuShortName("AMD EPYC 7B13 64-Core Processor"), "AMD EPYC 7B13");
  assert.equal(cpuSlug("Intel(R) Xeon(R) Platinum 8480C CPU @ 2.00GHz"), "intel-xeon-platinum-8480c");
  assert.equal(cpuSlug("AMD EPYC"), "amd-epyc");
});

/** an Intel result where OpenBLAS falls back to Prescott: PyTorch under Prescott and under the Cooperlake our loader selects */
function intel(): ThroughputResult {
  const medrel: BlasCoreChoice = { source: "medrel", core: "Cooperlake", fallback: "Prescott" };
  const own: BlasCoreChoice = { source: "openblas", core: "Prescott" };
  const torch = (blas: number, core: BlasCoreChoice, train: number): ConfigRun => run("torch", blas, 1, train, train / 3, { blasCore: core, denormalsFlushed: true });
  const tiny = [run("tfjs", 1, undefined, 0.101, 0.03, { blasCore: medrel }), torch(1, own, 0.235), torch(1, medrel, 0.153), torch(2, own, 0.2), torch(2, medrel, 0.12)];
  const stopped = (side: ConfigRun["side"], blas: number): ConfigRun => ({ side, blasThreads: blas, ...(side === "torch" ? { torchThreads: 1 } : {}), seq: 128, wallSeconds: 300, error: limitError(300) });
  const base = [stopped("tfjs", 1), run("torch", 1, 1, 4.0, 1.2, { seq: 128, blasCore: medrel, denormalsFlushed: true }), stopped("torch", 2)];
  return {
    ...result(),
    date: "2026-12-06T10:00:00.000Z",
    machine: { cpu: "Intel(R) Xeon(R) Platinum 8480C CPU @ 2.00GHz", cores: 2, memoryGiB: 8, loadavgStart: [0.2, 0, 0], loadavgEnd: [1, 1, 1], env: {}, blasCore: medrel, denormalsFlushed: true },
    sizes: [
      { size: SIZES.tiny, flops: stepFlops(SIZES.tiny), runs: tiny },
      { size: SIZES.base, flops: stepFlops(SIZES.base), runs: base },
    ],
    limitSeconds: 300,
  };
}

test("PyTorch's best over OpenBLAS cores: the faster core counts, and the line and table name it", () => {
  const runs = intel().sizes[0].runs;
  assert.equal(bestLine("tiny", runs, "train"), "best-vs-best tiny: ratio 0.84 (tfjs 101 ms/step, 1 thread; torch 120 ms/step, OpenBLAS 2, torch 1, core Cooperlake)");
  // at one thread PyTorch's best is its Cooperlake run (153 ms), not OpenBLAS's own Prescott (235 ms)
  assert.equal(compare(runs, "train", 1)?.torch.blasCore?.core, "Cooperlake");
  const table = renderReadmeTable([intel()]).split("\n");
  // train 101 / 120 = 0.84, at 1 thread 101 / 153 = 0.66; eval 30 / 40 = 0.75, at 1 thread 30 / 51 = 0.59;
  // 8.157 GFLOP in 0.101 s = 81 GFLOP/s against sgemm 80 at 1 thread
  assert.equal(table[2], "| Intel Xeon Platinum 8480C | tiny (2/128/96/32) | 101 (1) | 120 (2, 1, Cooperlake) | 0.84 | 0.66 / 0.84 | 0.75 | 0.59 / 0.75 | 81 (101%) |");
  assert.match(table.at(-1)!, /PyTorch 1\.13\.0a0 under cores Prescott \(OpenBLAS's own choice\) and Cooperlake \(selected by medrel \(OpenBLAS 0\.3\.21 would fall back to Prescott\)\)\./);
  assert.match(table.at(-1)!, /Our OpenBLAS core Cooperlake, selected by medrel \(OpenBLAS 0\.3\.21 would fall back to Prescott\):/);
});

test("a configuration stopped at the time limit: its side's cell is – with the reason, the ratios –, the caption lists it", () => {
  const table = renderReadmeTable([intel()]).split("\n");
  assert.equal(table[3], "| Intel Xeon Platinum 8480C | base (12/768/128/8) | – (stopped at the 300 s limit) | 4000 (1, 1, Cooperlake) | – | – / – | – | – / – | – |");
  assert.match(table.at(-1)!, /No times: base T=128 tfjs 1 BLAS thread \(stopped at the 300 s limit\); base T=128 torch OpenBLAS 2, torch 1 \(stopped at the 300 s limit\)\.$/);
});

test("two CPUs side by side: each file's rows and caption, oldest first; a file must be named after its CPU", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-throughput-"));
  try {
    fs.writeFileSync(path.join(dir, "intel-xeon-platinum-8480c.json"), JSON.stringify(intel()));
    fs.writeFileSync(path.join(dir, "amd-epyc.json"), JSON.stringify(result()));
    const table = renderReadmeTable(readResults(dir)).split("\n");
    assert.deepEqual(
      table.filter((l) => l.startsWith("| ") && !l.startsWith("| CPU")).map((l) => l.split(" | ").slice(0, 2).join(" | ")),
      ["| AMD EPYC | tiny (2/128/96/32)", "| Intel Xeon Platinum 8480C | tiny (2/128/96/32)", "| Intel Xeon Platinum 8480C | base (12/768/128/8)"],
    );
    const captions = table.filter((l) => l.startsWith("- **"));
    assert.deepEqual(captions.map((l) => /^- \*\*([^*]+)\*\*/.exec(l)?.[1]), ["AMD EPYC", "Intel Xeon Platinum 8480C"]);
    assert.match(captions[1], /bench\/results\/throughput\/intel-xeon-platinum-8480c\.json/);
    fs.writeFileSync(path.join(dir, "other.json"), JSON.stringify(result()));
    assert.throws(() => readResults(dir), /other\.json: holds the results of "AMD EPYC", whose file is amd-epyc\.json/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test("PyTorch's cores: the user's value, OpenBLAS's own and the one our loader selects (each core once); ours inherited is decided anew", () => {
  const medrel: BlasCoreChoice = { source: "medrel", core: "Cooperlake", fallback: "Prescott" };
  let asked: NodeJS.ProcessEnv | undefined;
  const decide = (r: BlasCoreChoice) => (copy: NodeJS.ProcessEnv): BlasCoreChoice => {
    asked = { ...copy }; // what it was asked on, before it writes its choice
    copy.OPENBLAS_CORETYPE = r.core; // decideBlasCore writes into the environment it is given: a copy
    return r;
  };
  // a user's Haswell on an AVX-512 CPU: PyTorch also runs its own and our loader's choice, decided without it
  assert.deepEqual(torchCores({ OPENBLAS_CORETYPE: "Haswell" }, decide(medrel)), [{ source: "user", core: "Haswell" }, { source: "openblas", core: "Prescott" }, medrel]);
  assert.deepEqual(asked, {}, "the user's core is not in the environment our loader decides on");
  assert.deepEqual(torchCores({ OPENBLAS_CORETYPE: "cooperlake" }, decide(medrel)), [{ source: "user", core: "cooperlake" }, { source: "openblas", core: "Prescott" }], "a core already listed is not run twice");
  const env: NodeJS.ProcessEnv = { OPENBLAS_CORETYPE: "Cooperlake", MEDREL_OPENBLAS_CORETYPE: "Cooperlake", MEDREL_OPENBLAS_CORETYPE_FALLBACK: "Prescott", PATH: "/bin" };
  assert.deepEqual(torchCores(env, decide(medrel)), [{ source: "openblas", core: "Prescott" }, medrel]);
  assert.deepEqual(asked, { PATH: "/bin" }, "our inherited core is decided anew");
  assert.equal(env.MEDREL_OPENBLAS_CORETYPE, "Cooperlake", "the caller's environment is left as it was");
  assert.deepEqual(torchCores({ OPENBLAS_CORETYPE: "" }, decide({ source: "openblas", core: "Haswell" })), [{ source: "openblas", core: "Haswell" }]);
});

test("a configuration past its time limit is killed and recorded as stopped", async () => {
  const t0 = performance.now();
  const r = await runJson(process.execPath, ["-e", "setTimeout(() => console.log('{}'), 30000)"], process.env, 0.5);
  assert.deepEqual(r, { error: limitError(0.5) });
  assert.equal(r.error, "stopped at the 0.5 s limit");
  assert.ok(performance.now() - t0 < 10_000);
  assert.deepEqual(await runJson(process.execPath, ["-e", "console.log(JSON.stringify({ a: 1 }))"], process.env, 30), { out: { a: 1 } });
});

test("schema 1 reads as schema 2 with every number kept; a CPU's file is its newest dated raw file", () => {
  const dir = path.join(__dirname, "..", "bench", "results");
  const raw = JSON.parse(fs.readFileSync(path.join(dir, "throughput-2026-12-04.json"), "utf8")) as ThroughputResultV1;
  const up = upgradeResult(raw);
  assert.equal(up.schema, 2);
  assert.deepEqual(up.machine.blasCore, { source: "user", core: "Haswell" });
  assert.deepEqual(up.sizes[0].runs.map((r) => [r.side, r.blasCore?.core, r.denormalsFlushed]).slice(0, 2), [["tfjs", "Haswell", undefined], ["torch", "Haswell", false]]);
  const runs = (list: (ThroughputResult | ThroughputResultV1)["sizes"]) => list.map((x) => x.runs.map((c) => [c.train, c.eval, c.trainCpu, c.evalCpu, c.loss, c.rssMb]));
  const numbers = (r: ThroughputResult | ThroughputResultV1) => JSON.stringify({ sg: r.sgemm, s: runs(r.sizes), q: runs(r.seq), t: r.totalSeconds, m: r.machine.loadavgStart });
  assert.equal(numbers(up), numbers(raw));
  // the AMD EPYC file was re-measured on 2026-12-06 (its own core, flush-to-zero): it is that day's raw file
  const cpuFile = readResult(path.join(dir, "throughput", "amd-epyc.json"));
  assert.equal(numbers(cpuFile), numbers(readResult(path.join(dir, "throughput-2026-12-06-amd-epyc.json"))));
});

test("bench:grid runs real jobs as reproduce does (shards side by side), records runs per hour, each run's phases and the machine; the README renders quick entries only", { timeout: 300_000 }, () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "medrel-grid-")), "amd-epyc.json");
  const args = ["--import", "tsx", "bench/grid.ts", "--preset", "smoke", "--table", "loss", "--variant", "Regular Loss", "--jobs", "2", "--shards", "2", "--threads", "1", "--out", out];
  execFileSync(process.execPath, args, { cwd: path.resolve(__dirname, ".."), stdio: "pipe" });
  // the second: one shard, bf16, and a plan-style override that drops distillation (so no teacher is fitted)
  execFileSync(process.execPath, [...args.slice(0, -4), "--shards", "1", "--precision", "bf16", "--set", '{"distill":null}', "--out", out], { cwd: path.resolve(__dirname, ".."), stdio: "pipe" });
  const bad = spawnSync(process.execPath, [...args.slice(0, -2), "--set", '{"epochs":"three"}', "--out", out], { cwd: path.resolve(__dirname, ".."), encoding: "utf8" });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--set: epochs: /, "a bad override is refused naming its field, before any job runs");
  const [two, one] = readGridFile(out);
  assert.equal(two.shards, 2);
  assert.equal(one.shards, 1, "a second measurement is appended");
  assert.deepEqual(two.seeds, [1000, 1001]);
  assert.deepEqual(new Set(two.runs.map((r) => r.shard)), new Set([1, 2]), "one run per shard");
  assert.ok(two.runsPerHour > 0 && Math.abs(two.runsPerHour - (3600 * 2) / two.wallSeconds) < 1e-9);
  assert.match(two.machine.numerics ?? "", /^f32 · /);
  assert.equal(two.precision, "f32");
  assert.equal(one.precision, "bf16", "--precision sets the jobs' product precision, and the entry records it");
  if (two.machine.blasCore) assert.match(one.machine.numerics ?? "", /^bf16/);
  assert.equal(two.machine.loadAverageAtEnd.length, 3);
  assert.equal(two.teachers.length, 2, "the quick recipe distils: each seed's teacher is fitted and counted");
  assert.deepEqual(one.set, { distill: null }, "the override is recorded");
  assert.equal(one.teachers.length, 0, "with distillation dropped no teacher is fitted");
  // the phases add up to the grid's process-seconds per run
  const total = GRID_PHASES.reduce((a, k) => a + two.perRun[k], 0);
  assert.ok(Math.abs(total - (2 * two.wallSeconds) / 2) < 0.01 || two.perRun.other === 0, `phases ${total} vs process-seconds per run ${two.wallSeconds}`);
  assert.ok(two.runs.every((r) => r.seconds.steps! > 0 && r.seconds.write! >= 0 && r.samplesPerSec.length > 0));
  assert.equal(renderGridBlock(path.dirname(out)), undefined, "smoke measurements are not shown");
  fs.writeFileSync(out, JSON.stringify({ entries: [two, { ...one, preset: "quick" }] }));
  const block = renderGridBlock(path.dirname(out))!;
  // the CPU as run.json names it, with its family and model where /proc/cpuinfo gives them ("AMD EPYC" is Zen 4 and 5)
  const cpu = one.machine.cpu.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  assert.match(block, new RegExp(`\\| ${cpu}( \\(family \\d+ model \\d+\\))? \\| bf16 · \`\\{"distill":null\\}\` \\| 1 × 1 \\| \\*\\*[\\d.]+\\*\\* \\| 2 \\(loss: Regular Loss; 0 teachers\\) \\|`));
  if (fs.existsSync("/proc/cpuinfo")) assert.match(one.machine.cpuid ?? "", /^family \d+ model \d+$/);
  assert.doesNotMatch(block, /\| 2 × 1 \|/);
});
