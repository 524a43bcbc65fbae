/**
 * `pytorch_model.bin` without Python, in both torch.save containers: the zip (torch >= 1.6; `data.pkl` plus
 * `<archive>/data/<storage key>` entries) and the legacy pre-1.6 stream (weights/legacy.ts). Either way the
 * state_dict pickle runs through our pickle VM (weights/pickle.ts), whose allowGlobal here refuses every global
 * but torch's tensor/storage rebuilders and containers, and tensors are views (storage offset, size, stride)
 * into storages, read exactly as torch._utils._rebuild_tensor_v2 builds them.
 */
import { WeightsFormatError } from "../errors";
import { readLegacyStream } from "./legacy";
import { type PickleHooks, PyGlobal, unpickle } from "./pickle";
import { assertLittleEndianHost, decodeFloat32, DTYPE_BYTES, RandomAccessFile, type TensorInfo, type WeightDtype, type WeightSource } from "./source";
import { ZipReader } from "./zip";

const STORAGE_DTYPES: Record<string, WeightDtype> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
  // dtype objects, should a writer pickle torch.float32 instead of a storage class
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  float64: "F64",
  int64: "I64",
};

function storageDtype(name: string): WeightDtype | undefined {
  return Object.hasOwn(STORAGE_DTYPES, name) ? STORAGE_DTYPES[name] : undefined;
}

/** Globals a state_dict pickle may name (torch's weights_only list, trimmed to what checkpoints use). */
const ALLOWED_GLOBALS = new Set([
  "collections.OrderedDict",
  "builtins.dict",
  "builtins.set",
  "builtins.frozenset",
  "_codecs.encode", // bytes, in protocol 2
  "torch.Size",
  "torch.device",
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
]);

function allowGlobal(g: PyGlobal): boolean {
  // protocol-2 pickles spell builtins "__builtin__"
  const module = g.module === "__builtin__" ? "builtins" : g.module;
  if (module === "torch" && (g.name.endsWith("Storage") || storageDtype(g.name))) return true;
  return ALLOWED_GLOBALS.has(`${module}.${g.name}`);
}

class StorageRef {
  constructor(
    readonly dtype: WeightDtype,
    readonly key: string,
    readonly numel: number,
  ) {}
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    /** in elements */
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

function asInts(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isInteger(x)) ? (v as number[]) : undefined;
}

/** Where the storages' bytes live: zip entries, or records after the legacy stream's pickles. */
interface StorageBytes {
  /** byte length of storage `key`; throws (naming `tensor`) if the file lacks it */
  size(key: string, tensor: string): number;
  read(key: string, offset: number, length: number): Buffer;
}

/** A state_dict pickle is kilobytes (names, shapes, storage keys); a data.pkl that declares more is refused unread. */
const MAX_PICKLE_BYTES = 64 << 20;
/** What a storage entry may hold beyond its declared numel × element size (torch writes them exact). */
const STORAGE_SLACK_BYTES = 4096;

const ZIP_SIGNATURE = 0x04034b50;
const PICKLE_PROTO = 0x80;

export class PytorchSource implements WeightSource {
  readonly format = "pytorch";
  /** which torch.save container the file is */
  readonly container: "zip" | "legacy";
  private readonly raf: RandomAccessFile;
  private readonly bytes: StorageBytes;
  /** what errors call the state_dict pickle */
  private pickleName = "data.pkl";
  private readonly storages = new Map<string, StorageRef>();
  private readonly tensors = new Map<string, TensorRef>();

  constructor(readonly file: string) {
    assertLittleEndianHost(file);
    this.raf = new RandomAccessFile(file);
    try {
      const magic = this.raf.read(0, Math.min(4, this.raf.size), "file signature");
      const hooks: PickleHooks = {
        persistentLoad: (pid) => this.persistentLoad(pid),
        reduce: (fn, args) => this.reduce(fn, args),
        allowGlobal,
      };
      let opened: { root: unknown; bytes: StorageBytes };
      if (magic.length === 4 && magic.readUInt32LE(0) === ZIP_SIGNATURE) {
        this.container = "zip";
        opened = this.openZip(hooks);
      } else if (magic[0] === PICKLE_PROTO) {
        this.container = "legacy";
        this.pickleName = "legacy state_dict pickle";
        opened = this.openLegacy(hooks);
      } else if (magic.toString("latin1", 1, 4) === "HDF") {
        throw new WeightsFormatError(file, undefined, "this is an HDF5 (TensorFlow/Keras) file, not a PyTorch checkpoint");
      } else {
        throw new WeightsFormatError(file, undefined, "not a PyTorch checkpoint (neither a zip nor a pickle stream at byte 0)");
      }
      this.bytes = opened.bytes;
      this.collect(opened.root);
    } catch (e) {
      this.raf.close();
      throw e;
    }
  }

  /** torch >= 1.6: `<archive>/data.pkl` and `<archive>/data/<storage key>` in a zip */
  private openZip(hooks: PickleHooks): { root: unknown; bytes: StorageBytes } {
    const zip = new ZipReader(this.raf);
    const pkl = [...zip.entries.keys()].find((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
    if (!pkl) throw new WeightsFormatError(this.file, undefined, "zip has no data.pkl: not a torch.save checkpoint");
    const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
    const order = zip.entries.get(`${prefix}byteorder`);
    if (order && this.readBounded(zip, order.name, 16).toString("latin1") !== "little") {
      throw new WeightsFormatError(this.file, undefined, "big-endian checkpoints are not supported");
    }
    const root = unpickle(this.readBounded(zip, pkl, MAX_PICKLE_BYTES), this.file, hooks);
    this.checkDeclaredSizes(zip, prefix);
    const bytes: StorageBytes = {
      size: (key, tensor) => {
        const entry = zip.entries.get(`${prefix}data/${key}`);
        if (!entry) throw new WeightsFormatError(this.file, tensor, `storage file ${prefix}data/${key} is missing from the zip`);
        return entry.size;
      },
      read: (key, offset, length) => zip.read(`${prefix}data/${key}`, offset, length),
    };
    return { root, bytes };
  }

  /** A small zip entry (data.pkl, byteorder), refused before it is read or inflated when it declares more than `max` bytes. */
  private readBounded(zip: ZipReader, name: string, max: number): Buffer {
    const size = zip.entries.get(name)?.size ?? 0;
    if (size > max) throw new WeightsFormatError(this.file, name, `the zip entry declares ${size} bytes; a state_dict's ${name.split("/").pop()} is far below ${max}: refused`);
    return zip.read(name);
  }

  /**
   * Every storage entry's size against what the pickle declares (numel × element size): an entry that would
   * inflate beyond it (a zip bomb: 11 MB inflating to 2 GiB) is refused before anything is inflated.
   */
  private checkDeclaredSizes(zip: ZipReader, prefix: string): void {
    for (const s of this.storages.values()) {
      const name = `${prefix}data/${s.key}`;
      const entry = zip.entries.get(name);
      const declared = s.numel * DTYPE_BYTES[s.dtype];
      if (entry && entry.size > declared + STORAGE_SLACK_BYTES) {
        throw new WeightsFormatError(this.file, name, `the zip entry declares ${entry.size} bytes, but data.pkl declares storage ${s.key} as ${s.numel} ${s.dtype} values (${declared} bytes): refused (a zip bomb or a corrupt file)`);
      }
    }
  }

  /** torch < 1.6: pickles, then each storage's count and bytes, in one stream (weights/legacy.ts) */
  private openLegacy(hooks: PickleHooks): { root: unknown; bytes: StorageBytes } {
    const { root, records } = readLegacyStream(this.raf, hooks, (key) => {
      const s = this.storages.get(key);
      return s && { elementBytes: DTYPE_BYTES[s.dtype], numel: s.numel };
    });
    const bytes: StorageBytes = {
      size: (key, tensor) => {
        const rec = records.get(key);
        if (!rec) throw new WeightsFormatError(this.file, tensor, `storage ${key} is not in the file's storage list`);
        return rec.nbytes;
      },
      read: (key, offset, length) => this.raf.read(records.get(key)!.offset + offset, length, `storage ${key}`),
    };
    return { root, bytes };
  }

  /** pid = ('storage', StorageType, key, location, numel[, view_metadata]) */
  private persistentLoad(pid: unknown): StorageRef {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
      throw new WeightsFormatError(this.file, this.pickleName, `unexpected persistent id ${JSON.stringify(pid)}`);
    }
    const [, type, key, , numel, view] = pid as [string, unknown, unknown, unknown, unknown, unknown];
    const name = type instanceof PyGlobal ? type.name : String(type);
    const dtype = storageDtype(name);
    if (!dtype) throw new WeightsFormatError(this.file, this.pickleName, `unsupported storage type ${name}`);
    if (typeof key !== "string" || typeof numel !== "number") {
      throw new WeightsFormatError(this.file, this.pickleName, `bad storage reference ${JSON.stringify(pid)}`);
    }
    // legacy files from torch < 0.4 could reference a slice of a storage; torch >= 1.0 always writes None
    if (view !== undefined && view !== null) {
      throw new WeightsFormatError(this.file, this.pickleName, `storage ${key} is a storage view (torch < 0.4 checkpoints): not supported`);
    }
    const seen = this.storages.get(key);
    if (seen && (seen.dtype !== dtype || seen.numel !== numel)) {
      throw new WeightsFormatError(this.file, this.pickleName, `storage ${key} is referenced as ${seen.numel} ${seen.dtype} and as ${numel} ${dtype}`);
    }
    const ref = seen ?? new StorageRef(dtype, key, numel);
    this.storages.set(key, ref);
    return ref;
  }

  private reduce(fn: PyGlobal, args: unknown[]): unknown {
    switch (fn.qualname) {
      case "torch._utils._rebuild_tensor_v2":
      case "torch._utils._rebuild_tensor": {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        const [storage, offset, size, stride] = args;
        const sz = asInts(size);
        const st = asInts(stride);
        if (!(storage instanceof StorageRef) || typeof offset !== "number" || !sz || !st || sz.length !== st.length) {
          throw new WeightsFormatError(this.file, this.pickleName, `malformed ${fn.qualname} arguments`);
        }
        return new TensorRef(storage, offset, sz, st);
      }
      case "torch._utils._rebuild_parameter":
      case "torch._utils._rebuild_parameter_with_state":
        return args[0]; // Parameter(data, requires_grad, hooks): the data is all we need
      default:
        return undefined;
    }
  }

  /** Accept a state_dict, or a dict wrapping one under "state_dict"/"model" (Lightning and training scripts). */
  private collect(root: unknown): void {
    if (!(root instanceof Map)) throw new WeightsFormatError(this.file, this.pickleName, "top-level object is not a dict (state_dict)");
    let dict = root as Map<unknown, unknown>;
    const values = [...dict.values()];
    if (!values.some((v) => v instanceof TensorRef)) {
      const inner = dict.get("state_dict") ?? dict.get("model");
      if (inner instanceof Map) dict = inner as Map<unknown, unknown>;
    }
    for (const [k, v] of dict) {
      if (typeof k === "string" && v instanceof TensorRef) this.tensors.set(k, checkView(this.file, k, v));
    }
    if (this.tensors.size === 0) throw new WeightsFormatError(this.file, this.pickleName, "no tensors found in the state_dict");
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  info(key: string): TensorInfo {
    const t = this.ref(key);
    return { dtype: t.storage.dtype, shape: [...t.size] };
  }

  readFloat32(key: string): Float32Array {
    const t = this.ref(key);
    const { dtype } = t.storage;
    const eb = DTYPE_BYTES[dtype];
    const numel = t.size.reduce((a, b) => a * b, 1);
    if (numel === 0) return new Float32Array(0);
    // the span of storage elements this view touches
    let last = t.offset;
    for (let i = 0; i < t.size.length; i++) last += (t.size[i] - 1) * t.stride[i];
    const size = this.bytes.size(t.storage.key, key);
    if ((last + 1) * eb > size || t.offset < 0) {
      throw new WeightsFormatError(this.file, key, `tensor view reaches element ${last} but storage ${t.storage.key} holds ${size / eb} (truncated?)`);
    }
    const span = decodeFloat32(this.bytes.read(t.storage.key, t.offset * eb, (last - t.offset + 1) * eb), dtype, this.file, key);
    if (isContiguous(t.size, t.stride)) return span;
    // non-contiguous (e.g. a saved transposed view): walk the strides into row-major order
    const out = new Float32Array(numel);
    const nd = t.size.length;
    const idx = new Array<number>(nd).fill(0);
    for (let n = 0; n < numel; n++) {
      let src = 0;
      for (let d = 0; d < nd; d++) src += idx[d] * t.stride[d];
      out[n] = span[src];
      for (let d = nd - 1; d >= 0; d--) {
        if (++idx[d] < t.size[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  }

  close(): void {
    this.raf.close();
  }

  private ref(key: string): TensorRef {
    const t = this.tensors.get(key);
    if (!t) throw new WeightsFormatError(this.file, key, "no such tensor");
    return t;
  }
}

/** torch never writes a negative size, stride or storage offset; one in a file is corruption, named here. */
function checkView(file: string, key: string, t: TensorRef): TensorRef {
  const bad = (xs: number[]): boolean => xs.some((x) => x < 0);
  if (t.offset < 0 || bad(t.size) || bad(t.stride)) {
    throw new WeightsFormatError(file, key, `tensor view with storage offset ${t.offset}, size [${t.size.join(", ")}], stride [${t.stride.join(", ")}]: negative values are not a tensor torch can write (corrupt or crafted file)`);
  }
  return t;
}

function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d];
  }
  return true;
}
