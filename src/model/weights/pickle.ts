/**
 * A minimal pickle virtual machine: enough of protocols 2-4 to read the pickles that torch.save writes for a
 * state_dict (an OrderedDict of tensors rebuilt by torch._utils._rebuild_tensor_v2 from persistent storages):
 * `data.pkl` in the zip format, or the pickle stream of the legacy format.
 * It never imports or calls anything: GLOBAL yields a PyGlobal name (refused unless the caller's allowGlobal
 * accepts it), and REDUCE/NEWOBJ/BUILD are answered by the caller's hooks or recorded as inert PyObjects.
 * Unknown opcodes are an error naming the byte offset.
 */
import { WeightsFormatError } from "../errors";

/** A `module.name` reference, never resolved to code. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Something a REDUCE/NEWOBJ built that the hooks did not interpret. */
export class PyObject {
  state: unknown = undefined;
  constructor(
    readonly cls: PyGlobal | unknown,
    readonly args: unknown[],
  ) {}
}

/** A pickled tuple (kept distinct from lists only where it matters: nowhere for state_dicts). */
export type PyTuple = unknown[];

/** The pickle stopped before its STOP opcode: the caller may retry with more bytes (see weights/legacy.ts). */
export class PickleEndsEarly extends WeightsFormatError {}

export interface PickleHooks {
  /** BINPERSID: torch stores ('storage', StorageType, key, location, numel) tuples here */
  persistentLoad(pid: unknown): unknown;
  /** REDUCE of a global with args; return undefined to get an inert PyObject */
  reduce?(fn: PyGlobal, args: unknown[]): unknown;
  /** GLOBAL/STACK_GLOBAL of a name this returns false for is refused with an error naming it */
  allowGlobal?(g: PyGlobal): boolean;
}

const MARK = Symbol("mark");

/** Unpickle one object from `data` (the whole of a `data.pkl`); `name` labels errors. */
export function unpickle(data: Uint8Array, file: string, hooks: PickleHooks, name = "data.pkl"): unknown {
  return readPickle(data, file, hooks, name).value;
}

/** Unpickle the pickle at the start of `data`, which may run on past it; `end` is the byte after its STOP. */
export function readPickle(data: Uint8Array, file: string, hooks: PickleHooks, name: string): { value: unknown; end: number } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;

  const fail = (msg: string): never => {
    throw new WeightsFormatError(file, name, `${msg} at byte ${pos}`);
  };
  const endsEarly = (): never => {
    throw new PickleEndsEarly(file, name, `pickle ends early at byte ${pos} (truncated file?)`);
  };
  const need = (n: number): void => {
    if (pos + n > buf.length) endsEarly();
  };
  const global = (module: string, qualname: string): PyGlobal => {
    const g = new PyGlobal(module, qualname);
    if (hooks.allowGlobal && !hooks.allowGlobal(g)) {
      const why = "a state_dict needs only tensors, storages and dicts, and this reader never imports or runs code from a checkpoint";
      throw new WeightsFormatError(file, name, `refusing global ${g.qualname} at byte ${pos}: ${why}`);
    }
    return g;
  };
  const u8 = (): number => (need(1), buf[pos++]);
  const u16 = (): number => (need(2), (pos += 2), buf.readUInt16LE(pos - 2));
  const u32 = (): number => (need(4), (pos += 4), buf.readUInt32LE(pos - 4));
  const i32 = (): number => (need(4), (pos += 4), buf.readInt32LE(pos - 4));
  const u64 = (): number => {
    need(8);
    const v = buf.readBigUInt64LE(pos);
    pos += 8;
    return Number(v);
  };
  const bytes = (n: number): Buffer => {
    need(n);
    pos += n;
    return buf.subarray(pos - n, pos);
  };
  const line = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) endsEarly();
    const s = buf.toString("latin1", pos, end);
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail("stack underflow");
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail("stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail("MARK not found");
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const littleEndianInt = (b: Buffer): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length); // two's complement
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) fail("SETITEM(S) on a non-dict");
    const m = target as Map<unknown, unknown>;
    for (let i = 0; i + 1 < items.length; i += 2) m.set(items[i], items[i + 1]);
  };
  const reduce = (fn: unknown, args: unknown[]): unknown => {
    if (fn instanceof PyGlobal) {
      if (fn.qualname === "collections.OrderedDict" || fn.qualname === "builtins.dict") return new Map();
      const r = hooks.reduce?.(fn, args);
      if (r !== undefined) return r;
    }
    return new PyObject(fn, args);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME (protocol 4): length only
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(littleEndianInt(bytes(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(littleEndianInt(bytes(u32())));
        break;
      case 0x47: {
        // BINFLOAT (big-endian double)
        need(8);
        stack.push(buf.readDoubleBE(pos));
        pos += 8;
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(bytes(u32()).toString("utf8"));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(bytes(u8()).toString("utf8"));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(bytes(u64()).toString("utf8"));
        break;
      case 0x54: // BINSTRING
        stack.push(bytes(i32()).toString("latin1"));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(bytes(u8()).toString("latin1"));
        break;
      case 0x42: // BINBYTES
        stack.push(new Uint8Array(bytes(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(new Uint8Array(bytes(u8())));
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x64: {
        // DICT
        const m = new Map();
        setItems(m, popMark());
        stack.push(m);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(reduce(fn, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        stack.push(reduce(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state). A state_dict's OrderedDict gets its `_metadata` here; we keep it inert.
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) fail("APPEND on a non-list");
        (l as unknown[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const l = top();
        if (!Array.isArray(l)) fail("APPENDS on a non-list");
        (l as unknown[]).push(...items);
        break;
      }
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail("ADDITEMS on a non-set");
        for (const it of items) (s as Set<unknown>).add(it);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo key ${k} not found`);
        stack.push(memo.get(k));
        break;
      }
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")} ('${String.fromCharCode(op)}')`);
    }
  }
}
