/**
 * Content digests of files: what config hashes (data and model fingerprints) and run folders' records are built
 * from. Every byte is read; a file is read once per (path, size, mtime) in a process.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";

const memo = new Map<string, string>();
/** Read this many bytes at a time, so a 400 MB checkpoint is never held in memory whole. */
const CHUNK = 4 << 20;

/**
 * sha256 (hex) of a file's bytes followed by its size in decimal, memoised by path, size and mtime. The size suffix
 * is how fingerprints were always computed: config hashes of shipped runs depend on this exact formula.
 */
export function fileDigest(file: string): string {
  const st = fs.statSync(file);
  // a pipe (`--train <(cat …)`), FIFO or device has no size and may never end: nothing a hash can be made of
  if (!st.isFile()) throw new Error(`${file}: not a regular file (a pipe, FIFO, device or folder); save its content to a file and pass that`);
  const key = `${file}\0${st.size}\0${st.mtimeMs}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  const h = createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, st.size)));
    for (let at = 0; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, at);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  const digest = h.update(String(st.size)).digest("hex");
  memo.set(key, digest);
  return digest;
}
