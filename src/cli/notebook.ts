/**
 * npm run notebook: Jupyter Notebook on notebooks/ with this checkout's tslab kernel, on 127.0.0.1 only; prints
 * the URL with its token. Ctrl-C stops the server and its kernels.
 *   npm run notebook -- [--port 8888]       the next free port is taken when this one is busy
 *   npm run notebook -- --register-kernel   only write this checkout's kernelspec (npm run setup does)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { intArg, runMain } from "./common";
import { localKernelEnv, NOTEBOOKS_DIR } from "../tools/notebooks";
import { CHECKOUT_TSLAB, resolveKernelArgv0, startNotebookServer } from "../tools/jupyter-server";

const ROOT = path.resolve(__dirname, "..", "..");
const say = (s: string): void => console.log(`[medrel] ${s}`);

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

async function serve(port: number): Promise<void> {
  if (!fs.existsSync(CHECKOUT_TSLAB)) throw new Error(`${CHECKOUT_TSLAB} is missing: run npm ci (or npm run setup) first`);
  if (!fs.existsSync(path.join(ROOT, "dist", "index.js"))) say("dist/ is missing (the notebooks import it): run npm run build");
  const server = await startNotebookServer({ port, logLevel: "WARN", onLog: (s) => process.stderr.write(s) });
  say(`Jupyter Notebook on ${path.relative(process.cwd(), NOTEBOOKS_DIR) || "."}/ with this checkout's TypeScript (tslab) kernel:`);
  console.log(`\n    ${server.url}\n`);
  say("run `npm start` first: the notebooks then load its finished runs instead of training their grids inside a cell");
  say("Ctrl-C stops the server and its kernels");
  let stopping = false;
  const stop = (): void => {
    if (stopping) return; // npm forwards the terminal's Ctrl-C too: one stop is enough
    stopping = true;
    say("stopping Jupyter…");
    void server.stop();
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, stop);
  const code = await server.exited;
  if (!stopping || code !== 0) throw new Error(`jupyter notebook exited (code ${code})\n${server.log().trim().split("\n").slice(-10).join("\n")}`);
  say("Jupyter stopped");
}

const program = new Command()
  .name("npm run notebook --")
  .description("Jupyter Notebook on notebooks/ with this checkout's tslab kernel (127.0.0.1 only)")
  .option("--port <n>", "first port to try (the next free one when it is busy)", intArg("--port"), 8888)
  .option("--register-kernel", "only write this checkout's tslab kernelspec (.cache/jupyter) and check it");
program.parse();
const o = program.opts<{ port: number; registerKernel?: boolean }>();
runMain(async () => (o.registerKernel ? registerKernel() : serve(o.port)));
