/**
 * The run store: run folders on disk, keyed by config hash, and their layout, named here and nowhere else:
 * runs/<hash>/{config.json, metrics.json, confusion.json, predictions-<split>.jsonl, history.json, run.json, model/,
 * .medrel-run}. (A run shipped in a results file instead of a folder: runs/predictions.ts reads its predictions.)
 * A run is written into a temp folder and renamed into place when complete, so a folder that exists is whole.
 * One process at a time trains a given run (a lock file beside it; the second process waits, then loads the
 * first's result). Nothing that is not ours is ever removed or overwritten: a folder counts as ours when it holds
 * the marker file every run folder gets.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { configHash, parseExperimentConfig, type ValidConfig } from "./config";
import type { EpochRow, PredictionSplit, RunInfo, RunRecord, SplitMetrics } from "./record";
import { fileDigest } from "./digest";

/** runs/ of the checkout, or MEDREL_RUNS_DIR (a shared folder on a cluster; a scratch folder for the notebook tests) */
export const DEFAULT_RUNS_DIR = process.env.MEDREL_RUNS_DIR ? path.resolve(process.env.MEDREL_RUNS_DIR) : path.resolve(__dirname, "..", "..", "runs");
/** runs/<hash>.ckpt/: the training checkpoints of a run in progress (kept when it is killed, for resuming) */
export const CKPT_SUFFIX = ".ckpt";
/** The file that marks a folder as a run folder written by this project (replacing it is allowed). */
export const RUN_MARKER = ".medrel-run";

const REQUIRED = ["config.json", "metrics.json", "history.json", "run.json"];

/** A run folder's saved predictions of one split (predictions.ts reads them, run.ts writes them). */
export function predictionsFile(dir: string, split: PredictionSplit): string {
  return path.join(dir, `predictions-${split}.jsonl`);
}

/** Where the run with this hash lives. */
export function runDir(hash: string, runsDir = DEFAULT_RUNS_DIR): string {
  return path.join(runsDir, hash);
}

/** A run folder that does not prove itself: a file edited after it was written, unreadable, or renamed. */
export class RunFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunFolderError";
  }
}

/** What to do about a run folder that is not trusted. */
const RETRAIN_HINT = "re-run it with --force (npm run experiment … --force) to retrain it, or restore the file";

/**
 * The marker a committed run folder carries (.medrel-run): when it was written, the config hash it was written
 * for, and the digest of every file in it (relative path → digest.ts fileDigest). Runs written before digests
 * were recorded carry `written` alone.
 */
export interface RunSeal {
  written: string;
  hash?: string;
  files?: Record<string, string>;
}

const isObject = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v);

/** What each record file must hold at the top (a hostile edit to `null` is refused by name, not a TypeError later). */
const RECORD_SHAPES: Record<string, [string, (v: unknown) => boolean]> = {
  "config.json": ["a JSON object (the run's config)", isObject],
  "metrics.json": ["a JSON object with a \"dev\" object", (v) => isObject(v) && isObject((v as { dev?: unknown }).dev)],
  "history.json": ["a JSON array (one row per epoch)", Array.isArray],
  "run.json": ["a JSON object", isObject],
  [RUN_MARKER]: ["a JSON object", isObject],
};

function readJson<T>(dir: string, name: string): T {
  const file = path.join(dir, name);
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new RunFolderError(`${file}: unreadable (${(e as Error).message}); the run is not trusted: ${RETRAIN_HINT}`);
  }
  const shape = RECORD_SHAPES[name];
  if (shape && !shape[1](value)) throw new RunFolderError(`${file}: expected ${shape[0]}, got ${JSON.stringify(value)?.slice(0, 60)}; the run is not trusted: ${RETRAIN_HINT}`);
  return value as T;
}

/** The seal of a run folder; undefined for a folder written before run folders carried the marker. */
export function readSeal(dir: string): RunSeal | undefined {
  return fs.existsSync(path.join(dir, RUN_MARKER)) ? readJson<RunSeal>(dir, RUN_MARKER) : undefined;
}

/**
 * Check the files of a run folder against the digests its seal recorded at commit: `which` "record" checks the
 * top-level JSON/JSONL files (what loadRun returns and the tables read), "all" the model too. A file that differs
 * or is missing is refused, naming it. A seal without digests (an older run) checks nothing.
 */
export function verifySeal(dir: string, seal: RunSeal | undefined, which: "record" | "all" = "record"): void {
  if (!seal?.files) return;
  for (const name of REQUIRED) {
    if (!(name in seal.files)) throw new RunFolderError(`${path.join(dir, name)}: not in the run's sealed file list (${RUN_MARKER}); the run is not trusted: ${RETRAIN_HINT}`);
  }
  for (const [name, digest] of Object.entries(seal.files)) {
    if (which === "record" && name.includes("/")) continue;
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new RunFolderError(`${file}: missing from the run folder (its ${RUN_MARKER} lists it); the run is not trusted: ${RETRAIN_HINT}`);
    if (fileDigest(file) !== digest) {
      throw new RunFolderError(`${file}: changed after the run was written (its digest differs from the one in ${RUN_MARKER}); the run is not trusted: ${RETRAIN_HINT}`);
    }
  }
}

/**
 * Load a complete run folder, or undefined when it does not exist or is incomplete. A folder that does not prove
 * itself is refused (RunFolderError naming the file): a record file that is not JSON, one edited since the run
 * was written, or a folder named as a hash other than the one its seal records.
 */
export function loadRun(dir: string): RunRecord | undefined {
  if (!REQUIRED.every((f) => fs.existsSync(path.join(dir, f)))) return undefined;
  const seal = readSeal(dir);
  verifySeal(dir, seal);
  const name = path.basename(dir);
  if (seal?.hash !== undefined && HASH_NAME.test(name) && name !== seal.hash) {
    throw new RunFolderError(`${dir}: the folder is named as run ${name} but its ${RUN_MARKER} says it is run ${seal.hash} (renamed or copied over?); the run is not trusted: ${RETRAIN_HINT}`);
  }
  return {
    hash: name,
    dir,
    config: readConfig(dir),
    metrics: readJson<SplitMetrics>(dir, "metrics.json"),
    history: readJson<EpochRow[]>(dir, "history.json"),
    info: readJson<RunInfo>(dir, "run.json"),
  };
}

/** A run folder's config.json, validated: where a run's config comes back in from a file, once. */
function readConfig(dir: string): ValidConfig {
  const file = path.join(dir, "config.json");
  const raw = readJson<unknown>(dir, "config.json");
  try {
    return parseExperimentConfig(raw, file);
  } catch (e) {
    throw new RunFolderError(`${file}: not a valid config (${(e as Error).message}); the run is not trusted: ${RETRAIN_HINT}`);
  }
}

/**
 * Whether `run` is the run of the config hash `hash`: its config.json must hash to it. Where the folder is named by
 * that hash (runs/<hash>) a mismatch means the config was edited after the run was written, and is refused
 * (RunFolderError naming the file); elsewhere (an --out folder, which may hold another config's run) it is false.
 */
export function isRunOf(run: RunRecord, hash: string): boolean {
  const actual = configHash(run.config);
  if (actual === hash) return true;
  if (run.dir && path.basename(run.dir) === hash) {
    throw new RunFolderError(`${path.join(run.dir, "config.json")}: hashes to ${actual}, but the folder is named as run ${hash} (edited after the run was written?); the run is not trusted: ${RETRAIN_HINT}`);
  }
  return false;
}

/** A run folder's name under runs/: its config hash (configHash gives 12 hex digits). */
const HASH_NAME = /^[0-9a-f]{12}$/;

/**
 * Make sure `dir` is a folder (creating it and its parents): a file of that name is a clear error naming `what`
 * (e.g. "MEDREL_RUNS_DIR", "--export") instead of a bare EEXIST/ENOTDIR.
 */
export function ensureFolder(dir: string, what: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new Error(`${what} ${dir}: a file of that name exists; expected a folder`);
    if (code === "ENOTDIR") throw new Error(`${what} ${dir}: a file is in the way (a part of this path is a file, not a folder)`);
    throw new Error(`${what} ${dir}: cannot create it (${(e as Error).message})`);
  }
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
/**
 * The token in the names of the temp folders this project makes beside a run folder:
 * `<name>.tmp-medrel-<host>-<pid>-<ms>` (being written) and `<name>.old-medrel-<host>-<pid>` (being replaced).
 * Clean-up removes only names that carry it (or older-style names whose folder holds our marker).
 */
const TOKEN = "medrel";

/** Every file under `dir`, as relative paths with forward slashes (sorted). */
function listFiles(dir: string, sub = ""): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** Entries an older run folder (a seal without a file list) held: anything else in it was put there by someone else. */
const OLDER_RUN_ENTRY = /^(config|metrics|confusion|history|run)\.json$|^predictions-[a-z]+\.jsonl$|^(model|tokenizer)(\/|$)|^\.medrel-run$/;

/** Files in our run folder `dir` that the run did not write (a user's notes): what a replacement must keep. */
function addedFiles(dir: string): string[] {
  let seal: RunSeal | undefined;
  try {
    seal = readSeal(dir);
  } catch {
    seal = undefined; // an unreadable seal: judge by the names an older run folder held
  }
  const ours = (rel: string): boolean => rel === RUN_MARKER || (seal?.files ? rel in seal.files : OLDER_RUN_ENTRY.test(rel));
  return listFiles(dir).filter((rel) => !ours(rel));
}

/** A temp folder beside the final one; commit() renames it into place (replacing only a run folder of ours). */
export class RunWriter {
  readonly tmp: string;
  /** `hash`: the config hash the run is written for, recorded in its seal */
  constructor(
    readonly finalDir: string,
    readonly hash?: string,
  ) {
    ensureFolder(path.dirname(finalDir), "runs folder");
    checkRunDestination(finalDir);
    this.tmp = `${finalDir}.tmp-${TOKEN}-${HOST}-${process.pid}-${Date.now()}`;
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
  /**
   * Seal the folder (the digest of every file it holds) and rename it into place. Replacing an earlier run of
   * ours keeps the files someone added to it: they are moved into the new folder. Returns their paths.
   */
  commit(): string[] {
    const files = Object.fromEntries(listFiles(this.tmp).map((rel) => [rel, fileDigest(path.join(this.tmp, rel))]));
    const seal: RunSeal = { written: new Date().toISOString(), ...(this.hash ? { hash: this.hash } : {}), files };
    this.json(RUN_MARKER, seal);
    checkRunDestination(this.finalDir);
    const kept = fs.existsSync(this.finalDir) ? addedFiles(this.finalDir) : [];
    const moved = kept.map((rel) => {
      // a file of the user's with the name of one the new run wrote is kept beside it, renamed
      let to = rel;
      for (let n = 1; fs.existsSync(path.join(this.tmp, to)); n++) to = `${rel}.yours${n > 1 ? n : ""}`;
      fs.mkdirSync(path.dirname(path.join(this.tmp, to)), { recursive: true });
      fs.renameSync(path.join(this.finalDir, rel), path.join(this.tmp, to));
      return to === rel ? rel : `${rel} (as ${to})`;
    });
    const old = `${this.finalDir}.old-${TOKEN}-${HOST}-${process.pid}`;
    if (fs.existsSync(this.finalDir)) fs.renameSync(this.finalDir, old);
    fs.renameSync(this.tmp, this.finalDir);
    fs.rmSync(old, { recursive: true, force: true });
    return moved;
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
  /** /proc/sys/kernel/random/boot_id of the holder's machine (Linux) */
  bootId?: string;
  /** the holder's start time, in clock ticks after boot (/proc/<pid>/stat field 22; Linux) */
  pidStart?: string;
}

/** A lock older than this without a heartbeat is stale (its holder died on another machine). */
const LOCK_STALE_MS = 5 * 60_000;
const LOCK_HEARTBEAT_MS = 30_000;

function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** This boot of this machine (Linux), so a lock written before a reboot is known as such. */
function bootId(): string | undefined {
  return readProc("/proc/sys/kernel/random/boot_id")?.trim();
}

/** When process `pid` started, in clock ticks after boot (field 22 of /proc/<pid>/stat; its name may hold spaces). */
export function processStartTicks(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

/**
 * When process `pid` started, in ms since the epoch: boot time (/proc/stat btime) plus its start ticks at
 * USER_HZ = 100 (what Linux reports to user space on every common architecture). Used for locks written before
 * they recorded the holder's start ticks.
 */
function processStartMs(pid: number): number | undefined {
  const btime = /^btime (\d+)$/m.exec(readProc("/proc/stat") ?? "")?.[1];
  const ticks = processStartTicks(pid);
  return btime === undefined || ticks === undefined ? undefined : Number(btime) * 1000 + Number(ticks) * 10;
}

function lockInfo(): LockInfo {
  return { host: HOST, pid: process.pid, startedAt: new Date().toISOString(), bootId: bootId(), pidStart: processStartTicks(process.pid) };
}

/**
 * Why the holder of a lock is provably gone (undefined while it may be alive): its process is dead, the machine
 * rebooted since, or its PID now belongs to a process that started later (a restarted container reuses PIDs).
 * A holder on another machine is gone when its heartbeat stopped.
 */
function lockHolderGone(file: string): string | undefined {
  let info: LockInfo;
  try {
    info = JSON.parse(fs.readFileSync(file, "utf8")) as LockInfo;
  } catch {
    return "the lock file is unreadable (its holder was killed while writing it)";
  }
  const who = `process ${info.pid} on ${info.host}, locked at ${info.startedAt}`;
  if (info.host !== HOST) {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    return !st || Date.now() - st.mtimeMs > LOCK_STALE_MS ? `its holder (${who}) has not renewed it for ${LOCK_STALE_MS / 60_000} minutes` : undefined;
  }
  const boot = bootId();
  if (info.bootId && boot && info.bootId !== boot) return `its holder (${who}) ran before this machine rebooted (boot ${info.bootId}, now ${boot})`;
  if (!pidAlive(info.pid)) return `its holder (${who}) is no longer running`;
  if (info.pid === process.pid) return undefined;
  const ticks = processStartTicks(info.pid);
  if (info.pidStart && ticks && ticks !== info.pidStart) return `its holder (${who}) is gone: PID ${info.pid} now belongs to a process started later (start tick ${ticks}, the holder's ${info.pidStart})`;
  const started = processStartMs(info.pid);
  const locked = Date.parse(info.startedAt);
  // an older lock records no start ticks: a process that started after the lock was taken cannot be its holder
  if (!info.pidStart && started !== undefined && Number.isFinite(locked) && started > locked + 2000) {
    return `its holder (${who}) is gone: PID ${info.pid} now belongs to a process started at ${new Date(started).toISOString()}`;
  }
  return undefined;
}

/**
 * Take the lock of the run at `finalDir` (`<finalDir>.lock`), waiting while another live process holds it.
 * A lock whose holder is provably gone is taken over, saying why (`onTakeOver`). Returns the release function.
 */
export async function lockRun(finalDir: string, onWait?: (holder: string) => void, onTakeOver: (message: string) => void = (m) => console.warn(m)): Promise<() => void> {
  const file = `${finalDir}.lock`;
  ensureFolder(path.dirname(file), "runs folder");
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(file, JSON.stringify(lockInfo()), { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`${file}: cannot create the run lock (${(e as Error).message})`);
    }
    const gone = lockHolderGone(file);
    if (gone) {
      onTakeOver(`[medrel] run lock ${file}: ${gone}; taking it over`);
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
 * Remove the temp folders that killed runs of this machine left under `dir`: only names with our token whose
 * writer is dead (older-style names only when the folder holds our marker). Those of live processes and of other
 * machines stay; nothing else is touched, whatever its name. Returns the names removed.
 */
export function cleanIncompleteRuns(dir = DEFAULT_RUNS_DIR): string[] {
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    const owner = tempOwner(name);
    if (!owner || (owner.host !== undefined && owner.host !== HOST) || pidAlive(owner.pid)) continue;
    if (owner.older && !fs.existsSync(path.join(dir, name, RUN_MARKER))) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Who wrote a temp folder: `<name>.tmp-medrel-<host>-<pid>-<ms>` or `<name>.old-medrel-<host>-<pid>`; `older`:
 * the names runs used before the token (`.tmp-[<host>-]<pid>-<ms>`, `.old-<pid>`), which a user's folder may carry.
 */
function tempOwner(name: string): { host?: string; pid: number; older: boolean } | undefined {
  const ours = new RegExp(`\\.tmp-${TOKEN}-([A-Za-z0-9_.-]+)-(\\d+)-\\d+$`).exec(name) ?? new RegExp(`\\.old-${TOKEN}-([A-Za-z0-9_.-]+)-(\\d+)$`).exec(name);
  if (ours) return { host: ours[1], pid: Number(ours[2]), older: false };
  const m = /\.tmp-(?:([A-Za-z0-9_.-]+?)-)?(\d+)-\d+$/.exec(name) ?? /\.old-()(\d+)$/.exec(name);
  return m ? { host: m[1] || undefined, pid: Number(m[2]), older: true } : undefined;
}
