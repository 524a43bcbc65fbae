/**
 * npm run bench:selection — how a recipe lever or a checkpoint does on the SELECTION split (a fixed sentence-grouped
 * 10% slice of the study's train split), never on val: the numbers recipes, epochs and the pre-training length are
 * chosen by. Each setting is the quick preset on the study's data with fields set over it; runs go through the run
 * cache (runs/<hash>/), so a killed bench resumes. Only selection-split figures are printed or written.
 *
 *   --data-dir ../shared/data  --seeds 0,1,2  --checkpoint DIR (default data/pretrained/quick)
 *   --set '{"epochs":4}' (fields over the quick preset; null drops one: '{"distill":null}')  --name NAME  --json FILE (records every candidate)
 *   --ngram: the n-gram baseline instead, fitted on the same train rows (train minus the slice), scored on the slice
 *   --table FILE: print the per-candidate table of a results file (what the READMEs show) and exit
 *
 * Every candidate — checkpoint × recipe (a record, named) × seed (a run) — stays in the --json file: a seed run
 * again replaces that seed's run only, other seeds and other records are kept; a name already used for another
 * checkpoint or recipe is an error. Each run records its selection micro/macro-F1, best epoch, minutes, CPU and
 * thread count.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { presetConfig, runExperiment, type ExperimentConfig, loadExperimentData } from "../src/experiments";
import { applyOverride, parseConfigOverride, type ConfigOverride } from "../src/runs/config";
import { DEFAULT_SELECTION, selectionSplit } from "../src/data/selection";
import { labelIndex } from "../src/data/labels";
import { trainNgramBaseline } from "../src/model/ngram";
import { classificationMetrics, summarize } from "../src/metrics";
import { cpuModel } from "../src/backend/cpu";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const KNOWN = new Set(["data-dir", "seeds", "checkpoint", "set", "name", "json", "ngram", "table"]);

export interface SelectionRecord {
  name: string;
  checkpoint: string;
  set: ConfigOverride;
  seeds: number[];
  /** per seed: selection-split micro/macro-F1 (fractions), best epoch (0-based), seconds, where it ran (absent in records written before) */
  runs: { seed: number; hash: string; micro_f1: number; macro_f1: number; bestEpoch: number; seconds: number; cpu?: string; threads?: number; at?: string }[];
  micro: { mean: number; std: number };
  macro: { mean: number; std: number };
}

/** One row per candidate run (checkpoint × recipe × seed): what `--table` prints and the READMEs show. */
export function candidateTable(records: SelectionRecord[]): string {
  const pct = (x: number): string => (100 * x).toFixed(2);
  const recipe = (r: SelectionRecord): string => (Object.keys(r.set).length ? "`" + JSON.stringify(r.set).replace(/\|/g, "\\|") + "`" : "quick preset");
  const rows = records.flatMap((r) =>
    [...r.runs]
      .sort((a, b) => a.seed - b.seed)
      .map(
        (x) =>
          `| ${r.name} | ${r.checkpoint === "none" ? "–" : r.checkpoint} | ${r.checkpoint === "none" ? "–" : recipe(r)} | ${x.seed} | ${pct(x.micro_f1)} | ${pct(x.macro_f1)} | ${r.checkpoint === "none" ? "–" : x.bestEpoch + 1} | ${(x.seconds / 60).toFixed(1)} | ${x.cpu ?? "not recorded"}${x.threads ? ` × ${x.threads}` : ""} |`,
      ),
  );
  return ["| candidate | checkpoint | recipe (over quick) | seed | micro-F1 | macro-F1 | best epoch | min | CPU × threads |", "|---|---|---|---:|---:|---:|---:|---:|---|", ...rows].join("\n");
}

/** Add `rec`'s runs to the file's records: same name → its seeds replaced, others kept; a name reused for another candidate throws. */
export function mergeRecord(all: SelectionRecord[], rec: SelectionRecord): SelectionRecord[] {
  const old = all.find((x) => x.name === rec.name);
  if (!old) return [...all, rec];
  if (old.checkpoint !== rec.checkpoint || JSON.stringify(old.set) !== JSON.stringify(rec.set)) {
    throw new Error(`--name "${rec.name}" already names ${old.checkpoint} with ${JSON.stringify(old.set)}; pick another name for ${rec.checkpoint} with ${JSON.stringify(rec.set)}`);
  }
  const runs = [...old.runs.filter((r) => !rec.seeds.includes(r.seed)), ...rec.runs].sort((a, b) => a.seed - b.seed);
  return all.map((x) => (x === old ? summarizeRecord({ ...rec, runs, seeds: runs.map((r) => r.seed) }) : x));
}

function summarizeRecord(rec: SelectionRecord): SelectionRecord {
  const s = (xs: number[]): { mean: number; std: number } => {
    const x = summarize(xs.map((v) => 100 * v));
    return { mean: x.mean, std: x.std };
  };
  return { ...rec, micro: s(rec.runs.map((r) => r.micro_f1)), macro: s(rec.runs.map((r) => r.macro_f1)) };
}

async function main(): Promise<void> {
  for (const a of process.argv.slice(2)) if (a.startsWith("--") && !KNOWN.has(a.slice(2))) throw new Error(`unknown flag ${a} (known: ${[...KNOWN].map((k) => `--${k}`).join(" ")})`);
  const table = arg("table");
  if (table) {
    console.log(candidateTable(JSON.parse(fs.readFileSync(table, "utf8")) as SelectionRecord[]));
    return;
  }
  const ngram = process.argv.includes("--ngram");
  const dataDir = path.resolve(arg("data-dir") ?? path.join(__dirname, "..", "..", "shared", "data"));
  const seeds = (arg("seeds") ?? "0,1,2").split(",").map(Number);
  const set = parseConfigOverride(arg("set") ?? "{}", "--set");
  const base = presetConfig("quick");
  const checkpoint = arg("checkpoint") ? path.resolve(arg("checkpoint")!) : base.model.kind === "preset" ? base.model.pretrained : null;
  if (!checkpoint) throw new Error("no checkpoint (run npm run pretrain, or pass --checkpoint)");
  const name = arg("name") ?? (ngram ? "n-gram TF-IDF + LR" : Object.keys(set).length ? JSON.stringify(set) : path.basename(checkpoint));
  const runs: SelectionRecord["runs"] = [];
  for (const seed of seeds) {
    if (ngram) {
      runs.push(ngramOnSelection({ ...base, data: { kind: "dir", dir: dataDir }, seed }));
      continue;
    }
    // null in --set drops an optional preset field (e.g. {"distill":null}: no distillation, no teacher fitted)
    const cfg: ExperimentConfig = { ...applyOverride(base, set), data: { kind: "dir", dir: dataDir }, model: { kind: "preset", preset: "tiny", pretrained: checkpoint }, seed };
    const r = await runExperiment(cfg, { verbose: false, label: `${name}, seed ${seed}` });
    const m = r.metrics.selection;
    if (!m) throw new Error(`run ${r.dir} has no selection metrics (its data has a test split, so it selected on dev)`);
    runs.push({ seed, hash: r.hash, micro_f1: m.micro_f1, macro_f1: m.macro_f1, bestEpoch: r.info.bestEpoch, seconds: r.info.seconds.total, cpu: r.info.cpu ?? cpuModel(), threads: r.info.threads, at: new Date().toISOString() });
    console.log(`[selection] ${name} seed ${seed}: micro-F1 ${(100 * m.micro_f1).toFixed(2)} macro-F1 ${(100 * m.macro_f1).toFixed(2)} (best epoch ${r.info.bestEpoch + 1}, ${(r.info.seconds.total / 60).toFixed(1)} min)`);
  }
  const rec = summarizeRecord({ name, checkpoint: ngram ? "none" : path.relative(path.join(__dirname, ".."), checkpoint), set, seeds, runs, micro: { mean: NaN, std: NaN }, macro: { mean: NaN, std: NaN } });
  console.log(`[selection] ${name}: micro-F1 ${rec.micro.mean.toFixed(2)} ± ${rec.micro.std.toFixed(2)}, macro-F1 ${rec.macro.mean.toFixed(2)} ± ${rec.macro.std.toFixed(2)} over seeds ${seeds.join(", ")} (selection split)`);
  const json = arg("json");
  if (json) {
    const all = fs.existsSync(json) ? (JSON.parse(fs.readFileSync(json, "utf8")) as SelectionRecord[]) : [];
    fs.writeFileSync(json, JSON.stringify(mergeRecord(all, rec), null, 1) + "\n");
  }
}

/** The n-gram floor on the same footing: fitted on train minus the selection slice, scored on the slice. */
function ngramOnSelection(cfg: ExperimentConfig): SelectionRecord["runs"][number] {
  const t0 = Date.now();
  const { fit, selection } = selectionSplit(loadExperimentData(cfg).dataset.train, DEFAULT_SELECTION);
  const model = trainNgramBaseline(fit, { seed: cfg.seed });
  const m = classificationMetrics(selection.map((r) => labelIndex(r.r)), model.predict(selection).preds);
  const seconds = (Date.now() - t0) / 1000;
  console.log(`[selection] n-gram seed ${cfg.seed}: micro-F1 ${(100 * m.micro_f1).toFixed(2)} macro-F1 ${(100 * m.macro_f1).toFixed(2)} (${seconds.toFixed(0)} s)`);
  return { seed: cfg.seed, hash: "ngram", micro_f1: m.micro_f1, macro_f1: m.macro_f1, bestEpoch: 0, seconds, cpu: cpuModel(), at: new Date().toISOString() };
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
