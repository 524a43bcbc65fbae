/**
 * npm run bench:selection — how a recipe lever or a checkpoint does on the SELECTION split (a fixed sentence-grouped
 * 10% slice of the study's train split), never on val: the numbers recipes, epochs and the pre-training length are
 * chosen by. Each setting is the quick preset on the study's data with fields set over it; runs go through the run
 * cache (runs/<hash>/), so a killed bench resumes. Only selection-split figures are printed or written.
 *
 *   --data-dir ../shared/data  --seeds 0,1  --checkpoint DIR (default data/pretrained/quick)
 *   --set '{"epochs":4}' (fields over the quick preset)  --name NAME  --json FILE (appends one record)
 *   --ngram: the n-gram baseline instead, fitted on the same train rows (train minus the slice), scored on the slice
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { presetConfig, runExperiment, type ExperimentConfig } from "../src/experiments";
import { loadExperimentData } from "../src/experiments/rows";
import { DEFAULT_SELECTION, selectionSplit } from "../src/data/selection";
import { labelIndex } from "../src/data/labels";
import { trainNgramBaseline } from "../src/model/ngram";
import { classificationMetrics, summarize } from "../src/metrics";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const KNOWN = new Set(["data-dir", "seeds", "checkpoint", "set", "name", "json", "ngram"]);

export interface SelectionRecord {
  name: string;
  checkpoint: string;
  set: Partial<ExperimentConfig>;
  seeds: number[];
  /** per seed: selection-split micro/macro-F1 (fractions), best epoch, seconds */
  runs: { seed: number; hash: string; micro_f1: number; macro_f1: number; bestEpoch: number; seconds: number }[];
  micro: { mean: number; std: number };
  macro: { mean: number; std: number };
}

async function main(): Promise<void> {
  for (const a of process.argv.slice(2)) if (a.startsWith("--") && !KNOWN.has(a.slice(2))) throw new Error(`unknown flag ${a} (known: ${[...KNOWN].map((k) => `--${k}`).join(" ")})`);
  const ngram = process.argv.includes("--ngram");
  const dataDir = path.resolve(arg("data-dir") ?? path.join(__dirname, "..", "..", "shared", "data"));
  const seeds = (arg("seeds") ?? "0,1").split(",").map(Number);
  const set = JSON.parse(arg("set") ?? "{}") as Partial<ExperimentConfig>;
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
    const cfg: ExperimentConfig = { ...base, ...set, data: { kind: "dir", dir: dataDir }, model: { kind: "preset", preset: "tiny", pretrained: checkpoint }, seed };
    const r = await runExperiment(cfg, { verbose: false, label: `${name}, seed ${seed}` });
    const m = r.metrics.selection;
    if (!m) throw new Error(`run ${r.dir} has no selection metrics (its data has a test split, so it selected on dev)`);
    runs.push({ seed, hash: r.hash, micro_f1: m.micro_f1, macro_f1: m.macro_f1, bestEpoch: r.info.bestEpoch, seconds: r.info.seconds.total });
    console.log(`[selection] ${name} seed ${seed}: micro-F1 ${(100 * m.micro_f1).toFixed(2)} macro-F1 ${(100 * m.macro_f1).toFixed(2)} (best epoch ${r.info.bestEpoch + 1}, ${(r.info.seconds.total / 60).toFixed(1)} min)`);
  }
  const s = (xs: number[]): { mean: number; std: number } => {
    const x = summarize(xs.map((v) => 100 * v));
    return { mean: x.mean, std: x.std };
  };
  const rec: SelectionRecord = { name, checkpoint: ngram ? "none" : path.relative(path.join(__dirname, ".."), checkpoint), set, seeds, runs, micro: s(runs.map((r) => r.micro_f1)), macro: s(runs.map((r) => r.macro_f1)) };
  console.log(`[selection] ${name}: micro-F1 ${rec.micro.mean.toFixed(2)} ± ${rec.micro.std.toFixed(2)}, macro-F1 ${rec.macro.mean.toFixed(2)} ± ${rec.macro.std.toFixed(2)} over seeds ${seeds.join(", ")} (selection split)`);
  const json = arg("json");
  if (json) {
    const all = fs.existsSync(json) ? (JSON.parse(fs.readFileSync(json, "utf8")) as SelectionRecord[]) : [];
    fs.writeFileSync(json, JSON.stringify([...all.filter((x) => x.name !== name), rec], null, 1) + "\n");
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
  return { seed: cfg.seed, hash: "ngram", micro_f1: m.micro_f1, macro_f1: m.macro_f1, bestEpoch: 0, seconds };
}

main().catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
