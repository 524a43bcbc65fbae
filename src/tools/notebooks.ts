/**
 * Execute notebooks headless in real Jupyter with the tslab kernel (jupyter nbconvert --execute),
 * collect error outputs and each cell's wall time, and export executed notebooks to self-contained HTML.
 * Used by `npm run notebook -- --execute`, `npm start` and the test suite.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as fs from "node:fs";
import * as path from "node:path";
import { PLOTLY_NBEXTENSION } from "../report/display";
import { describeMachine, formatDuration, machineInfo, type Machine } from "./times";

const execFileAsync = promisify(execFile);

export const NOTEBOOKS_DIR = path.resolve(__dirname, "..", "..", "notebooks");

export interface NbOutput {
  output_type: string;
  execution_count?: number | null;
  name?: string;
  text?: string | string[];
  ename?: string;
  evalue?: string;
  data?: Record<string, unknown>;
}
export interface NbCell {
  cell_type: string;
  metadata?: Record<string, unknown>;
  source: string | string[];
  outputs?: NbOutput[];
  execution_count?: number | null;
}
export interface NotebookJson {
  cells: NbCell[];
  metadata: Record<string, unknown>;
}

export interface ExecutedNotebook {
  input: string;
  output: string;
  seconds: number;
  /** each code cell's wall time (nbclient's timestamps) */
  cells: CellTime[];
  /** "cell N: Name: message" for every error output (and stderr tracebacks) */
  errors: string[];
  outputs: number;
  /** MIME types seen in display outputs */
  mimeTypes: string[];
}

export function listNotebooks(dir = NOTEBOOKS_DIR): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".ipynb"))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Error outputs of an executed notebook. */
export function notebookErrors(nb: NotebookJson): { errors: string[]; outputs: number; mimeTypes: string[] } {
  const errors: string[] = [];
  const mime = new Set<string>();
  let outputs = 0;
  nb.cells.forEach((cell, i) => {
    for (const o of cell.outputs ?? []) {
      outputs++;
      for (const k of Object.keys(o.data ?? {})) mime.add(k);
      if (o.output_type === "error") errors.push(`cell ${i}: ${o.ename ?? "Error"}: ${o.evalue ?? ""}`);
      const text = Array.isArray(o.text) ? o.text.join("") : (o.text ?? "");
      if (o.name === "stderr" && /Error|Traceback/.test(text)) errors.push(`cell ${i} stderr: ${text.slice(0, 400)}`);
    }
  });
  return { errors, outputs, mimeTypes: [...mime].sort() };
}

const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** The tslab launcher npm puts in node_modules/.bin: a .cmd shim on Windows (what tslab's own installer registers). */
export function tslabBin(root = REPO_ROOT, platform: NodeJS.Platform = process.platform): string {
  return path.join(root, "node_modules", ".bin", platform === "win32" ? "tslab.cmd" : "tslab");
}

/** What to do when there is no Jupyter: the no-root route first (a virtualenv in the checkout), then Debian's packages. */
export const JUPYTER_INSTALL_HINT =
  'no root needed: python3 -m venv .venv && .venv/bin/pip install "notebook<7" nbconvert ' +
  "(this project finds .venv/bin/jupyter by itself), then npm run notebook -- --register-kernel; " +
  "as root on Debian/Ubuntu: npm run setup, or apt-get install jupyter-notebook python3-nbconvert";

/** An executable called `name` on PATH (with Windows' extensions), or undefined. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const exts = process.platform === "win32" ? [".exe", ".cmd", ".bat", ""] : [""];
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    for (const ext of exts) {
      const f = path.join(dir, name + ext);
      if (fs.existsSync(f) && fs.statSync(f).isFile()) return f;
    }
  }
  return undefined;
}

/**
 * The `jupyter` command to run: the checkout's own `.venv` (the no-root route of JUPYTER_INSTALL_HINT: made for this
 * project, with the Notebook 6 it expects), else the one on PATH (an activated virtualenv, Homebrew, Debian), else
 * plain "jupyter" (spawning it then fails with the hint). A `jupyter` on PATH never hides the project's own.
 */
export function jupyterCommand(env: NodeJS.ProcessEnv = process.env, root = REPO_ROOT): string {
  const venv = process.platform === "win32" ? path.join(root, ".venv", "Scripts", "jupyter.exe") : path.join(root, ".venv", "bin", "jupyter");
  return fs.existsSync(venv) ? venv : (onPath("jupyter", env) ?? "jupyter");
}

/**
 * The Python that runs that `jupyter` (so it sees the same jupyter_client): the interpreter its `#!` line names (a
 * virtualenv's, Homebrew's, /usr/bin/python3 on Debian), else python3 from PATH, else /usr/bin/python3.
 */
export function jupyterPython(env: NodeJS.ProcessEnv = process.env, root = REPO_ROOT): string {
  const jupyter = jupyterCommand(env, root);
  if (jupyter !== "jupyter" && !/\.(exe|cmd|bat)$/i.test(jupyter)) {
    const first = fs.readFileSync(jupyter, "utf8").slice(0, 300).split("\n")[0];
    const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(first);
    if (m) {
      // "#!/usr/bin/env python3" names the interpreter by PATH
      const named = path.basename(m[1]) === "env" && m[2] ? onPath(m[2], env) : m[1];
      if (named && fs.existsSync(named)) return named;
    }
  }
  const fromPath = onPath(process.platform === "win32" ? "python" : "python3", env);
  return fromPath ?? "/usr/bin/python3";
}

/** A spawn error for a missing `jupyter` as a message that says how to install it; other errors unchanged. */
export function jupyterError(e: unknown): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Error(`jupyter is not installed (not on PATH, no .venv/bin/jupyter): ${JUPYTER_INSTALL_HINT}`);
  return err;
}

/**
 * JUPYTER_PATH with a private `tslab` kernelspec (.cache/jupyter/kernels/tslab) that runs THIS checkout's
 * tslab: Jupyter reads JUPYTER_PATH before the user and system folders, so headless runs never pick up a
 * kernel registered from another clone (`tslab install` writes one global spec, and the last setup wins).
 * Beside it, plotly.js as an nbextension (PLOTLY_NBEXTENSION). Empty when this checkout has no tslab (the global
 * registration is used).
 */
export function localKernelEnv(root = REPO_ROOT): Record<string, string> {
  const bin = tslabBin(root);
  if (!fs.existsSync(bin)) return {};
  const dir = path.join(root, ".cache", "jupyter");
  const specDir = path.join(dir, "kernels", "tslab");
  const spec = JSON.stringify({ argv: [bin, "kernel", "--config-path", "{connection_file}"], display_name: "TypeScript", language: "typescript" });
  const file = path.join(specDir, "kernel.json");
  if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== spec) {
    fs.mkdirSync(specDir, { recursive: true });
    fs.writeFileSync(file, spec);
  }
  // plotly.js where Jupyter Notebook serves it (<base>/nbextensions/…): a chart on a page without it loads it from there
  const plotly = path.join(dir, "nbextensions", PLOTLY_NBEXTENSION);
  const source = require.resolve("plotly.js-dist-min");
  if (!fs.existsSync(plotly) || fs.statSync(plotly).size !== fs.statSync(source).size) {
    fs.mkdirSync(path.dirname(plotly), { recursive: true });
    fs.copyFileSync(source, plotly);
  }
  const prev = process.env.JUPYTER_PATH;
  return { JUPYTER_PATH: prev ? `${dir}${path.delimiter}${prev}` : dir };
}

/** A path that is a Jupyter notebook (JSON with nbformat and cells), or an error naming it, before Jupyter is started. */
function checkNotebookFile(file: string): string {
  let nb: unknown;
  try {
    nb = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    nb = undefined;
  }
  const ok = typeof nb === "object" && nb !== null && typeof (nb as NotebookJson & { nbformat?: unknown }).nbformat === "number" && Array.isArray((nb as NotebookJson).cells);
  if (!ok) throw new Error(`${file}: not a Jupyter notebook (expected a .ipynb file: JSON with "nbformat" and "cells"); the notebooks are under notebooks/`);
  return file;
}

/**
 * A notebook named the way a person types it: a path, a file name under notebooks/, or its number or name without
 * the extension ("04", "04_weighted_loss"). Throws with the list of notebooks when none or several match.
 */
export function findNotebook(name: string, dir = NOTEBOOKS_DIR): string {
  if (fs.existsSync(name) && fs.statSync(name).isFile()) return checkNotebookFile(path.resolve(name));
  const all = listNotebooks(dir);
  const base = path.basename(name).replace(/\.ipynb$/, "");
  const hits = all.filter((f) => path.basename(f, ".ipynb") === base || path.basename(f).startsWith(`${base}_`));
  if (hits.length === 1) return hits[0];
  const names = all.map((f) => path.basename(f, ".ipynb")).join(", ");
  throw new Error(`notebook "${name}": ${hits.length ? `${hits.length} match` : "not found"} (the notebooks: ${names}, or "all")`);
}

/** One code cell's wall time in an executed notebook. */
export interface CellTime {
  /** the cell's execution count (1, 2, …: the In [n] the HTML shows) */
  cell: number;
  seconds: number;
  /** the cell's first source line, to say which cell it is */
  first: string;
}

/** Each code cell's wall time from the timestamps nbclient records (metadata.execution: busy → idle). */
export function cellTimes(nb: NotebookJson): CellTime[] {
  const out: CellTime[] = [];
  let n = 0;
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    n++;
    const ex = (cell.metadata?.execution ?? {}) as Record<string, string | undefined>;
    const [busy, idle] = [ex["iopub.status.busy"], ex["iopub.status.idle"]].map((t) => (t ? Date.parse(t) : NaN));
    if (!Number.isFinite(busy) || !Number.isFinite(idle)) continue;
    const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    out.push({ cell: n, seconds: (idle - busy) / 1000, first: src.split("\n").find((l) => l.trim() && !l.trim().startsWith("//"))?.trim() ?? "" });
  }
  return out;
}

export interface ExecuteOptions {
  /** extra environment for the kernel (MEDREL_PRESET, MEDREL_RUNS_DIR, …) */
  env?: Record<string, string>;
  timeoutSeconds?: number;
}

/**
 * Execute one notebook into outDir (cwd = the notebook's folder, so its relative imports work). Asynchronous, so
 * several notebooks (each its own kernel process) can run side by side.
 */
export async function executeNotebook(input: string, outDir: string, opts: ExecuteOptions = {}): Promise<ExecutedNotebook> {
  fs.mkdirSync(outDir, { recursive: true });
  input = path.resolve(input);
  const output = path.join(path.resolve(outDir), path.basename(input));
  const t0 = Date.now();
  const machine = machineInfo();
  const env = { ...process.env, ...localKernelEnv(), ...(opts.env ?? {}) };
  await execFileAsync(
    jupyterCommand(env),
    [
      "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
      `--ExecutePreprocessor.timeout=${opts.timeoutSeconds ?? 1800}`,
      "--ExecutePreprocessor.kernel_name=tslab",
      "--output", output, input,
    ],
    { cwd: path.dirname(input), env, maxBuffer: 64 << 20 },
  ).catch((e: unknown) => {
    throw jupyterError(e);
  });
  const nb = JSON.parse(fs.readFileSync(output, "utf8")) as NotebookJson;
  const seconds = (Date.now() - t0) / 1000;
  const numbered = numberExecutedCells(nb);
  if (stampRunTime(nb, seconds, env.MEDREL_PRESET ?? "quick", new Date(t0), machine) || numbered) fs.writeFileSync(output, JSON.stringify(nb, null, 1) + "\n");
  return { input, output, seconds, cells: cellTimes(nb), ...notebookErrors(nb) };
}

/**
 * The executed copy's header says the time of the run it shows, not the time recorded for the tracked notebook: the
 * body of its `<!-- generated:time-… -->` block is replaced (blank lines kept around it, so markdown renders it).
 * Returns whether a block was found.
 */
export function stampRunTime(nb: NotebookJson, seconds: number, preset: string, date: Date, machine: Machine): boolean {
  const line =
    `*This copy ran in ${formatDuration(seconds)} with \`MEDREL_PRESET=${preset}\` on ${date.toISOString().slice(0, 10)}, ` +
    `${describeMachine(machine)}; the times recorded for each preset are in the README (How long things take).*`;
  let found = false;
  for (const cell of nb.cells) {
    if (cell.cell_type !== "markdown") continue;
    const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    const out = src.replace(/(<!-- generated:(time-[\w-]+) -->\n)[\s\S]*?(<!-- \/generated:\2 -->)/, (_all, open: string, _name: string, close: string) => `${open}\n${line}\n\n${close}`);
    if (out !== src) {
      cell.source = out.split(/(?<=\n)/);
      found = true;
    }
  }
  return found;
}

/**
 * Give every code cell of a notebook executed top to bottom its execution count (1, 2, …) where the kernel left
 * none: tslab's execute replies carry no count, so nbconvert writes null and the HTML export shows `In [ ]:` on
 * cells that did run. Counts a kernel did write are kept. Returns whether anything changed.
 */
export function numberExecutedCells(nb: NotebookJson): boolean {
  let n = 0;
  let changed = false;
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    n++;
    if (typeof cell.execution_count === "number") continue;
    cell.execution_count = n;
    for (const o of cell.outputs ?? []) if (o.output_type === "execute_result") o.execution_count = n;
    changed = true;
  }
  return changed;
}

/**
 * Legible on a 1024 × 768 projector: an output that is wider than the page scrolls inside its own area (the prompt
 * stays put) instead of widening the page; long code lines wrap. Rules for both the Lab (jp-*) and the classic
 * templates. (Our tables keep their labels on one line themselves: tableHtml's inline styles.)
 */
export const LEGIBLE_CSS = [
  ".jp-OutputArea-child, div.output_area { display: flex; }",
  ".jp-OutputArea-prompt, div.output_prompt { flex: 0 0 auto; }",
  ".jp-OutputArea-output, div.output_subarea { flex: 1 1 auto; min-width: 0; max-width: 100%; overflow-x: auto; }",
  ".jp-InputArea-editor pre, div.input_area pre, .highlight pre { white-space: pre-wrap; overflow-wrap: anywhere; }",
].join("\n");

/**
 * The nbconvert page made self-contained: scripts loaded from elsewhere (Debian's /usr/share/javascript requirejs
 * and MathJax, or a CDN) and MathJax's configuration are dropped — the notebooks use no TeX and their charts carry
 * plotly.js inline — and LEGIBLE_CSS goes into the head.
 */
export function selfContainedHtml(html: string): string {
  const out = html
    .replace(/<script\b[^>]*\bsrc\s*=\s*["'](?!data:)[^"']*["'][^>]*>\s*<\/script>/gi, "")
    .replace(/<script type="text\/x-mathjax-config">[\s\S]*?<\/script>/gi, "");
  const style = `<style type="text/css">\n/* medrel-notebooks: legible at 1024 x 768 */\n${LEGIBLE_CSS}\n</style>\n`;
  return out.includes("</head>") ? out.replace("</head>", `${style}</head>`) : style + out;
}

/** Export an executed notebook to a standalone, self-contained HTML page beside it (or into outDir). */
export async function exportNotebookHtml(executed: string, outDir = path.dirname(executed)): Promise<string> {
  await execFileAsync(jupyterCommand(), ["nbconvert", "--to", "html", "--output-dir", path.resolve(outDir), executed], { maxBuffer: 64 << 20 }).catch((e: unknown) => {
    throw jupyterError(e);
  });
  const file = path.join(path.resolve(outDir), path.basename(executed).replace(/\.ipynb$/, ".html"));
  fs.writeFileSync(file, selfContainedHtml(fs.readFileSync(file, "utf8")));
  return file;
}
