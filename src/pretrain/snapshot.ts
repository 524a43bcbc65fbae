/**
 * The committed, compact, exact-resume snapshot of a pre-training run (`<out>/snapshot/`), for runs that move
 * between machines: the working state (`.cache/pretrain/<name>/state/`, float32 weights and moments) stays local;
 * this folder is what git carries.
 *
 *   snapshot.safetensors  per parameter: `w.<key>` F16 weights, `m.<key>` / `v.<key>` U8 AdamW moment codes with
 *                         their per-256-block F32 scales `ms.<key>` / `vs.<key>` (quantize.ts); metadata: format,
 *                         AdamW's update count
 *   snapshot.json         the trainer's progress (PretrainState: step, seconds, schedule stages, curve, config,
 *                         corpus digest)
 *   curve.csv             the curve so far, for reading
 *   tokenizer files       (unchanged between versions: git stores them once)
 *
 * Exactness: writing a snapshot replaces the live trainer's weights and moments by decode(encode(·)) of
 * themselves, the values a resumed run reads back; batches, masks, dropout and ELECTRA's samples are functions of
 * (seed, step). So an uninterrupted run and one resumed from its snapshot hold the same bits at every later step
 * (on the same CPU kind and thread count: OpenBLAS's kernels differ between CPU kinds).
 *
 * Budget: every committed version of every file under the export folder counts (git history). `gitLedger` sums
 * the on-disk (zlib) size of every distinct blob ever committed there; a snapshot that would take the total (plus
 * room kept for the final export) past the budget is not written.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { execFileSync } from "node:child_process";
import * as tf from "@tensorflow/tfjs";
import type { RelationTokenizer } from "../encoding";
import { writeSafetensors, type HostTensor } from "../model";
import { writeFolder, type AdamW } from "../train";
import { decodeSecondMoment, decodeSigned, encodeSecondMoment, encodeSigned, fromF16, toF16, type Quantized } from "./quantize";
import type { CurvePoint, PretrainConfig, PretrainState } from "./state";

export const SNAPSHOT_FORMAT = "medrel-pretrain-snapshot/1";
export const DEFAULT_BUDGET_BYTES = 60 * 1024 * 1024;

/** What a snapshot reads and writes of a trainer. */
export interface Snapshottable {
  readonly cfg: PretrainConfig;
  readonly params: Map<string, tf.Variable>;
  readonly optimizer: AdamW;
  readonly tokenizer: RelationTokenizer;
  state: PretrainState;
}

interface Entry {
  dtype: "F16" | "U8" | "F32";
  shape: number[];
  bytes: Uint8Array;
}

const bytesOf = (a: Uint8Array | Uint16Array | Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** safetensors with mixed dtypes (F16/U8/F32), data 8-byte aligned. */
function encodeContainer(entries: Map<string, Entry>, metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [k, e] of entries) {
    header[k] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  header.__metadata__ = metadata;
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...[...entries.values()].map((e) => e.bytes)]);
}

function decodeContainer(file: string): { entries: Map<string, Entry>; metadata: Record<string, string> } {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<string, { dtype: Entry["dtype"]; shape: number[]; data_offsets: [number, number] }>;
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  const entries = new Map<string, Entry>();
  for (const [k, h] of Object.entries(header)) {
    if (k === "__metadata__") continue;
    const [a, b] = h.data_offsets;
    // a copy: typed views need aligned offsets
    entries.set(k, { dtype: h.dtype, shape: h.shape, bytes: new Uint8Array(buf.subarray(8 + n + a, 8 + n + b)) });
  }
  return { entries, metadata };
}

function u16(e: Entry): Uint16Array {
  return new Uint16Array(e.bytes.buffer, e.bytes.byteOffset, e.bytes.length / 2);
}
function f32(e: Entry): Float32Array {
  return new Float32Array(e.bytes.buffer, e.bytes.byteOffset, e.bytes.length / 4);
}

/**
 * `firstMoment: "none"`: AdamW's first moment is not stored and restarts from 0 at each snapshot (live and on
 * resume alike; with β1 = 0.9 it is rebuilt within ~10 steps, the bias correction stays at the run's step count,
 * so the next few updates are smaller, never larger): 3 instead of 4 bytes per parameter.
 */
export interface SnapshotFormat {
  firstMoment?: "u8" | "none";
}

/** Weights and moments as the snapshot holds them (already decoded to float32). */
interface Decoded {
  weights: Map<string, Float32Array>;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
  adamStep: number;
}

/** Put decoded values into the trainer: the one path both the live round trip and a resume take. */
function applyDecoded(t: Snapshottable, d: Decoded): void {
  for (const [k, v] of t.params) {
    const w = d.weights.get(k);
    if (!w) throw new Error(`snapshot: no weights for ${k}`);
    if (w.length !== v.size) throw new Error(`snapshot: ${k} has ${w.length} values, the model ${v.size}`);
    tf.tidy(() => v.assign(tf.tensor(w, v.shape, "float32")));
  }
  // the optimizer's own loader (src/train) from a float32 file of the decoded moments: the same path as a state resume
  const tensors = new Map<string, HostTensor>();
  for (const k of t.optimizer.keys()) {
    const shape = t.params.get(k)!.shape.slice();
    const m = d.m.get(k);
    const v = d.v.get(k);
    if (!m || !v) throw new Error(`snapshot: no optimizer moments for ${k}`);
    tensors.set(`exp_avg.${k}`, { shape, data: m });
    tensors.set(`exp_avg_sq.${k}`, { shape, data: v });
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "medrel-snapshot-"));
  try {
    const file = path.join(tmp, "optimizer.safetensors");
    writeSafetensors(file, tensors, { metadata: { format: "medrel-adamw", step: String(d.adamStep) } });
    t.optimizer.load(file);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Encode the trainer's weights and moments: the container bytes and what they decode to. */
async function encodeTrainer(t: Snapshottable, opts: SnapshotFormat = {}): Promise<{ container: Buffer; decoded: Decoded }> {
  const entries = new Map<string, Entry>();
  const decoded: Decoded = { weights: new Map(), m: new Map(), v: new Map(), adamStep: t.optimizer.stepCount };
  for (const [k, v] of t.params) {
    const h = toF16((await v.data()) as Float32Array);
    entries.set(`w.${k}`, { dtype: "F16", shape: v.shape.slice(), bytes: bytesOf(h) });
    decoded.weights.set(k, fromF16(h));
  }
  const moments = await t.optimizer.stateTensors();
  const put = (tag: "m" | "v", k: string, shape: number[], q: Quantized): void => {
    entries.set(`${tag}.${k}`, { dtype: "U8", shape, bytes: q.codes });
    entries.set(`${tag}s.${k}`, { dtype: "F32", shape: [q.scales.length], bytes: bytesOf(q.scales) });
  };
  for (const k of t.optimizer.keys()) {
    const m = moments.get(`exp_avg.${k}`)!;
    const v = moments.get(`exp_avg_sq.${k}`)!;
    const qv = encodeSecondMoment(v.data);
    put("v", k, v.shape, qv);
    if (opts.firstMoment === "none") decoded.m.set(k, new Float32Array(m.data.length));
    else {
      const qm = encodeSigned(m.data);
      put("m", k, m.shape, qm);
      decoded.m.set(k, decodeSigned(qm));
    }
    decoded.v.set(k, decodeSecondMoment(qv));
  }
  const container = encodeContainer(entries, { format: SNAPSHOT_FORMAT, adam_step: String(decoded.adamStep), first_moment: opts.firstMoment ?? "u8" });
  return { container, decoded };
}

function decodeFile(file: string, t: Snapshottable): Decoded {
  const { entries, metadata } = decodeContainer(file);
  if (metadata.format !== SNAPSHOT_FORMAT) throw new Error(`${file}: not a pre-training snapshot (format ${metadata.format})`);
  const get = (name: string): Entry => {
    const e = entries.get(name);
    if (!e) throw new Error(`${file}: missing ${name}`);
    return e;
  };
  const d: Decoded = { weights: new Map(), m: new Map(), v: new Map(), adamStep: Number(metadata.adam_step) };
  for (const k of t.params.keys()) d.weights.set(k, fromF16(u16(get(`w.${k}`))));
  for (const k of t.optimizer.keys()) {
    const n = t.params.get(k)!.size;
    d.m.set(k, metadata.first_moment === "none" ? new Float32Array(n) : decodeSigned({ codes: get(`m.${k}`).bytes, scales: f32(get(`ms.${k}`)) }));
    d.v.set(k, decodeSecondMoment({ codes: get(`v.${k}`).bytes, scales: f32(get(`vs.${k}`)) }));
  }
  return d;
}

export const SNAPSHOT_JSON = "snapshot.json";
const SNAPSHOT_BIN = "snapshot.safetensors";

/** The step of the snapshot in `dir`, or undefined when there is none. */
export function snapshotStep(dir: string): number | undefined {
  const f = path.join(dir, SNAPSHOT_JSON);
  if (!fs.existsSync(f) || !fs.existsSync(path.join(dir, SNAPSHOT_BIN))) return undefined;
  return (JSON.parse(fs.readFileSync(f, "utf8")) as PretrainState).step;
}

export function curveCsv(curve: readonly CurvePoint[]): string {
  const electra = curve.some((p) => p.discLoss !== undefined);
  const head = electra ? "step,loss,accuracy,disc_loss,disc_accuracy,replaced,lr,seconds" : "step,loss,accuracy,lr,seconds";
  const row = (p: CurvePoint): string =>
    electra
      ? `${p.step},${p.loss.toFixed(4)},${p.accuracy.toFixed(4)},${(p.discLoss ?? NaN).toFixed(4)},${(p.discAccuracy ?? NaN).toFixed(4)},${(p.replaced ?? NaN).toFixed(4)},${p.lr.toExponential(3)},${p.seconds.toFixed(1)}`
      : `${p.step},${p.loss.toFixed(4)},${p.accuracy.toFixed(4)},${p.lr.toExponential(3)},${p.seconds.toFixed(1)}`;
  return head + "\n" + curve.map(row).join("\n") + "\n";
}

export interface SnapshotResult {
  written: boolean;
  /** estimated git (zlib) bytes this version adds */
  addedBytes: number;
  /** bytes already committed under the budget path (all versions) */
  usedBytes: number;
  /** the raw size of snapshot.safetensors */
  rawBytes: number;
  message: string;
}

/**
 * Write `dir` from the trainer and round-trip the trainer's own weights and moments through the snapshot's codes
 * (so it continues exactly as a run resumed from it). Refused (nothing written, trainer untouched) when the
 * committed bytes under `budget.root`, plus this version, plus `budget.reserve` would exceed `budget.bytes`.
 */
export async function writeSnapshot(t: Snapshottable, dir: string, budget?: { root: string; bytes: number; reserve: number }, format: SnapshotFormat = {}): Promise<SnapshotResult> {
  const { container, decoded } = await encodeTrainer(t, format);
  const json = JSON.stringify(t.state) + "\n";
  const csv = curveCsv(t.state.curve);
  let used = 0;
  let added = 0;
  if (budget) {
    const ledger = gitLedger(budget.root);
    used = ledger.bytes;
    added = pendingBytes([container, Buffer.from(json), Buffer.from(csv)], ledger.blobs);
    if (used + added + budget.reserve > budget.bytes) {
      return {
        written: false,
        addedBytes: added,
        usedBytes: used,
        rawBytes: container.length,
        message: `snapshot NOT written: ${mb(used)} committed + ${mb(added)} for this one + ${mb(budget.reserve)} kept for the export > budget ${mb(budget.bytes)}`,
      };
    }
  }
  await writeFolder(dir, async (tmp) => {
    fs.writeFileSync(path.join(tmp, SNAPSHOT_BIN), container);
    fs.writeFileSync(path.join(tmp, SNAPSHOT_JSON), json);
    fs.writeFileSync(path.join(tmp, "curve.csv"), csv);
    t.tokenizer.save(tmp);
  });
  applyDecoded(t, decoded);
  return {
    written: true,
    addedBytes: added,
    usedBytes: used,
    rawBytes: container.length,
    message: `snapshot at step ${t.state.step}: ${mb(container.length)} raw` + (budget ? `, ≈${mb(added)} in git; ${mb(used + added)} of ${mb(budget.bytes)} once committed` : ""),
  };
}

/** Restore weights, moments and progress from a snapshot folder (the trainer must have the same shape). */
export function loadSnapshot(t: Snapshottable, dir: string): void {
  const st = JSON.parse(fs.readFileSync(path.join(dir, SNAPSHOT_JSON), "utf8")) as PretrainState;
  const want = t.state.corpus?.digest;
  if (want !== undefined && st.corpus?.digest !== want) {
    throw new Error(`${dir}: this snapshot was trained on another corpus (digest ${st.corpus?.digest ?? "none"}, now ${want})`);
  }
  if ((st.config.objective ?? "mlm") !== (t.cfg.objective ?? "mlm")) throw new Error(`${dir}: a ${st.config.objective ?? "mlm"} snapshot, this run is ${t.cfg.objective ?? "mlm"}`);
  applyDecoded(t, decodeFile(path.join(dir, SNAPSHOT_BIN), t));
  const stages = st.stages ?? [{ fromStep: 0, plannedSteps: st.config.totalSteps }];
  if (stages[stages.length - 1].plannedSteps !== t.cfg.totalSteps) stages.push({ fromStep: st.step, plannedSteps: t.cfg.totalSteps });
  t.state = { ...st, stages, config: t.cfg };
}

const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(2)} MB`;

function git(cwd: string, args: string[], input?: string): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", input, maxBuffer: 256 * 1024 * 1024, stdio: ["pipe", "pipe", "pipe"] });
}

/** The work tree root holding `p`, or undefined outside git. */
export function gitRoot(p: string): string | undefined {
  let d = path.resolve(p);
  while (!fs.existsSync(d)) d = path.dirname(d);
  try {
    return git(d, ["rev-parse", "--show-toplevel"]).trim();
  } catch {
    return undefined;
  }
}

/**
 * Every distinct blob ever committed under `root` (any branch, any version) and their summed on-disk size
 * (`git cat-file --batch-check=%(objectsize:disk)`: zlib for loose objects, delta size when packed).
 */
export function gitLedger(root: string): { bytes: number; blobs: Set<string>; versions: number } {
  const top = gitRoot(root);
  if (!top) return { bytes: 0, blobs: new Set(), versions: 0 };
  const rel = path.relative(top, path.resolve(root)) || ".";
  let raw: string;
  try {
    raw = git(top, ["log", "--all", "--format=%H", "--raw", "--no-abbrev", "--no-renames", "--", rel]);
  } catch {
    return { bytes: 0, blobs: new Set(), versions: 0 };
  }
  const blobs = new Set<string>();
  const commits = new Set<string>();
  for (const line of raw.split("\n")) {
    if (/^[0-9a-f]{40}$/.test(line)) commits.add(line);
    const m = /^:\d+ \d+ [0-9a-f]+ ([0-9a-f]{40}) /.exec(line);
    if (m && !/^0+$/.test(m[1])) blobs.add(m[1]);
  }
  if (blobs.size === 0) return { bytes: 0, blobs, versions: commits.size };
  const sizes = git(top, ["cat-file", "--batch-check=%(objectsize:disk)"], [...blobs].join("\n") + "\n");
  const bytes = sizes.split("\n").filter(Boolean).reduce((a, l) => a + Number(l), 0);
  return { bytes, blobs, versions: commits.size };
}

/** git's blob id of some bytes. */
function blobId(content: Buffer): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

/** Estimated bytes the files add to git: zlib size of those whose blob is not there yet. */
export function pendingBytes(files: Buffer[], known: Set<string>): number {
  let n = 0;
  for (const f of files) if (!known.has(blobId(f))) n += zlib.deflateSync(Buffer.concat([Buffer.from(`blob ${f.length}\0`), f])).length;
  return n;
}

/**
 * `npm run pretrain:commit` and `--commit`: stage and commit the snapshot folder alone (never anything else),
 * with a message giving step, loss and budget use. Refuses when the budget would be exceeded. Returns the
 * message, or null when the snapshot is unchanged since the last commit.
 */
export function commitSnapshot(dir: string, opts: { root: string; budgetBytes: number; reserve?: number; name?: string }): string | null {
  const top = gitRoot(dir);
  if (!top) throw new Error(`${dir}: not inside a git work tree`);
  const rel = path.relative(top, path.resolve(dir));
  const st = JSON.parse(fs.readFileSync(path.join(dir, SNAPSHOT_JSON), "utf8")) as PretrainState;
  const files = fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f)));
  const ledger = gitLedger(opts.root);
  const added = pendingBytes(files, ledger.blobs);
  if (added === 0) return null;
  const total = ledger.bytes + added;
  if (total + (opts.reserve ?? 0) > opts.budgetBytes) {
    throw new Error(`pretrain:commit refused: ${mb(ledger.bytes)} committed + ${mb(added)} + ${mb(opts.reserve ?? 0)} kept for the export > budget ${mb(opts.budgetBytes)}`);
  }
  const last = st.curve[st.curve.length - 1];
  const loss = last ? (last.discLoss !== undefined ? `gen MLM loss ${last.loss.toFixed(3)}, disc loss ${last.discLoss.toFixed(4)} (acc ${(100 * (last.discAccuracy ?? 0)).toFixed(1)}%)` : `MLM loss ${last.loss.toFixed(3)} (acc ${(100 * last.accuracy).toFixed(1)}%)`) : "no curve yet";
  const msg =
    `pretrain ${opts.name ?? path.basename(path.dirname(path.resolve(dir)))}: snapshot at step ${st.step}/${st.config.totalSteps}, ${loss}, ` +
    `${(st.seconds / 3600).toFixed(2)} h trained; git bytes under ${path.relative(top, path.resolve(opts.root))}: ${mb(total)} of ${mb(opts.budgetBytes)} (this version ≈${mb(added)})`;
  git(top, ["add", "--", rel]);
  git(top, ["commit", "-q", "-m", msg, "--", rel]);
  return msg;
}

/** Room kept in the budget for the final export: float16 of the exported (non-generator) weights + 512 KiB for config, curve, README. */
export function exportReserveBytes(dir: string): number {
  const buf = fs.readFileSync(path.join(dir, SNAPSHOT_BIN));
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<string, { dtype?: string; data_offsets?: [number, number] }>;
  let bytes = 0;
  for (const [k, h] of Object.entries(header)) if (k.startsWith("w.") && !k.startsWith("w.generator.") && h.data_offsets) bytes += h.data_offsets[1] - h.data_offsets[0];
  return bytes + 512 * 1024;
}
