/**
 * npm run notebook: Jupyter Notebook on notebooks/ with this checkout's tslab kernel, on 127.0.0.1 only; prints
 * the URL with its token. Ctrl-C stops the server and its kernels.
 *   npm run notebook -- [--port 8888] [--no-browser]   the next free port is taken when this one is busy
 *   npm run notebook -- --execute 04 [--preset smoke] [--data study]  run one notebook (or "all") headless: numbered cells,
 *                                                      .ipynb + self-contained .html in reports/notebooks/ (--out)
 *   npm run notebook -- --register-kernel              only write this checkout's kernelspec (npm run setup does)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { choiceArg, portArg, runMain } from "./common";
import { PRESET_NAMES, type PresetName, existingRuns, TABLE_NAMES, TABLE_SPECS, tableJobs } from "../experiments";
import { DEFAULT_RUNS_DIR, RUN_MARKER } from "../runs/store";
import {
  CHECKOUT_TSLAB,
  executeNotebook,
  exportNotebookHtml,
  findNotebook,
  formatDuration,
  listNotebooks,
  localKernelEnv,
  NOTEBOOKS_DIR,
  procStat,
  resolveKernelArgv0,
  runsFolderCondition,
  startNotebookServer,
  timed,
  timesFile,
} from "../tools";

const ROOT = path.resolve(__dirname, "..", "..");
const say = (s: string): void => console.log(`[medrel] ${s}`);
const rel = (f: string): string => path.relative(process.cwd(), f) || ".";

/** Write the kernelspec and check that Jupyter resolves `tslab` to this checkout's tslab. */
function registerKernel(): void {
  const env = localKernelEnv();
  if (!env.JUPYTER_PATH) throw new Error(`${CHECKOUT_TSLAB} is missing: run npm ci first`);
  const dir = env.JUPYTER_PATH.split(path.delimiter)[0];
  let argv0: string;
  try {
    argv0 = resolveKernelArgv0({ ...process.env, ...env });
  } catch {
    say(`tslab kernel for this checkout written to ${dir}/kernels/tslab (Jupyter is not installed yet to check it)`);
    return;
  }
  if (argv0 !== CHECKOUT_TSLAB) throw new Error(`Jupyter resolves the tslab kernel to ${argv0}, not ${CHECKOUT_TSLAB} (JUPYTER_PATH=${env.JUPYTER_PATH})`);
  say(`tslab kernel for this checkout: ${dir}/kernels/tslab -> ${argv0}`);
}

/** Runs of npm start's demo grids (quick preset) not in the runs folder yet. */
function demoGridsMissing(): number {
  return TABLE_NAMES.reduce((n, t) => n + existingRuns(tableJobs(t, { preset: "quick", variants: TABLE_SPECS[t].demoVariants })).missing.length, 0);
}

/**
 * The processes between npm and us (its shell, tsx) and npm itself, when `npm run` started us. A SIGTERM to npm (a
 * process manager, `kill <pid>`) ends npm and its shell and never reaches us: watching them is how we learn to stop
 * Jupyter and its kernels then. Empty when npm did not start us or /proc is missing.
 */
function npmWrapper(): number[] {
  if (!process.env.npm_lifecycle_event || !procStat(process.pid)) return [];
  const chain: number[] = [];
  for (let pid = process.ppid; pid > 1 && chain.length < 8; pid = procStat(pid)?.ppid ?? 0) {
    chain.push(pid);
    let env: string;
    try {
      env = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
    } catch {
      break;
    }
    // npm sets npm_lifecycle_event for what it starts, not for itself: the first process without it is npm
    if (!env.split("\0").some((e) => e.startsWith("npm_lifecycle_event="))) break;
  }
  return chain;
}

async function serve(port: number): Promise<void> {
  if (!fs.existsSync(CHECKOUT_TSLAB)) throw new Error(`${CHECKOUT_TSLAB} is missing: run npm ci (or npm run setup) first`);
  if (!fs.existsSync(path.join(ROOT, "dist", "index.js"))) say("dist/ is missing (the notebooks import it): run npm run build");
  const server = await startNotebookServer({ port, logLevel: "WARN", onLog: (s) => process.stderr.write(s) });
  say(`Jupyter Notebook on ${rel(NOTEBOOKS_DIR)}/ with this checkout's TypeScript (tslab) kernel:`);
  console.log(`\n    ${server.url}\n`);
  say(demoGridsMissing() ? "run `npm start` first: the notebooks then load its finished runs instead of training their grids inside a cell" : "the demo grids of `npm start` are in the runs folder: the notebooks load them");
  say("Ctrl-C stops the server and its kernels");
  let stopping: Promise<number | null> | undefined;
  const stop = (): void => {
    if (stopping) return; // npm forwards the terminal's Ctrl-C too: one stop is enough
    say("stopping Jupyter…");
    stopping = server.stop();
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, stop);
  const wrapper = npmWrapper();
  const watch = setInterval(() => wrapper.some((pid) => !procStat(pid)) && stop(), 1000);
  await server.exited;
  clearInterval(watch);
  // stop() resolves once the kernels are gone too
  const code = stopping ? await stopping : await server.exited;
  if (!stopping || code !== 0) throw new Error(`jupyter notebook exited (code ${code})\n${server.log().trim().split("\n").slice(-10).join("\n")}`);
  say("Jupyter stopped");
}

/** MEDREL_DATA for a kernel whose working folder is notebooks/: a folder named on the command line made absolute. */
const dataEnv = (data: string): string => (data === "study" || data === "demo" ? data : path.resolve(data));

/** Execute notebooks one after the other into outDir (.ipynb + .html), record each one's time, fail if any errored. */
async function execute(names: string, preset: PresetName, outDir: string, data?: string): Promise<void> {
  const list = names === "all" ? listNotebooks() : names.split(",").map((n) => findNotebook(n.trim()));
  if (!fs.existsSync(path.join(ROOT, "dist", "index.js"))) throw new Error("dist/ is missing (the notebooks import it): run npm run build first");
  let failed = 0;
  for (const nb of list) {
    const name = path.basename(nb, ".ipynb");
    say(`executing ${name} (MEDREL_PRESET=${preset}${data ? `, MEDREL_DATA=${data}` : ""}) …`);
    const { value: res, entry } = await timed(
      {
        step: `notebook ${name}`,
        preset,
        condition: `${data ? `MEDREL_DATA=${data}; ` : ""}${runsFolderCondition(DEFAULT_RUNS_DIR, RUN_MARKER)}`,
        command: `npm run notebook -- --execute ${name} --preset ${preset}${data ? ` --data ${data}` : ""}`,
      },
      async () => {
        const r = await executeNotebook(nb, outDir, { env: { MEDREL_PRESET: preset, ...(data ? { MEDREL_DATA: dataEnv(data) } : {}) } });
        return { ...r, html: await exportNotebookHtml(r.output, outDir) };
      },
      { cellsOf: (r) => r.cells },
    );
    const slow = [...res.cells].sort((a, b) => b.seconds - a.seconds).slice(0, 2).map((c) => `In [${c.cell}] ${formatDuration(c.seconds)}`);
    say(`${name}: ${formatDuration(entry.seconds)} (slowest cells: ${slow.join(", ")}), ${res.errors.length} error outputs -> ${rel(res.html)}`);
    for (const e of res.errors) console.log(`    ${e}`);
    if (res.errors.length) failed++;
  }
  say(`times recorded in ${rel(timesFile())}`);
  if (failed) throw new Error(`${failed} of ${list.length} notebooks had error outputs (see above)`);
}

const program = new Command()
  .name("npm run notebook --")
  .description("Jupyter Notebook on notebooks/ with this checkout's tslab kernel (127.0.0.1 only), or execute notebooks headless")
  .option("--port <n>", "first port to try (the next free one when it is busy)", portArg("--port"), 8888)
  .option("--no-browser", "accepted for Jupyter users: this command never opens a browser (open the printed URL)")
  .option("--execute <notebooks>", 'execute headless: "04", "04_weighted_loss", a path, a comma list or "all" (numbered cells, .ipynb + .html)')
  .option("--preset <name>", `with --execute: the notebooks' preset (${PRESET_NAMES.join(", ")}; default MEDREL_PRESET or quick)`, choiceArg("--preset", PRESET_NAMES))
  .option("--out <dir>", "with --execute: where the executed .ipynb and .html go (default: reports/notebooks)")
  .option("--data <study|demo|dir>", "with --execute: the notebooks' data (MEDREL_DATA): study = ../shared/data, demo, or a folder laid out as the study's")
  .option("--register-kernel", "only write this checkout's tslab kernelspec (.cache/jupyter) and check it");
program.parse();
const o = program.opts<{ port: number; execute?: string; preset?: PresetName; out?: string; data?: string; registerKernel?: boolean }>();
const preset = o.preset ?? ((process.env.MEDREL_PRESET as PresetName | undefined) ?? "quick");
if (!PRESET_NAMES.includes(preset)) program.error(`MEDREL_PRESET must be one of ${PRESET_NAMES.join(", ")}, got "${preset}"`);
runMain(async () => (o.registerKernel ? registerKernel() : o.execute ? execute(o.execute, preset, o.out ? path.resolve(o.out) : path.join(ROOT, "reports", "notebooks"), o.data ?? process.env.MEDREL_DATA) : serve(o.port)));
