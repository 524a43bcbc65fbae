/**
 * npm run experiment -- [--data-dir DIR | --train F --dev F [--test F]] [--preset P] [--model M]
 *                       [--encoding E] [--seed N] [--out DIR] ...
 * Runs one experiment and writes its run folder (runs/<hash>/, or --out).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { SHAPE_NAMES, type ShapeName } from "../model/config";
import {
  presetConfig,
  PRESET_NAMES,
  runConfig,
  shippedRun,
  MODELS_DIR,
  type ExperimentConfig,
  comparedWithShipped,
  variantRuns,
} from "../experiments";
import { configFrom, readConfigFile, type ConfigFlags, type DataSpec, type ModelSpec, WeightSchemeSchema, ExperimentConfigSchema } from "../runs";
import { formatRunSummary } from "../report/summary";
import { cpuModel } from "../backend/cpu";
import { STUDY_MANUAL_WEIGHTS } from "../train/class-weights";
import { runMain, floatArg, choiceArg, addSchemaOptions } from "./common";

const isShape = (m: string): m is ShapeName => (SHAPE_NAMES as readonly string[]).includes(m);

/** `--model`: an embedded shape (random init), or a Hugging Face folder (a path, or a name under models/). */
export function resolveModel(m: string): ModelSpec {
  if (isShape(m)) return { kind: "preset", preset: m, pretrained: null };
  const asPath = fs.existsSync(m) ? m : path.join(MODELS_DIR, m);
  if (!fs.existsSync(path.join(asPath, "config.json"))) {
    throw new Error(`--model "${m}": not a shape (${SHAPE_NAMES.join(", ")}) nor a Hugging Face folder with config.json (looked in ${asPath})`);
  }
  return { kind: "checkpoint", dir: path.resolve(asPath), name: path.basename(asPath) };
}

export function resolveData(o: { dataDir?: string; train?: string; dev?: string; test?: string }): DataSpec | undefined {
  if (o.dataDir && (o.train || o.dev)) throw new Error("use either --data-dir or --train/--dev/--test, not both");
  if (o.dataDir) return { kind: "dir", dir: path.resolve(o.dataDir) };
  if (o.train || o.dev || o.test) {
    if (!o.train || !o.dev) throw new Error("--train and --dev are both required when --data-dir is not given");
    return { kind: "files", train: path.resolve(o.train), dev: path.resolve(o.dev), test: o.test ? path.resolve(o.test) : undefined };
  }
  return undefined;
}

/** The flags that are not a scalar field of the config (those come from the schema: addSchemaOptions). */
interface Flags {
  dataDir?: string;
  train?: string;
  dev?: string;
  test?: string;
  preset: (typeof PRESET_NAMES)[number];
  model?: string;
  fromScratch?: boolean;
  weights?: ExperimentConfig["loss"]["scheme"];
  config?: string;
  out?: string;
  force?: boolean;
  strict?: boolean;
  checkpointMinutes?: number;
}

async function main(): Promise<void> {
  const program = new Command("experiment")
    .description("Run one experiment and write its run folder (config, metrics, predictions, curve, model)")
    .option("--data-dir <dir>", "a folder laid out as the study's: train.jsonl, val.jsonl (or dev.jsonl), optional test.jsonl; study_train.jsonl / study_val.jsonl are read too (--data-dir ../shared/data)")
    .option("--train <file>", "training rows (jsonl/json/csv/tsv)")
    .option("--dev <file>", "dev rows")
    .option("--test <file>", "test rows (optional)")
    .option("--preset <name>", `one of ${PRESET_NAMES.join(", ")}`, choiceArg("--preset", PRESET_NAMES), "quick")
    .option("--model <m>", `${SHAPE_NAMES.join(" | ")} | a Hugging Face folder (or a name under models/)`)
    .option("--from-scratch", "random init instead of the committed in-domain pretrained checkpoint")
    .option(
      "--weights <scheme>",
      `class weights: ${WeightSchemeSchema.options.join(", ")}; manual = the study's ${Object.entries(STUDY_MANUAL_WEIGHTS).map(([l, w]) => `${w.toFixed(1)} on ${l}`).join(" and ")}, 1 elsewhere (unless --config sets loss.manual)`,
      choiceArg("--weights", WeightSchemeSchema.options),
    )
    .option("--config <file>", "a JSON file of config fields: a whole config (a run's config.json; FILE#HASH = a run of a results file such as results/study/loss.json) is used as it is, a partial one is applied after the preset; flags apply last")
    .option("--out <dir>", "write the run folder here instead of runs/<hash> (MEDREL_RUNS_DIR moves runs/)")
    .option("--force", "retrain even if the run exists")
    .option("--strict", "fail on the first bad data row instead of skipping and reporting it")
    .option("--checkpoint-minutes <m>", "save resumable state mid-epoch this often (default 10); re-running a killed run resumes from the last save", floatArg("--checkpoint-minutes"))
    .addHelpText("after", "\nEnvironment: MEDREL_RUNS_DIR=DIR keeps run folders in DIR instead of runs/ (e.g. a cluster's shared filesystem);\nMEDREL_BLAS_THREADS=N sets the BLAS threads (one per process when several run side by side).")
    .showHelpAfterError();
  // every scalar field of the config (the hyperparameters among them) is a flag of the same name
  const fields = addSchemaOptions(program, ExperimentConfigSchema.shape);
  program.parse();
  const f = program.opts<Flags>();

  // FILE#HASH: a run shipped in a results file (results/study), re-made from its config and compared with it below
  const shipped = f.config?.includes("#") ? shippedRun(f.config) : undefined;
  const file = shipped ? shipped.config : f.config ? readConfigFile(f.config) : undefined;
  const given = program.opts<Record<string, unknown>>();
  const flags: ConfigFlags = {
    fields: Object.fromEntries(fields.filter((k) => given[k] !== undefined).map((k) => [k, given[k]])),
    data: resolveData(f),
    model: f.model ? resolveModel(f.model) : undefined,
    fromScratch: f.fromScratch,
    weights: f.weights,
  };
  // the edge: preset, file and flags made into one config and validated once here, and trusted from here on
  const valid = configFrom(presetConfig(f.preset), file, flags, f.config ? `${f.config} and flags` : "flags");

  const checkpointSeconds = f.checkpointMinutes === undefined ? undefined : 60 * f.checkpointMinutes;
  const run = await runConfig(valid, { out: f.out, force: f.force, strict: f.strict, checkpointSeconds, onDataReport: (text) => console.log(text) });
  console.log(formatRunSummary(run));
  if (shipped) console.log(comparedWithShipped(run, shipped, variantRuns(f.config!.split("#")[0], shipped), cpuModel()));
}

if (require.main === module) runMain(main);
