/**
 * A read-only view of the tensors in a weights file, shared by the safetensors and PyTorch readers.
 * Tensors are read one at a time (random access on the file), so a 400 MB checkpoint is never held twice.
 */
import * as fs from "fs";
import * as os from "os";
import { WeightsFormatError } from "../errors";

/** Element types we meet in BERT checkpoints (safetensors spelling). */
export type WeightDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export const DTYPE_BYTES: Record<WeightDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface TensorInfo {
  dtype: WeightDtype;
  shape: number[];
}

export interface WeightSource {
  readonly file: string;
  /** "safetensors" | "pytorch" */
  readonly format: string;
  keys(): string[];
  info(key: string): TensorInfo;
  /** Values as float32, row-major (contiguous) in the tensor's own shape. Floating dtypes only. */
  readFloat32(key: string): Float32Array;
  close(): void;
}

/** Weights files are little-endian; we copy bytes straight into typed arrays, so refuse a big-endian host. */
export function assertLittleEndianHost(file: string): void {
  if (os.endianness() !== "LE") throw new WeightsFormatError(file, undefined, "big-endian hosts are not supported");
}

/** Positional reads on an open file; errors name the file. */
export class RandomAccessFile {
  private fd: number;
  readonly size: number;
  constructor(readonly file: string) {
    this.fd = fs.openSync(file, "r");
    this.size = fs.fstatSync(this.fd).size;
  }
  read(offset: number, length: number, what: string): Buffer {
    if (offset < 0 || offset + length > this.size) {
      throw new WeightsFormatError(
        this.file,
        undefined,
        `truncated file: ${what} needs bytes ${offset}..${offset + length} but the file has ${this.size} bytes`,
      );
    }
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) throw new WeightsFormatError(this.file, undefined, `unexpected end of file while reading ${what}`);
      done += n;
    }
    return buf;
  }
  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

const f16Table = (() => {
  // all 65,536 half-precision values, so F16 decoding is one lookup per element
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** Decode little-endian bytes of a floating dtype into float32 (F64 is rounded, as torch .float() would). */
export function decodeFloat32(bytes: Buffer, dtype: WeightDtype, file: string, key: string): Float32Array {
  const n = bytes.length / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  switch (dtype) {
    case "F32":
      // memcpy into aligned storage (the host is little-endian, checked at load)
      new Uint8Array(out.buffer).set(bytes);
      return out;
    case "F16": {
      const h = new Uint16Array(n);
      new Uint8Array(h.buffer).set(bytes);
      for (let i = 0; i < n; i++) out[i] = f16Table[h[i]];
      return out;
    }
    case "BF16": {
      const h = new Uint16Array(n);
      new Uint8Array(h.buffer).set(bytes);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = h[i] << 16;
      return out;
    }
    case "F64":
      for (let i = 0; i < n; i++) out[i] = bytes.readDoubleLE(i * 8);
      return out;
    default:
      throw new WeightsFormatError(file, key, `dtype ${dtype} is not a floating-point weight`);
  }
}

/** float32 -> IEEE half bits, round to nearest even (for F16 safetensors output). */
export function float32ToF16Bits(x: number): number {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  f[0] = x;
  const bits = u[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000; // subnormal half: shift in the implicit bit
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is the correct rounding
  return sign | h;
}
