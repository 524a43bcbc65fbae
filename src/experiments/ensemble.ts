/**
 * The models table's ensemble row (issue #33 item 4): per seed, the pretrained encoder's and the n-gram's class
 * probabilities averaged, p = w·p_encoder + (1 − w)·p_ngram, the weight chosen on the selection split only and the
 * reported split scored with it by the metrics every run uses. Computed from shipped predictions, never trained.
 *
 * The n-gram row is fitted on all of train (it chooses no epoch), so its predictions on the selection slice would be
 * of rows it was fitted on, and a weight chosen on them would lean to it. The weight is chosen with the same seed's
 * n-gram refitted on train minus the slice (as bench:selection --ngram scores it); those slice predictions ship as
 * predictions/<hash>-selection-heldout.jsonl, vouched for by ensemble.json beside the results file (`npm run ensemble`
 * writes both; it needs the data, reading them does not).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { LABEL_NAMES, NUM_LABELS } from "../data/labels";
import { classificationMetrics, type Metrics } from "../metrics";
import { trainNgramBaseline } from "../model/ngram";
import { compactPredictionsText, readCompactPredictions, shippedCompactPredictions, type CompactPrediction } from "../runs/predictions";
import type { RunRecord } from "../runs/record";
import { runRows, loadExperimentData } from "./rows";
import { ENSEMBLE_VARIANT, NGRAM_VARIANT, PRETRAINED_VARIANT } from "./study-tables";
import { readResultsFile } from "./results";

/** The weights tried on the selection split: 0, 0.05, …, 1 (w = 1 is the encoder alone, w = 0 the n-gram alone). */
export const ENSEMBLE_WEIGHTS: readonly number[] = Array.from({ length: 21 }, (_, i) => i / 20);

/** The file beside a results folder's models.json that vouches for the held-out n-gram predictions. */
export const ENSEMBLE_FILE = "ensemble.json";

/** The command that writes it. */
export const ENSEMBLE_COMMAND = (dir: string): string => `npm run ensemble -- --results ${dir}`;

/** One seed of the ensemble row: the runs it averages, the weight chosen, and the metrics at that weight. */
export interface EnsembleSeed {
  variant: typeof ENSEMBLE_VARIANT;
  seed: number;
  split: "dev" | "test";
  /** the encoder's share of the probabilities, chosen on the selection split */
  weight: number;
  /** the reported split's metrics at `weight` */
  metrics: Metrics;
  /** the selection split's metrics at `weight` */
  selection: Metrics;
  /** selection micro-F1 at every weight tried (ENSEMBLE_WEIGHTS order) */
  curve: number[];
  /** the hashes of the encoder and the n-gram run averaged */
  encoder: string;
  ngram: string;
}

/** The ensemble of a models results file: a record per seed, or why there is none. */
export interface EnsembleResult {
  seeds: EnsembleSeed[];
  /** why the row is absent (no ensemble.json, no seed with both runs), with the command that makes it */
  missing?: string;
}

const EnsembleFileSchema = z.object({
  format: z.literal(1),
  command: z.string(),
  fit: z.string(),
  runs: z.array(z.object({ seed: z.number().int(), ngram: z.string().regex(/^[0-9a-f]{12}$/), selection: z.string().regex(/^[0-9a-f]{64}$/), rows: z.number().int() })),
});
type EnsembleFile = z.infer<typeof EnsembleFileSchema>;

/** The held-out n-gram's selection-slice predictions of one n-gram run, beside the results file. */
export function heldoutSelectionFile(dir: string, ngramHash: string): string {
  return path.join(dir, "predictions", `${ngramHash}-selection-heldout.jsonl`);
}

interface Source {
  file: string;
  rows: CompactPrediction[];
}

/**
 * Two models' rows of one split paired by id (each file in its own order); a row one file lacks, or a gold label the
 * two disagree on, is an error naming both files and the row.
 */
export function pairById(enc: Source, ngram: Source): [CompactPrediction, CompactPrediction][] {
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  const byId = new Map(ngram.rows.map((r, i) => [r.id, { r, i }] as const));
  const pairs = enc.rows.map((e, i): [CompactPrediction, CompactPrediction] => {
    const n = byId.get(e.id);
    if (!n) throw new Error(`ensemble: ${rel(enc.file)} line ${i + 1}: id ${e.id} has no row in ${rel(ngram.file)}`);
    if (n.r.label !== e.label) throw new Error(`ensemble: id ${e.id}: gold ${e.label} in ${rel(enc.file)} line ${i + 1}, ${n.r.label} in ${rel(ngram.file)} line ${n.i + 1}`);
    return [e, n.r];
  });
  if (ngram.rows.length !== enc.rows.length) {
    const ids = new Set(enc.rows.map((r) => r.id));
    const i = ngram.rows.findIndex((r) => !ids.has(r.id));
    throw new Error(`ensemble: ${rel(ngram.file)} line ${i + 1}: id ${ngram.rows[i]?.id} has no row in ${rel(enc.file)} (${ngram.rows.length} rows against ${enc.rows.length})`);
  }
  return pairs;
}

/**
 * The blended prediction of each pair at weight w. The shipped probabilities are rounded to 3 decimals, so two classes
 * can tie where the unrounded ones did not: a tie goes to the heavier model's own prediction (made before rounding),
 * then the other's, then the first class. So w = 1 gives the encoder's predictions exactly and w = 0 the n-gram's.
 */
export function blendedPredictions(pairs: readonly [CompactPrediction, CompactPrediction][], w: number): number[] {
  return pairs.map(([e, n]) => {
    const p = e.probs.map((x, c) => w * x + (1 - w) * n.probs[c]);
    const best = Math.max(...p);
    const tied = p.flatMap((x, c) => (best - x <= 1e-12 ? [c] : []));
    if (tied.length === 1) return tied[0];
    const order = w >= 0.5 ? [e.pred, n.pred] : [n.pred, e.pred];
    return order.map((l) => LABEL_NAMES.indexOf(l as never)).find((c) => tied.includes(c)) ?? tied[0];
  });
}

/** The metrics of the blend at weight w: the same classificationMetrics as every run. */
export function blendMetrics(pairs: readonly [CompactPrediction, CompactPrediction][], w: number): Metrics {
  return classificationMetrics(pairs.map(([e]) => LABEL_NAMES.indexOf(e.label as never)), blendedPredictions(pairs, w));
}

/** The weight with the best selection micro-F1; ties go to the weight closest to 0.5 (then the smaller). */
export function chooseWeight(pairs: readonly [CompactPrediction, CompactPrediction][]): { weight: number; curve: number[] } {
  const curve = ENSEMBLE_WEIGHTS.map((w) => blendMetrics(pairs, w).micro_f1);
  const top = Math.max(...curve);
  const weight = ENSEMBLE_WEIGHTS.filter((_, i) => curve[i] === top).sort((a, b) => Math.abs(a - 0.5) - Math.abs(b - 0.5) || a - b)[0];
  return { weight, curve };
}

function readEnsembleFile(file: string): EnsembleFile {
  const res = EnsembleFileSchema.safeParse(JSON.parse(fs.readFileSync(file, "utf8")));
  if (!res.success) {
    const i = res.error.issues[0];
    throw new Error(`${path.relative(process.cwd(), file) || file}: field ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  return res.data;
}

/**
 * The ensemble row of a models results file's believed runs (`dir` is the file's folder): one record per seed that has
 * both the pretrained encoder's and the n-gram's run and the held-out n-gram predictions.
 */
export function ensembleRow(dir: string, runs: readonly (RunRecord & { variant: string })[], split: "dev" | "test"): EnsembleResult {
  const file = path.join(dir, ENSEMBLE_FILE);
  const rel = path.relative(process.cwd(), dir) || dir;
  if (!fs.existsSync(file)) return { seeds: [], missing: `no ${ENSEMBLE_FILE} in ${rel} yet: \`${ENSEMBLE_COMMAND(rel)}\` fits each seed's n-gram on train minus the selection slice (the data must be here)` };
  const held = readEnsembleFile(file);
  const of = (v: string) => new Map(runs.filter((r) => r.variant === v).map((r) => [r.config.seed, r] as const));
  const [encoders, ngrams] = [of(PRETRAINED_VARIANT), of(NGRAM_VARIANT)];
  const seeds: EnsembleSeed[] = [];
  for (const [seed, enc] of [...encoders].sort((a, b) => a[0] - b[0])) {
    const ng = ngrams.get(seed);
    const h = held.runs.find((r) => r.seed === seed);
    if (!ng || !h) continue;
    if (h.ngram !== ng.hash) throw new Error(`${path.relative(process.cwd(), file)}: seed ${seed} was made for n-gram run ${h.ngram}, but the results file's is ${ng.hash}: re-run \`${ENSEMBLE_COMMAND(rel)}\``);
    const heldFile = heldoutSelectionFile(dir, ng.hash);
    const selection = pairById(shippedCompactPredictions(enc, "selection"), { file: heldFile, rows: readCompactPredictions(heldFile, h.selection) });
    const reported = pairById(shippedCompactPredictions(enc, split), shippedCompactPredictions(ng, split));
    const { weight, curve } = chooseWeight(selection);
    seeds.push({ variant: ENSEMBLE_VARIANT, seed, split, weight, metrics: blendMetrics(reported, weight), selection: blendMetrics(selection, weight), curve, encoder: enc.hash, ngram: ng.hash });
  }
  return seeds.length ? { seeds } : { seeds, missing: `no seed of ${rel} has both an encoder and an n-gram run with held-out selection predictions` };
}

/**
 * Fit each n-gram run's held-out twin (the same config and seed, on train minus the selection slice), write its
 * selection-slice predictions beside the results file and ensemble.json with their digests. Needs the run's data.
 */
export function writeHeldoutNgrams(dir: string, log: (line: string) => void = console.log): string {
  const models = readResultsFile(path.join(dir, "models.json"), "models");
  const runs: EnsembleFile["runs"] = [];
  for (const run of models.records.filter((r) => r.variant === NGRAM_VARIANT).sort((a, b) => a.config.seed - b.config.seed)) {
    const rows = runRows(run.config, loadExperimentData(run.config).dataset);
    const started = Date.now();
    const model = trainNgramBaseline(rows.fit, { seed: run.config.seed });
    const { preds, probs } = model.predict(rows.selection);
    const { text, sha256 } = compactPredictionsText(
      rows.selection.map((r, i) => ({ id: r.id, label: r.r, pred: LABEL_NAMES[preds[i]], probs: Array.from(probs.subarray(i * NUM_LABELS, (i + 1) * NUM_LABELS)) })),
    );
    const out = heldoutSelectionFile(dir, run.hash);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, text);
    runs.push({ seed: run.config.seed, ngram: run.hash, selection: sha256, rows: rows.selection.length });
    log(`[ensemble] n-gram seed ${run.config.seed}: fitted on ${rows.fit.length} rows, ${rows.selection.length} selection rows predicted (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  const record: EnsembleFile = {
    format: 1,
    command: ENSEMBLE_COMMAND(path.relative(process.cwd(), dir) || dir),
    fit: "each n-gram run's config and seed, fitted on train minus the selection slice (its own run is fitted on all of train)",
    runs,
  };
  const file = path.join(dir, ENSEMBLE_FILE);
  fs.writeFileSync(file, JSON.stringify(record, null, 1) + "\n");
  return file;
}

/** The ensemble row in words: each seed's weight and selection micro-F1, or why the row is absent. */
export function ensembleLines(r: EnsembleResult | undefined): string[] {
  if (!r) return [];
  if (r.missing) return [`The ensemble row (encoder + n-gram probabilities averaged) is not shown: ${r.missing}.`];
  const seeds = r.seeds.map((s) => `seed ${s.seed} w = ${s.weight.toFixed(2)} (selection micro-F1 ${(100 * s.selection.micro_f1).toFixed(2)}, ${s.split} ${(100 * s.metrics.micro_f1).toFixed(2)})`);
  return [
    `The ensemble row averages the pretrained encoder's and the n-gram's class probabilities of the same seed, w · encoder + (1 − w) · n-gram, ` +
      `w chosen from 0, 0.05, …, 1 on the selection split alone (against the n-gram refitted without the slice; ties to the w nearest 0.5); ` +
      `no fine-tuning of its own. Weights: ${seeds.join("; ")}.`,
  ];
}
