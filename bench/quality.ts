/**
 * Quality of the `quick` preset on the study's real data (train -> val), in one table (`npm run bench:quality`):
 *   - quick (fine-tuned from the committed in-domain pretrained checkpoint data/pretrained/quick/),
 *   - quick --from-scratch (random init, character vocabulary from train),
 *   - the character 1–3-gram TF-IDF logistic-regression baseline (src/model/ngram.ts),
 * each as micro/macro-F1 mean ± std over seeds (default 0, 1, 2) with the wall time per seed.
 *
 * Fine-tuning runs go through runExperiment's run cache (runs/<config hash>/, the hash covering the checkpoint's
 * content), so a killed bench resumes where it stopped and two processes may split the work (`--only pretrained` /
 * `--only scratch`) before one plain invocation prints the table. The data is the study-layout folder spec, so
 * the quick rows ARE the "Regular Loss" runs of `npm run reproduce -- --table loss --data-dir ../shared/data`
 * (and of notebook 04 with DATA_DIR set): the bench and the study-data tables share them. Wall time is the run's
 * own training + evaluation time.
 *
 * Options: --data-dir ../shared/data  --seeds 0,1,2  --only pretrained,scratch,ngram  --json FILE  --runs DIR
 *          --set JSON (fields over the quick preset, e.g. '{"epochs":3}', for lever studies)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadRows } from "../src/data/load";
import { labelIndex } from "../src/data/labels";
import { classificationMetrics, type Metrics } from "../src/metrics";
import { formatComparison } from "../src/report";
import { compareVariants, type RunRecord } from "../src/metrics";
import { trainNgramBaseline } from "../src/model/ngram";
import { DEFAULT_RUNS_DIR, fromScratch, PRETRAINED_TINY_DIR, presetConfig, runExperiment, type ExperimentConfig } from "../src/experiments";

type Variant = "pretrained" | "scratch" | "ngram";
const VARIANTS: readonly Variant[] = ["pretrained", "scratch", "ngram"];

interface SeedResult {
  seed: number;
  micro: number;
  macro: number;
  seconds: number;
  epochs?: number;
  metrics: Metrics;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  // sample standard deviation (n - 1), as numpy's std(ddof=1)
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

function checkPretrained(): void {
  const f = path.join(PRETRAINED_TINY_DIR, "model.safetensors");
  if (!fs.existsSync(f)) throw new Error(`no pretrained checkpoint at ${f} (run \`npm run pretrain\` first)`);
}

/** The quick preset on train -> val: pretrained (default) or from scratch. */
export function qualityConfig(dataDir: string, seed: number, scratch: boolean, overrides: Partial<ExperimentConfig> = {}): ExperimentConfig {
  const base = { ...presetConfig("quick"), ...overrides };
  const model = scratch ? fromScratch(base.model) : base.model;
  return {
    ...base,
    model,
    seed,
    // the study's layout (study_train/study_val, no test split here): the same spec as `reproduce --data-dir`
    data: { kind: "dir", dir: path.resolve(dataDir) },
  };
}

async function main(): Promise<void> {
  const dataDir = path.resolve(arg("data-dir") ?? path.join(process.cwd(), "..", "shared", "data"));
  const seeds = (arg("seeds") ?? "0,1,2").split(",").map(Number);
  const only = (arg("only") ?? VARIANTS.join(",")).split(",") as Variant[];
  for (const v of only) if (!VARIANTS.includes(v)) throw new Error(`--only: unknown variant "${v}" (use ${VARIANTS.join(", ")})`);
  // --set '{"epochs":3}': fields over the quick preset, for lever studies (the table then describes that variant)
  const overrides = JSON.parse(arg("set") ?? "{}") as Partial<ExperimentConfig>;
  const runsDir = arg("runs") ? path.resolve(arg("runs") as string) : DEFAULT_RUNS_DIR;
  const results = new Map<Variant, SeedResult[]>();
  const t0 = Date.now();

  for (const variant of only) {
    const rows: SeedResult[] = [];
    if (variant === "ngram") {
      const train = loadRows(path.join(dataDir, "study_train.jsonl"), { mode: "lenient" }).rows;
      const dev = loadRows(path.join(dataDir, "study_val.jsonl"), { mode: "lenient" }).rows;
      for (const seed of seeds) {
        const s0 = Date.now();
        const model = trainNgramBaseline(train, { seed });
        const { preds } = model.predict(dev);
        const m = classificationMetrics(dev.map((r) => labelIndex(r.r)), preds);
        rows.push({ seed, micro: 100 * m.micro_f1, macro: 100 * m.macro_f1, seconds: (Date.now() - s0) / 1000, metrics: m });
        console.log(`[quality] ngram seed ${seed}: micro ${(100 * m.micro_f1).toFixed(2)} macro ${(100 * m.macro_f1).toFixed(2)}`);
      }
    } else {
      if (variant === "pretrained") checkPretrained();
      for (const seed of seeds) {
        const cfg = qualityConfig(dataDir, seed, variant === "scratch", overrides);
        const run = await runExperiment(cfg, { runsDir, progress: "auto" });
        const m = run.metrics.dev;
        rows.push({ seed, micro: 100 * m.micro_f1, macro: 100 * m.macro_f1, seconds: run.info.seconds.total, epochs: run.history.length, metrics: m });
        console.log(`[quality] ${variant} seed ${seed}: micro ${(100 * m.micro_f1).toFixed(2)} macro ${(100 * m.macro_f1).toFixed(2)} (${run.info.seconds.total.toFixed(0)} s)`);
      }
    }
    results.set(variant, rows);
  }

  const label: Record<Variant, string> = {
    pretrained: "quick (in-domain pretrained)",
    scratch: "quick --from-scratch",
    ngram: "char 1–3-gram TF-IDF + LR",
  };
  const fmt = (xs: number[]): string => {
    const { mean, std } = meanStd(xs);
    return `${mean.toFixed(2)} ± ${std.toFixed(2)}`;
  };
  console.log(`\nstudy_train (7,000) -> study_val (2,000), seeds ${seeds.join(", ")}; wall time = one seed's train + eval`);
  console.log("| model | micro-F1 | macro-F1 | wall time / seed | per seed (micro) |");
  console.log("|---|---:|---:|---:|---|");
  const summary: Record<string, unknown> = {};
  for (const [v, rows] of results) {
    const secs = meanStd(rows.map((r) => r.seconds));
    console.log(
      `| ${label[v]} | ${fmt(rows.map((r) => r.micro))} | ${fmt(rows.map((r) => r.macro))} | ${secs.mean < 120 ? `${secs.mean.toFixed(1)} s` : `${(secs.mean / 60).toFixed(1)} min`} | ${rows.map((r) => r.micro.toFixed(1)).join(", ")} |`,
    );
    summary[v] = {
      micro: meanStd(rows.map((r) => r.micro)),
      macro: meanStd(rows.map((r) => r.macro)),
      seconds: secs,
      seeds: rows.map(({ metrics: _m, ...r }) => r),
    };
  }
  // is quick above the floor and above its own from-scratch self? Welch: a seed number does not tie a fine-tuning
  // to an n-gram fit, and pre-trained vs random init share nothing but the data order
  const records: RunRecord[] = [...results].flatMap(([v, rows]) => rows.map((r) => ({ variant: label[v], seed: r.seed, metrics: r.metrics })));
  for (const other of ["ngram", "scratch"] as const) {
    if (results.has("pretrained") && results.has(other)) {
      console.log(formatComparison(compareVariants(records, label[other], label.pretrained, "Micro-F1", "welch")));
    }
  }
  console.log(`(bench wall time ${((Date.now() - t0) / 60000).toFixed(1)} min, cached runs included at their recorded time)`);
  const jsonOut = arg("json");
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ dataDir, seeds, quick: presetConfig("quick"), results: summary }, null, 2) + "\n");
}

// run as a script (npm run bench:quality); a test imports qualityConfig without running the bench
if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  });
}
