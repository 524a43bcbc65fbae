/**
 * Run folders on disk, keyed by config hash: runs/<hash>/{config.json, metrics.json, confusion.json,
 * predictions-*.jsonl, history.json, run.json, model/, .medrel-run}.
 * A run is written into a temp folder and renamed into place when complete, so a folder that exists is whole.
 * One process at a time trains a given run (a lock file beside it; the second process waits, then loads the
 * first's result). Nothing that is not ours is ever removed or overwritten: a folder counts as ours when it holds
 * the marker file every run folder gets.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ExperimentConfig } from "./config";
import type { Metrics } from "../metrics";
import type { HistoryRow } from "../train";

/** runs/ of the checkout, or MEDREL_RUNS_DIR (a shared folder on a cluster; a scratch folder for the notebook tests) */
export const DEFAULT_RUNS_DIR = process.env.MEDREL_RUNS_DIR ? path.resolve(process.env.MEDREL_RUNS_DIR) : path.resolve(__dirname, "..", "..", "runs");
/** runs/<hash>.ckpt/: the training checkpoints of a run in progress (kept when it is killed, for resuming) */
export const CKPT_SUFFIX = ".ckpt";
/** The file that marks a folder as a run folder written by this project (replacing it is allowed). */
export const RUN_MARKER = ".medrel-run";

export interface SplitMetrics {
  /** the split the best epoch was chosen on (train's selection slice, or dev when a test split is reported) */
  selection?: Metrics;
  dev: Metrics;
  /** absent when the data has no test split */
  test: Metrics | null;
}

/** One epoch of a run's training curve (history.json): the trainer's own record. */
export type EpochRecord = HistoryRow;

/** Everything a run leaves behind, as loaded back. */
export interface RunResult {
  hash: string;
  dir: string;
  config: ExperimentConfig;
  metrics: SplitMetrics;
  history: EpochRecord[];
  info: RunInfo;
  /** set when the run is a shipped results-file entry standing in for a folder not on this machine (dir = that file) */
  shipped?: import("./results").ResultRun;
}

export interface RunInfo {
  backend: string;
  kernels: string[];
  /** threads the kernels ran on (BackendInfo.threads); absent in runs recorded before it was */
  threads?: number;
  /** the CPU model, OpenBLAS's core (and who chose it) and whether denormals were flushed: timings compare only within one */
  cpu?: string;
  blasCore?: string;
  denormalsFlushed?: boolean;
  startedAt: string;
  seconds: { total: number; train: number; eval: number };
  /** rows trained on (train minus the selection slice, augmentation included) */
  trainRows: number;
  selectionRows?: number;
  devRows: number;
  testRows: number;
  vocabSize: number;
  parameters: number;
  bestEpoch: number;
  dataReport: string[];
  augmentReport?: unknown;
  classWeights: number[] | null;
  /** the class weights the distillation teacher was fitted with (null: unweighted, or no distillation) */
  teacherClassWeights?: number[] | null;
  /** epochs taken from an interrupted attempt's checkpoint (0 = trained in one go) */
  resumedFromEpoch?: number;
  node: string;
}

export interface Prediction {
  id: string;
  sentence: string;
  h: string;
  t: string;
  label: string;
  pred: string;
  probs: number[];
}

export type PredictionSplit = "selection" | "dev" | "test";

/** A row of predictions-<split>.jsonl that is not a Prediction: the file, the line and the field. */
export class PredictionsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PredictionsFileError";
  }
}

/** The saved predictions of one split of a run folder (predictions-<split>.jsonl), checked row by row. */
export function loadPredictions(dir: string, split: PredictionSplit): Prediction[] {
  const file = path.join(dir, `predictions-${split}.jsonl`);
  if (!fs.existsSync(file)) throw new PredictionsFileError(`${file}: not found (the run has no ${split} predictions)`);
  const out: Prediction[] = [];
  fs.readFileSync(file, "utf8").split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch (e) {
      throw new PredictionsFileError(`${file}:${i + 1}: not JSON (${(e as Error).message})`);
    }
    for (const f of ["id", "sentence", "h", "t", "label", "pred"] as const) {
      if (typeof row[f] !== "string") throw new PredictionsFileError(`${file}:${i + 1}: field "${f}" must be a string, got ${JSON.stringify(row[f])}`);
    }
    const probs = row.probs;
    if (!Array.isArray(probs) || !probs.every((p) => typeof p === "number" && Number.isFinite(p))) {
      throw new PredictionsFileError(`${file}:${i + 1}: field "probs" must be an array of numbers`);
    }
    out.push(row as unknown as Prediction);
  });
  return out;
}

/** The split a run's tables report (test when it has one, else dev): the predictions the error analysis reads. */
export function reportedPredictionSplit(run: Pick<RunResult, "metrics">): "dev" | "test" {
  return run.metrics.test ? "test" : "dev";
}

const REQUIRED = ["config.json", "metrics.json", "history.json", "run.json"];

/** Where the run with this hash lives. */
export function runDir(hash: string, runsDir = DEFAULT_RUNS_DIR): string {
  return path.join(runsDir, hash);
}

/** Load a complete run folder, or undefined when it does not exist or is incomplete. */
export function loadRun(dir: string): RunResult | undefined {
  if (!REQUIRED.every((f) => fs.existsSync(path.join(dir, f)))) return undefined;
  const read = <T>(f: string): T => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as T;
  return {
    hash: path.basename(dir),
    dir,
    config: read<ExperimentConfig>("config.json"),
    metrics: read<SplitMetrics>("metrics.json"),
    history: read<EpochRecord[]>("history.json"),
    info: read<RunInfo>("run.json"),
  };
}

/** A folder is a mount point when its device differs from its parent's (renaming onto it fails with EBUSY). */
function isMountPoint(dir: string): boolean {
  const parent = path.dirname(path.resolve(dir));
  return parent !== path.resolve(dir) && fs.statSync(dir).dev !== fs.statSync(parent).dev;
}

/**
 * Refuse, before any training, a destination that is not ours to replace: an existing folder that is not empty
 * and holds no run marker (e.g. `--out .`), a file, or a mount point.
 */
export function checkRunDestination(dir: string): void {
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (!st) return;
  if (!st.isDirectory()) throw new Error(`run folder ${dir}: a file of that name exists; choose a new folder`);
  if (isMountPoint(dir)) throw new Error(`run folder ${dir}: it is a mount point; a run folder is renamed into place, so choose a folder inside it`);
  const entries = fs.readdirSync(dir);
  if (entries.length > 0 && !entries.includes(RUN_MARKER)) {
    throw new Error(`run folder ${dir}: the folder exists and holds ${entries.length} entries that are not a run of this project (no ${RUN_MARKER}); nothing was written. Choose a new or empty folder`);
  }
}

const HOST = os.hostname().replace(/[^A-Za-z0-9_.-]/g, "_");

/** A temp folder beside the final one; commit() renames it into place (replacing only a run folder of ours). */
export class RunWriter {
  readonly tmp: string;
  constructor(readonly finalDir: string) {
    checkRunDestination(finalDir);
    fs.mkdirSync(path.dirname(finalDir), { recursive: true });
    this.tmp = `${finalDir}.tmp-${HOST}-${process.pid}-${Date.now()}`;
    fs.mkdirSync(this.tmp, { recursive: true });
  }
  json(name: string, value: unknown): void {
    this.write(name, JSON.stringify(value, null, 2) + "\n");
  }
  jsonl(name: string, rows: unknown[]): void {
    this.write(name, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  }
  private write(name: string, text: string): void {
    const file = path.join(this.tmp, name);
    try {
      fs.writeFileSync(file, text);
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
  }
  commit(): void {
    this.json(RUN_MARKER, { written: new Date().toISOString() });
    checkRunDestination(this.finalDir);
    const old = `${this.finalDir}.old-${process.pid}`;
    if (fs.existsSync(this.finalDir)) fs.renameSync(this.finalDir, old);
    fs.renameSync(this.tmp, this.finalDir);
    fs.rmSync(old, { recursive: true, force: true });
  }
  abort(): void {
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

// ---- one trainer per run ----------------------------------------------------------------------

interface LockInfo {
  host: string;
  pid: number;
  startedAt: string;
}

/** A lock older than this without a heartbeat is stale (its holder died on another machine). */
const LOCK_STALE_MS = 5 * 60_000;
const LOCK_HEARTBEAT_MS = 30_000;

function lockIsStale(file: string): boolean {
  let info: LockInfo;
  try {
    info = JSON.parse(fs.readFileSync(file, "utf8")) as LockInfo;
  } catch {
    return true; // unreadable: a holder killed mid-write
  }
  if (info.host === HOST) return !pidAlive(info.pid);
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return !st || Date.now() - st.mtimeMs > LOCK_STALE_MS;
}

/**
 * Take the lock of the run at `finalDir` (`<finalDir>.lock`), waiting while another live process holds it.
 * A lock left by a killed process is taken over. Returns the release function.
 */
export async function lockRun(finalDir: string, onWait?: (holder: string) => void): Promise<() => void> {
  const file = `${finalDir}.lock`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(file, JSON.stringify({ host: HOST, pid: process.pid, startedAt: new Date().toISOString() }), { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`${file}: cannot create the run lock (${(e as Error).message})`);
    }
    if (lockIsStale(file)) {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (!told) onWait?.(fs.readFileSync(file, "utf8"));
    told = true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const beat = setInterval(() => {
    const now = new Date();
    fs.utimesSync(file, now, now);
  }, LOCK_HEARTBEAT_MS);
  beat.unref();
  return () => {
    clearInterval(beat);
    fs.rmSync(file, { force: true });
  };
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Remove the temp folders that killed runs of this machine left under `dir` (those of live processes and of other
 * machines stay). Returns the names removed. Nothing else is touched.
 */
export function cleanIncompleteRuns(dir = DEFAULT_RUNS_DIR): string[] {
  if (!fs.existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    const owner = tempOwner(name);
    if (!owner || (owner.host !== undefined && owner.host !== HOST) || pidAlive(owner.pid)) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Who wrote a temp folder: `<name>.tmp-<host>-<pid>-<ms>` (older runs: `.tmp-<pid>-<ms>`) or `<name>.old-<pid>`. */
function tempOwner(name: string): { host?: string; pid: number } | undefined {
  const m = /\.tmp-(?:([A-Za-z0-9_.-]+?)-)?(\d+)-\d+$/.exec(name) ?? /\.old-()(\d+)$/.exec(name);
  return m ? { host: m[1] || undefined, pid: Number(m[2]) } : undefined;
}
