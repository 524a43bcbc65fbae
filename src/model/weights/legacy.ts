/**
 * torch.save's legacy (pre-1.6, non-zip) container, which old hub uploads (2019-2020) still use: five pickles
 * back to back (magic number, protocol version, sys info, the object, the list of storage keys), then, for each
 * key in that list, an 8-byte little-endian element count and the storage's raw bytes. This module walks that
 * layout; what the object pickle means (tensors as views into storages) is torch.ts's, shared with the zip format.
 */
import { WeightsFormatError } from "../errors";
import { PickleEndsEarly, type PickleHooks, readPickle } from "./pickle";
import type { RandomAccessFile } from "./source";

/** torch.serialization.MAGIC_NUMBER, the value of the first pickle */
export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
/** torch.serialization.PROTOCOL_VERSION, the value of the second */
const LEGACY_PROTOCOL_VERSION = 1001;
/** first read of a pickle; grown 8x while the pickle runs past it (a bert-base state_dict pickle is ~40 KB) */
const FIRST_WINDOW = 1 << 20;

/** element size and count of a storage, as the object pickle's persistent id gave them */
type StorageLookup = (key: string) => { elementBytes: number; numel: number } | undefined;

/** A storage's bytes: `nbytes` bytes at `offset` in the file (after its 8-byte count). */
export interface LegacyRecord {
  offset: number;
  nbytes: number;
}

export interface LegacyStream {
  /** the object pickle's value (a state_dict, or a dict wrapping one) */
  root: unknown;
  records: Map<string, LegacyRecord>;
}

/** Unpickle the pickle at byte `start` of the file, reading only as much of the file as it needs. */
function pickleAt(raf: RandomAccessFile, start: number, hooks: PickleHooks, name: string): { value: unknown; end: number } {
  const left = raf.size - start;
  for (let window = Math.min(FIRST_WINDOW, left); ; window = Math.min(window * 8, left)) {
    try {
      const { value, end } = readPickle(raf.read(start, window, name), raf.file, hooks, name);
      return { value, end: start + end };
    } catch (e) {
      if (!(e instanceof PickleEndsEarly) || window === left) throw e;
    }
  }
}

/**
 * Read the legacy stream's pickles (the object one through `hooks`) and locate every storage record.
 * `storage(key)` is storage `key` as the object pickle's persistent ids described it (undefined: never seen).
 */
export function readLegacyStream(raf: RandomAccessFile, hooks: PickleHooks, storage: StorageLookup): LegacyStream {
  const file = raf.file;
  const magic = pickleAt(raf, 0, hooks, "legacy magic-number pickle");
  if (magic.value !== LEGACY_MAGIC) {
    throw new WeightsFormatError(
      file,
      undefined,
      `not a torch.save file: it starts with a pickle, but not torch.save's magic number 0x${LEGACY_MAGIC.toString(16)} (corrupt file, or a plain pickle?)`,
    );
  }
  const version = pickleAt(raf, magic.end, hooks, "legacy protocol-version pickle");
  if (version.value !== LEGACY_PROTOCOL_VERSION) {
    throw new WeightsFormatError(file, undefined, `legacy torch.save protocol version ${String(version.value)}, expected ${LEGACY_PROTOCOL_VERSION}`);
  }
  const sysInfo = pickleAt(raf, version.end, hooks, "legacy sys-info pickle");
  if (!(sysInfo.value instanceof Map) || sysInfo.value.get("little_endian") !== true) {
    throw new WeightsFormatError(file, undefined, "big-endian checkpoints are not supported (sys_info.little_endian is not True)");
  }
  const object = pickleAt(raf, sysInfo.end, hooks, `legacy state_dict pickle (from byte ${sysInfo.end})`);
  const keyList = pickleAt(raf, object.end, hooks, `legacy storage-key pickle (from byte ${object.end})`);
  const keys = keyList.value;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string")) {
    throw new WeightsFormatError(file, undefined, `the storage-key pickle at byte ${object.end} is not a list of strings`);
  }
  return { root: object.value, records: locateRecords(raf, keyList.end, keys as string[], storage) };
}

/** Walk the (count, bytes) records that follow the pickles, one per storage key, in the key list's order. */
function locateRecords(raf: RandomAccessFile, start: number, keys: string[], storage: StorageLookup): Map<string, LegacyRecord> {
  const records = new Map<string, LegacyRecord>();
  let pos = start;
  for (const key of keys) {
    const ref = storage(key);
    if (!ref) throw new WeightsFormatError(raf.file, undefined, `storage ${key} is in the storage list but no tensor refers to it`);
    const count = Number(raf.read(pos, 8, `element count of storage ${key}`).readBigUInt64LE(0));
    if (count !== ref.numel) {
      throw new WeightsFormatError(raf.file, undefined, `storage ${key} at byte ${pos} holds ${count} elements but the pickle says ${ref.numel} (corrupt file?)`);
    }
    const eb = ref.elementBytes;
    const nbytes = count * eb;
    if (pos + 8 + nbytes > raf.size) {
      throw new WeightsFormatError(
        raf.file,
        undefined,
        `truncated file: storage ${key} (${count} elements of ${eb} bytes) needs bytes ${pos + 8}..${pos + 8 + nbytes} but the file has ${raf.size} bytes`,
      );
    }
    records.set(key, { offset: pos + 8, nbytes });
    pos += 8 + nbytes;
  }
  return records;
}
