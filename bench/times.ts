/**
 * npm run bench:times -- <step>: run one of the steps a student runs and record its wall time in the committed
 * bench/results/times.json (machine, cores, load average, preset, date), which the README and each notebook's header
 * quote (npm run readme). The steps record their own parts there too (npm start: grids and each notebook).
 *   npm run bench:times -- setup | test | start
 *   npm run bench:times -- notebooks [--preset smoke|quick] [--notebooks 04,06]   each one headless, one at a time,
 *                                                                               from a fresh runs folder
 * Measure on an idle machine: the load average goes into the file, and a loaded machine inflates every time.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command } from "commander";
import { choiceArg, runMain } from "../src/cli/common";
import { PRESET_NAMES, type PresetName } from "../src/experiments";
import { listNotebooks } from "../src/tools/notebooks";
import { COMMITTED_TIMES, formatDuration, timed } from "../src/tools/times";

const ROOT = path.resolve(__dirname, "..");
const STEPS = ["setup", "test", "start", "notebooks"] as const;
type Step = (typeof STEPS)[number];

/** Run a command in the checkout with the committed record as the times file; rejects on a non-zero exit. */
function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: "inherit", env: { ...process.env, MEDREL_TIMES_FILE: COMMITTED_TIMES, ...env } });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited with code ${code}`))));
  });
}

async function main(step: Step, preset: PresetName, notebooks: string): Promise<void> {
  if (step === "notebooks") {
    // a fresh runs folder, so each notebook's time includes training its demo runs (what a student's first run costs)
    const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-times-runs-"));
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-times-notebooks-"));
    const names = notebooks === "all" ? listNotebooks().map((f) => path.basename(f, ".ipynb")) : notebooks.split(",").map((n) => n.trim());
    try {
      // one notebook at a time, each into an empty runs folder
      for (const nb of names) {
        fs.rmSync(runsDir, { recursive: true, force: true });
        await run(process.execPath, ["--import", "tsx", "src/cli/notebook.ts", "--execute", nb, "--preset", preset, "--out", out], { MEDREL_RUNS_DIR: runsDir });
      }
    } finally {
      fs.rmSync(runsDir, { recursive: true, force: true });
    }
    console.log(`[medrel] executed notebooks in ${out}; times in ${path.relative(ROOT, COMMITTED_TIMES)}`);
    return;
  }
  const command = step === "test" ? "npm test" : `npm run ${step}`;
  const label = step === "start" ? "npm start" : command;
  const { entry } = await timed({ step: label, command }, () => run("npm", step === "test" ? ["test"] : ["run", step]), { file: COMMITTED_TIMES });
  console.log(`[medrel] ${label}: ${formatDuration(entry.seconds)} (load average ${entry.machine.loadAverage[0]} at the start) -> ${path.relative(ROOT, COMMITTED_TIMES)}`);
}

const program = new Command()
  .name("npm run bench:times --")
  .description("time a step a student runs and record it in bench/results/times.json")
  .argument("<step>", `one of ${STEPS.join(", ")}`, choiceArg("step", STEPS))
  .option("--preset <name>", "notebooks: the preset they run", choiceArg("--preset", PRESET_NAMES), "smoke")
  .option("--notebooks <list>", 'notebooks: which ("04,06" or "all")', "all")
  .parse();
const o = program.opts<{ preset: PresetName; notebooks: string }>();
runMain(() => main(program.processedArgs[0] as Step, o.preset, o.notebooks));
