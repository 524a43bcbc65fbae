/**
 * The machinery a student meets before any notebook runs: finding a notebook by the name they type, finding
 * Jupyter (the checkout's .venv, else PATH: an activated virtualenv) and the Python that runs it, the kernelspec's launcher
 * on Windows, the message when Jupyter is missing, the exported page made self-contained, and the time record.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  cellTimes,
  findNotebook,
  JUPYTER_INSTALL_HINT,
  jupyterCommand,
  jupyterError,
  jupyterPython,
  LEGIBLE_CSS,
  NOTEBOOKS_DIR,
  selfContainedHtml,
  tslabBin,
  type NotebookJson,
} from "../src/tools/notebooks";
import { formatDuration, readTimes, recordTime, runsFolderCondition, type TimeEntry } from "../src/tools/times";

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "medrel-tools-"));

function executable(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  fs.chmodSync(file, 0o755);
  return file;
}

test("findNotebook: the number, the name, the file name or a path; anything else lists the notebooks", () => {
  const nb04 = path.join(NOTEBOOKS_DIR, "04_weighted_loss.ipynb");
  assert.equal(findNotebook("04"), nb04);
  assert.equal(findNotebook("04_weighted_loss"), nb04);
  assert.equal(findNotebook("04_weighted_loss.ipynb"), nb04);
  assert.equal(findNotebook(path.relative(process.cwd(), nb04)), nb04);
  assert.throws(() => findNotebook("09"), /notebook "09": not found \(the notebooks: 00_quickstart, 01_data, .*06_class_weights_playground, or "all"\)/);
});

test("Jupyter is the checkout's .venv when there is one, else the one on PATH; the kernel is checked with the Python that runs it", () => {
  const dir = tmp();
  try {
    const root = path.join(dir, "checkout");
    fs.mkdirSync(root);
    // nothing anywhere: the plain name (spawning it fails with the install hint)
    assert.equal(jupyterCommand({ PATH: path.join(dir, "empty") }, root), "jupyter");
    // an activated virtualenv (or Homebrew) on PATH; "#!/usr/bin/env python3" is resolved on PATH too
    const bin = path.join(dir, "env", "bin");
    const envPython = executable(path.join(bin, "python3"), "");
    const envJupyter = executable(path.join(bin, "jupyter"), "#!/usr/bin/env python3\n");
    assert.equal(jupyterCommand({ PATH: bin }, root), envJupyter);
    assert.equal(jupyterPython({ PATH: bin }, root), envPython);
    // the no-root route of the hint: python3 -m venv .venv && .venv/bin/pip install "notebook<7" nbconvert; it wins
    // over a jupyter on PATH, which may be another project's or a Notebook 7
    const venvPython = executable(path.join(root, ".venv", "bin", "python3"), "");
    const venvJupyter = executable(path.join(root, ".venv", "bin", "jupyter"), `#!${venvPython}\n# -*- coding: utf-8 -*-\n`);
    assert.equal(jupyterCommand({ PATH: path.join(dir, "empty") }, root), venvJupyter);
    assert.equal(jupyterCommand({ PATH: bin }, root), venvJupyter);
    assert.equal(jupyterPython({ PATH: bin }, root), venvPython, "the venv's interpreter, not the one on PATH");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("without Jupyter the message gives the no-root venv route as well as Debian's packages", () => {
  const e = Object.assign(new Error("spawn jupyter ENOENT"), { code: "ENOENT" });
  const msg = jupyterError(e).message;
  assert.match(msg, /^jupyter is not installed/);
  assert.ok(msg.includes('python3 -m venv .venv && .venv/bin/pip install "notebook<7" nbconvert'), msg);
  assert.ok(msg.includes("apt-get install jupyter-notebook"), msg);
  assert.equal(msg, `jupyter is not installed (not on PATH, no .venv/bin/jupyter): ${JUPYTER_INSTALL_HINT}`);
  const other = new Error("exit 1");
  assert.equal(jupyterError(other), other, "other errors pass unchanged");
});

test("the kernelspec runs npm's tslab launcher: tslab.cmd on Windows, as tslab's own installer registers", () => {
  assert.equal(path.basename(tslabBin("/c", "win32")), "tslab.cmd");
  assert.equal(path.basename(tslabBin("/c", "linux")), "tslab");
  assert.equal(path.basename(tslabBin("/c", "darwin")), "tslab");
});

test("selfContainedHtml drops scripts loaded from elsewhere (Debian's MathJax and requirejs), keeps inline ones, adds the 1024-px rules", () => {
  const page = [
    "<html><head>",
    '<script src="file:///usr/share/javascript/requirejs/require.min.js"></script>',
    '<script src="file:///usr/share/javascript/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"> </script>',
    '<script type="text/x-mathjax-config">\n init_mathjax = function() { MathJax.Hub.Config({}); }\n</script>',
    '<script src="https://cdn.example/x.js"></script>',
    "</head><body>",
    '<script type="text/javascript">window.Plotly = 1;</script>',
    '<img src="data:image/png;base64,AAAA">',
    "</body></html>",
  ].join("\n");
  const out = selfContainedHtml(page);
  assert.doesNotMatch(out, /usr\/share\/javascript|MathJax|cdn\.example|src="http/);
  assert.match(out, /<script type="text\/javascript">window\.Plotly = 1;<\/script>/);
  assert.match(out, /data:image\/png/);
  assert.ok(out.includes(`${LEGIBLE_CSS}\n</style>\n</head>`), "the rules end the head");
  assert.match(LEGIBLE_CSS, /\.jp-OutputArea-output, div\.output_subarea \{ flex: 1 1 auto; min-width: 0; max-width: 100%; overflow-x: auto; \}/);
});

test("cellTimes: each code cell's busy → idle time from nbclient's timestamps, numbered as In [n]", () => {
  const nb: NotebookJson = {
    metadata: {},
    cells: [
      { cell_type: "markdown", source: "# t" },
      { cell_type: "code", source: ["// setup\n", "const a = 1;"], metadata: { execution: { "iopub.status.busy": "2026-01-01T00:00:00.000Z", "iopub.status.idle": "2026-01-01T00:00:02.500Z" } } },
      { cell_type: "code", source: "x", metadata: {} },
      { cell_type: "code", source: "await train();", metadata: { execution: { "iopub.status.busy": "2026-01-01T00:00:03.000Z", "iopub.status.idle": "2026-01-01T00:03:54.000Z" } } },
    ],
  };
  assert.deepEqual(cellTimes(nb), [
    { cell: 1, seconds: 2.5, first: "const a = 1;" },
    { cell: 3, seconds: 231, first: "await train();" },
  ]);
});

test("the time record: a new measurement of the same step, preset and circumstances replaces the old one", () => {
  const dir = tmp();
  try {
    const file = path.join(dir, "times.json");
    const machine = { cpu: "AMD EPYC", cores: 2, memoryGiB: 23.5, loadAverage: [3.4, 2, 1] };
    const e = (step: string, seconds: number, preset?: string): TimeEntry => ({ step, preset, seconds, date: "2026-12-06T00:00:00.000Z", machine, command: "x" });
    recordTime(e("notebook 04_weighted_loss", 231, "smoke"), file);
    recordTime(e("notebook 04_weighted_loss", 9000, "quick"), file);
    recordTime(e("notebook 02_models", 220, "smoke"), file);
    recordTime(e("notebook 04_weighted_loss", 200, "smoke"), file);
    const rec = readTimes(file);
    assert.deepEqual(rec.entries.map((x) => [x.step, x.preset, x.seconds]), [
      ["notebook 02_models", "smoke", 220],
      ["notebook 04_weighted_loss", "quick", 9000],
      ["notebook 04_weighted_loss", "smoke", 200],
    ]);
    fs.writeFileSync(file, JSON.stringify({ entries: [{ step: "x" }] }));
    assert.throws(() => readTimes(file), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: entries\\[0\\]: needs a string "step" and a number "seconds"`));
    assert.deepEqual(readTimes(path.join(dir, "none.json")).entries, []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("formatDuration and the runs folder's state, as the README and the notebooks' headers print them", () => {
  assert.equal(formatDuration(44.25), "44 s");
  assert.equal(formatDuration(231), "3 min 51 s");
  assert.equal(formatDuration(3 * 3600 + 7 * 60 + 40), "3 h 07 min");
  const dir = tmp();
  try {
    assert.equal(runsFolderCondition(path.join(dir, "absent")), "fresh runs folder: every run trains");
    fs.mkdirSync(path.join(dir, "abc"));
    fs.writeFileSync(path.join(dir, "abc", ".medrel-run"), "");
    fs.mkdirSync(path.join(dir, "not-a-run"));
    assert.equal(runsFolderCondition(dir), "runs folder with 1 finished runs: those load");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("npm run notebook accepts --no-browser (what Jupyter users type); --execute names the notebooks when one is unknown", () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/notebook.ts", ...args], { cwd: path.resolve(__dirname, ".."), encoding: "utf8" });
  const ok = cli("--no-browser", "--register-kernel");
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /tslab kernel for this checkout/);
  const bad = cli("--execute", "09");
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^error: notebook "09": not found \(the notebooks: 00_quickstart, .*, or "all"\)$/m);
});
