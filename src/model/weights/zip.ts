/**
 * Minimal ZIP reader for PyTorch checkpoints (torch.save since 1.6 writes a zip of `<name>/data.pkl`,
 * `<name>/data/<storage key>`, `<name>/version`, ...). Reads the central directory (ZIP64 included, for files
 * over 4 GB) and gives random access to entries, which torch writes STORED (uncompressed, 64-byte aligned);
 * DEFLATE entries are inflated (node:zlib) in case a tool re-zipped the file, never beyond the size their entry
 * declares (a zip bomb stops there); the caller bounds what an entry may declare.
 */
import { inflateRawSync } from "node:zlib";
import { WeightsFormatError } from "../errors";
import { RandomAccessFile } from "./source";

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("64-bit zip field beyond 2^53");
  return Number(v);
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();

  constructor(private readonly raf: RandomAccessFile) {
    const file = raf.file;
    // End of central directory: 22 bytes + up to 65,535 bytes of comment, at the very end
    const tailLen = Math.min(raf.size, 22 + 65535);
    const tail = raf.read(raf.size - tailLen, tailLen, "zip end record");
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new WeightsFormatError(file, undefined, "zip end-of-central-directory record not found (file truncated or not a zip)");
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    const eocdAbs = raf.size - tailLen + eocd;
    // ZIP64: a locator just before the classic record points at the 64-bit record, whose values are authoritative
    const overflowed = count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff;
    const loc = eocdAbs >= 20 ? raf.read(eocdAbs - 20, 20, "zip64 locator") : undefined;
    const hasLocator = loc !== undefined && loc.readUInt32LE(0) === SIG_ZIP64_LOCATOR;
    if (overflowed && !hasLocator) throw new WeightsFormatError(file, undefined, "zip64 locator missing");
    if (loc && hasLocator) {
      const rec = raf.read(u64(loc, 8), 56, "zip64 end record");
      if (rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw new WeightsFormatError(file, undefined, "zip64 end record missing");
      count = u64(rec, 32);
      cdSize = u64(rec, 40);
      cdOffset = u64(rec, 48);
    }
    const cd = raf.read(cdOffset, cdSize, "zip central directory");
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) {
        throw new WeightsFormatError(file, undefined, `zip central directory entry ${i} is corrupt`);
      }
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString("utf8", p + 46, p + 46 + nameLen);
      // ZIP64 extra field (id 1) holds, in order, only the fields that overflowed to 0xFFFFFFFF
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) (size = u64(cd, q)), (q += 8);
          if (compressedSize === 0xffffffff) (compressedSize = u64(cd, q)), (q += 8);
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(cd, q);
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = extraEnd + commentLen;
    }
  }

  /** Absolute file offset of an entry's data (after its local header, whose extra field differs from the central one). */
  dataOffset(entry: ZipEntry): number {
    const h = this.raf.read(entry.localHeaderOffset, 30, `zip local header of ${entry.name}`);
    if (h.readUInt32LE(0) !== SIG_LOCAL) throw new WeightsFormatError(this.raf.file, entry.name, "zip local header is corrupt");
    return entry.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
  }

  /** A DEFLATE entry's content: inflation stops (an error) past the size the entry declares. */
  private inflate(entry: ZipEntry): Buffer {
    const packed = this.raf.read(this.dataOffset(entry), entry.compressedSize, entry.name);
    let raw: Buffer;
    try {
      raw = inflateRawSync(packed, { maxOutputLength: Math.max(1, entry.size) });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === "ERR_BUFFER_TOO_LARGE") {
        throw new WeightsFormatError(this.raf.file, entry.name, `inflates to more than the ${entry.size} bytes its zip entry declares: refused (a zip bomb or a corrupt file)`);
      }
      throw new WeightsFormatError(this.raf.file, entry.name, `cannot inflate the zip entry (${err.message})`);
    }
    if (raw.length !== entry.size) throw new WeightsFormatError(this.raf.file, entry.name, `inflates to ${raw.length} bytes, its zip entry declares ${entry.size}`);
    return raw;
  }

  /** Bytes [start, start+length) of an entry's uncompressed content. */
  read(name: string, start = 0, length?: number): Buffer {
    const entry = this.entries.get(name);
    if (!entry) throw new WeightsFormatError(this.raf.file, name, "zip entry not found");
    const len = length ?? entry.size - start;
    if (start < 0 || start + len > entry.size) {
      throw new WeightsFormatError(this.raf.file, name, `read of bytes ${start}..${start + len} is past the entry's ${entry.size} bytes`);
    }
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size) throw new WeightsFormatError(this.raf.file, name, `a stored (uncompressed) zip entry of ${entry.compressedSize} bytes declares ${entry.size}`);
      return this.raf.read(this.dataOffset(entry) + start, len, name);
    }
    if (entry.method === 8) return this.inflate(entry).subarray(start, start + len);
    throw new WeightsFormatError(this.raf.file, name, `zip compression method ${entry.method} is not supported`);
  }
}
