/**
 * npm run bench:quick — how fast the quick preset fine-tunes on the study's data at one thread (what one shard of the
 * study grid does): one epoch of `npm run experiment -- --data-dir ../shared/data --preset quick --epochs 1` in a
 * fresh process with MEDREL_BLAS_THREADS=1, into a temporary run folder. Writes bench/results/quick-speed.json
 * (samples/s, the CPU, OpenBLAS's core, denormal flushing, the load average) — the README quotes it.
 * Run it on an idle machine: anything beside it shares the cores.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
export const QUICK_SPEED_FILE = path.join(ROOT, "bench", "results", "quick-speed.json");

export interface QuickSpeed {
  command: string;
  date: string;
  cpu: string;
  blasCore: string;
  denormalsFlushed: boolean;
  threads: number;
  loadAverageAtStart: number[];
  trainRows: number;
  samplesPerSec: number;
  trainSeconds: number;
  /** minutes a 3-epoch quick fine-tuning takes at this rate (training only) */
  projectedMinutes: number;
}

function main(): void {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-quick-speed-"));
  const args = ["src/cli/experiment.ts", "--data-dir", "../shared/data", "--preset", "quick", "--epochs", "1", "--out", out];
  const loadAverageAtStart = os.loadavg();
  console.log(`[medrel] bench:quick: tsx ${args.join(" ")} (MEDREL_BLAS_THREADS=1; load average ${loadAverageAtStart[0].toFixed(1)})`);
  const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "tsx"), args, {
    cwd: ROOT,
    env: { ...process.env, MEDREL_BLAS_THREADS: "1", MEDREL_PROGRESS: "lines" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0) throw new Error(`the quick run failed (exit ${r.status})`);
  const read = <T>(f: string): T => JSON.parse(fs.readFileSync(path.join(out, f), "utf8")) as T;
  const info = read<{ cpu: string; blasCore: string; denormalsFlushed: boolean; threads: number; trainRows: number; seconds: { train: number } }>("run.json");
  const history = read<{ samplesPerSec: number }[]>("history.json");
  const result: QuickSpeed = {
    command: "npm run bench:quick",
    date: new Date().toISOString(),
    cpu: info.cpu,
    blasCore: info.blasCore,
    denormalsFlushed: info.denormalsFlushed,
    threads: info.threads,
    loadAverageAtStart,
    trainRows: info.trainRows,
    samplesPerSec: history[0].samplesPerSec,
    trainSeconds: info.seconds.train,
    projectedMinutes: (3 * info.trainRows) / history[0].samplesPerSec / 60,
  };
  fs.writeFileSync(QUICK_SPEED_FILE, JSON.stringify(result, null, 1) + "\n");
  fs.rmSync(out, { recursive: true, force: true });
  console.log(`[medrel] quick preset at ${result.threads} thread: ${result.samplesPerSec.toFixed(1)} samples/s on ${result.cpu} (OpenBLAS ${result.blasCore}); wrote ${path.relative(ROOT, QUICK_SPEED_FILE)}`);
}

if (require.main === module) main();
