/**
 * The tslab module of the kernel this code runs in. Rich outputs only reach the notebook through the
 * kernel's own module instance; a plain require("tslab") would load this checkout's copy when the kernel
 * was registered from another checkout (tslab install records one absolute path), and display would
 * answer "Not ready". So: the public API beside the jupyter.js the kernel loaded, else require("tslab").
 */
import * as path from "node:path";

export type Tslab = typeof import("tslab");

export function kernelTslab(): Tslab {
  // several copies may be loaded (ours by a type import, the kernel's): the live one holds the display writer
  const copies = Object.keys(require.cache).filter((k) => /[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(k));
  const live = (k: string): boolean => (require.cache[k]?.exports as { lastWriteDisplayData?: unknown } | undefined)?.lastWriteDisplayData != null;
  const jupyter = copies.find(live) ?? copies[0];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(jupyter ? path.join(path.dirname(jupyter), "public.js") : "tslab") as Tslab;
}
