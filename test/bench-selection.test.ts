/** bench/selection.ts: every candidate (checkpoint × recipe × seed) stays in the results file; the README's per-candidate table. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { candidateTable, mergeRecord, type SelectionRecord } from "../bench/selection";

const run = (seed: number, micro: number): SelectionRecord["runs"][number] => ({ seed, hash: `h${seed}`, micro_f1: micro, macro_f1: micro - 0.01, bestEpoch: 2, seconds: 300, cpu: "AMD EPYC", threads: 1 });
const rec = (name: string, checkpoint: string, set: object, runs: SelectionRecord["runs"]): SelectionRecord => ({
  name,
  checkpoint,
  set,
  seeds: runs.map((r) => r.seed),
  runs,
  micro: { mean: NaN, std: NaN },
  macro: { mean: NaN, std: NaN },
});

test("bench:selection keeps every candidate: a seed run again replaces that seed only; a reused name for another candidate is refused", () => {
  let all = mergeRecord([], rec("electra lr 2e-4", "data/pretrained/electra", { lr: 2e-4 }, [run(0, 0.81), run(1, 0.82)]));
  all = mergeRecord(all, rec("quick", "data/pretrained/quick", {}, [run(0, 0.8)]));
  all = mergeRecord(all, rec("electra lr 2e-4", "data/pretrained/electra", { lr: 2e-4 }, [run(1, 0.83), run(2, 0.84)]));
  assert.equal(all.length, 2);
  assert.deepEqual(all[0].runs.map((r) => [r.seed, r.micro_f1]), [[0, 0.81], [1, 0.83], [2, 0.84]]);
  assert.deepEqual(all[0].seeds, [0, 1, 2]);
  assert.ok(Math.abs(all[0].micro.mean - (100 * (0.81 + 0.83 + 0.84)) / 3) < 1e-9);
  assert.throws(() => mergeRecord(all, rec("quick", "data/pretrained/electra", {}, [run(0, 0.8)])), /already names data\/pretrained\/quick/);
  const table = candidateTable(all).split("\n");
  assert.equal(table.length, 2 + 4, "one row per checkpoint × recipe × seed");
  assert.match(table[2], /^\| electra lr 2e-4 \| data\/pretrained\/electra \| `\{"lr":0.0002\}` \| 0 \| 81.00 \| 80.00 \| 3 \| 5.0 \| AMD EPYC × 1 \|$/);
});
