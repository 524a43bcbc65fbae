/**
 * What the notebooks call besides training: the table summary in words (hand-computed numbers), the study-data
 * results files and the message when one is missing, what a config change is, the playground's settings checks,
 * and the execution counts written into executed notebooks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import { LABEL_NAMES } from "../src/data/labels";
import type { Metrics } from "../src/metrics";
import type { RunScore } from "./helpers";
import {
  loadResults,
  missingResultsMessage,
  studyResultsCommand,
  configDiff,
  presetConfig,
  headlineVariant,
  loadExperimentData,
  TABLE_SPECS,
  PRETRAINED_VARIANT,
  FROM_SCRATCH_VARIANT,
  PRETRAINED_TINY_DIR,
  tableComparisonLines,
  STUDY_DATA_DIR,
} from "../src/experiments";
import { fromScratch } from "../src/runs";
import { tableSummary } from "../src/experiments/tables";
import { classWeightPlayground, describeWeights, progressLine, readTwoRows, encoderReadingsFrame, tableReportSections, identicalVariantLines, notebookData, playgroundSeeds, retrainPlan } from "../src/views";
import type { RunRecord } from "../src/runs";
import { reportHtml } from "../src/report";
import { RelationTokenizer } from "../src/encoding";
import { initBackend } from "../src/backend/select";
import { exportNotebookHtml, machineInfo, numberExecutedCells, stampRunTime, type NotebookJson } from "../src/tools";

const FIXTURE = path.resolve(__dirname, "fixtures", "results-smoke");

/** Metrics with a chosen Macro-F1 and per-class F1 (0.8 unless named). */
function metrics(macro: number, f1: Record<string, number>): Metrics {
  const per_class: Metrics["per_class"] = {};
  for (const l of LABEL_NAMES) per_class[l] = { precision: 0.8, recall: 0.8, f1: f1[l] ?? 0.8, support: 10 };
  const zeros = LABEL_NAMES.map(() => LABEL_NAMES.map(() => 0));
  return { per_class, macro_precision: 0.8, macro_recall: 0.8, macro_f1: macro, micro_f1: 0.8, f1_range: 0.3, accuracy: 0.8, confusion: zeros, n: 100 };
}

test("tableSummary: ranking, verdict, largest per-class gain and loss, the study's direction — numbers by hand", () => {
  const regular = [0.8, 0.82, 0.81];
  const weighted = [0.83, 0.85, 0.83];
  const records: RunScore[] = [0, 1, 2].flatMap((seed) => [
    { variant: "Regular Loss", seed, split: "test", metrics: metrics(regular[seed], { 并发症: 0.5, 临床表现: 0.9 }) },
    { variant: "Weighted Loss", seed, split: "test", metrics: metrics(weighted[seed], { 并发症: 0.7, 临床表现: 0.85 }) },
  ]);
  // per-seed differences 3, 3, 2 points: mean 2.667, sd sqrt(1/3), SE 1/3 on 2 df; t(0.975, 2) = 4.3027, so the 95%
  // interval is 2.667 ± 1.434 = +1.23 … +4.10: the study's +1.70 (88.71 − 87.01) lies inside and 0 does not
  const view = { table: "loss" as const, records, variants: ["Regular Loss", "Weighted Loss"], encoder: "a test encoder" };
  const confirms = "confirms the study's direction (its +1.70 lies in our 95% interval, which excludes 0)";
  assert.deepEqual(tableSummary(view), [
    "Measured on a test encoder: every verdict below is about this encoder, not about the study's base-size encoders.",
    "Macro-F1 on the test split, mean over 3 seeds, best first: Weighted Loss 83.67; Regular Loss 81.00.",
    `Against Regular Loss on Macro-F1: Weighted Loss +2.67 (95% interval +1.23 … +4.10): ${confirms}.`,
    "Per class, Weighted Loss against Regular Loss gains most on 并发症 Complication +20.00 (50.00 → 70.00) and loses most on 临床表现 Clinical Manifestation -5.00 (90.00 → 85.00).",
    `The study's table has Weighted Loss − Regular Loss = +1.70 Macro-F1 (one run each); ours is +2.67 (95% interval +1.23 … +4.10): ${confirms}.`,
  ]);
  // one seed: no spread to test; two: a t-test on 1 degree of freedom is no verdict — said so, never "within/beyond"
  const one = records.filter((r) => r.seed === 0);
  assert.equal(tableSummary({ ...view, records: one })[2], "Against Regular Loss on Macro-F1: Weighted Loss +3.00: no verdict: no seed spread to test.");
  const two = records.filter((r) => r.seed > 0);
  assert.equal(tableSummary({ ...view, records: two })[2], "Against Regular Loss on Macro-F1: Weighted Loss +2.50: no verdict from 2 seeds (run ≥ 3).");
  // seeds per variant differ: said as a range, never "mean over 3 seeds" for a variant with 2
  assert.equal(tableSummary({ ...view, records: records.filter((r) => !(r.variant === "Weighted Loss" && r.seed === 2)) })[1].includes("mean over 2–3 seeds per variant"), true);
  assert.deepEqual(tableSummary({ ...view, records: [], variants: ["Regular Loss"] }), ["No runs of the weighted loss table yet."]);
  assert.equal(headlineVariant("encodings"), "Entity_marked2");
  assert.equal(headlineVariant("augmentation"), "Weighted+Aug");
});

test("loadResults reads a results folder: the study's model columns without runs are dropped, their study values kept", () => {
  const models = loadResults("models", FIXTURE);
  assert.ok(models);
  assert.equal(models.split, "dev");
  assert.ok(!models.frame.columns.includes("BioBERT"), "no BioBERT run: no BioBERT column of ours");
  for (const c of ["BioBERT (study)", "Chinese-RoBERTa-wwm-ext (study)", "MedBERT (study)", "tiny (pretrained in-domain)"]) assert.ok(models.frame.columns.includes(c), c);
  assert.equal(models.summary[1].startsWith("Micro-F1 on the dev split, mean over 2 seeds, best first: "), true);
  const loss = loadResults("loss", FIXTURE);
  assert.ok(loss);
  assert.deepEqual(loss.variants, ["Regular Loss", "Weighted Loss", "Hard-class weights", "Effective-number weights"]);
  assert.equal(loadResults("loss", path.join(FIXTURE, "nowhere")), null);
});

test("missingResultsMessage names the file and the exact command", () => {
  assert.equal(studyResultsCommand("loss"), "npm run reproduce -- --table loss --data-dir ../shared/data --seeds 5 --export results/study");
  const msg = missingResultsMessage("loss", path.resolve(__dirname, "..", "results", "study"));
  assert.match(msg, /^No study-data results for the weighted loss table yet: results\/study\/loss\.json is missing\./);
  assert.ok(msg.includes("\n  npm run reproduce -- --table loss --data-dir ../shared/data --seeds 5 --export results/study\n"));
});

test("configDiff: what --from-scratch changes is the model's initial weights only", () => {
  const a = presetConfig("quick");
  if (a.model.kind !== "preset" || !a.model.pretrained) assert.fail("the quick preset starts from the committed in-domain checkpoint");
  const b = { ...a, model: fromScratch(a.model) };
  assert.deepEqual(configDiff(a, b), [`model.pretrained: ${JSON.stringify(a.model.pretrained)} → null`, `model.shapeFrom: (unset) → ${JSON.stringify(a.model.pretrained)}`]);
  assert.deepEqual(configDiff(a, { ...a }), []);
  assert.deepEqual(configDiff({ x: [1, 2] }, { x: [1, 3] }), ["x: [1,2] → [1,3]"]);
});

test("classWeightPlayground refuses bad settings before training anything", async () => {
  await assert.rejects(
    classWeightPlayground({ settings: [{ name: "a", weights: {} }, { name: "a", weights: { 并发症: 2 } }], preset: "smoke" }),
    /two settings are named "a"/,
  );
  await assert.rejects(classWeightPlayground({ settings: [{ name: "b", weights: { Complications: 2 } }], preset: "smoke" }), /unknown label "Complications"/);
  await assert.rejects(classWeightPlayground({ settings: [{ name: "unweighted", weights: { 并发症: 2 } }], preset: "smoke" }), /"unweighted" must have no weights/);
  await assert.rejects(classWeightPlayground({ settings: [{ name: "c", weights: { 并发症: 0 } }], preset: "smoke" }), /weight of "并发症" must be a positive number, got 0/);
  assert.equal(describeWeights({ "相关（导致）": 2, 并发症: 2 }), "并发症 ×2, 相关（导致） ×2");
  assert.equal(describeWeights({}), "none");
});

test("numberExecutedCells: code cells get 1, 2, … where the kernel left none; counts it wrote are kept", () => {
  const nb: NotebookJson = {
    metadata: {},
    cells: [
      { cell_type: "markdown", source: "# x" },
      { cell_type: "code", source: "a", outputs: [], execution_count: null },
      { cell_type: "code", source: "b", outputs: [{ output_type: "execute_result", execution_count: null, data: {} }], execution_count: null },
      { cell_type: "code", source: "c", outputs: [], execution_count: 7 },
    ],
  };
  assert.equal(numberExecutedCells(nb), true);
  assert.deepEqual(nb.cells.map((c) => c.execution_count), [undefined, 1, 2, 7]);
  assert.equal(nb.cells[2].outputs![0].execution_count, 2);
  assert.equal(numberExecutedCells(nb), false, "nothing left to number");
});

test("progressLine: a results file the grid is still filling says n of N runs; a full one says nothing", () => {
  assert.equal(
    progressLine({ progress: { done: 12, total: 20 } }),
    "12 of 20 runs so far: the grid on the study's data is still running, and every number below is from the runs finished.",
  );
  assert.equal(progressLine({ progress: { done: 20, total: 20 } }), undefined);
});

test("notebook 02's idea: two rows through the pretrained and the from-scratch encoder — what differs, computed", async () => {
  await initBackend({ verbose: false });
  const base = { ...presetConfig("smoke"), data: { kind: "demo" as const } };
  const names = [PRETRAINED_VARIANT, FROM_SCRATCH_VARIANT];
  const encoders = TABLE_SPECS.models.variants(base, { preset: "smoke" }).filter((v) => names.includes(v.name));
  const train = loadExperimentData({ data: base.data }).dataset.train;
  const a = train.find((r) => r.r === "并发症")!;
  const b = train.find((r) => r.r === "临床表现")!;
  const [pre, scratch] = await readTwoRows([a, b], encoders, train);
  assert.deepEqual([pre.variant, scratch.variant], names);
  const pretrainedVocab = RelationTokenizer.fromDir(PRETRAINED_TINY_DIR).vocabSize;
  const hidden = (JSON.parse(fs.readFileSync(path.join(PRETRAINED_TINY_DIR, "config.json"), "utf8")) as { hidden_size: number }).hidden_size;
  assert.equal(pre.vocabulary, `${pretrainedVocab} WordPiece tokens of the checkpoint`);
  const scratchVocab = Number(/^(\d+) characters/.exec(scratch.vocabulary)?.[1]);
  // the same network but for the embedding table, one row of `hidden` per vocabulary entry
  assert.equal(pre.parameters - scratch.parameters, (pretrainedVocab - scratchVocab) * hidden);
  // both read one token per Chinese character, markers included; the from-scratch vocabulary knows every train character
  assert.equal(pre.tokens[0][0], "[CLS]");
  assert.ok(pre.tokens[0].includes("[实体1]") && scratch.tokens[0].includes("[实体1]"));
  assert.deepEqual(scratch.unknown, [0, 0]);
  for (const r of [pre, scratch]) assert.ok(r.cosine > -1 && r.cosine < 1, `${r.variant}: cosine ${r.cosine}`);
  assert.notEqual(pre.cosine.toFixed(3), scratch.cosine.toFixed(3), "the two encoders read the pair differently");
  const frame = encoderReadingsFrame([pre, scratch]);
  assert.deepEqual(frame.columns, names);
  assert.equal((frame.values as string[][])[5][0], pre.cosine.toFixed(3));
});

test("the index page's table leads with ours on the study's data; the demo follows, labelled an illustration", () => {
  const loss = loadResults("loss", FIXTURE);
  assert.ok(loss);
  const html = reportHtml("index", tableReportSections("loss", loss, loss));
  const at = (s: string): number => {
    const i = html.indexOf(s);
    assert.ok(i >= 0, `"${s}" is on the page`);
    return i;
  };
  assert.ok(at("Ours on the study&#39;s data") < at("The demo: an illustration"));
  assert.ok(at("ours on the study&#39;s data (dev split") < at("the demo (dev split"));
  assert.ok(at("its imbalance is built in by its generator") > at("The demo: an illustration"));
  // without study-data results the page says which command writes them, and still shows the demo after
  const none = reportHtml("index", tableReportSections("loss", null, loss));
  assert.ok(none.indexOf("npm run reproduce -- --table loss") < none.indexOf("The demo: an illustration"));
});

test("retrainPlan says how many runs will train and how long, from the runs already here, before anything trains", () => {
  const run = (total: number) => ({ info: { seconds: { total } } }) as unknown as RunRecord;
  const missing = [0, 1, 2].map((seed) => ({ label: `mine · seed ${seed}` }));
  const plan = retrainPlan(missing, [run(150), run(90), run(600)]);
  assert.equal(plan.toTrain, 3);
  assert.equal(plan.seconds, 450);
  assert.equal(plan.line, "3 runs to train before the tables below (3 loaded): about 7 min 30 s on this machine (2 min 30 s a run: the median of the 3 runs loaded). The first: mine · seed 0.");
  assert.match(retrainPlan(missing, []).line, /no run of this preset and data is here to time it by/);
  assert.equal(retrainPlan([], [run(1)]).line, "All 1 runs are here (trained before, or shipped in results/study): nothing trains.");
});

test("notebook 06 with MEDREL_DATA=study: every shipped seed, nothing trained, and notebook 04's comparison", { skip: !fs.existsSync(STUDY_DATA_DIR) && "no ../shared/data", timeout: 5 * 60_000 }, async () => {
  const { DATA } = notebookData(null, { MEDREL_DATA: "study" });
  assert.deepEqual(DATA, { kind: "dir", dir: STUDY_DATA_DIR });
  assert.deepEqual(notebookData("../elsewhere", {}).DATA, { kind: "dir", dir: path.resolve("../elsewhere") });
  assert.deepEqual(notebookData("../elsewhere", { MEDREL_DATA: "demo" }).DATA, { kind: "demo" });
  const loss = loadResults("loss");
  assert.ok(loss, "results/study/loss.json");
  const seeds = playgroundSeeds(DATA);
  for (const v of ["Regular Loss", "Weighted Loss"]) assert.deepEqual(loss.seeds[v], seeds, `${v}: the seeds shipped are the playground's`);
  await initBackend({ verbose: false });
  const pg = await classWeightPlayground({ preset: "quick", data: DATA, seeds });
  assert.equal(pg.plan.toTrain, 0);
  assert.equal(pg.seeds.length, seeds.length);
  const ours = pg.comparisons.find((c) => c.metric === "Macro-F1");
  const nb04 = tableComparisonLines("loss", loss.records).find((c) => c.a === "Regular Loss" && c.b === "Weighted Loss" && c.metric === "Macro-F1");
  assert.ok(ours && nb04);
  assert.ok(Math.abs(ours.diff - nb04.diff) < 1e-9 && Math.abs(ours.p - nb04.p) < 1e-9, `06: ${ours.diff} (p ${ours.p}); 04: ${nb04.diff} (p ${nb04.p})`);
});

test("an executed copy's header gives the time of its own run, and the exported HTML renders it as text, not markdown", { timeout: 2 * 60_000 }, async () => {
  const file = path.resolve(__dirname, "..", "notebooks", "04_weighted_loss.ipynb");
  const nb = JSON.parse(fs.readFileSync(file, "utf8")) as NotebookJson;
  assert.equal(stampRunTime(nb, 14.2, "quick", new Date("2026-12-07T10:00:00Z"), { ...machineInfo(), cpu: "Test CPU", cores: 2, loadAverage: [1.5, 1, 1] }), true);
  const head = ([] as string[]).concat(nb.cells[0].source).join("");
  assert.match(head, /<!-- generated:time-04_weighted_loss -->\n\n\*This copy ran in 14 s with `MEDREL_PRESET=quick` on 2026-12-07, Test CPU, 2 cores, load average 1\.5 at the start; [^\n]*\*\n\n<!-- \/generated/);
  assert.doesNotMatch(head, /Time to run it/, "the recorded times are not what this copy shows");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-stamp-"));
  try {
    const copy = path.join(dir, "04_weighted_loss.ipynb");
    fs.writeFileSync(copy, JSON.stringify(nb));
    const html = fs.readFileSync(await exportNotebookHtml(copy), "utf8");
    assert.match(html, /<em>This copy ran in 14 s with <code>MEDREL_PRESET=quick<\/code>/);
    assert.doesNotMatch(html, /\*This copy ran in/, "no raw markdown");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("identical rows are said in words: Effective-number weights on the study's balanced data train Regular Loss's model", () => {
  const loss = loadResults("loss");
  assert.ok(loss);
  const lines = identicalVariantLines(loss);
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /^Effective-number weights scored exactly as Regular Loss on each of its \d+ seeds/);
  const fixture = loadResults("encodings", FIXTURE);
  assert.ok(fixture);
  assert.deepEqual(identicalVariantLines(fixture), []);
});
