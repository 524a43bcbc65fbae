/**
 * safetensors, by hand (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
 * N bytes of JSON {key: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}, then the
 * raw little-endian tensor bytes (offsets relative to the end of the header).
 */
import * as fs from "fs";
import { WeightsFormatError } from "../errors";
import {
  assertLittleEndianHost,
  decodeFloat32,
  DTYPE_BYTES,
  float32ToF16Bits,
  RandomAccessFile,
  type TensorInfo,
  type WeightDtype,
  type WeightSource,
} from "./source";

interface Entry extends TensorInfo {
  begin: number;
  end: number;
}

/** Header too large to be real: guards against reading a non-safetensors file as one. */
const MAX_HEADER = 100 * 1024 * 1024;

export class SafetensorsSource implements WeightSource {
  readonly format = "safetensors";
  readonly metadata: Record<string, string>;
  private readonly entries = new Map<string, Entry>();
  private readonly raf: RandomAccessFile;
  private readonly dataStart: number;

  constructor(readonly file: string) {
    assertLittleEndianHost(file);
    this.raf = new RandomAccessFile(file);
    try {
      if (this.raf.size < 8) throw new WeightsFormatError(file, undefined, `truncated file: ${this.raf.size} bytes, a safetensors file starts with an 8-byte header length`);
      const n = Number(this.raf.read(0, 8, "header length").readBigUInt64LE(0));
      if (n > MAX_HEADER) throw new WeightsFormatError(file, undefined, `header length ${n} is implausible: not a safetensors file?`);
      const headerBytes = this.raf.read(8, n, "JSON header");
      let header: unknown;
      try {
        header = JSON.parse(headerBytes.toString("utf8"));
      } catch (e) {
        throw new WeightsFormatError(file, undefined, `header is not valid JSON (${(e as Error).message})`);
      }
      if (typeof header !== "object" || header === null || Array.isArray(header)) {
        throw new WeightsFormatError(file, undefined, "header is not a JSON object");
      }
      this.dataStart = 8 + n;
      this.metadata = {};
      let maxEnd = 0;
      for (const [key, v] of Object.entries(header as Record<string, unknown>)) {
        if (key === "__metadata__") {
          Object.assign(this.metadata, v as Record<string, string>);
          continue;
        }
        const e = parseEntry(file, key, v);
        this.entries.set(key, e);
        maxEnd = Math.max(maxEnd, e.end);
      }
      checkNoOverlap(file, this.entries);
      if (this.dataStart + maxEnd > this.raf.size) {
        throw new WeightsFormatError(
          file,
          undefined,
          `truncated file: the header describes ${maxEnd} bytes of tensor data, the file holds ${this.raf.size - this.dataStart}`,
        );
      }
    } catch (e) {
      this.raf.close();
      throw e;
    }
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  info(key: string): TensorInfo {
    const e = this.entry(key);
    return { dtype: e.dtype, shape: [...e.shape] };
  }

  readFloat32(key: string): Float32Array {
    const e = this.entry(key);
    return decodeFloat32(this.raf.read(this.dataStart + e.begin, e.end - e.begin, key), e.dtype, this.file, key);
  }

  close(): void {
    this.raf.close();
  }

  private entry(key: string): Entry {
    const e = this.entries.get(key);
    if (!e) throw new WeightsFormatError(this.file, key, "no such tensor");
    return e;
  }
}

/**
 * Two tensors must not share bytes: an aliased tensor (overlapping data_offsets) is a corrupt or crafted file, and
 * Hugging Face's safetensors loader refuses it too.
 */
function checkNoOverlap(file: string, entries: Map<string, Entry>): void {
  const spans = [...entries].filter(([, e]) => e.end > e.begin).sort(([, a], [, b]) => a.begin - b.begin);
  for (let i = 1; i < spans.length; i++) {
    const [prevKey, prev] = spans[i - 1];
    const [key, e] = spans[i];
    if (e.begin < prev.end) {
      throw new WeightsFormatError(file, key, `data_offsets [${e.begin}, ${e.end}] overlap those of "${prevKey}" [${prev.begin}, ${prev.end}]: tensors must not share bytes (the file is corrupt or crafted)`);
    }
  }
}

function parseEntry(file: string, key: string, v: unknown): Entry {
  const o = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof o !== "object" || o === null) throw new WeightsFormatError(file, key, "header entry is not an object");
  if (typeof o.dtype !== "string" || !(o.dtype in DTYPE_BYTES)) {
    throw new WeightsFormatError(file, key, `unsupported dtype ${JSON.stringify(o.dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(", ")})`);
  }
  const dtype = o.dtype as WeightDtype;
  if (!Array.isArray(o.shape) || !o.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new WeightsFormatError(file, key, `bad shape ${JSON.stringify(o.shape)}`);
  }
  const shape = o.shape as number[];
  const off = o.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[1] < off[0]) {
    throw new WeightsFormatError(file, key, `bad data_offsets ${JSON.stringify(off)}`);
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  if (off[1] - off[0] !== numel * DTYPE_BYTES[dtype]) {
    throw new WeightsFormatError(file, key, `data_offsets span ${off[1] - off[0]} bytes but ${dtype}[${shape.join(", ")}] needs ${numel * DTYPE_BYTES[dtype]}`);
  }
  return { dtype, shape, begin: off[0], end: off[1] };
}

export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Write tensors as safetensors (F32, or F16 rounded to nearest even). `metadata` defaults to {format: "pt"},
 * which transformers requires to load the file.
 */
export function writeSafetensors(
  file: string,
  tensors: Map<string, HostTensor>,
  opts: { dtype?: "F32" | "F16"; metadata?: Record<string, string> } = {},
): void {
  assertLittleEndianHost(file);
  const dtype = opts.dtype ?? "F32";
  const bytesPer = DTYPE_BYTES[dtype];
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [key, t] of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) {
      throw new WeightsFormatError(file, key, `${t.data.length} values for shape [${t.shape.join(", ")}]`);
    }
    header[key] = { dtype, shape: t.shape, data_offsets: [offset, offset + numel * bytesPer] };
    offset += numel * bytesPer;
  }
  header.__metadata__ = opts.metadata ?? { format: "pt" };
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (8 - (json.length % 8)) % 8; // tensor data 8-byte aligned, padded with spaces as the reference writer does
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));

  const fd = fs.openSync(file, "w");
  try {
    writeAll(fd, len);
    writeAll(fd, json);
    for (const t of tensors.values()) {
      if (dtype === "F32") {
        writeAll(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      } else {
        const h = new Uint16Array(t.data.length);
        for (let i = 0; i < h.length; i++) h[i] = float32ToF16Bits(t.data[i]);
        writeAll(fd, new Uint8Array(h.buffer));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}
