/** Shared CLI plumbing: clean error exits (no stack dumps for user errors) and flag parsing helpers. */
import { InvalidArgumentError, type Command } from "commander";
import { z } from "zod";

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

/** A TCP port (1–65535). */
export function portArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(`${name} must be a port between 1 and 65535, got "${v}"`);
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

/** "maxGradNorm" → "max-grad-norm": the flag commander reads back as the same camelCase key. */
function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function schemaNumberArg(flag: string, field: z.ZodNumber) {
  return (v: string): number => {
    const n = Number(v);
    const res = field.safeParse(n);
    if (v.trim() === "" || !res.success) throw new InvalidArgumentError(`${flag} ${v}: ${res.success ? "expected a number" : res.error.issues[0].message}`);
    return n;
  };
}

/**
 * One option per scalar field of a config schema (a number, a choice or a switch), named after the field
 * (`maxGradNorm` → `--max-grad-norm`) and described by the schema, so the flags list the fields the schema does.
 * Returns the keys that got a flag: commander reads each option back under its field's name.
 */
export function addSchemaOptions(cmd: Command, shape: Record<string, z.ZodType>): string[] {
  const keys: string[] = [];
  for (const [key, outer] of Object.entries(shape)) {
    const flag = `--${kebab(key)}`;
    const about = outer.description ?? key;
    // an optional scalar (absent from the hash when unset) is a flag like any other
    const field = outer instanceof z.ZodOptional ? (outer.unwrap() as z.ZodType) : outer;
    if (field instanceof z.ZodEnum) {
      const choices = field.options.map(String);
      cmd.option(`${flag} <v>`, `${about}: ${choices.join(" | ")}`, choiceArg(flag, choices));
    } else if (field instanceof z.ZodNumber) cmd.option(`${flag} <n>`, about, schemaNumberArg(flag, field));
    else if (field instanceof z.ZodBoolean) cmd.option(flag, about);
    else continue;
    keys.push(key);
  }
  return keys;
}
