/**
 * Minimal safetensors reader/writer (F32 and I32 only) for optimizer state and trainer checkpoints.
 * Layout: u64-LE header length, JSON header {name: {dtype, shape, data_offsets}, __metadata__}, raw bytes.
 */
import * as fs from "fs";
import { CheckpointError } from "./errors";

export type StDtype = "F32" | "I32";

export interface StTensor {
  dtype: StDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export function writeSafetensors(
  file: string,
  tensors: Map<string, StTensor>,
  metadata: Record<string, string> = {},
): void {
  const header: Record<string, HeaderEntry | Record<string, string>> = { __metadata__: metadata };
  let offset = 0;
  // sorted names, like the reference implementation, so identical content gives identical bytes
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new CheckpointError(file, `tensor "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // pad the header with spaces so the data starts 8-byte aligned
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, pos);
    pos += d.byteLength;
  }
  fs.writeFileSync(file, out);
}

export function readSafetensors(file: string): { tensors: Map<string, StTensor>; metadata: Record<string, string> } {
  if (!fs.existsSync(file)) throw new CheckpointError(file, "file not found");
  const buf = fs.readFileSync(file);
  if (buf.length < 8) throw new CheckpointError(file, "too short to be a safetensors file");
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new CheckpointError(file, `header length ${n} exceeds the file size`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(file, `header is not JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const tensors = new Map<string, StTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = raw as HeaderEntry;
    const [b, end] = e.data_offsets;
    if (base + end > buf.length) throw new CheckpointError(file, `tensor "${name}" runs past the end of the file`);
    // copy into a fresh, aligned buffer
    const bytes = new Uint8Array(end - b);
    bytes.set(buf.subarray(base + b, base + end));
    let data: Float32Array | Int32Array;
    if (e.dtype === "F32") data = new Float32Array(bytes.buffer);
    else if (e.dtype === "I32") data = new Int32Array(bytes.buffer);
    else throw new CheckpointError(file, `tensor "${name}": dtype ${e.dtype} not supported (F32, I32)`);
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}
