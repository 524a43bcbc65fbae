/**
 * environment/gpu/Dockerfile's npm commands, run as the image would run them, in a scratch copy of the
 * project: the image's npm (NodeSource Node 20: npm 10.8.2) installs the pinned npm, and that npm runs the
 * recipe's RUN lines (read from the Dockerfile, /app replaced by the scratch folder). tfjs-node-gpu's install
 * script (a libtensorflow download) is never run: before the rebuild step every install script in node_modules
 * is replaced by one that only records its name, so the test sees exactly which packages the step would build.
 * No Docker daemon or CUDA image is involved; the GPU path itself stays untested. Skipped (with the reason) when
 * the npm registry is unreachable.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const DOCKERFILE = path.join(ROOT, "environment", "gpu", "Dockerfile");
/** the npm of NodeSource's Node 20 (what `apt-get install nodejs` puts in the image) */
const IMAGE_NPM = "10.8.2";
const GPU_PKG = "@tensorflow/tfjs-node-gpu";

/** The commands of each RUN instruction (continuation lines joined, split on &&, a "( ... || true)" group unwrapped). */
function runCommands(dockerfile: string): string[][] {
  const joined = dockerfile.replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .filter((l) => /^RUN\s/.test(l))
    .map((l) =>
      l
        .replace(/^RUN\s+/, "")
        .split("&&")
        .map((c) => c.trim().replace(/^\((.*)\)$/, "$1").trim()),
    );
}

function sh(cmd: string, cwd: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync("bash", ["-c", cmd], { cwd, env, encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, `\`${cmd}\` failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

/** Replace each dependency's install scripts by one that appends "<name> <event>" to $MARKER_FILE. */
function stubInstallScripts(dir: string): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8")) as {
    packages: Record<string, { hasInstallScript?: boolean }>;
  };
  const stubbed: string[] = [];
  for (const [where, meta] of Object.entries(lock.packages)) {
    const file = path.join(dir, where, "package.json");
    if (!meta.hasInstallScript || !fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name: string; scripts?: Record<string, string> };
    for (const event of ["preinstall", "install", "postinstall"]) {
      if (!pkg.scripts?.[event]) continue;
      pkg.scripts[event] = `node -e "require('fs').appendFileSync(process.env.MARKER_FILE, '${pkg.name} ${event}\\n')"`;
    }
    fs.writeFileSync(file, JSON.stringify(pkg, null, 2));
    stubbed.push(pkg.name);
  }
  return stubbed.sort();
}

function registryReachable(): string | null {
  try {
    execFileSync("npm", ["view", `npm@${IMAGE_NPM}`, "version"], { stdio: "pipe", timeout: 30_000 });
    return null;
  } catch (e) {
    return `npm registry unreachable (npm view npm@${IMAGE_NPM}: ${String((e as Error).message).split("\n")[0]})`;
  }
}

test("the Dockerfile's RUN lines parse into the commands the recipe means", () => {
  const runs = runCommands(fs.readFileSync(DOCKERFILE, "utf8"));
  assert.ok(runs[0].some((c) => /^npm install -g npm@11\.\d+\.\d+$/.test(c)), "the image pins npm 11");
  assert.deepEqual(runs[1], [
    "npm ci",
    `npm pkg set 'allowScripts[${GPU_PKG}]=true' --json`,
    `npm rebuild ${GPU_PKG}`,
    "npm run notebook -- --register-kernel",
    "bash src/backend/native/build.sh || true",
    "npx tsc -p tsconfig.build.json",
  ]);
});

test("the recipe's npm lines work with the image's npm; the rebuild runs tfjs-node-gpu's install script and no other", { timeout: 600_000 }, (t) => {
  const offline = registryReachable();
  if (offline) return t.skip(offline);
  const runs = runCommands(fs.readFileSync(DOCKERFILE, "utf8"));
  const pin = runs[0].find((c) => c.startsWith("npm install -g npm@"));
  assert.ok(pin, "the image installs a pinned npm");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-gpu-recipe-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const f of ["package.json", "package-lock.json", ".npmrc", "tsconfig.json", "tsconfig.build.json"]) {
    fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  }
  fs.cpSync(path.join(ROOT, "src"), path.join(dir, "src"), { recursive: true, filter: (p) => !/[\\/]native[\\/]build([\\/]|$)/.test(p) });
  const globalDir = path.join(dir, "npm-global");
  const marker = path.join(dir, "install-scripts.txt");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.join(globalDir, "bin")}:${process.env.PATH}`,
    MARKER_FILE: marker,
    // should any libtensorflow download start after all, it goes nowhere
    TFJS_NODE_BASE_URI: "http://127.0.0.1:9/",
    TFJS_NODE_CDN_STORAGE: "http://127.0.0.1:9/",
    npm_config_prefer_offline: "true",
    npm_config_update_notifier: "false",
  };
  // the image's npm installs the pinned one (into the scratch folder instead of /usr)
  sh(`npx -y npm@${IMAGE_NPM} ${pin.replace(/^npm /, "")} --prefix '${globalDir}'`, dir, env);
  assert.equal(sh("npm -v", dir, env).trim(), pin.replace(/^.*npm@/, ""), "the scratch PATH runs the pinned npm");

  const before = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { allowScripts: Record<string, boolean> };
  assert.equal(before.allowScripts[GPU_PKG], false, "npm ci would run tfjs-node-gpu's real install script: not running it");
  const done: string[] = [];
  for (const cmd of runs[1]) {
    if (cmd.startsWith("bash src/backend/native/build.sh")) continue; // not an npm command (test/backend covers it)
    if (cmd.startsWith("npm rebuild")) {
      assert.ok(!fs.existsSync(marker), "npm ci ran no install script");
      assert.ok(stubInstallScripts(dir).includes(GPU_PKG));
    }
    const out = sh(cmd.replaceAll("/app", dir), dir, env);
    done.push(cmd.split(" ").slice(0, 2).join(" "));
    if (cmd.includes("--register-kernel")) assert.match(out, new RegExp(`tslab kernel for this checkout: .* -> ${path.join(dir, "node_modules", ".bin", "tslab")}`));
  }
  const ran = fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").trim().split("\n") : [];
  assert.deepEqual(ran, [`${GPU_PKG} install`], "the rebuild ran tfjs-node-gpu's install script, no other");
  assert.deepEqual(done, ["npm ci", "npm pkg", "npm rebuild", "npm run", "npx tsc"]);
  const after = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { allowScripts: Record<string, boolean> };
  assert.deepEqual(after.allowScripts, { ...before.allowScripts, [GPU_PKG]: true }, "only tfjs-node-gpu's entry changed");
  // the checkout's own kernelspec, which Jupyter resolved (the line matched above)
  const kernel = JSON.parse(fs.readFileSync(path.join(dir, ".cache", "jupyter", "kernels", "tslab", "kernel.json"), "utf8")) as { argv: string[] };
  assert.equal(kernel.argv[0], path.join(dir, "node_modules", ".bin", "tslab"));
  assert.ok(fs.existsSync(path.join(dir, "dist", "index.js")), "tsc built dist/");
});
