/**
 * The CPU and OpenBLAS's kernels for it. Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) picks its kernels from the CPU's
 * model number; on a CPU newer than the build (e.g. an Intel Sapphire Rapids Xeon) it falls back to its Prescott
 * kernels (SSE3, no AVX): sgemm at 31 / 54 GFLOP/s on 1 / 2 threads where its Cooperlake kernels reach 111–131 /
 * 188–243 on the same machine (issue #23's measurement). So before OpenBLAS loads, when it would fall back below
 * what the CPU can do, we name the core matching the CPU's instruction set in OPENBLAS_CORETYPE — never over a
 * value the user set.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";

/** Instruction-set levels, lowest first. */
const LEVELS = ["sse", "avx", "avx2", "avx512", "avx512_bf16"] as const;
export type CpuLevel = (typeof LEVELS)[number];
type Level = CpuLevel;

/** OpenBLAS x86-64 core names (openblas_get_corename, lower case) by the widest instructions their sgemm uses. */
const CORE_LEVEL: Readonly<Record<string, Level>> = {
  prescott: "sse", core2: "sse", penryn: "sse", dunnington: "sse", nehalem: "sse", atom: "sse", opteron: "sse", barcelona: "sse",
  bobcat: "sse", bulldozer: "avx", piledriver: "avx", steamroller: "avx", excavator: "avx", sandybridge: "avx",
  haswell: "avx2", zen: "avx2", skylakex: "avx512", cooperlake: "avx512_bf16", sapphirerapids: "avx512_bf16",
};

/** The OpenBLAS core to name for a CPU of each level (chosen by measurement: issue #23 on an Intel Xeon; see above). */
const CORE_FOR: Readonly<Partial<Record<Level, string>>> = { avx: "Sandybridge", avx2: "Haswell", avx512: "SkylakeX", avx512_bf16: "Cooperlake" };

function cpuinfo(): string {
  try {
    return fs.readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return "";
  }
}

/** "AMD EPYC", "Intel(R) Xeon(R) Platinum 8480C", …: /proc/cpuinfo's model name (os.cpus() elsewhere). */
export function cpuModel(): string {
  const m = /^model name\s*:\s*(.+)$/m.exec(cpuinfo());
  return (m?.[1] ?? os.cpus()[0]?.model ?? "unknown CPU").replace(/\s+/g, " ").trim();
}

/** The widest vector instructions the CPU reports (x86 flags), or undefined off x86 / without /proc/cpuinfo. */
export function cpuLevel(flagsText = cpuinfo()): CpuLevel | undefined {
  const m = /^flags\s*:\s*(.+)$/m.exec(flagsText);
  if (!m) return undefined;
  const f = new Set(m[1].split(/\s+/));
  if (f.has("avx512f") && f.has("avx512_bf16")) return "avx512_bf16";
  if (f.has("avx512f")) return "avx512";
  if (f.has("avx2") && f.has("fma")) return "avx2";
  if (f.has("avx")) return "avx";
  return "sse";
}

const rank = (l: Level): number => LEVELS.indexOf(l);

/** The core to select when OpenBLAS's own choice (`detected`) is below what a CPU of `level` runs; else undefined. */
export function betterCore(detected: string, level: Level | undefined): string | undefined {
  const have = CORE_LEVEL[detected.toLowerCase()];
  if (!level || !have || rank(have) >= rank(level)) return undefined;
  return CORE_FOR[level];
}

export interface BlasCoreChoice {
  /** the core OpenBLAS runs (as it reports it once loaded) */
  core?: string;
  /** who chose it: OpenBLAS itself, this project (a fallback core replaced), or the user's OPENBLAS_CORETYPE */
  source: "openblas" | "medrel" | "user";
  /** what OpenBLAS would have picked by itself, when we replaced it */
  fallback?: string;
}

/** OPENBLAS_CORETYPE we set, so a child process (a grid worker) knows the value it inherits is ours, not the user's. */
const OURS = "MEDREL_OPENBLAS_CORETYPE";

let choice: BlasCoreChoice | undefined;

/**
 * Before the addon (and so OpenBLAS) loads: when OpenBLAS would fall back to kernels below the CPU's instruction
 * set, set OPENBLAS_CORETYPE to the matching core. Asks OpenBLAS in a child process what it picks by itself
 * (tens of milliseconds, once: workers inherit the result). A value the user set is left alone.
 */
export function chooseBlasCore(addonFile: string): BlasCoreChoice {
  choice ??= decideBlasCore(addonFile, process.env, cpuLevel());
  return choice;
}

/** chooseBlasCore's decision for an environment (written into it) and a CPU level: what the tests drive. */
export function decideBlasCore(addonFile: string, env: NodeJS.ProcessEnv, level: Level | undefined): BlasCoreChoice {
  const set = env.OPENBLAS_CORETYPE;
  if (set !== undefined && set !== "") {
    return env[OURS] === set ? { source: "medrel", core: set, fallback: env[`${OURS}_FALLBACK`] } : { source: "user", core: set };
  }
  // unset, not empty: OpenBLAS takes an empty OPENBLAS_CORETYPE as an unknown core and falls back to Prescott
  const { OPENBLAS_CORETYPE: _unset, ...childEnv } = env;
  const probe = spawnSync(process.execPath, ["-e", "process.stdout.write(require(process.argv[1]).blasInfo())", addonFile], {
    env: childEnv,
    encoding: "utf8",
    timeout: 20_000,
  });
  const detected = /core (\S+)/.exec(probe.stdout ?? "")?.[1];
  const better = detected ? betterCore(detected, level) : undefined;
  if (!detected || !better) return { source: "openblas", core: detected };
  env.OPENBLAS_CORETYPE = better;
  env[OURS] = better;
  env[`${OURS}_FALLBACK`] = detected;
  return { source: "medrel", core: better, fallback: detected };
}

/** The choice made in this process (undefined before the addon loads, or without it). */
export function blasCoreChoice(): BlasCoreChoice | undefined {
  return choice;
}

/** "Cooperlake (chosen by OpenBLAS)", "Cooperlake (selected by medrel: OpenBLAS would fall back to Prescott)", … */
export function describeBlasCore(c: BlasCoreChoice, reported?: string): string {
  const core = reported ?? c.core ?? "?";
  if (c.source === "user") return `${core} (OPENBLAS_CORETYPE set by you)`;
  if (c.source === "medrel") return `${core} (selected by medrel: OpenBLAS 0.3.21 does not know this CPU and would fall back to ${c.fallback ?? "an older core"})`;
  return `${core} (OpenBLAS's own choice)`;
}
