/**
 * npm run readme: regenerate the READMEs' figures from the files commands wrote. Every block between
 * `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` in README.md, data/pretrained/quick/README.md and the
 * notebooks' markdown cells (each notebook's time, in its header) is rendered here from its source file;
 * test/readme.test.ts fails when a file differs from what this renders, so a figure nothing reproduces cannot stay.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  readStudyPlan,
  STUDY_PLAN_FILE,
  type StudyPlan,
  loadResults,
  STUDY_RESULTS_DIR,
  TABLE_NAMES,
  TABLE_SPECS,
  studyResultsCommand,
  resultsProgress,
  tableComparisonLines,
  studyDifference,
  type TableResult,
  numericsWords,
  SEED_NOISE_RULE,
  ensembleLines,
  loadStrengths,
  strengthDirs,
  strengthEffects,
  strengthRows,
  missingStrengthLine,
  type Strength,
} from "../src/experiments";
import { compareSamples, metricValue, summarize, MAX_PLANNED_SEEDS, type MetricRow } from "../src/metrics";
import { MIN_VERDICT_SEEDS, formatInterval, readingVerdict, signedPoints, verdictPhrase } from "../src/report";
import { QUICK_SPEED_FILE, type QuickSpeed } from "../bench/quick-speed";
import { renderGridBlock } from "../bench/grid";
import { readResults, renderReadmeTable } from "../bench/readme-table";
import { coreWords } from "../bench/throughput-results";
import type { BlasCoreChoice } from "../src/backend/cpu";
import { COMMITTED_TIMES, describeMachine, formatDuration, readTimes, type TimeEntry } from "../src/tools/times";
import { listNotebooks } from "../src/tools/notebooks";
import { candidateTable, type SelectionRecord } from "../bench/selection";

export const README = path.resolve(__dirname, "..", "README.md");
const PRETRAINED = path.resolve(__dirname, "..", "data", "pretrained");
/** Every file with generated blocks: the README and each pre-trained checkpoint's (quick first). */
export const READMES = [
  README,
  ...fs
    .readdirSync(PRETRAINED)
    .sort((a, b) => (a === "quick" ? -1 : b === "quick" ? 1 : a.localeCompare(b)))
    .map((d) => path.join(PRETRAINED, d, "README.md"))
    .filter((f) => fs.existsSync(f)),
];
const PRETRAIN_SELECTION = path.resolve(__dirname, "..", "bench", "results", "pretrain-selection.json");
/** bench:selection's records of the quick preset at f32 and at bf16 products, on the same seeds */
export const PRECISION_SELECTION = path.resolve(__dirname, "..", "bench", "results", "precision-selection.json");
const BASE_STEP = path.resolve(__dirname, "..", "bench", "results", "base-step.json");

/** The fields of bench:base's result that the README quotes. */
export interface BaseStepResult {
  command: string;
  date: string;
  machine: { cpu: string; cores: number; memoryGiB: number; loadAverageAtStart: number[]; env?: Record<string, string> };
  model: { shape: string; parameters: number };
  flags: { batch: number; seq: number };
  threads: number;
  secondsPerStep: number;
  peakRssGiB: number;
  heapLimitGiB: number;
  memoryStrategy: string;
  /** "OpenBLAS 0.3.21 …; core Haswell; 2 thread(s)", null without the addon */
  blas: string | null;
  /** who chose OpenBLAS's core (files from before it was recorded have none) */
  blasCore?: BlasCoreChoice | null;
  denormalsFlushed?: boolean;
  variants: { cpuSecondsPerStep: number; peakLiveGiB: number; timedSteps: number[] }[];
}

/** bench:selection's records: checkpoints and levers on the selection split. */
/** A record's metric (in %) on the given seeds, keyed by seed: one side of a paired comparison. */
function bySeed(r: SelectionRecord, seeds: readonly number[], k: "micro_f1" | "macro_f1"): Map<number, number> {
  return new Map(r.runs.filter((x) => seeds.includes(x.seed)).map((x) => [x.seed, 100 * x[k]]));
}

function selectionBlock(records: SelectionRecord[]): string {
  // every candidate against the n-gram floor on the seeds both ran (paired by seed: the same selection slice)
  const ngram = records.find((r) => r.checkpoint === "none");
  const vsNgram = (r: SelectionRecord): string => {
    if (!ngram || r === ngram) return "–";
    const seeds = r.seeds.filter((s) => ngram.seeds.includes(s));
    if (seeds.length === 0) return "–";
    const c = compareSamples(bySeed(ngram, seeds, "micro_f1"), bySeed(r, seeds, "micro_f1"));
    return seeds.length < 2 ? `${signedPoints(c.diff)} (1 seed)` : `${signedPoints(c.diff)} ${formatInterval(c.ci)}`;
  };
  const rows = records.map((r) => {
    const min = r.runs.reduce((a, x) => a + x.seconds, 0) / r.runs.length / 60;
    return `| ${r.name} | ${fmt(r.micro.mean, r.micro.std)} | ${vsNgram(r)} | ${fmt(r.macro.mean, r.macro.std)} | ${r.seeds.join(", ")} | ${r.checkpoint === "none" ? "–" : r.runs.map((x) => x.bestEpoch + 1).join(", ")} | ${min.toFixed(1)} |`;
  });
  return [
    "| setting | selection micro-F1 | − n-gram, same seeds (95% interval, paired) | selection macro-F1 | seeds | best epoch | min / run |",
    "|---|---:|---:|---:|---|---|---:|",
    ...rows,
  ].join("\n");
}

/**
 * Two bench:selection records seed by seed (b against a, on the seeds both ran), with the paired difference b − a and
 * its interval; `tail` says how the runs were made.
 */
function pairedBlock(a: SelectionRecord, b: SelectionRecord, [nameA, nameB]: [string, string], tail: string): string {
  const seeds = a.runs.map((r) => r.seed).filter((s) => b.runs.some((x) => x.seed === s));
  const min = (r: SelectionRecord): number => r.runs.reduce((t, x) => t + x.seconds, 0) / r.runs.length / 60;
  const rows = seeds.map((s) => {
    const [x, y] = [a, b].map((r) => r.runs.find((q) => q.seed === s)!);
    return `| ${s} | ${(100 * x.micro_f1).toFixed(2)} | ${(100 * y.micro_f1).toFixed(2)} | ${signedPoints(100 * (y.micro_f1 - x.micro_f1))} | ${(100 * x.macro_f1).toFixed(2)} | ${(100 * y.macro_f1).toFixed(2)} | ${(x.seconds / 60).toFixed(1)} | ${(y.seconds / 60).toFixed(1)} |`;
  });
  const line = (k: "micro_f1" | "macro_f1", name: string): string => {
    const c = compareSamples(bySeed(a, seeds, k), bySeed(b, seeds, k));
    return `${name} ${signedPoints(c.diff)}, 95% interval ${formatInterval(c.ci)} (paired, ${seeds.length} seeds; these seeds detect ±${c.detectable.toFixed(2)})`;
  };
  return [
    `| seed | micro-F1 ${nameA} | micro-F1 ${nameB} | ${nameB} − ${nameA} | macro-F1 ${nameA} | macro-F1 ${nameB} | min ${nameA} | min ${nameB} |`,
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    `${nameB} − ${nameA} on the selection split: ${line("micro_f1", "micro-F1")}; ${line("macro_f1", "macro-F1")}. ` +
      `Minutes per run: ${min(a).toFixed(1)} (${nameA}) and ${min(b).toFixed(1)} (${nameB}), ${tail}`,
  ].join("\n");
}

/**
 * bf16 against f32 products on the selection split, seed by seed, with the paired difference and its interval: the
 * evidence bf16 was adopted on (records: bench:selection's, the f32 one first).
 */
export function precisionBlock(records: SelectionRecord[]): string {
  const [f32, bf16] = ["f32", "bf16"].map((p) => records.find((r) => (r.set.precision ?? "f32") === p));
  if (!f32 || !bf16) throw new Error(`${path.relative(process.cwd(), PRECISION_SELECTION)}: needs one f32 and one bf16 record`);
  return pairedBlock(f32, bf16, ["f32", "bf16"],
    "two runs side by side at one thread each (the two arms at once; the machine had other work). " +
      "`npm run bench:selection -- --seeds 0,1,2 --name NAME --json bench/results/precision-selection.json` (and `--set '{\"precision\":\"bf16\"}'`).");
}

/**
 * Length-aligned study batches against the study's random balanced ones (the same checkpoint and fields otherwise), from
 * bench:selection's candidate records: the evidence `lengthAligned` was judged on. Undefined until both were run.
 */
export function lengthAlignedBlock(records: SelectionRecord[]): string | undefined {
  const aligned = records.find((r) => r.set.lengthAligned === true);
  if (!aligned) return undefined;
  const { lengthAligned: _, ...rest } = aligned.set;
  const random = records.find((r) => r !== aligned && r.checkpoint === aligned.checkpoint && JSON.stringify(r.set) === JSON.stringify(rest));
  if (!random) return undefined;
  return pairedBlock(random, aligned, ["random", "aligned"],
    `the two arms at once at one thread each, beside other work (${aligned.checkpoint}, \`${JSON.stringify(rest)}\`; the records "${random.name}" and "${aligned.name}" of bench/results/pretrain-selection.json).`);
}

const fmt = (m: number, s: number): string => (Number.isFinite(s) ? `${m.toFixed(2)} ± ${s.toFixed(2)}` : m.toFixed(2));
const pval = (p: number): string => (Number.isNaN(p) ? "–" : p < 0.001 ? "< 0.001" : p.toFixed(3));

/** How much of the study grid the shipped files hold, what a run cost (and where), and the command that continues it. */
function progressLine(): string {
  const tables = resultsProgress(STUDY_RESULTS_DIR);
  // the README quotes no number from a file with a run that does not prove itself: it names them and stops
  const rejected = tables.flatMap((t) => t.rejected.map((r) => r.message));
  if (rejected.length) throw new Error(`results/study has runs that do not prove themselves; restore them from git or re-export:\n  ${rejected.join("\n  ")}`);
  const grid = new Set(tables.flatMap((t) => t.grid.map((g) => g.hash)));
  const runs = new Map(tables.flatMap((t) => t.runs.filter((r) => r.hash && r.info).map((r) => [r.hash!, r] as const)));
  const per = tables.map((t) => `${t.table} ${t.done} of ${t.total}`).join(", ");
  // what a fine-tuning cost (the n-gram runs take a minute and run on no BLAS threads): minutes, and on which CPUs
  const tuned = [...runs.values()].filter((r) => r.info!.threads !== undefined);
  const mins = tuned.map((r) => r.info!.seconds.total / 60);
  const cpus = [...new Set(tuned.map((r) => r.info!.cpu ?? "CPU not recorded"))].map((c) => `${c}: ${tuned.filter((r) => (r.info!.cpu ?? "CPU not recorded") === c).length}`);
  const cost = mins.length ? `; a fine-tuning took ${summarize(mins).mean.toFixed(1)} min on average at 1 thread with two shards side by side (runs per CPU: ${cpus.join(", ")})` : "";
  const whole = runs.size >= grid.size && tables.length === TABLE_NAMES.length;
  return whole
    ? `All ${grid.size} distinct runs of the grid are in \`results/study/\`${cost}.`
    : `**Partial: ${runs.size} of ${grid.size} distinct runs** (per table: ${per})${cost}. ` +
        `\`${studyResultsCommand("all")}\` trains the rest on any machine, taking the shipped runs as done.`;
}

/** The models table on the study's data: each model's micro/macro-F1 and time per run. */
function qualityBlock(t: TableResult<"shipped">): string {
  const rows = t.variants.map((v) => {
    const recs = t.records.filter((r) => r.variant === v);
    if (recs.length === 0) return `| ${v} | – | – | 0 (not run yet) |`;
    const cell = (m: MetricRow): string => {
      const s = summarize(recs.map((r) => metricValue(r.metrics, m)));
      return fmt(s.mean, s.std);
    };
    return `| ${v} | ${cell("Micro-F1")} | ${cell("Macro-F1")} | ${recs.length} |`;
  });
  return [`| model (${t.split} split, study data) | micro-F1 | macro-F1 | seeds |`, "|---|---:|---:|---:|", ...rows].join("\n");
}

/**
 * Each table's readings on the study's data: our difference with its 95% interval, the smallest difference its seeds
 * detect at 80% power, and the verdict against the study's own difference (the words every notebook uses).
 */
function readingsBlock(tables: TableResult<"shipped">[]): string {
  const lines = [
    "| table (measured on) | comparison | metric | ours (points) | 95% interval | detectable at 80% power | test | the study's difference | verdict |",
    "|---|---|---|---:|---|---:|---|---:|---|",
  ];
  for (const t of tables) {
    // a partial table: only the comparisons with enough seeds on both sides for a verdict
    for (const c of tableComparisonLines(t.table, t.records, t.variants).filter((x) => Math.min(x.seeds[0], x.seeds[1]) >= MIN_VERDICT_SEEDS)) {
      const study = studyDifference(t.table, c.metric, c);
      const stats = Number.isFinite(c.ci[0]) ? [formatInterval(c.ci), `±${c.detectable.toFixed(2)}`] : ["–", "–"];
      const seeds = c.test === "paired" ? `${c.seeds[0]} seeds` : `${c.seeds[0]} and ${c.seeds[1]} seeds`;
      lines.push(
        `| ${TABLE_SPECS[t.table].title} (${t.encoder}) | ${c.b} vs ${c.a} | ${c.metric} | ${signedPoints(c.diff)} | ${stats.join(" | ")} | ${c.test}, ${seeds}, p ${pval(c.p)} | ` +
          `${study === undefined ? "not in its table" : signedPoints(study)} | ${verdictPhrase(c, readingVerdict(c, study))} |`,
      );
    }
  }
  lines.push(
    "",
    "A verdict against the study's number: *rules out* — the study's value lies outside our 95% interval; *confirms its direction* — " +
      "inside, and our interval excludes 0 on its side; *undecided* — inside, and our interval includes 0 (then: about how many seeds " +
      "would give 80% power at the study's value, from our observed spread). Without a study number: beyond or within seed noise. " +
      "Detectable = (t₀.₉₇₅ + t₀.₈₀) × SE, the usual t approximation to a t-test's power (checked against scipy in `test/reading.test.ts`). " +
      "Every verdict is about the encoder named beside its table, not about the study's base-size encoders.",
  );
  return lines.join("\n");
}

/**
 * Each table's named effects at each encoder strength (results/study and any results/study-<name>): effect [95%
 * interval] verdict per strength beside the study's own value, or the line that says the second is not run yet.
 */
function strengthsBlock(strengths: Strength[]): string {
  const effects = strengthEffects(strengths);
  const lines = [
    `| table | comparison | the study's | ${strengths.map((s) => `${s.label}, \`${path.relative(path.dirname(README), s.dir)}/\``).join(" | ")} |`,
    `|---|---|---:|${strengths.map(() => "---|").join("")}`,
  ];
  for (const t of TABLE_NAMES) {
    for (const r of strengthRows(t, strengths, effects)) lines.push(`| ${TABLE_SPECS[t].title} | ${r.comparison} | ${r.study === undefined ? "–" : signedPoints(r.study)} | ${r.cells.join(" | ")} |`);
  }
  const missing = missingStrengthLine(strengths);
  return [
    ...lines,
    "",
    "Each cell: our effect in points [95% interval over seeds] and its verdict against the study's own value (against 0 where the study's table has none), " +
      "the words of the readings above. A strength is one results folder, named by the checkpoint its runs' configs record. " +
      (missing ?? ""),
  ].join("\n");
}

/** The next grid's seeds, fixed by a power calculation before its first run (results/study-plan.json). */
function planBlock(plan: StudyPlan): string {
  const rows = plan.comparisons.map((c) => {
    const sd = c.test === "paired" ? c.observed.spread[0].toFixed(2) : `${c.observed.spread[0].toFixed(2)} / ${c.observed.spread[1].toFixed(2)}`;
    return `| ${c.b} − ${c.a} | ${c.metric} | ${signedPoints(c.study)} | ${sd} (${c.observed.seeds} seeds) | ${c.seedsForPower ?? `> ${MAX_PLANNED_SEEDS}`} | ${c.planned} | ${c.note} |`;
  });
  const seeds = Object.entries(plan.seeds).map(([t, v]) => `${t}: ${Object.entries(v).map(([k, n]) => `${k} ${n}`).join(", ")}`);
  return [
    `Planned for: ${plan.grid}. Test: ${plan.test}; at most ${plan.maxSeedsPerVariant} seeds a variant.` +
      (plan.override?.precision ? ` Every job runs with ${plan.override.precision} products (the config field \`precision\`; see *bf16 products* under Speed).` : ""),
    "",
    "| comparison | metric | the study's difference | today's spread (sd of paired differences) | seeds for 80% power | planned seeds | what they can decide |",
    "|---|---|---:|---:|---:|---:|---|",
    ...rows,
    "",
    `Seeds per variant — ${seeds.join("; ")}; the ensemble row: ${plan.ensemble.seeds} (${plan.ensemble.note}).`,
    `${plan.cost.runs} distinct fine-tunings, about ${plan.cost.hours.toFixed(1)} h on ${plan.cost.shards} shards at today's ${plan.cost.minutesPerRun.toFixed(1)} min per run. ` +
      `Made by \`npm run plan\` from ${plan.madeFrom.map((f) => `\`${f.file}\``).join(", ")} (their SHA-256 in \`${STUDY_PLAN_FILE}\`), committed before the grid's first run.`,
  ].join("\n");
}

/** OpenBLAS's core and denormal flushing of a bench:base result, in words ("not recorded" for older files). */
function baseKernels(r: BaseStepResult): string {
  const core = r.blasCore?.core ?? /core (\w+)/.exec(r.blas ?? "")?.[1];
  const who = r.blasCore ? coreWords(r.blasCore) : "who chose it not recorded";
  const kernels = r.blas === null ? "no OpenBLAS (native kernels not loaded)" : `OpenBLAS core ${core ?? "?"} (${who})`;
  const denormals = r.denormalsFlushed === undefined ? "denormals: not recorded" : r.denormalsFlushed ? "denormals flushed to zero" : "denormals not flushed";
  const env = Object.entries(r.machine.env ?? {}).filter(([k]) => /^(OPENBLAS_|OMP_|GOTO_)/.test(k) && k !== "OPENBLAS_CORETYPE");
  return `${kernels}, ${denormals}${env.length ? `, environment ${env.map(([k, v]) => `${k}=${v}`).join(", ")}` : ""}`;
}

/** bench:base's measurement: BERT-base at the authors' batch on this CPU. */
export function baseBlock(r: BaseStepResult): string {
  const v = r.variants[0];
  const m = r.machine;
  return [
    "| model | batch × tokens | s / step (threads) | CPU s / step | peak RSS | peak live WASM heap (ceiling) | memory strategy |",
    "|---|---|---:|---:|---:|---:|---|",
    `| ${r.model.shape}, ${(r.model.parameters / 1e6).toFixed(1)} M parameters | ${r.flags.batch} × ${r.flags.seq} | ${r.secondsPerStep.toFixed(1)} (${r.threads}) | ${v.cpuSecondsPerStep.toFixed(1)} | ${r.peakRssGiB.toFixed(2)} GiB | ${v.peakLiveGiB.toFixed(2)} GiB (${r.heapLimitGiB} GiB) | ${r.memoryStrategy} |`,
    "",
    `Median of timed steps ${v.timedSteps.join(", ")} (the first is warm-up); measured ${r.date.slice(0, 10)} on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB ` +
      `(load average ${m.loadAverageAtStart[0].toFixed(1)} at the start), ${baseKernels(r)}, by \`${r.command}\` (bench/results/base-step.json).`,
  ].join("\n");
}

/** bench:quick's measurement: the quick preset's fine-tuning speed on the study's data at one thread. */
function quickSpeedBlock(r: QuickSpeed): string {
  return (
    `The quick preset fine-tunes on the study's data at **${r.samplesPerSec.toFixed(1)} samples/s on one thread** ` +
    `(${r.trainRows.toLocaleString("en")} training rows: ${r.projectedMinutes.toFixed(1)} min of training for its 3 epochs), measured ${r.date.slice(0, 10)} on ${r.cpu}, ` +
    `OpenBLAS ${r.blasCore}, denormals ${r.denormalsFlushed ? "flushed" : "not flushed"}, load average ${r.loadAverageAtStart[0].toFixed(1)} at the start, by \`${r.command}\` (bench/results/quick-speed.json).`
  );
}

/** The steps a student runs, in the order they run them (notebooks follow, by name). */
const STEP_ORDER = ["npm run setup", "npm test", "npm start", "npm start · grids", "npm start · notebooks"];
const stepRank = (step: string): number => (STEP_ORDER.includes(step) ? STEP_ORDER.indexOf(step) : STEP_ORDER.length);
const TIMES_REL = "bench/results/times.json";
const MEASURE_NOTEBOOKS = "npm run bench:times -- notebooks --preset";

/** One measurement as a table row: step, preset, wall time, under which circumstances, when and on what. */
function timeRow(e: TimeEntry): string {
  const when = `${e.date.slice(0, 10)}, ${describeMachine(e.machine)}`;
  return `| ${e.step.replace(/^notebook /, "notebook `") + (e.step.startsWith("notebook ") ? "`" : "")} | ${e.preset ?? "–"} | ${formatDuration(e.seconds)} | ${e.condition ?? "–"} | ${when} |`;
}

/** The README's times: every step recorded in bench/results/times.json, in the order a student meets them. */
function timesBlock(entries: readonly TimeEntry[]): string {
  const sorted = [...entries].sort((a, b) => stepRank(a.step) - stepRank(b.step) || a.step.localeCompare(b.step) || (a.preset ?? "").localeCompare(b.preset ?? ""));
  const missing = STEP_ORDER.filter((s) => !entries.some((e) => e.step === s));
  return [
    "| step | preset | wall time | circumstances | measured (machine, load average at the start) |",
    "|---|---|---:|---|---|",
    ...sorted.map(timeRow),
    "",
    `Recorded by the commands themselves in ${TIMES_REL} (\`npm run bench:times -- setup|test|start\`, \`${MEASURE_NOTEBOOKS} smoke|quick\`); ` +
      `a load average above the core count means the machine was busy and the times are inflated.` +
      (missing.length ? ` Not measured yet: ${missing.map((m) => `\`${m}\``).join(", ")}.` : ""),
  ].join("\n");
}

/** A notebook's header line: how long it takes under each preset measured, and its slowest cell. */
function notebookTimeBlock(name: string, entries: readonly TimeEntry[]): string {
  const mine = entries.filter((e) => e.step === `notebook ${name}`).sort((a, b) => (a.preset ?? "").localeCompare(b.preset ?? ""));
  // *…* rather than _…_: Jupyter's markdown would end the emphasis at the underscore of a notebook's name
  if (mine.length === 0) return `*Time to run it: not measured yet (\`${MEASURE_NOTEBOOKS} smoke --notebooks ${name}\` records it in ${TIMES_REL}).*`;
  const parts = mine.map((e) => {
    const slow = [...(e.cells ?? [])].sort((a, b) => b.seconds - a.seconds)[0];
    const cell = slow ? `; slowest cell In [${slow.cell}], ${formatDuration(slow.seconds)}` : "";
    return `${formatDuration(e.seconds)} with \`MEDREL_PRESET=${e.preset ?? "quick"}\` (${e.condition ?? "as recorded"}${cell})`;
  });
  const m = mine[0];
  const quick = mine.some((e) => e.preset === "quick") ? "" : ` Under \`quick\`, the default, it takes longer: not measured yet (\`${MEASURE_NOTEBOOKS} quick\`).`;
  return `*Time to run it: ${parts.join("; ")}. Measured ${m.date.slice(0, 10)} on ${describeMachine(m.machine)} (${TIMES_REL}).${quick}*`;
}

/** Which kernel numerics each shipped results file was made with (run.json's info.numerics), and what a re-make compares. */
function numericsBlock(): string {
  const byWords = new Map<string, Map<string, number>>();
  for (const t of resultsProgress(STUDY_RESULTS_DIR)) {
    for (const r of t.runs.filter((x) => x.info)) {
      const words = numericsWords(r.info);
      const files = byWords.get(words) ?? new Map<string, number>();
      files.set(`${t.table}.json`, (files.get(`${t.table}.json`) ?? 0) + 1);
      byWords.set(words, files);
    }
  }
  const lines = [...byWords].map(([words, files]) => `- ${words}: ${[...files].map(([f, n]) => `\`${f}\` (${n} runs)`).join(", ")}`);
  return [
    "Kernel numerics of the shipped runs, per results file:",
    "",
    ...lines,
    "",
    "A re-make (`npm run experiment -- --config results/study/<table>.json#<hash>`) under the shipped run's own numerics must agree digit for digit; " +
      `under other or unrecorded numerics it says so and is judged ${SEED_NOISE_RULE}.`,
  ].join("\n");
}

/** What a block says while the file it is rendered from does not exist yet. */
const MISSING_SOURCE: Record<string, string> = {
  quality: "_Not in this checkout yet: `npm run reproduce -- --table all --data-dir ../shared/data --seeds 5 --export results/study` writes `results/study/`, then `npm run readme`._",
  "study-readings": "_Rendered from `results/study/` once it exists (see above)._",
  "study-numerics": "_Rendered from `results/study/` once it exists (see above)._",
  "study-strengths": "_Rendered from `results/study/` (and any `results/study-<name>/`) once it exists (see above)._",
  "study-plan": "_Not planned yet: `npm run plan` writes `results/study-plan.json` from today's shipped runs._",
  speed: "_Not measured in this checkout yet: `npm run bench:throughput` writes bench/results/throughput/<cpu>.json, then `npm run readme`._",
  base: "_Not measured in this checkout yet: `npm run bench:base -- --batch 16 --seq 300`, then `npm run readme`._",
  "quick-speed": "_Not measured in this checkout yet: `npm run bench:quick`, then `npm run readme`._",
  "grid-speed": "_Not measured yet: on an idle machine, `npm run bench:grid -- --shards 2 --threads 1` (and `--shards 1 --threads 2`) append to bench/results/grid/<cpu>.json, then `npm run readme`._",
  times: "_Not measured in this checkout yet: `npm run bench:times -- setup|test|start` and `npm run bench:times -- notebooks --preset smoke` write bench/results/times.json, then `npm run readme`._",
};

/** name -> markdown for every block: rendered from its source file, or the command that writes that file. */
export function renderBlocks(): Map<string, string> {
  const out = new Map<string, string>();
  const shipped = TABLE_NAMES.map((t) => loadResults(t, STUDY_RESULTS_DIR)).filter((t): t is TableResult<"shipped"> => t !== null);
  const models = shipped.find((t) => t.table === "models");
  if (shipped.length) out.set("quality", [progressLine(), ...(models ? ["", qualityBlock(models), ...ensembleLines(models.ensemble).flatMap((l) => ["", l])] : [])].join("\n"));
  if (shipped.length) out.set("study-readings", readingsBlock(shipped));
  if (shipped.length) out.set("study-numerics", numericsBlock());
  const strengths = loadStrengths(strengthDirs(path.dirname(STUDY_RESULTS_DIR)));
  if (strengths.length) out.set("study-strengths", strengthsBlock(strengths));
  const plan = readStudyPlan();
  if (plan) out.set("study-plan", planBlock(plan));
  const speed = readResults();
  if (speed.length) out.set("speed", renderReadmeTable(speed));
  if (fs.existsSync(PRETRAIN_SELECTION)) {
    const records = JSON.parse(fs.readFileSync(PRETRAIN_SELECTION, "utf8")) as SelectionRecord[];
    out.set("pretrain-selection", selectionBlock(records));
    out.set("pretrain-selection-runs", candidateTable(records));
    const aligned = lengthAlignedBlock(records);
    if (aligned) out.set("length-aligned-selection", aligned);
  }
  if (fs.existsSync(PRECISION_SELECTION)) out.set("precision-selection", precisionBlock(JSON.parse(fs.readFileSync(PRECISION_SELECTION, "utf8")) as SelectionRecord[]));
  const grid = renderGridBlock();
  if (grid) out.set("grid-speed", grid);
  if (fs.existsSync(QUICK_SPEED_FILE)) out.set("quick-speed", quickSpeedBlock(JSON.parse(fs.readFileSync(QUICK_SPEED_FILE, "utf8")) as QuickSpeed));
  if (fs.existsSync(BASE_STEP)) out.set("base", baseBlock(JSON.parse(fs.readFileSync(BASE_STEP, "utf8")) as BaseStepResult));
  const times = readTimes(COMMITTED_TIMES).entries;
  if (times.length) out.set("times", timesBlock(times));
  for (const nb of listNotebooks()) {
    const name = path.basename(nb, ".ipynb");
    out.set(`time-${name}`, notebookTimeBlock(name, times));
  }
  for (const [name, text] of Object.entries(MISSING_SOURCE)) if (!out.has(name)) out.set(name, text);
  return out;
}

/** README.md with every generated block replaced by its rendering (blocks without a source are left as they are). */
export function renderReadme(text: string, blocks = renderBlocks()): string {
  return text.replace(/(<!-- generated:([\w-]+) -->\n)([\s\S]*?)(<!-- \/generated:\2 -->)/g, (all, open: string, name: string, _body: string, close: string) =>
    blocks.has(name) ? `${open}${blocks.get(name)}\n${close}` : all,
  );
}

interface NotebookFile {
  cells: { cell_type: string; source: string | string[] }[];
}

/** A notebook's JSON text with the generated blocks of its markdown cells rendered; written back as Jupyter writes it. */
export function renderNotebook(text: string, blocks = renderBlocks()): string {
  const nb = JSON.parse(text) as NotebookFile;
  for (const cell of nb.cells) {
    if (cell.cell_type !== "markdown") continue;
    const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    // blank lines around a block: Jupyter's and nbconvert's markdown would otherwise take the text after an HTML
    // comment for part of that HTML and show its *…* as typed
    const out = renderReadme(src, new Map([...blocks].map(([k, v]) => [k, `\n${v}\n`])));
    if (out !== src) cell.source = out.split(/(?<=\n)/);
  }
  const rendered = JSON.stringify(nb, null, 1) + "\n";
  // an untouched notebook keeps its bytes (JSON.stringify and Jupyter agree, but a hand-edited file may not)
  return JSON.stringify(JSON.parse(text)) === JSON.stringify(nb) ? text : rendered;
}

/** Every file with generated blocks and how it is rendered. */
export const RENDERED: { file: string; render: (text: string, blocks: Map<string, string>) => string }[] = [
  ...READMES.map((file) => ({ file, render: renderReadme })),
  ...listNotebooks().map((file) => ({ file, render: renderNotebook })),
];

if (require.main === module) {
  const blocks = renderBlocks();
  for (const { file, render } of RENDERED) {
    const before = fs.readFileSync(file, "utf8");
    const after = render(before, blocks);
    fs.writeFileSync(file, after);
    console.log(`${path.relative(process.cwd(), file)}: ${after === before ? "generated blocks already current" : "generated blocks rewritten"}`);
  }
}
