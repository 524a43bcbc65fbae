/**
 * Jupyter as a person uses it: this checkout's tslab kernel (never another clone's), `npm run notebook` (URL with
 * token, a free port, a clean Ctrl-C), and notebook 00 run through the Notebook UI in headless Chromium.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { chromium, type Page } from "playwright-core";
import { localKernelEnv } from "../src/tools/notebooks";
import { CHECKOUT_TSLAB, procStat, resolveKernelArgv0, startNotebookServer } from "../src/tools/jupyter-server";
import { CHROMIUM_FLAGS, chromiumPath } from "../src/tools/browser";
import { exportNotebookHtml, listNotebooks } from "../src/tools/notebooks";
import { TABLE_NAMES, demoTable, loadResults } from "../src/experiments";
import { figureHtml, tableHtml } from "../src/report";
import { writeIndexPage } from "../src/cli/start";
import { darkRoom, projectorProblems } from "./projector";

const ROOT = path.resolve(__dirname, "..");
const SHOT = path.join(ROOT, "reports", "test", "jupyter-ui-00.png");

function writeSpec(dir: string, argv0: string): void {
  fs.mkdirSync(path.join(dir, "kernels", "tslab"), { recursive: true });
  const spec = { argv: [argv0, "kernel", "--config-path", "{connection_file}"], display_name: "TypeScript", language: "typescript" };
  fs.writeFileSync(path.join(dir, "kernels", "tslab", "kernel.json"), JSON.stringify(spec));
}

test("each checkout's Jupyter resolves the tslab kernel to its own tslab, whatever another clone registered", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-kernels-"));
  try {
    // what `tslab install --user` run from some other clone leaves in the user's Jupyter folder
    const userData = path.join(tmp, "user");
    writeSpec(userData, "/elsewhere/node_modules/.bin/tslab");
    // a second checkout beside this one, with its own tslab
    const other = path.join(tmp, "other-checkout");
    fs.mkdirSync(path.join(other, "node_modules", ".bin"), { recursive: true });
    fs.writeFileSync(path.join(other, "node_modules", ".bin", "tslab"), "");
    const base: NodeJS.ProcessEnv = { ...process.env, JUPYTER_DATA_DIR: userData, JUPYTER_PATH: "" };
    assert.equal(resolveKernelArgv0(base), "/elsewhere/node_modules/.bin/tslab", "without ours the user's spec wins");
    assert.equal(resolveKernelArgv0({ ...base, ...localKernelEnv(ROOT) }), CHECKOUT_TSLAB);
    assert.equal(resolveKernelArgv0({ ...base, ...localKernelEnv(other) }), path.join(other, "node_modules", ".bin", "tslab"));
    // the other checkout writing its spec did not re-point this one
    assert.equal(resolveKernelArgv0({ ...base, ...localKernelEnv(ROOT) }), CHECKOUT_TSLAB);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

/**
 * Start `npm run notebook`'s CLI (through npm itself with viaNpm, in a process group of its own as a terminal's job);
 * resolves with its output once it printed the URL.
 */
function startCli(port: number, viaNpm = false): Promise<{ out: () => string; url: string; pid: number; exit: Promise<number | null>; kill: (s: NodeJS.Signals) => void }> {
  const [cmd, args] = viaNpm ? ["npm", ["run", "notebook", "--", "--port", String(port)]] : [process.execPath, ["--import", "tsx", "src/cli/notebook.ts", "--port", String(port)]];
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: viaNpm });
  let out = "";
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 60 s:\n${out}`)), 60_000);
    void exit.then((code) => reject(new Error(`npm run notebook exited (${code}):\n${out}`)));
    const onData = (b: Buffer): void => {
      out += b.toString();
      const m = /^ {4}(http:\/\/\S+)$/m.exec(out);
      if (m && out.includes("Ctrl-C stops")) {
        clearTimeout(timer);
        resolve({ out: () => out, url: m[1], pid: child.pid ?? -1, exit, kill: (s) => child.kill(s) });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
  });
}

/** Start a tslab kernel through the server's REST API; resolves with its process id once it runs. */
async function startKernel(url: string): Promise<number> {
  const { origin, searchParams } = new URL(url);
  const res = await fetch(`${origin}/api/kernels`, { method: "POST", headers: { Authorization: `token ${searchParams.get("token")}` }, body: JSON.stringify({ name: "tslab" }) });
  const { id } = (await res.json()) as { id: string };
  // its command line names its connection file, kernel-<id>.json
  for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
    const pid = processesNaming(`kernel-${id}.json`)[0];
    if (pid) return pid;
  }
  throw new Error(`kernel ${id} has no process after 30 s`);
}

/** Live processes whose command line, its arguments joined by spaces, contains text (Linux /proc). */
function processesNaming(text: string): number[] {
  return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      return procStat(Number(d)) && fs.readFileSync(`/proc/${d}/cmdline`, "utf8").replaceAll("\0", " ").includes(text) ? [Number(d)] : [];
    } catch {
      return [];
    }
  });
}

/** Resolves true once none of pids is alive, false when some still are after ms. */
async function allGone(pids: readonly number[], ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) if (!pids.some((p) => procStat(p))) return true;
  return !pids.some((p) => procStat(p));
}

test("npm run notebook serves notebooks/ on 127.0.0.1 with this checkout's kernel, on a free port, and Ctrl-C stops it", { timeout: 2 * 60_000 }, async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  const busy = (blocker.address() as net.AddressInfo).port;
  try {
    const cli = await startCli(busy);
    const m = /^http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]{48})$/.exec(cli.url);
    assert.ok(m, `URL with a token on 127.0.0.1: ${cli.url}`);
    assert.notEqual(Number(m[1]), busy, "the busy port was skipped");
    assert.match(cli.out(), /run `npm start` first/);
    const api = `http://127.0.0.1:${m[1]}/api`;
    assert.equal((await fetch(`${api}/kernelspecs`)).status, 403, "no token, no access");
    const specs = (await (await fetch(`${api}/kernelspecs?token=${m[2]}`)).json()) as { kernelspecs: Record<string, { spec: { argv: string[] } }> };
    assert.equal(specs.kernelspecs.tslab.spec.argv[0], CHECKOUT_TSLAB, "the server's tslab kernel is this checkout's");
    const contents = (await (await fetch(`${api}/contents?token=${m[2]}`)).json()) as { content: { name: string }[] };
    assert.ok(contents.content.some((c) => c.name === "00_quickstart.ipynb"), "it serves notebooks/");
    const kernel = await startKernel(cli.url);
    cli.kill("SIGINT");
    assert.equal(await cli.exit, 0, cli.out());
    assert.match(cli.out(), /Jupyter stopped/);
    await assert.rejects(fetch(`${api}/status`), "the server is gone");
    assert.ok(await allGone([kernel], 3_000), `its kernel (pid ${kernel}) is gone too`);
  } finally {
    blocker.close();
  }
});

test("a SIGTERM to the npm wrapper alone (npm ends its shell, never us) still stops Jupyter and its kernels", { timeout: 2 * 60_000 }, async () => {
  // a port free now, so that the command lines below name this test's processes only
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  const port = (blocker.address() as net.AddressInfo).port;
  await new Promise((r) => blocker.close(r));
  const cli = await startCli(port, true);
  const kernel = await startKernel(cli.url);
  const server = processesNaming(`--port=${port} `);
  const ours = [kernel, ...server];
  try {
    assert.equal(server.length, 1, "one jupyter-notebook process for that port");
    process.kill(cli.pid, "SIGTERM");
    assert.ok(await allGone(ours, 30_000), `server ${server} and kernel ${kernel} gone\n${cli.out()}`);
    // and nothing npm started (its shell, tsx, our CLI) is left
    assert.ok(await allGone(processesNaming(`src/cli/notebook.ts --port ${port}`), 5_000), cli.out());
  } finally {
    for (const pid of [-cli.pid, ...ours]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone: what the test wants
      }
    }
  }
});

interface JupyterPage {
  Jupyter: {
    notebook: {
      _fully_loaded?: boolean;
      kernel_busy: boolean;
      kernel?: { is_connected(): boolean; info_reply?: object };
      set_autosave_interval(ms: number): void;
      get_cells(): { cell_type: string; input_prompt_number?: number | string | null }[];
    };
  };
}

/** Notebook 6 has loaded the notebook and its kernel is connected and idle. */
async function notebookReady(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const nb = (window as unknown as Partial<JupyterPage>).Jupyter?.notebook;
    return nb?._fully_loaded === true && nb.kernel?.is_connected() === true && nb.kernel.info_reply !== undefined && !nb.kernel_busy;
  }, undefined, { timeout: 60_000 });
}

/**
 * Cell → Run All in Notebook 6, then wait until no cell runs and the kernel is idle: "done" when every code cell got
 * its execution count, "stopped" when some did not (tslab reports a thrown error on stderr and the rest is aborted).
 */
async function runAllCells(page: Page): Promise<string> {
  await notebookReady(page);
  // never write the tracked notebook: autosave off before anything runs
  await page.evaluate(() => (window as unknown as JupyterPage).Jupyter.notebook.set_autosave_interval(0));
  await page.click("#celllink");
  await page.click("#run_all_cells > a");
  const state = await page.waitForFunction(() => {
    const nb = (window as unknown as JupyterPage).Jupyter.notebook;
    const counts = nb.get_cells().filter((c) => c.cell_type === "code").map((c) => c.input_prompt_number);
    if (document.querySelector(".cell.running") || nb.kernel_busy || !counts.some((n) => typeof n === "number")) return false;
    return counts.every((n) => typeof n === "number") ? "done" : "stopped";
  }, undefined, { timeout: 120_000, polling: 250 });
  return (await state.jsonValue()) as string;
}

test("Jupyter Notebook in headless Chromium runs 00_quickstart (smoke) to its plotly charts with no error output", { timeout: 4 * 60_000 }, async (t) => {
  const nbFile = path.join(ROOT, "notebooks", "00_quickstart.ipynb");
  const before = fs.readFileSync(nbFile, "utf8");
  const bin = chromiumPath();
  assert.ok(bin, "chromium not found (npm run setup installs Debian's chromium)");
  // its run goes to a scratch folder, not the checkout's runs/
  const server = await startNotebookServer({ env: { MEDREL_PRESET: "smoke", MEDREL_RUNS_DIR: path.join(ROOT, "reports", "test", "runs") } });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, { executablePath: bin, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1280, height: 900 } });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(`http://127.0.0.1:${server.port}/notebooks/00_quickstart.ipynb?token=${server.token}`);
    const state = await runAllCells(page);
    // error outputs, and exceptions on stderr (where tslab reports a thrown error)
    const text = (sel: string): Promise<string[]> => page.$$eval(sel, (els) => els.map((e) => (e.textContent ?? "").slice(0, 400)));
    const stderr = (await text(".output_stderr")).filter((s) => /Error|Traceback|Exception/.test(s));
    assert.deepEqual([...(await text(".output_error")), ...stderr], [], "no error output");
    assert.equal(state, "done", "every code cell ran");
    await page.waitForFunction(() => document.querySelectorAll(".js-plotly-plot .main-svg").length >= 3, undefined, { timeout: 30_000 });
    // label distribution, training curves, confusion matrix
    assert.equal(await page.locator(".js-plotly-plot").count(), 3, "three plotly charts drawn");
    assert.equal(await page.getByText("plotly.js is not loaded").count(), 0);
    assert.equal(await page.getByText("preset: smoke").count(), 1, "the kernel inherited the server's MEDREL_PRESET");
    // the whole notebook in one picture: the page scrolls inside #site, so grow the window to its height
    const height = await page.evaluate(() => document.getElementById("notebook-container")?.scrollHeight ?? 900);
    await page.setViewportSize({ width: 1280, height: Math.min(height + 200, 16_000) });
    fs.mkdirSync(path.dirname(SHOT), { recursive: true });
    await page.screenshot({ path: SHOT });
    t.diagnostic(`screenshot: ${SHOT}`);
    assert.ok(fs.statSync(SHOT).size > 50_000, "screenshot written");
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
    assert.equal(await server.stop(), 0, server.log());
  }
  assert.match(server.log(), /Shutting down 1 kernel/, "the kernel was shut down with the server");
  assert.equal(fs.readFileSync(nbFile, "utf8"), before, "the tracked notebook was not saved over");
});

/** Two cells, a chart each, and a table, importing this checkout's dist/ by its absolute path (the notebook lives in a scratch folder). */
function chartsNotebook(): string {
  const cell = (title: string) => ({
    cell_type: "code", metadata: { scrolled: false }, execution_count: null, outputs: [],
    source: `import { report } from ${JSON.stringify(path.join(ROOT, "dist"))};\nreport.showChart({ data: [{ type: "bar", x: ["a", "b"], y: [1, 2] }], layout: { title: { text: "${title}" }, height: 260 } });`,
  });
  // and a table of ours, for the dark projector's check
  const table = {
    cell_type: "code", metadata: {}, execution_count: null, outputs: [],
    source: `import { experiments } from ${JSON.stringify(path.join(ROOT, "dist"))};\nreport.showTable(experiments.loadResults("loss")!.frame, { caption: "ours on the study's data" });`,
  };
  const nb = { cells: [cell("first"), cell("second"), table], metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" } }, nbformat: 4, nbformat_minor: 5 };
  return JSON.stringify(nb, null, 1);
}

/** Charts drawn on the page (plotly's main SVG layer), once nothing is loading any more. */
async function drawnCharts(page: Page, expected: number): Promise<number> {
  await page.waitForFunction((n) => document.querySelectorAll(".js-plotly-plot .main-svg").length >= n, expected, { timeout: 30_000 }).catch(() => undefined);
  return page.locator(".js-plotly-plot").count();
}

/** Code cells whose editor scrolls sideways at this window size (a line runs past it: cut until someone scrolls). */
const WIDE_CODE = `() => [...document.querySelectorAll(".CodeMirror")].flatMap((cm) => {
  cm.CodeMirror.refresh(); // lay a cell's lines out at this width, as when it scrolls into view
  // CodeMirror shows its horizontal scrollbar exactly when a line is wider than the editor
  const bar = cm.querySelector(".CodeMirror-hscrollbar");
  return bar && getComputedStyle(bar).display !== "none" ? [(cm.CodeMirror.getValue().split("\\n").sort((a, b) => b.length - a.length)[0] || "").slice(0, 60)] : [];
})`;

test("the live UI on a projector (1024 × 768): charts drawn after a reload and on a page without plotly.js; no code line cut", { timeout: 5 * 60_000 }, async (t) => {
  const bin = chromiumPath();
  assert.ok(bin, "chromium not found (npm run setup installs Debian's chromium)");
  // a scratch folder: this test saves its notebook, and opens copies of the tracked ones
  const dir = path.join(ROOT, "reports", "test", "ui");
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "charts.ipynb"), chartsNotebook());
  for (const nb of listNotebooks()) fs.copyFileSync(nb, path.join(dir, path.basename(nb)));
  const server = await startNotebookServer({ dir });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, { executablePath: bin, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1024, height: 768 } });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const url = (name: string) => `http://127.0.0.1:${server.port}/notebooks/${name}?token=${server.token}`;
    await page.goto(url("charts.ipynb"));
    assert.equal(await runAllCells(page), "done");
    assert.equal(await drawnCharts(page, 2), 2, "both charts drawn after Run All");
    const save = () => page.evaluate(() => (window as unknown as { Jupyter: { notebook: { save_notebook(): Promise<unknown> } } }).Jupyter.notebook.save_notebook());
    await save();
    // a reload: the saved outputs draw again (the kernel, still running, is not asked)
    await page.reload();
    await notebookReady(page);
    assert.equal(await drawnCharts(page, 2), 2, "both charts drawn after a reload");
    // the first chart's output (the only one carrying plotly.js) cleared and saved: the page that opens next has none
    await page.evaluate(() => (window as unknown as { Jupyter: { notebook: { get_cell(i: number): { clear_output(): void } } } }).Jupyter.notebook.get_cell(0).clear_output());
    await save();
    await page.reload();
    await notebookReady(page);
    assert.equal(await drawnCharts(page, 1), 1, "the second chart drew with Jupyter's copy of plotly.js");
    assert.equal(await page.locator('script[src*="nbextensions/medrel/plotly.min.js"]').count(), 1, "loaded from Jupyter, once");
    assert.equal(await page.getByText("plotly.js is not").count(), 0);
    // and re-running the first cell (its kernel inlined plotly.js long ago) draws too
    await page.evaluate(() => (window as unknown as { Jupyter: { notebook: { execute_cells(i: number[]): void } } }).Jupyter.notebook.execute_cells([0]));
    await page.waitForFunction(() => document.querySelectorAll(".output_area").length >= 2 && !document.querySelector(".cell.running"), undefined, { timeout: 120_000, polling: 250 });
    assert.equal(await drawnCharts(page, 2), 2, "a re-run chart cell draws");
    const shot = path.join(ROOT, "reports", "test", "jupyter-ui-reload-1024.png");
    await page.screenshot({ path: shot });
    t.diagnostic(`screenshot: ${shot}`);
    // the same on a dark projector: our outputs (charts, the table) legible and uncut, the notebook no wider than the window
    await darkRoom(page);
    const dark = path.join(ROOT, "reports", "test", "jupyter-ui-dark-1024.png");
    await page.evaluate(() => document.querySelector(".medrel-table")?.scrollIntoView());
    await page.screenshot({ path: dark });
    t.diagnostic(`screenshot: ${dark}`);
    assert.equal(await page.locator("div.output_subarea .medrel-table").count(), 1, "the table cell drew its table");
    assert.deepEqual(await projectorProblems(page, "div.output_subarea"), [], "the live UI's outputs on a dark projector");
    assert.ok(await page.evaluate(() => { const c = document.getElementById("notebook-container"); return c !== null && c.scrollWidth <= c.clientWidth; }), "the notebook fits 1024 px");
    // every notebook's code at 1024 px: no line runs past its editor
    for (const file of listNotebooks()) {
      await page.goto(url(path.basename(file)));
      await page.waitForFunction(() => (window as unknown as Partial<JupyterPage>).Jupyter?.notebook?._fully_loaded === true, undefined, { timeout: 60_000 });
      assert.deepEqual(await page.evaluate(`(${WIDE_CODE})()`), [], `${path.basename(file)}: code lines cut at 1024 px`);
    }
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
    assert.equal(await server.stop(), 0, server.log());
  }
});

/** An executed notebook as npm start leaves one, its outputs written here: a table and a chart of ours, as HTML. */
function executedNotebook(html: readonly string[]): string {
  const cells = html.map((h, i) => ({
    cell_type: "code", metadata: {}, execution_count: i + 1, source: `// output ${i + 1}`,
    outputs: [{ output_type: "display_data", metadata: {}, data: { "text/html": h } }],
  }));
  return JSON.stringify({ cells, metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" } }, nbformat: 4, nbformat_minor: 5 });
}

test("reports/index.html as npm start writes it shows the study's data first, the demo as an illustration; it and an exported notebook stay legible on a dark projector (1024 × 768)", { timeout: 4 * 60_000 }, async (t) => {
  const bin = chromiumPath();
  assert.ok(bin, "chromium not found (npm run setup installs Debian's chromium)");
  const dir = path.join(ROOT, "reports", "test", "index");
  fs.rmSync(dir, { recursive: true, force: true });
  // no full npm start: the shipped study results, one demo grid trained with the smoke preset, the others' runs absent
  const runsDir = path.join(dir, "runs");
  const demo = await demoTable("loss", "smoke", { runsDir, seeds: [0], progress: false });
  const tables = TABLE_NAMES.map((table) => ({ table, study: loadResults(table), demo: table === "loss" ? demo : null }));
  assert.ok(tables.every((x) => x.study), "results/study ships every table");
  const index = writeIndexPage(path.join(dir, "index.html"), { backend: "test", tables });
  // an exported notebook with a study table and its chart, through the exporter npm start uses
  const loss = tables.find((x) => x.table === "loss")!.study!;
  const nb = path.join(dir, "exported.ipynb");
  fs.writeFileSync(nb, executedNotebook([tableHtml(loss.frame, { caption: "ours on the study's data" }), figureHtml(loss.chart)]));
  const exported = await exportNotebookHtml(nb, dir);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, { executablePath: bin, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1024, height: 768 } });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(`file://${index}`);
    await page.waitForFunction(() => document.querySelectorAll(".js-plotly-plot .main-svg").length > 0, undefined, { timeout: 30_000 });
    // every table opens with ours on the study's data; the demo comes after it, labelled as an illustration
    const headings = await page.$$eval("h2, h3", (els) => els.map((e) => `${e.tagName} ${(e.textContent ?? "").trim()}`));
    const h3 = headings.filter((h) => h.startsWith("H3"));
    assert.equal(h3[0], "H3 Ours on the study's data", "the first table section is the study's data");
    assert.ok(h3.indexOf("H3 Ours on the study's data") < h3.findIndex((h) => /demo/i.test(h)), "the study's data before any demo section");
    for (const [i, h] of headings.entries()) if (h.startsWith("H2 ") && !/About|Notebooks/.test(h)) assert.equal(headings[i + 1], "H3 Ours on the study's data", `${h}: opens with the study's data`);
    assert.deepEqual([...new Set(h3.filter((h) => /demo/i.test(h)))], ["H3 The demo: an illustration, its effects built in"]);
    const captions = await page.$$eval("caption", (els) => els.map((e) => (e.textContent ?? "").trim()));
    assert.match(captions[0], /^ours on the study's data/, "the first table drawn is ours on the study's data");
    assert.ok(captions.some((c) => /^the demo .*an illustration, not a reproduction/.test(c)), "the demo's table says what it is");
    const body = await page.locator("body").innerText();
    assert.match(body, /its imbalance is built in by its generator/, "the demo's caveat says its effects are built in");
    assert.match(body, /Its runs are not in the runs folder: npm start trains them\./, "a demo not run says so");
    // the dark projector
    await darkRoom(page);
    const shot = path.join(ROOT, "reports", "test", "index-dark-1024.png");
    await page.screenshot({ path: shot });
    t.diagnostic(`screenshot: ${shot}`);
    assert.deepEqual(await projectorProblems(page, "body"), [], "index.html on a dark projector");
    await page.goto(`file://${exported}`);
    await page.waitForFunction(() => document.querySelectorAll(".js-plotly-plot .main-svg").length > 0, undefined, { timeout: 30_000 });
    await darkRoom(page);
    const shot2 = path.join(ROOT, "reports", "test", "export-dark-1024.png");
    await page.screenshot({ path: shot2 });
    t.diagnostic(`screenshot: ${shot2}`);
    assert.deepEqual(await projectorProblems(page, ".jp-OutputArea-output"), [], "the exported notebook's outputs on a dark projector");
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
});
