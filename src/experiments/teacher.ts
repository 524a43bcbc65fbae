/**
 * The distillation teacher of a run: the n-gram model cross-fitted on the run's training rows (it never scores a row
 * it saw), fitted with the run's class weights when the config says so, its class probabilities saved per row. It is
 * a job of its own (runs/teacher-<hash>/), named by what it is fitted on, so every run with the same training rows
 * and weights reads one teacher, and a grid lists, shards and ships it like its runs. Its maker (run.ts) hands it
 * those rows and weights, made as a run makes its own; this file fits, stores and reads it back.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { NUM_LABELS } from "../data/labels";
import type { Row } from "../data/types";
import { outOfFoldNgramProbs } from "../model/ngram";
import { canonicalJson, dataFingerprint, type ValidConfig } from "../runs/config";
import type { RunRecord } from "../runs/record";
import type { RowsSpec, WeightsSpec } from "./rows";
import { fileDigest } from "../runs/digest";
import { lockRun, readSeal, runDir, RunFolderError, RunWriter, DEFAULT_RUNS_DIR, RUN_MARKER } from "../runs/store";

/** What a teacher is fitted on and with: the rows of its runs, the folds, and the loss whose class weights it takes. */
export interface TeacherSpec extends RowsSpec {
  folds: number;
  /** null: fitted unweighted (the config's distill.classWeighted is off, or its loss has no weights) */
  weights: WeightsSpec | null;
}

/** A fitted teacher: one probability row per training row of its runs. */
export interface TeacherRecord {
  hash: string;
  dir: string;
  /** row-major [rows × classes], in the order of the runs' training rows */
  probs: Float32Array;
  rows: number;
  /** digest of the rows it was fitted on (ids and labels, in order): a run checks it trains on the same rows */
  fit: string;
  classWeights: number[] | null;
}

const PROBS_FILE = "probs.f32";
const RECORD_FILE = "teacher.json";

/** The teacher a (validated) config distils from, or undefined when it does not distil. */
export function teacherSpec(cfg: ValidConfig): TeacherSpec | undefined {
  const d = cfg.distill;
  if (!d) return undefined;
  const { data, selection, maxTrainRows, maxEvalRows, augment, seed } = cfg;
  const { scheme, manual, alpha, devF1, beta } = cfg.loss;
  return { data, selection, maxTrainRows, maxEvalRows, augment, seed, folds: d.folds, weights: d.classWeighted && scheme !== "none" ? { scheme, manual, alpha, devF1, beta } : null };
}

/** A teacher's folder name: its spec, the content (not the path) of its data files, and the reference run its weights read. */
export function teacherHash(spec: TeacherSpec, reference?: string): string {
  const { data, ...rest } = spec;
  const payload = canonicalJson({ kind: "ngram-teacher", version: 1, ...rest, data: { kind: data.kind, content: dataFingerprint(data) }, reference });
  return `teacher-${createHash("sha256").update(payload).digest("hex").slice(0, 12)}`;
}

/** Digest of training rows (ids and labels, in order). */
export function rowsDigest(rows: readonly Row[]): string {
  const h = createHash("sha256");
  for (const r of rows) h.update(`${r.id}\t${r.r}\n`);
  return h.digest("hex").slice(0, 16);
}

/** A teacher folder proves itself as a run folder does: every file as its seal (.medrel-run) recorded it, under its own name. */
function checkSeal(dir: string): void {
  const seal = readSeal(dir);
  const again = `delete ${dir} to fit the teacher again`;
  if (seal?.hash !== undefined && seal.hash !== path.basename(dir)) throw new RunFolderError(`${dir}: its ${RUN_MARKER} says it is ${seal.hash} (renamed or copied over?); ${again}`);
  for (const [name, digest] of Object.entries(seal?.files ?? {})) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file) || fileDigest(file) !== digest) throw new RunFolderError(`${file}: missing or changed after the teacher was written (its ${RUN_MARKER} records another digest); ${again}`);
  }
}

/** A teacher folder read back and checked against its seal; undefined when absent. */
export function loadTeacher(dir: string): TeacherRecord | undefined {
  const file = path.join(dir, RECORD_FILE);
  if (!fs.existsSync(file)) return undefined;
  checkSeal(dir);
  const rec = JSON.parse(fs.readFileSync(file, "utf8")) as Omit<TeacherRecord, "dir" | "probs"> & { classes: number };
  const bytes = fs.readFileSync(path.join(dir, PROBS_FILE));
  if (bytes.length !== rec.rows * rec.classes * 4) throw new RunFolderError(`${path.join(dir, PROBS_FILE)}: ${bytes.length} bytes, but ${file} says ${rec.rows} rows × ${rec.classes} classes of float32`);
  const probs = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return { hash: rec.hash, dir, probs, rows: rec.rows, fit: rec.fit, classWeights: rec.classWeights };
}

/** What a teacher is fitted on, made by its maker only when it has to be fitted: its runs' training rows and class weights. */
export interface TeacherFit {
  /** the training rows of its runs, in their order */
  rows: readonly Row[];
  /** its runs' class weights (spec.weights); null: fitted unweighted */
  classWeights: number[] | null;
}

/** Fit a teacher into `writer`'s temp folder. */
function fitTeacher(spec: TeacherSpec, hash: string, writer: RunWriter, fit: TeacherFit, reference?: RunRecord): void {
  const started = Date.now();
  const { rows, classWeights } = fit;
  const probs = outOfFoldNgramProbs(rows, { seed: spec.seed, folds: spec.folds, classWeights: classWeights ?? undefined });
  fs.writeFileSync(path.join(writer.tmp, PROBS_FILE), Buffer.from(probs.buffer, probs.byteOffset, probs.byteLength));
  writer.json(RECORD_FILE, {
    hash,
    spec,
    reference: reference?.hash ?? null,
    rows: rows.length,
    classes: NUM_LABELS,
    fit: rowsDigest(rows),
    classWeights,
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
  });
}

/**
 * Fit (or load) a teacher; `reference` is the run its hard_classes weights read, made first by the caller (before
 * the teacher's lock), and `fit` makes its rows and weights from it, under the lock.
 */
export async function makeTeacher(
  spec: TeacherSpec,
  hash: string,
  opts: { runsDir?: string; reference?: () => Promise<RunRecord | undefined>; fit: (reference?: RunRecord) => TeacherFit },
): Promise<TeacherRecord> {
  const dir = runDir(hash, opts.runsDir ?? DEFAULT_RUNS_DIR);
  const hit = loadTeacher(dir);
  if (hit) return hit;
  const reference = await opts.reference?.();
  const release = await lockRun(dir, (holder) => console.log(`[medrel] ${hash}: another process is fitting it (${holder}); waiting for it`));
  try {
    const done = loadTeacher(dir);
    if (done) return done;
    const writer = new RunWriter(dir, hash);
    try {
      fitTeacher(spec, hash, writer, opts.fit(reference), reference);
      writer.commit();
    } catch (e) {
      writer.abort();
      throw e;
    }
    return loadTeacher(dir)!;
  } finally {
    release();
  }
}
