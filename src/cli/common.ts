/** Shared CLI plumbing: clean error exits (no stack dumps for user errors) and flag parsing helpers. */
import { InvalidArgumentError } from "commander";

/**
 * Run an async main. The tfjs WASM backend installs an uncaughtException handler that re-throws and
 * prints its whole minified source, so every CLI catches here and prints one clear message instead.
 */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      console.error(`error: ${err.message}`);
      if (process.env.MEDREL_DEBUG) console.error(err.stack);
      process.exit(1);
    },
  );
}

export function intArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
}

export function floatArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got "${v}"`);
    return n;
  };
}

export function choiceArg<T extends string>(name: string, choices: readonly T[]) {
  return (v: string): T => {
    if (!(choices as readonly string[]).includes(v)) {
      throw new InvalidArgumentError(`${name} must be one of ${choices.join(", ")}, got "${v}"`);
    }
    return v as T;
  };
}
