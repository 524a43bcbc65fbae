/**
 * Execute notebooks headless in real Jupyter with the tslab kernel (jupyter nbconvert --execute),
 * collect error outputs, and export executed notebooks to HTML. Used by `npm start` and the test suite.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as fs from "node:fs";
import * as path from "node:path";

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

/**
 * JUPYTER_PATH with a private `tslab` kernelspec (.cache/jupyter/kernels/tslab) that runs THIS checkout's
 * tslab: Jupyter reads JUPYTER_PATH before the user and system folders, so headless runs never pick up a
 * kernel registered from another clone (`tslab install` writes one global spec, and the last setup wins).
 * Empty when this checkout has no tslab (the global registration is used).
 */
export function localKernelEnv(root = REPO_ROOT): Record<string, string> {
  const bin = path.join(root, "node_modules", ".bin", "tslab");
  if (!fs.existsSync(bin)) return {};
  const dir = path.join(root, ".cache", "jupyter");
  const specDir = path.join(dir, "kernels", "tslab");
  const spec = JSON.stringify({ argv: [bin, "kernel", "--config-path", "{connection_file}"], display_name: "TypeScript", language: "typescript" });
  const file = path.join(specDir, "kernel.json");
  if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== spec) {
    fs.mkdirSync(specDir, { recursive: true });
    fs.writeFileSync(file, spec);
  }
  const prev = process.env.JUPYTER_PATH;
  return { JUPYTER_PATH: prev ? `${dir}${path.delimiter}${prev}` : dir };
}

/**
 * Execute one notebook into outDir (cwd = the notebook's folder, so its relative imports work). Asynchronous, so
 * several notebooks (each its own kernel process) can run side by side.
 */
export async function executeNotebook(
  input: string,
  outDir: string,
  opts: { env?: Record<string, string>; timeoutSeconds?: number } = {},
): Promise<ExecutedNotebook> {
  fs.mkdirSync(outDir, { recursive: true });
  input = path.resolve(input);
  const output = path.join(path.resolve(outDir), path.basename(input));
  const t0 = Date.now();
  await execFileAsync(
    "jupyter",
    [
      "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
      `--ExecutePreprocessor.timeout=${opts.timeoutSeconds ?? 1800}`,
      "--ExecutePreprocessor.kernel_name=tslab",
      "--output", output, input,
    ],
    { cwd: path.dirname(input), env: { ...process.env, ...localKernelEnv(), ...(opts.env ?? {}) }, maxBuffer: 64 << 20 },
  );
  const nb = JSON.parse(fs.readFileSync(output, "utf8")) as NotebookJson;
  if (numberExecutedCells(nb)) fs.writeFileSync(output, JSON.stringify(nb, null, 1) + "\n");
  return { input, output, seconds: (Date.now() - t0) / 1000, ...notebookErrors(nb) };
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

/** Export an executed notebook to a standalone HTML page beside it (or into outDir). */
export async function exportNotebookHtml(executed: string, outDir = path.dirname(executed)): Promise<string> {
  await execFileAsync("jupyter", ["nbconvert", "--to", "html", "--output-dir", path.resolve(outDir), executed], { maxBuffer: 64 << 20 });
  return path.join(path.resolve(outDir), path.basename(executed).replace(/\.ipynb$/, ".html"));
}
