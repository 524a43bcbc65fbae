/**
 * Jupyter Notebook (Debian's jupyter-notebook 6) serving notebooks/ on 127.0.0.1 with THIS checkout's tslab
 * kernel (the JUPYTER_PATH of localKernelEnv). Used by `npm run notebook` and the UI test, so both start it alike.
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { JUPYTER_INSTALL_HINT, jupyterCommand, jupyterError, jupyterPython, localKernelEnv, NOTEBOOKS_DIR, tslabBin } from "./notebooks";

/** This checkout's tslab: what its kernelspec runs (tslab.cmd on Windows). */
export const CHECKOUT_TSLAB = tslabBin();

export interface NotebookServer {
  /** the URL to open, with its token: http://127.0.0.1:PORT/?token=… */
  url: string;
  port: number;
  token: string;
  pid: number;
  /** everything the server printed so far (its log goes to stderr) */
  log(): string;
  /** resolves with the exit code once the server is gone (null when a signal ended it) */
  exited: Promise<number | null>;
  /**
   * SIGTERM: Jupyter shuts its kernels down and exits 0; SIGKILL after 20 s. Resolves with the exit code once the
   * server is gone and so is every kernel it had (one it left behind is ended: see endKernels).
   */
  stop(): Promise<number | null>;
}

export interface NotebookServerOptions {
  /** folder served (default notebooks/) */
  dir?: string;
  /** first port tried (default 8888); when it is taken Jupyter tries the next ones */
  port?: number;
  /** extra environment for the server, which its kernels inherit (e.g. MEDREL_PRESET) */
  env?: Record<string, string>;
  /** called with each chunk of the server's log after it started */
  onLog?: (chunk: string) => void;
  /** Jupyter's log level (default INFO); at WARN the terminal shows kernel deaths and errors, not every request */
  logLevel?: "INFO" | "WARN";
  startTimeoutMs?: number;
}

/** What this project's Notebook UI sets on top of the user's own frontend config: code lines wrap, as in the export. */
export const UI_NBCONFIG = { CodeCell: { cm_config: { lineWrapping: true } } };

/**
 * JUPYTER_CONFIG_PATH with a folder whose nbconfig/notebook.json holds UI_NBCONFIG: Jupyter reads that variable first
 * and merges the user's config under it key by key, so only line wrapping is ours. Without it a 100-column code line
 * runs past its editor on a 1024-pixel projector (about 90 columns fit).
 */
export function uiConfigEnv(root = path.resolve(__dirname, "..", "..")): Record<string, string> {
  const dir = path.join(root, ".cache", "jupyter-config");
  const file = path.join(dir, "nbconfig", "notebook.json");
  const text = JSON.stringify(UI_NBCONFIG, null, 1) + "\n";
  if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  const prev = process.env.JUPYTER_CONFIG_PATH;
  return { JUPYTER_CONFIG_PATH: prev ? `${dir}${path.delimiter}${prev}` : dir };
}

// the URL Jupyter logs once it listens (no token when the user's Jupyter config turned tokens off)
const URL_RE = /http:\/\/127\.0\.0\.1:(\d+)\/(?:\?token=([0-9a-f]+))?(?=\s)/;

export function startNotebookServer(opts: NotebookServerOptions = {}): Promise<NotebookServer> {
  const args = [
    "notebook", "--no-browser", "--ip=127.0.0.1", `--port=${opts.port ?? 8888}`, "--NotebookApp.port_retries=50",
    `--notebook-dir=${opts.dir ?? NOTEBOOKS_DIR}`, `--log-level=${opts.logLevel ?? "INFO"}`,
  ];
  // Notebook 6 refuses to start as root without it (CI and the setup machine run as root)
  if (process.getuid?.() === 0) args.push("--allow-root");
  // its own process group: a terminal's Ctrl-C reaches only the CLI, which stops the server once, cleanly
  // (debugpy, imported at each kernel start, warns about frozen modules otherwise)
  const env = { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1", ...localKernelEnv(), ...uiConfigEnv(), ...(opts.env ?? {}) };
  const child = spawn(jupyterCommand(env), args, {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  let started = false;
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`jupyter notebook did not start: ${why}\n${log.trim().split("\n").slice(-15).join("\n")}\n(${JUPYTER_INSTALL_HINT})`));
    };
    const timer = setTimeout(() => {
      fail(`no URL within ${(opts.startTimeoutMs ?? 60_000) / 1000} s`);
      child.kill("SIGKILL");
    }, opts.startTimeoutMs ?? 60_000);
    child.on("error", (e) => fail(jupyterError(e).message));
    child.on("exit", (code, signal) => started || fail(`it exited (${signal ?? `code ${code}`})`));
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (started) return opts.onLog?.(chunk.toString());
      const m = URL_RE.exec(log);
      if (!m) return;
      started = true;
      clearTimeout(timer);
      resolve({
        url: m[0], port: Number(m[1]), token: m[2] ?? "", pid: child.pid ?? -1, log: () => log, exited,
        stop: async () => {
          const kernels = childProcesses(child.pid ?? -1);
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
          const code = await exited;
          clearTimeout(kill);
          await endKernels(kernels);
          return code;
        },
      });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
  });
}

/** A process's parent and process group (Linux /proc), or null when it is gone (a zombie too) or /proc is not there. */
export function procStat(pid: number): { ppid: number; pgid: number } | null {
  try {
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so read after its last ")"
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const [state, ppid, pgid] = f.slice(f.lastIndexOf(")") + 2).split(" ");
    // a zombie has ended; a container's init may never reap it
    return state === "Z" ? null : { ppid: Number(ppid), pgid: Number(pgid) };
  } catch {
    return null;
  }
}

/** The server's children (its kernels), as pid and process group; none where /proc is missing. */
function childProcesses(pid: number): { pid: number; pgid: number }[] {
  let all: string[];
  try {
    all = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  return all.flatMap((d) => {
    const st = procStat(Number(d));
    return st && st.ppid === pid ? [{ pid: Number(d), pgid: st.pgid }] : [];
  });
}

const alive = (pid: number): boolean => procStat(pid) !== null;

/**
 * End the kernels a stopped server left: jupyter_client starts each in its own session, so a server that died before
 * shutting them down (SIGKILL, a crash) leaves them running with nobody to stop them. SIGTERM to each one's group,
 * SIGKILL after 5 s.
 */
async function endKernels(kernels: readonly { pid: number; pgid: number }[]): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    for (const k of kernels.filter((k) => alive(k.pid))) {
      try {
        process.kill(k.pgid === k.pid ? -k.pid : k.pid, sig);
      } catch {
        // gone in between
      }
    }
  };
  signal("SIGTERM");
  for (let waited = 0; kernels.some((k) => alive(k.pid)); waited += 100) {
    if (waited === 5_000) signal("SIGKILL");
    if (waited >= 10_000) break;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * argv[0] of the kernelspec Jupyter resolves for `name` under env (which tslab a notebook would start). Asks
 * jupyter_client itself, with the Python that runs the `jupyter` this project starts (jupyterPython: a virtualenv's
 * before the system's).
 */
export function resolveKernelArgv0(env: NodeJS.ProcessEnv, name = "tslab"): string {
  const python = jupyterPython(env);
  const code = "import sys, jupyter_client.kernelspec as k; print(k.KernelSpecManager().get_kernel_spec(sys.argv[1]).argv[0])";
  return execFileSync(python, ["-c", code, name], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}
