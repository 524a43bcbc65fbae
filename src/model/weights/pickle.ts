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
  const vm = new PickleVM(Buffer.from(data.buffer, data.byteOffset, data.byteLength), file, hooks, name);
  for (;;) {
    const op = vm.u8();
    if (op === STOP) return { value: vm.pop(), end: vm.pos };
    const handler = OPCODES[op];
    if (!handler) vm.fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")} ('${String.fromCharCode(op)}')`);
    handler(vm, op);
  }
}

const STOP = 0x2e;

/** The machine's state and its reads; the opcodes (OPCODES) act on it. */
class PickleVM {
  readonly stack: unknown[] = [];
  readonly memo = new Map<number, unknown>();
  pos = 0;
  constructor(
    readonly buf: Buffer,
    private readonly file: string,
    readonly hooks: PickleHooks,
    private readonly name: string,
  ) {}

  fail(msg: string): never {
    throw new WeightsFormatError(this.file, this.name, `${msg} at byte ${this.pos}`);
  }
  private endsEarly(): never {
    throw new PickleEndsEarly(this.file, this.name, `pickle ends early at byte ${this.pos} (truncated file?)`);
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) this.endsEarly();
  }
  global(module: string, qualname: string): PyGlobal {
    const g = new PyGlobal(module, qualname);
    if (this.hooks.allowGlobal && !this.hooks.allowGlobal(g)) {
      const why = "a state_dict needs only tensors, storages and dicts, and this reader never imports or runs code from a checkpoint";
      throw new WeightsFormatError(this.file, this.name, `refusing global ${g.qualname} at byte ${this.pos}: ${why}`);
    }
    return g;
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  u16(): number {
    this.need(2);
    this.pos += 2;
    return this.buf.readUInt16LE(this.pos - 2);
  }
  u32(): number {
    this.need(4);
    this.pos += 4;
    return this.buf.readUInt32LE(this.pos - 4);
  }
  i32(): number {
    this.need(4);
    this.pos += 4;
    return this.buf.readInt32LE(this.pos - 4);
  }
  u64(): number {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return Number(v);
  }
  f64be(): number {
    this.need(8);
    this.pos += 8;
    return this.buf.readDoubleBE(this.pos - 8);
  }
  bytes(n: number): Buffer {
    this.need(n);
    this.pos += n;
    return this.buf.subarray(this.pos - n, this.pos);
  }
  line(): string {
    const end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) this.endsEarly();
    const s = this.buf.toString("latin1", this.pos, end);
    this.pos = end + 1;
    return s;
  }
  push(v: unknown): void {
    this.stack.push(v);
  }
  pop(): unknown {
    if (this.stack.length === 0) this.fail("stack underflow");
    return this.stack.pop();
  }
  top(): unknown {
    if (this.stack.length === 0) this.fail("stack underflow");
    return this.stack[this.stack.length - 1];
  }
  popMark(): unknown[] {
    const i = this.stack.lastIndexOf(MARK);
    if (i < 0) this.fail("MARK not found");
    const items = this.stack.splice(i);
    items.shift();
    return items;
  }
  setItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Map)) this.fail("SETITEM(S) on a non-dict");
    const m = target as Map<unknown, unknown>;
    for (let i = 0; i + 1 < items.length; i += 2) m.set(items[i], items[i + 1]);
  }
  /** REDUCE / NEWOBJ: dicts are built here, everything else is the hooks' or an inert PyObject. */
  reduce(fn: unknown, args: unknown): unknown {
    const list = Array.isArray(args) ? args : [args];
    if (fn instanceof PyGlobal) {
      if (fn.qualname === "collections.OrderedDict" || fn.qualname === "builtins.dict") return new Map();
      const r = this.hooks.reduce?.(fn, list);
      if (r !== undefined) return r;
    }
    return new PyObject(fn, list);
  }
  /** The element to append to, checked to be of the kind the opcode needs. */
  target<T>(ok: (x: unknown) => boolean, what: string): T {
    const t = this.top();
    if (!ok(t)) this.fail(`${what} on a non-${what === "ADDITEMS" ? "set" : "list"}`);
    return t as T;
  }
}

function littleEndianInt(b: Buffer): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length); // two's complement
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

type Op = (vm: PickleVM, op: number) => void;

/** What each supported opcode does (protocols 2-4; nothing here imports or calls code). */
const OPCODES: Record<number, Op> = {
  0x80: (vm) => void vm.u8(), // PROTO
  0x95: (vm) => void vm.u64(), // FRAME (protocol 4): length only
  0x28: (vm) => vm.push(MARK), // MARK
  0x7d: (vm) => vm.push(new Map()), // EMPTY_DICT
  0x5d: (vm) => vm.push([]), // EMPTY_LIST
  0x29: (vm) => vm.push([]), // EMPTY_TUPLE
  0x8f: (vm) => vm.push(new Set()), // EMPTY_SET
  0x4e: (vm) => vm.push(null), // NONE
  0x88: (vm) => vm.push(true), // NEWTRUE
  0x89: (vm) => vm.push(false), // NEWFALSE
  0x4a: (vm) => vm.push(vm.i32()), // BININT
  0x4b: (vm) => vm.push(vm.u8()), // BININT1
  0x4d: (vm) => vm.push(vm.u16()), // BININT2
  0x8a: (vm) => vm.push(littleEndianInt(vm.bytes(vm.u8()))), // LONG1
  0x8b: (vm) => vm.push(littleEndianInt(vm.bytes(vm.u32()))), // LONG4
  0x47: (vm) => vm.push(vm.f64be()), // BINFLOAT (big-endian double)
  0x58: (vm) => vm.push(vm.bytes(vm.u32()).toString("utf8")), // BINUNICODE
  0x8c: (vm) => vm.push(vm.bytes(vm.u8()).toString("utf8")), // SHORT_BINUNICODE
  0x8d: (vm) => vm.push(vm.bytes(vm.u64()).toString("utf8")), // BINUNICODE8
  0x54: (vm) => vm.push(vm.bytes(vm.i32()).toString("latin1")), // BINSTRING
  0x55: (vm) => vm.push(vm.bytes(vm.u8()).toString("latin1")), // SHORT_BINSTRING
  0x42: (vm) => vm.push(new Uint8Array(vm.bytes(vm.u32()))), // BINBYTES
  0x43: (vm) => vm.push(new Uint8Array(vm.bytes(vm.u8()))), // SHORT_BINBYTES
  0x63: (vm) => {
    // GLOBAL "module\nname\n"
    const module = vm.line();
    vm.push(vm.global(module, vm.line()));
  },
  0x93: (vm) => {
    // STACK_GLOBAL
    const name = vm.pop();
    const module = vm.pop();
    if (typeof module !== "string" || typeof name !== "string") vm.fail("STACK_GLOBAL needs two strings");
    vm.push(vm.global(module as string, name as string));
  },
  0x51: (vm) => vm.push(vm.hooks.persistentLoad(vm.pop())), // BINPERSID
  0x74: (vm) => vm.push(vm.popMark()), // TUPLE
  0x85: (vm) => vm.push([vm.pop()]), // TUPLE1
  0x86: (vm) => {
    // TUPLE2
    const b = vm.pop();
    vm.push([vm.pop(), b]);
  },
  0x87: (vm) => {
    // TUPLE3
    const c = vm.pop();
    const b = vm.pop();
    vm.push([vm.pop(), b, c]);
  },
  0x6c: (vm) => vm.push(vm.popMark()), // LIST
  0x64: (vm) => {
    // DICT
    const m = new Map();
    vm.setItems(m, vm.popMark());
    vm.push(m);
  },
  0x52: (vm) => {
    // REDUCE
    const args = vm.pop();
    vm.push(vm.reduce(vm.pop(), args));
  },
  0x81: (vm) => {
    // NEWOBJ: cls.__new__(cls, *args)
    const args = vm.pop();
    vm.push(vm.reduce(vm.pop(), args));
  },
  0x62: (vm) => {
    // BUILD: obj.__setstate__(state). A state_dict's OrderedDict gets its `_metadata` here; we keep it inert.
    const state = vm.pop();
    const obj = vm.top();
    if (obj instanceof PyObject) obj.state = state;
  },
  0x73: (vm) => {
    // SETITEM
    const v = vm.pop();
    const k = vm.pop();
    vm.setItems(vm.top(), [k, v]);
  },
  0x75: (vm) => {
    // SETITEMS
    const items = vm.popMark();
    vm.setItems(vm.top(), items);
  },
  0x61: (vm) => {
    // APPEND
    const v = vm.pop();
    vm.target<unknown[]>(Array.isArray, "APPEND").push(v);
  },
  0x65: (vm) => {
    // APPENDS
    const items = vm.popMark();
    vm.target<unknown[]>(Array.isArray, "APPENDS").push(...items);
  },
  0x90: (vm) => {
    // ADDITEMS
    const items = vm.popMark();
    const s = vm.target<Set<unknown>>((x) => x instanceof Set, "ADDITEMS");
    for (const it of items) s.add(it);
  },
  0x71: (vm) => void vm.memo.set(vm.u8(), vm.top()), // BINPUT
  0x72: (vm) => void vm.memo.set(vm.u32(), vm.top()), // LONG_BINPUT
  0x94: (vm) => void vm.memo.set(vm.memo.size, vm.top()), // MEMOIZE
  0x68: (vm) => memoGet(vm, vm.u8()), // BINGET
  0x6a: (vm) => memoGet(vm, vm.u32()), // LONG_BINGET
  0x30: (vm) => void vm.pop(), // POP
  0x31: (vm) => void vm.popMark(), // POP_MARK
  0x32: (vm) => vm.push(vm.top()), // DUP
};

function memoGet(vm: PickleVM, k: number): void {
  if (!vm.memo.has(k)) vm.fail(`memo key ${k} not found`);
  vm.push(vm.memo.get(k));
}
