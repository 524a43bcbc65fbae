/**
 * `pytorch_model.bin` without Python: torch.save's zip container (torch >= 1.6), its `data.pkl` run through our
 * pickle VM (weights/pickle.ts), and tensors rebuilt from `<archive>/data/<storage key>` with storage offset,
 * size and stride, exactly as torch._utils._rebuild_tensor_v2 does. The legacy (pre-1.6) non-zip format is
 * detected and refused with a message saying how to convert it.
 */
import { WeightsFormatError } from "../errors";
import { PyGlobal, unpickle } from "./pickle";
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

export class PytorchSource implements WeightSource {
  readonly format = "pytorch";
  private readonly raf: RandomAccessFile;
  private readonly zip: ZipReader;
  private readonly prefix: string;
  private readonly tensors = new Map<string, TensorRef>();

  constructor(readonly file: string) {
    assertLittleEndianHost(file);
    this.raf = new RandomAccessFile(file);
    try {
      const magic = this.raf.read(0, Math.min(4, this.raf.size), "file signature");
      if (magic.length < 4 || magic.readUInt32LE(0) !== 0x04034b50) {
        if (magic[0] === 0x80) {
          throw new WeightsFormatError(
            file,
            undefined,
            "legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a newer torch " +
              "(torch.save(torch.load(f), f)) or convert it to model.safetensors",
          );
        }
        if (magic.toString("latin1", 1, 4) === "HDF") {
          throw new WeightsFormatError(file, undefined, "this is an HDF5 (TensorFlow/Keras) file, not a PyTorch checkpoint");
        }
        throw new WeightsFormatError(file, undefined, "not a PyTorch zip checkpoint (no zip signature at byte 0)");
      }
      this.zip = new ZipReader(this.raf);
      const pkl = [...this.zip.entries.keys()].find((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
      if (!pkl) throw new WeightsFormatError(file, undefined, "zip has no data.pkl: not a torch.save checkpoint");
      this.prefix = pkl.slice(0, pkl.length - "data.pkl".length);
      const order = this.zip.entries.get(`${this.prefix}byteorder`);
      if (order && this.zip.read(order.name).toString("latin1") !== "little") {
        throw new WeightsFormatError(file, undefined, "big-endian checkpoints are not supported");
      }
      const root = unpickle(this.zip.read(pkl), file, {
        persistentLoad: (pid) => this.persistentLoad(pid),
        reduce: (fn, args) => this.reduce(fn, args),
      });
      this.collect(root);
    } catch (e) {
      this.raf.close();
      throw e;
    }
  }

  /** pid = ('storage', StorageType, key, location, numel) */
  private persistentLoad(pid: unknown): StorageRef {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
      throw new WeightsFormatError(this.file, "data.pkl", `unexpected persistent id ${JSON.stringify(pid)}`);
    }
    const [, type, key, , numel] = pid as [string, unknown, unknown, unknown, unknown];
    const name = type instanceof PyGlobal ? type.name : String(type);
    const dtype = STORAGE_DTYPES[name];
    if (!dtype) throw new WeightsFormatError(this.file, "data.pkl", `unsupported storage type ${name}`);
    if (typeof key !== "string" || typeof numel !== "number") {
      throw new WeightsFormatError(this.file, "data.pkl", `bad storage reference ${JSON.stringify(pid)}`);
    }
    return new StorageRef(dtype, key, numel);
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
          throw new WeightsFormatError(this.file, "data.pkl", `malformed ${fn.qualname} arguments`);
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
    if (!(root instanceof Map)) throw new WeightsFormatError(this.file, "data.pkl", "top-level object is not a dict (state_dict)");
    let dict = root as Map<unknown, unknown>;
    const values = [...dict.values()];
    if (!values.some((v) => v instanceof TensorRef)) {
      const inner = dict.get("state_dict") ?? dict.get("model");
      if (inner instanceof Map) dict = inner as Map<unknown, unknown>;
    }
    for (const [k, v] of dict) {
      if (typeof k === "string" && v instanceof TensorRef) this.tensors.set(k, v);
    }
    if (this.tensors.size === 0) throw new WeightsFormatError(this.file, "data.pkl", "no tensors found in the state_dict");
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
    const entryName = `${this.prefix}data/${t.storage.key}`;
    const entry = this.zip.entries.get(entryName);
    if (!entry) throw new WeightsFormatError(this.file, key, `storage file ${entryName} is missing from the zip`);
    if ((last + 1) * eb > entry.size || t.offset < 0) {
      throw new WeightsFormatError(this.file, key, `tensor view reaches element ${last} but storage ${t.storage.key} holds ${entry.size / eb} (truncated?)`);
    }
    const span = decodeFloat32(this.zip.read(entryName, t.offset * eb, (last - t.offset + 1) * eb), dtype, this.file, key);
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

function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d];
  }
  return true;
}
