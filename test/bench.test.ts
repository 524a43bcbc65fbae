/**
 * bench:throughput's derived numbers (FLOPs from the shapes, best-vs-best and equal-threads ratios, the printed
 * lines) on a hand-made result, and the README table it renders (test/readme.test.ts checks README.md against it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TABLE_HEADER, renderReadmeTable } from "../bench/readme-table";
import { SIZES, bestLine, compare, equalLine, flopsLine, stats, stepFlops, type ConfigRun, type ThroughputResult } from "../bench/throughput-results";

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
    schema: 1,
    date: "2026-12-02T10:00:00.000Z",
    command: "npm run bench:throughput",
    quick: false,
    machine: { cpu: "AMD EPYC", cores: 2, memoryGiB: 24, loadavgStart: [0.1, 0.1, 0.1], loadavgEnd: [1, 1, 1], env: { OPENBLAS_CORETYPE: "Haswell", MEDREL_X: "1" } },
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

test("the README table renders from a result; a --quick result is refused", () => {
  const table = renderReadmeTable(result()).split("\n");
  assert.equal(table[0], TABLE_HEADER);
  assert.equal(table[2], "| tiny (2/128/96/32) | 131 (2) | 110 (2, 1) | 1.19 | 1.01 / 1.19 | 1.25 | 1.33 / 1.25 | 62 (42%) |");
  assert.match(table[4], /Measured 2026-12-02 on AMD EPYC, 2 cores, 24 GiB .*OpenBLAS core Haswell \(OPENBLAS_CORETYPE=Haswell\): sgemm 1024³ 80 \/ 150 GFLOP\/s at 1 \/ 2 thread\(s\).*\(14 min\)/);
  assert.throws(() => renderReadmeTable({ ...result(), quick: true }), /--quick result is not for the README/);
});

