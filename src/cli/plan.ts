/**
 * npm run plan: the next study grid's seeds, fixed by a power calculation on today's shipped runs, written once to
 * results/study-plan.json. Commit it before the grid's first run; an existing plan is shown and checked, never
 * rewritten (no seed is added after looking) unless --replace says that this is a new plan for a new grid.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { loadResults, readStudyPlan, studyPlan, STUDY_PLAN_FILE, TABLE_NAMES, type TableResult } from "../experiments";
import { PROJECT_ROOT, parseConfigOverride } from "../runs/config";
import { runMain } from "./common";

const program = new Command()
  .name("plan")
  .description("Fix the seeds of the next study grid by a power calculation on today's shipped runs")
  .option("--grid <words>", "what the planned grid is", "the study's four tables on the study's data, quick preset, on the new checkpoint (issue: an encoder that beats the n-gram)")
  .option("--precision <p>", "the grid's product precision (every job's config; bf16 was adopted on the selection split)", "bf16")
  .option("--override <json>", `more fields every job takes, over the preset before each table's rows (null removes one): '{"model":{"kind":"preset","preset":"tiny","pretrained":"data/pretrained/electra"},"distill":null}'`)
  .option("--replace", "write a new plan over the committed one (only for a new grid, before its first run)")
  .parse();

runMain(async () => {
  const opts = program.opts<{ grid: string; precision: string; override?: string; replace?: boolean }>();
  if (opts.precision !== "f32" && opts.precision !== "bf16") throw new Error(`--precision must be f32 or bf16, got "${opts.precision}"`);
  const more = opts.override === undefined ? {} : parseConfigOverride(opts.override, "--override");
  const file = path.join(PROJECT_ROOT, STUDY_PLAN_FILE);
  const tables = TABLE_NAMES.map((t) => loadResults(t)).filter((t): t is TableResult<"shipped"> => t !== null);
  if (tables.length !== TABLE_NAMES.length) throw new Error(`plan: results/study lacks ${TABLE_NAMES.length - tables.length} of the four tables; the plan reads today's spreads from all four`);
  const existing = readStudyPlan(file);
  if (existing && !opts.replace) {
    console.log(`${STUDY_PLAN_FILE} exists (committed before the grid it plans): it is kept as it is. Its seeds per variant:`);
    for (const [t, v] of Object.entries(existing.seeds)) console.log(`  ${t}: ${Object.entries(v).map(([k, n]) => `${k} ${n}`).join(", ")}`);
    return;
  }
  const plan = studyPlan(tables, opts.grid, { precision: opts.precision, ...more });
  fs.writeFileSync(file, JSON.stringify(plan, null, 1) + "\n");
  for (const c of plan.comparisons) console.log(`${c.table}: ${c.b} − ${c.a} (${c.metric}): ${c.note}`);
  console.log(`${plan.cost.runs} fine-tunings, about ${plan.cost.hours.toFixed(1)} h on ${plan.cost.shards} shards at today's ${plan.cost.minutesPerRun.toFixed(1)} min per run: ${STUDY_PLAN_FILE} written; commit it before the first run`);
});
