/** The next grid's plan: seeds fixed by a power calculation on today's shipped runs, written once, reproducible. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { loadResults, readStudyPlan, studyPlan, TABLE_NAMES, type TableResult } from "../src/experiments";
import { MAX_SEEDS_PER_VARIANT } from "../src/experiments/plan";
import { seedsToDetect, compareVariants } from "../src/metrics";
import { PROJECT_ROOT } from "../src/runs/config";

const shipped = (): TableResult<"shipped">[] => TABLE_NAMES.map((t) => loadResults(t)!);

test("studyPlan: 80% power at the study's difference from today's spread, clamped to [today's seeds, 12]; a variant gets its comparisons' largest", () => {
  const tables = shipped();
  const plan = studyPlan(tables, "test grid");
  assert.ok(plan.comparisons.length >= 8, "every encoding vs Basic1, Weighted − Regular and Weighted+Aug − Weighted, their F1 ranges");
  for (const c of plan.comparisons) {
    const t = tables.find((x) => x.table === c.table)!;
    const line = compareVariants(t.records, c.a, c.b, c.metric);
    const need = seedsToDetect(line, c.study);
    assert.equal(c.seedsForPower, Number.isFinite(need) ? need : null, `${c.b} − ${c.a}`);
    assert.equal(c.planned, Math.min(MAX_SEEDS_PER_VARIANT, Math.max(c.observed.seeds, c.seedsForPower ?? Infinity)), `${c.b} − ${c.a}`);
    if ((c.seedsForPower ?? Infinity) > MAX_SEEDS_PER_VARIANT) assert.match(c.note, /over the cap|more seeds than any plan/);
    // both sides of a comparison get at least its planned seeds
    assert.ok(plan.seeds[c.table][c.a] >= c.planned && plan.seeds[c.table][c.b] >= c.planned, `${c.b} − ${c.a}`);
  }
  for (const v of Object.values(plan.seeds)) for (const n of Object.values(v)) assert.ok(n >= 5 && n <= MAX_SEEDS_PER_VARIANT);
  // Weighted Loss is one run in two tables: counted once, with the larger seed count
  const naive = Object.values(plan.seeds).flatMap((v) => Object.values(v)).reduce((a, b) => a + b, 0);
  assert.ok(plan.cost.runs < naive, `${plan.cost.runs} distinct runs, ${naive} table cells`);
});

test("the committed plan is what npm run plan makes from the files it names, unchanged since", () => {
  const plan = readStudyPlan();
  assert.ok(plan, "results/study-plan.json is committed before the next grid's first run (npm run plan)");
  for (const f of plan.madeFrom) {
    const sha = createHash("sha256").update(fs.readFileSync(path.join(PROJECT_ROOT, f.file))).digest("hex");
    assert.equal(sha, f.sha256, `${f.file} changed since the plan was made from it`);
  }
  assert.deepEqual(JSON.parse(JSON.stringify(studyPlan(shipped(), plan.grid, plan.override))), plan);
  assert.deepEqual(plan.override, { precision: "bf16" }, "the grid's numerics are fixed in the plan, before its first run");
});
