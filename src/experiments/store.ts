/**
 * Run folders on disk, keyed by config hash: runs/<hash>/{config.json, metrics.json, confusion.json,
 * predictions-dev.jsonl, predictions-test.jsonl, history.json, run.json, model/}.
 * A run is written into a temp folder and renamed into place when complete, so a folder that exists is
 * whole; leftovers of a killed run (temp folders) are removed and the run redone.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ExperimentConfig } from "./config";
import { configHash } from "./config";
import type { Metrics } from "../metrics";
import type { HistoryRow } from "../train";

export const DEFAULT_RUNS_DIR = path.resolve(__dirname, "..", "..", "runs");
/** runs/<hash>.ckpt/: the training checkpoints of a run in progress (kept when it is killed, for resuming) */
export const CKPT_SUFFIX = ".ckpt";

export interface SplitMetrics {
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
}

export interface RunInfo {
  backend: string;
  kernels: string[];
  /** threads the kernels ran on (BackendInfo.threads); absent in runs recorded before it was */
  threads?: number;
  startedAt: string;
  seconds: { total: number; train: number; eval: number };
  trainRows: number;
  devRows: number;
  testRows: number;
  vocabSize: number;
  parameters: number;
  bestEpoch: number;
  dataReport: string[];
  augmentReport?: unknown;
  classWeights: number[] | null;
  /** epochs taken from an interrupted attempt's checkpoint (0 = trained in one go) */
  resumedFromEpoch?: number;
  node: string;
}

export interface Prediction {
  id: string;
  label: string;
  pred: string;
  probs: number[];
}

const REQUIRED = ["config.json", "metrics.json", "history.json", "run.json"];

export function runDir(cfg: ExperimentConfig, runsDir = DEFAULT_RUNS_DIR): string {
  return path.join(runsDir, configHash(cfg));
}

/** Load a complete run folder, or undefined when it does not exist or is incomplete. */
export function loadRun(dir: string): RunResult | undefined {
  if (!REQUIRED.every((f) => fs.existsSync(path.join(dir, f)))) return undefined;
  const read = <T>(f: string): T => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as T;
  const config = read<ExperimentConfig>("config.json");
  return {
    hash: path.basename(dir),
    dir,
    config,
    metrics: read<SplitMetrics>("metrics.json"),
    history: read<EpochRecord[]>("history.json"),
    info: read<RunInfo>("run.json"),
  };
}

/** A temp folder beside the final one; commit() renames it into place atomically. */
export class RunWriter {
  readonly tmp: string;
  constructor(readonly finalDir: string) {
    fs.mkdirSync(path.dirname(finalDir), { recursive: true });
    this.tmp = `${finalDir}.tmp-${process.pid}-${Date.now()}`;
    fs.mkdirSync(this.tmp, { recursive: true });
  }
  json(name: string, value: unknown): void {
    fs.writeFileSync(path.join(this.tmp, name), JSON.stringify(value, null, 2) + "\n");
  }
  jsonl(name: string, rows: unknown[]): void {
    fs.writeFileSync(path.join(this.tmp, name), rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  }
  commit(): void {
    if (fs.existsSync(this.finalDir)) fs.rmSync(this.finalDir, { recursive: true, force: true });
    fs.renameSync(this.tmp, this.finalDir);
  }
  abort(): void {
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Remove leftovers of killed runs (temp folders, folders missing a required file). Returns what was removed. */
export function cleanIncompleteRuns(runsDir = DEFAULT_RUNS_DIR): string[] {
  if (!fs.existsSync(runsDir)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(runsDir)) {
    const dir = path.join(runsDir, name);
    // another process may rename its temp folder into place meanwhile
    const isDir = fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false;
    if (!isDir || name.endsWith(CKPT_SUFFIX)) continue;
    const tmp = /\.tmp-(\d+)-\d+$/.exec(name);
    if (tmp) {
      if (pidAlive(Number(tmp[1]))) continue; // a run in progress in another process
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(name);
    } else if (/^[0-9a-f]{12}$/.test(name) && !loadRun(dir)) {
      // only run folders (12-hex names) are judged: baselines and checkpoints live beside them
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every complete run under runsDir. */
export function listRuns(runsDir = DEFAULT_RUNS_DIR): RunResult[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir)
    .filter((n) => !n.includes(".tmp-") && !n.endsWith(CKPT_SUFFIX))
    .map((n) => loadRun(path.join(runsDir, n)))
    .filter((r): r is RunResult => r !== undefined);
}
