/**
 * The no-pretraining baseline row of every model table: a character 1–3-gram TF-IDF logistic
 * regression (src/model/ngram.ts), cached on disk by (data spec and content, seed) like the encoder runs.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { trainNgramBaseline } from "../model/ngram";
import { labelIndex } from "../data/labels";
import { classificationMetrics } from "../metrics";
import type { DataSpec, ExperimentConfig } from "../runs/config";
import { canonicalJson, dataFingerprint } from "../runs/config";
import { createHash } from "node:crypto";
import { DEFAULT_RUNS_DIR } from "./store";
import type { SplitMetrics } from "../runs/record";
import { capRows, loadExperimentData } from "./run";



export interface BaselineResult {
  hash: string;
  data: DataSpec;
  seed: number;
  metrics: SplitMetrics;
  seconds: number;
  features: number;
}

/** Train (or load) the n-gram baseline on a config's data (same row caps as the encoder runs). */
export function runBaseline(cfg: Pick<ExperimentConfig, "data" | "seed" | "maxTrainRows" | "maxEvalRows">, opts: { runsDir?: string; force?: boolean } = {}): BaselineResult {
  // the data files' content is part of the key, as in configHash: a regenerated split retrains the baseline too
  const key = {
    kind: "ngram-baseline",
    version: 2,
    data: cfg.data.kind,
    dataContent: dataFingerprint(cfg.data),
    seed: cfg.seed,
    maxTrainRows: cfg.maxTrainRows,
    maxEvalRows: cfg.maxEvalRows,
  };
  const hash = "ngram-" + createHash("sha256").update(canonicalJson(key)).digest("hex").slice(0, 12);
  const dir = path.join(opts.runsDir ?? DEFAULT_RUNS_DIR, hash);
  const file = path.join(dir, "baseline.json");
  if (!opts.force && fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")) as BaselineResult;
  const t0 = Date.now();
  const { dataset } = loadExperimentData({ ...(cfg as ExperimentConfig) });
  const train = capRows(dataset.train, cfg.maxTrainRows, cfg.seed);
  const dev = capRows(dataset.dev, cfg.maxEvalRows, cfg.seed);
  const test = capRows(dataset.test, cfg.maxEvalRows, cfg.seed);
  const model = trainNgramBaseline(train, { seed: cfg.seed });
  const score = (rows: typeof dataset.dev) => {
    const { preds } = model.predict(rows);
    return classificationMetrics(rows.map((r) => labelIndex(r.r)), preds);
  };
  const result: BaselineResult = {
    hash,
    data: cfg.data,
    seed: cfg.seed,
    metrics: { dev: score(dev), test: test.length ? score(test) : null },
    seconds: (Date.now() - t0) / 1000,
    features: model.numFeatures,
  };
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(result, null, 2) + "\n");
  fs.renameSync(tmp, file);
  return result;
}
