/**
 * Numerics as a recorded fact (#34): every run records the kernel numerics it ran with and where its time went, an
 * export carries the numerics, and a re-make under other (or unrecorded) numerics is judged within seed noise.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { initBackend } from "../src/backend/select";
import { numericsString, PRODUCT_CHUNKING, NGRAM_NUMERICS } from "../src/backend/numerics";
import { exportResults, gridJobs, runJobs } from "../src/experiments";
import { readResultsFile } from "../src/experiments/results";
import { comparedWithShipped, numericsWords, predictionRange, sameNumerics, variantRuns } from "../src/experiments/remake";
import { tCritical } from "../src/metrics/compare";
import type { Metrics } from "../src/metrics";
import type { RunRecord } from "../src/runs";

const tmp = (name: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `medrel-${name}-`));

test("the numerics string names precision, backend, OpenBLAS version and core, denormal flushing and the addon's product chunking", () => {
  const blas = "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64; core Cooperlake; 2 thread(s)";
  const native = { name: "wasm" as const, blas, blasCore: "SkylakeX (OPENBLAS_CORETYPE set by you)", denormalsFlushed: true, tfjs: "4.22.0" };
  assert.equal(numericsString(native), `f32 · openblas 0.3.21 SkylakeX · ftz · ${PRODUCT_CHUNKING}`);
  assert.equal(numericsString({ ...native, blasCore: undefined, denormalsFlushed: false }), `f32 · openblas 0.3.21 Cooperlake · denormals · ${PRODUCT_CHUNKING}`);
  assert.equal(numericsString({ ...native, blas: undefined }), "f32 · tfjs-wasm 4.22.0 · xnnpack");
  assert.equal(numericsString({ ...native, name: "tensorflow", blas: undefined }), "f32 · tfjs-node 4.22.0");
  assert.equal(numericsString({ ...native, name: "cpu", blas: undefined }), "f32 · tfjs-cpu 4.22.0");
  // bf16 products: who ran them leads (OpenBLAS still runs nothing else, but its core stays recorded for the rest)
  assert.equal(numericsString(native, { engine: "bf16", detail: "onednn 2.6.3" }), `bf16 onednn 2.6.3 · openblas 0.3.21 SkylakeX · ftz · ${PRODUCT_CHUNKING}`);
  assert.equal(numericsString(native, { engine: "bf16-emulated", detail: "emulated" }), `bf16-emulated · openblas 0.3.21 SkylakeX · ftz · ${PRODUCT_CHUNKING}`);
  assert.equal(numericsString(native, { engine: "f32", detail: "openblas" }), numericsString(native));
});

test("the backend reports its numerics; a run records them and the phases of its wall time; an export carries the numerics", { timeout: 300_000 }, async () => {
  const backend = await initBackend({ verbose: false });
  if (backend.blas) assert.match(backend.numerics, new RegExp(`^f32 · openblas \\S+ ${backend.blasCore!.split(" ")[0]} · ftz · ${PRODUCT_CHUNKING}$`));
  // the table's whole grid for the seed (a results file's grid is the spec's whole grid), one of its runs trained
  const grid = gridJobs("loss", { preset: "smoke", seeds: [1000] });
  const jobs = grid.filter((j) => j.variant === "Regular Loss");
  const [run] = await runJobs(jobs, { runsDir: tmp("numerics-runs"), progress: false });
  assert.equal(run.info.numerics, backend.numerics);
  const s = run.info.seconds;
  for (const k of ["data", "model", "encode", "steps", "selection", "checkpoints", "write"] as const) assert.ok(typeof s[k] === "number" && s[k]! >= 0, `seconds.${k}`);
  // the phases are parts of the totals they sit in (ms rounding aside)
  assert.ok(s.steps! + s.selection! + s.checkpoints! <= s.train + 0.01, "steps, selection and checkpoints are part of train");
  assert.ok(s.model! + s.encode! + s.train + s.eval <= s.total + 0.01, "model, encode, train and eval are part of total");
  const onDisk = JSON.parse(fs.readFileSync(path.join(run.dir!, "run.json"), "utf8")) as { numerics: string; seconds: Record<string, number> };
  assert.deepEqual(onDisk.seconds, s);
  const dir = tmp("numerics-export");
  exportResults(dir, { table: "loss", grid, runs: [run], command: "test" });
  const [shipped] = readResultsFile(path.join(dir, "loss.json")).records;
  assert.equal(shipped.info.numerics, backend.numerics);
  assert.deepEqual(variantRuns(path.join(dir, "loss.json"), shipped).map((r) => r.hash), [run.hash]);
  // a bf16 run records the precision in its config (and so in its hash) and what ran it in its numerics
  if (backend.blas) {
    const [bf] = await runJobs(gridJobs("loss", { preset: "smoke", seeds: [1000], variants: ["Regular Loss"], override: { precision: "bf16" } }), { runsDir: tmp("numerics-bf16"), progress: false });
    assert.notEqual(bf.hash, run.hash);
    assert.match(bf.info.numerics ?? "", new RegExp(`^bf16(-emulated| onednn \\S+) · openblas \\S+ ${backend.blasCore!.split(" ")[0]} · ftz · ${PRODUCT_CHUNKING}$`));
  }
});

test("a run made before numerics were recorded says so from what it carries, and infers nothing", () => {
  assert.equal(numericsWords({ cpu: "AMD EPYC", blasCore: "Cooperlake (OpenBLAS's own choice)" }), "not recorded (made before numerics were recorded; CPU AMD EPYC, OpenBLAS core Cooperlake)");
  assert.equal(numericsWords(undefined), "not recorded (made before numerics were recorded; CPU not recorded, OpenBLAS core not recorded)");
  assert.equal(numericsWords({ numerics: NGRAM_NUMERICS }), NGRAM_NUMERICS);
  assert.equal(sameNumerics(undefined, undefined), false, "two unrecorded runs are not known to share numerics");
  assert.equal(sameNumerics("a", "a"), true);
});

test("the seed-noise rule: the 95% prediction range of one more seed, mean ± t(0.975, n−1)·sd·√(1+1/n), from 3 seeds", () => {
  const r = predictionRange([0.1, 0.2, 0.3])!;
  const half = tCritical(2) * 0.1 * Math.sqrt(1 + 1 / 3);
  assert.ok(Math.abs(r.mean - 0.2) < 1e-12 && Math.abs(r.sd - 0.1) < 1e-12);
  assert.ok(Math.abs(r.lo - (0.2 - half)) < 1e-12 && Math.abs(r.hi - (0.2 + half)) < 1e-12);
  assert.equal(predictionRange([0.1, 0.2]), undefined, "two seeds are too few");
});

/** A fake shipped variant of five seeds (dev only), micro-F1 = macro-F1 = 0.60 … 0.64. */
function fakeVariant(numerics?: string): (RunRecord & { variant: string })[] {
  const m = (x: number): Metrics => ({ micro_f1: x, macro_f1: x }) as Metrics;
  return [0, 1, 2, 3, 4].map((seed) => ({
    variant: "Regular Loss",
    hash: `00000000000${seed}`,
    config: { seed } as RunRecord["config"],
    metrics: { dev: m(0.6 + seed / 100), test: null },
    history: [],
    info: { backend: "wasm", cpu: "AMD EPYC", blasCore: "Cooperlake (OpenBLAS's own choice)", startedAt: "", seconds: { total: 1, train: 1, eval: 0 }, bestEpoch: 0, trainRows: 1, devRows: 1, testRows: 0, node: "v20", kernels: [], vocabSize: 0, parameters: 0, dataReport: [], classWeights: null, ...(numerics ? { numerics } : {}) },
  }));
}

const remade = (x: number, numerics: string) => ({ hash: "000000000000", metrics: { dev: { micro_f1: x, macro_f1: x } as Metrics, test: null }, info: { numerics } as never });

test("a re-make under other or unrecorded numerics is judged within seed noise; under the same numerics digit for digit", () => {
  const old = fakeVariant();
  const near = comparedWithShipped(remade(0.615, "f32 · x"), old[0], old, "AMD EPYC");
  assert.match(near, /the shipped run not recorded \(made before numerics were recorded; CPU AMD EPYC, OpenBLAS core Cooperlake\)/);
  assert.match(near, /not the same numerics: compared within seed noise, not digit for digit/);
  assert.match(near, /dev: micro-F1 61\.5000 \(shipped 60\.0000\), macro-F1 61\.5000 \(shipped 60\.0000\): within seed noise \(micro-F1 inside [\d.]+–[\d.]+ \(5 seeds\)/);
  assert.match(comparedWithShipped(remade(0.5, "f32 · x"), old[0], old, "AMD EPYC"), /dev: .*: outside seed noise \(micro-F1 OUTSIDE/);
  assert.match(comparedWithShipped(remade(0.615, "f32 · x"), old[0], old.slice(0, 2), "AMD EPYC"), /dev: .*: not judged \(micro-F1: too few shipped seeds of Regular Loss to judge \(3 needed\)/);
  const same = fakeVariant("f32 · x");
  assert.match(comparedWithShipped(remade(0.6, "f32 · x"), same[0], same, "AMD EPYC"), /the same numerics: compared digit for digit\n {2}dev: .*: the same$/);
  assert.match(comparedWithShipped(remade(0.6000001, "f32 · x"), same[0], same, "AMD EPYC"), /dev: .*: different$/);
});
