/**
 * npm start: the main job on the embedded defaults, no flags.
 *   1. the demo data and its load report
 *   2. the study's four tables with the `quick` preset (seeds per table: tableSeeds; cached runs are loaded)
 *   3. every notebook executed in Jupyter (tslab) into reports/notebooks/ (+ HTML)
 *   4. a standalone HTML report: reports/index.html (each table: ours on the study's data first, then the demo)
 * Each step's wall time (and each notebook's, per cell) is recorded in reports/times.json (MEDREL_TIMES_FILE).
 */
import { spawn } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { threadsPerWorker } from "../backend/native";
import { initBackend, describeBackend } from "../backend/select";
import { loadDemo, formatLoadReport } from "../data";
import {
  STUDY_SEEDS,
  TABLE_NAMES,
  TABLE_SPECS,
  describeTableSeeds,
  demoTable,
  loadResults,
  type TableName,
} from "../experiments";
import { DEFAULT_RUNS_DIR, RUN_MARKER } from "../runs";
import { tableReportSections, type ReportedTable } from "../views";
import { tableText, writeReportHtml, escapeHtml, type ReportSection } from "../report";
import { listNotebooks, executeNotebook, exportNotebookHtml, machineInfo, recordTime, runsFolderCondition, timed, timesFile, type Machine } from "../tools";
import { runMain } from "./common";

const ROOT = path.resolve(__dirname, "..", "..");
const REPORTS = path.join(ROOT, "reports");

/**
 * Train the grids in parallel worker processes, one shard each, the cores split between them (each gets
 * MEDREL_BLAS_THREADS = floor(cores / workers)); the tables below then load the finished runs. MEDREL_WORKERS
 * overrides the count.
 */
async function trainShards(workers: number): Promise<void> {
  const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
  const script = path.join(ROOT, "src", "cli", "reproduce.ts");
  await Promise.all(
    Array.from({ length: workers }, (_, i) => {
      const shard = `${i + 1}/${workers}`;
      return new Promise<void>((resolve, reject) => {
        const child = spawn(tsx, [script, "--table", "all", "--preset", "quick", "--shard", shard, "--quiet"], {
          cwd: ROOT,
          // one line per epoch, a step line with the ETA at least once a minute, one per finished run with the shard's ETA:
          // a log file (CI, nohup) shows where each worker is
          env: { ...process.env, MEDREL_PROGRESS: "lines", MEDREL_BLAS_THREADS: String(threadsPerWorker(workers)) },
          stdio: ["ignore", "pipe", "inherit"],
        });
        child.stdout.setEncoding("utf8");
        let buf = "";
        child.stdout.on("data", (d: string) => {
          buf += d;
          const lines = buf.split("\n");
          buf = lines.pop() ?? "";
          for (const l of lines) if (l.trim()) console.log(`  [shard ${shard}] ${l.replace(/^\[medrel\] /, "")}`);
        });
        child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`grid shard ${shard} failed (exit ${code})`))));
      });
    }),
  );
}

/** The executed notebooks as links relative to the page in dir, in notebook order. */
function notebookLinks(dir: string, exported: readonly { file: string; errors: number }[]): string {
  const items = [...exported]
    .sort((a, b) => a.file.localeCompare(b.file))
    .map((e) => {
      const rel = path.relative(dir, e.file).split(path.sep).join("/");
      const note = e.errors ? ` <span style="color:#cf222e">(${e.errors} error outputs)</span>` : "";
      return `<li><a href="${escapeHtml(rel)}">${escapeHtml(path.basename(e.file, ".html"))}</a>${note}</li>`;
    });
  return `<ul>${items.join("")}</ul>`;
}

export interface IndexPage {
  /** the backend, in words (describeBackend) */
  backend: string;
  /** each table's results: ours on the study's data (results/study) and the demo grid, either absent */
  tables: readonly { table: TableName; study: ReportedTable | null; demo: ReportedTable | null }[];
  /** the executed notebooks' HTML exports (none: no Notebooks section) */
  notebooks?: readonly { file: string; errors: number }[];
}

/** reports/index.html (or file): About, the notebooks, then each table, ours on the study's data before the demo. */
export function writeIndexPage(file: string, page: IndexPage): string {
  const sections: ReportSection[] = [
    {
      title: "About",
      text:
        `Each table opens with ours on the study's own data (results/study: the quick preset's tiny BERT on ../shared/data, ` +
        `${STUDY_SEEDS.length} seeds per run of the grid, the study's test split withheld) beside the study's published numbers ` +
        `(Chinese-RoBERTa-wwm-ext etc., one run each). Under it, the same table on the embedded demo (${describeTableSeeds()}): ` +
        `an illustration whose effects its generator builds in, not a reproduction. Backend: ${page.backend.replace("[medrel] ", "")}.`,
    },
  ];
  if (page.notebooks) sections.push({ title: "Notebooks", html: notebookLinks(path.dirname(path.resolve(file)), page.notebooks) });
  for (const t of page.tables) sections.push(...tableReportSections(t.table, t.study, t.demo));
  return writeReportHtml(file, sections, { title: "medrel-notebooks: the study's tables, re-run" });
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const startDate = new Date().toISOString();
  const startMachine: Machine = machineInfo();
  const gridCondition = runsFolderCondition(DEFAULT_RUNS_DIR, RUN_MARKER);
  const info = await initBackend({ verbose: false });
  console.log(describeBackend(info));
  const ds = loadDemo({ mode: "lenient" });
  console.log(formatLoadReport(ds.report, { maxPerKind: 2 }));

  const tables: IndexPage["tables"][number][] = [];
  const workers = Math.max(1, Number(process.env.MEDREL_WORKERS ?? Math.min(2, os.cpus().length)));
  console.log(`\n[medrel] training the four grids (quick preset, ${describeTableSeeds()}) in ${workers} worker process(es); finished runs are loaded`);
  if (workers > 1) await trainShards(workers);
  for (const t of TABLE_NAMES) {
    const study = loadResults(t);
    const demo = await demoTable(t, "quick");
    const title = TABLE_SPECS[t].title;
    for (const [what, r] of [["on the study's data", study], ["on the demo (an illustration)", demo]] as const) {
      if (!r) continue;
      console.log(`== ${title} ${what} (${r.split} split, %, mean ± std over seeds${r.progress.done < r.progress.total ? `; ${r.progress.done} of ${r.progress.total} runs` : ""})`);
      console.log(tableText(r.frame));
      for (const l of r.readings) console.log(`  ${l}`);
    }
    tables.push({ table: t, study, demo });
  }
  const gridSeconds = (Date.now() - t0) / 1000;
  recordTime({ step: "npm start · grids", preset: "quick", condition: gridCondition, seconds: gridSeconds, date: startDate, machine: startMachine, command: "npm start" });

  console.log(`\n[medrel] executing the notebooks in Jupyter (tslab kernel) into reports/notebooks/`);
  const nbDir = path.join(REPORTS, "notebooks");
  // each notebook is its own kernel process: run `workers` of them side by side, the cores split between them
  const queue = listNotebooks();
  const exported: { file: string; errors: number }[] = [];
  const executeNext = async (): Promise<void> => {
    for (let nb = queue.shift(); nb !== undefined; nb = queue.shift()) {
      const file = nb;
      const name = path.basename(file, ".ipynb");
      const condition = `inside npm start, ${workers} at a time: its grids already trained`;
      const { value: res } = await timed({ step: `notebook ${name}`, preset: "quick", condition, command: "npm start" }, () =>
        executeNotebook(file, nbDir, { env: { MEDREL_PRESET: "quick", MEDREL_BLAS_THREADS: String(threadsPerWorker(workers)) } }),
        { cellsOf: (r) => r.cells },
      );
      const html = await exportNotebookHtml(res.output, nbDir);
      exported.push({ file: html, errors: res.errors.length });
      console.log(`  ${path.basename(nb)}: ${res.seconds.toFixed(0)} s, ${res.outputs} outputs, ${res.errors.length} errors -> ${path.relative(ROOT, html)}`);
      if (res.errors.length) console.log(res.errors.map((e) => `    ${e}`).join("\n"));
    }
  };
  await Promise.all(Array.from({ length: workers }, executeNext));
  const report = writeIndexPage(path.join(REPORTS, "index.html"), { backend: describeBackend(info), tables, notebooks: exported });
  const total = (Date.now() - t0) / 1000;
  recordTime({ step: "npm start · notebooks", preset: "quick", seconds: total - gridSeconds, date: startDate, machine: startMachine, command: "npm start" });
  console.log(`\n[medrel] report: ${path.relative(ROOT, report)}`);
  console.log(`[medrel] times recorded in ${path.relative(ROOT, timesFile())}`);
  console.log(`[medrel] done in ${(total / 60).toFixed(1)} min (tables ${(gridSeconds / 60).toFixed(1)} min, notebooks ${((total - gridSeconds) / 60).toFixed(1)} min)`);
}

if (require.main === module) runMain(main);
