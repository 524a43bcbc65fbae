/**
 * Wall times measured by the product itself: `npm run notebook -- --execute`, `npm start` and `npm run bench:times`
 * append what they took (per notebook, per cell, per step) to a JSON file, with the machine and its load. The
 * committed record, bench/results/times.json, is what the README and each notebook's header quote (npm run readme).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
/** The committed record the README and the notebooks' headers are rendered from. */
export const COMMITTED_TIMES = path.join(ROOT, "bench", "results", "times.json");
/** Where a command records its times unless MEDREL_TIMES_FILE says otherwise: this checkout's own, never committed. */
export const LOCAL_TIMES = path.join(ROOT, "reports", "times.json");

/** The file times are recorded in: MEDREL_TIMES_FILE (bench:times sets it to the committed record) or reports/times.json. */
export function timesFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.MEDREL_TIMES_FILE ? path.resolve(env.MEDREL_TIMES_FILE) : LOCAL_TIMES;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  /** 1, 5 and 15-minute load averages when the step started: above the core count, the times are inflated */
  loadAverage: number[];
}

export interface TimeEntry {
  /** what was timed: "npm run setup", "npm test", "npm start", "npm start · grids", "notebook 04_weighted_loss" */
  step: string;
  /** MEDREL_PRESET the step ran with, when it matters */
  preset?: string;
  /** under which circumstances, e.g. "fresh runs folder: the demo grid trains in the notebook" */
  condition?: string;
  seconds: number;
  /** a notebook's code cells (In [n]) and their wall times */
  cells?: { cell: number; seconds: number; first: string }[];
  /** ISO time the step started */
  date: string;
  machine: Machine;
  command: string;
}

export interface TimesRecord {
  note: string;
  entries: TimeEntry[];
}

/** This machine now: CPU model, cores, memory and load average. */
export function machineInfo(): Machine {
  const cpus = os.cpus();
  return {
    cpu: (cpus[0]?.model ?? "unknown CPU").replace(/\s+/g, " ").trim(),
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const NOTE = "Wall times recorded by the commands themselves (src/tools/times.ts); README and notebook headers quote them (npm run readme).";

/** The record in `file`, or an empty one when the file does not exist. A file that is not a record throws, naming it. */
export function readTimes(file = COMMITTED_TIMES): TimesRecord {
  if (!fs.existsSync(file)) return { note: NOTE, entries: [] };
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<TimesRecord>;
  if (!Array.isArray(parsed.entries)) throw new Error(`${file}: not a times record (no "entries" array)`);
  parsed.entries.forEach((e, i) => {
    if (typeof e.step !== "string" || typeof e.seconds !== "number" || !Number.isFinite(e.seconds)) {
      throw new Error(`${file}: entries[${i}]: needs a string "step" and a number "seconds"`);
    }
  });
  return { note: parsed.note ?? NOTE, entries: parsed.entries };
}

/** The same step under the same preset and condition: a new measurement replaces the old one. */
const sameSlot = (a: TimeEntry, b: TimeEntry): boolean => a.step === b.step && a.preset === b.preset && a.condition === b.condition;

/** Add (or replace) an entry in `file`; entries stay sorted by step, then preset. Returns the file. */
export function recordTime(entry: TimeEntry, file = timesFile()): string {
  const rec = readTimes(file);
  const entries = [...rec.entries.filter((e) => !sameSlot(e, entry)), entry].sort(
    (a, b) => a.step.localeCompare(b.step) || (a.preset ?? "").localeCompare(b.preset ?? "") || (a.condition ?? "").localeCompare(b.condition ?? ""),
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ note: rec.note, entries }, null, 1) + "\n");
  return file;
}

/**
 * Time an async step and record it (machine and load taken when it starts); `cellsOf` picks a notebook's per-cell
 * times out of the step's result.
 */
export async function timed<T>(
  what: Omit<TimeEntry, "seconds" | "date" | "machine" | "cells">,
  run: () => Promise<T>,
  opts: { file?: string; cellsOf?: (value: T) => TimeEntry["cells"] } = {},
): Promise<{ value: T; entry: TimeEntry }> {
  const machine = machineInfo();
  const date = new Date().toISOString();
  const t0 = Date.now();
  const value = await run();
  const entry: TimeEntry = { ...what, seconds: (Date.now() - t0) / 1000, cells: opts.cellsOf?.(value), date, machine };
  recordTime(entry, opts.file ?? timesFile());
  return { value, entry };
}

/** What a runs folder holds before a step starts: whether its runs train or load (the marker of a finished run). */
export function runsFolderCondition(dir: string, marker = ".medrel-run"): string {
  const runs = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => fs.existsSync(path.join(dir, f, marker))).length : 0;
  return runs === 0 ? "fresh runs folder: every run trains" : `runs folder with ${runs} finished runs: those load`;
}

/** "45 s", "3 min 51 s", "1 h 07 min". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** "AMD EPYC, 2 cores, load average 3.4": the machine as a reader needs it to judge a time. */
export function describeMachine(m: Machine): string {
  return `${m.cpu.replace(/ \d+-Core Processor$/, "")}, ${m.cores} cores, load average ${m.loadAverage[0].toFixed(1)} at the start`;
}
