/**
 * Lossy compact codes for the committed pre-training snapshot (snapshot.ts): weights as IEEE float16, AdamW
 * moments as 8-bit log-scale codes per block of 256 values with one float32 scale (the block's absolute maximum),
 * in the spirit of bitsandbytes' blockwise 8-bit optimizer states (Dettmers et al. 2022) but with a plain
 * logarithmic code book, so that the wide dynamic range of the moments survives:
 *
 *   first moment m (signed): sign bit + 7-bit magnitude c, |m| = scale · 2^(−(127 − c)/8) (c ≥ 1), 0 for c = 0:
 *     8 codes per octave (±4.4% relative error), 15.9 octaves below the block maximum, nearest code in log space;
 *   second moment v (≥ 0): the code stores u = √v, u = scale · 2^(−(255 − c)/16) (c ≥ 1), 0 for c = 0:
 *     16 codes per octave of √v (±2.2%), 15.9 octaves, and ROUNDED UP: a decoded v is never smaller than the
 *     true one (a nonzero v never decodes to 0), so no update after a round trip is larger than it would have been.
 *
 * Encoding and decoding are table look-ups and comparisons on float32 values (no Math.log), so they are exact
 * and identical on every machine: the live trainer applies decode(encode(x)) to its own state at every snapshot
 * and a run resumed from the snapshot holds the very same bits.
 */
import { decodeFloat32, float32ToF16Bits } from "../model/weights/source";

export const QUANT_BLOCK = 256;

/** code book of |m| / scale: index c (1..127) → 2^(−(127 − c)/8); index 0 → 0 */
const M_TABLE = (() => {
  const t = new Float32Array(128);
  for (let c = 1; c < 128; c++) t[c] = Math.fround(2 ** (-(127 - c) / 8));
  return t;
})();
/** code book of √v / scale: c (1..255) → 2^(−(255 − c)/16); 0 → 0 */
const U_TABLE = (() => {
  const t = new Float32Array(256);
  for (let c = 1; c < 256; c++) t[c] = Math.fround(2 ** (-(255 - c) / 16));
  return t;
})();
/** geometric midpoints between neighbouring m codes (|m|/scale below M_MID[c] rounds to c − 1) */
const M_MID = (() => {
  const t = new Float32Array(128);
  t[1] = Math.fround(M_TABLE[1] / Math.SQRT2); // below half an octave under the smallest code: 0
  for (let c = 2; c < 128; c++) t[c] = Math.fround(Math.sqrt(M_TABLE[c - 1] * M_TABLE[c]));
  return t;
})();

/** The largest c with table[c] ≤ x among [lo, hi] (binary search on an increasing table). */
function floorIndex(table: Float32Array, x: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (table[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export interface Quantized {
  codes: Uint8Array;
  /** one per block of QUANT_BLOCK values */
  scales: Float32Array;
}

function blockScales(x: Float32Array, f: (v: number) => number): Float32Array {
  const n = Math.ceil(x.length / QUANT_BLOCK);
  const s = new Float32Array(n);
  for (let b = 0; b < n; b++) {
    let mx = 0;
    const end = Math.min(x.length, (b + 1) * QUANT_BLOCK);
    for (let i = b * QUANT_BLOCK; i < end; i++) mx = Math.max(mx, f(x[i]));
    s[b] = mx;
  }
  return s;
}

/** First moment: signed log code, nearest in log space. */
export function encodeSigned(x: Float32Array): Quantized {
  const scales = blockScales(x, Math.abs);
  const codes = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const s = scales[(i / QUANT_BLOCK) | 0];
    if (s === 0 || x[i] === 0) continue;
    const r = Math.fround(Math.abs(x[i]) / s);
    const c = floorIndex(M_MID, r, 0, 127); // M_MID[0] = 0 ≤ r always
    codes[i] = c === 0 ? 0 : (x[i] < 0 ? 0x80 : 0) | c;
  }
  return { codes, scales };
}

export function decodeSigned(q: Quantized): Float32Array {
  const out = new Float32Array(q.codes.length);
  for (let i = 0; i < out.length; i++) {
    const c = q.codes[i];
    const mag = Math.fround(M_TABLE[c & 0x7f] * q.scales[(i / QUANT_BLOCK) | 0]);
    out[i] = c & 0x80 ? -mag : mag;
  }
  return out;
}

/** Second moment (v ≥ 0): code of √v rounded up (never decodes smaller than v; nonzero stays nonzero). */
export function encodeSecondMoment(v: Float32Array): Quantized {
  const u = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) u[i] = Math.sqrt(Math.max(0, v[i]));
  const scales = blockScales(u, (a) => a);
  const codes = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const s = scales[(i / QUANT_BLOCK) | 0];
    if (!(v[i] > 0) || s === 0) continue;
    let c = Math.max(1, floorIndex(U_TABLE, Math.fround(u[i] / s), 0, 255));
    // round up: the smallest code whose decoded v is ≥ the stored v
    while (c < 255 && sq(Math.fround(U_TABLE[c] * s)) < v[i]) c++;
    codes[i] = c;
  }
  return { codes, scales };
}

function sq(a: number): number {
  return Math.fround(a * a);
}

export function decodeSecondMoment(q: Quantized): Float32Array {
  const out = new Float32Array(q.codes.length);
  for (let i = 0; i < out.length; i++) out[i] = sq(Math.fround(U_TABLE[q.codes[i]] * q.scales[(i / QUANT_BLOCK) | 0]));
  return out;
}

/** float32 → IEEE half bits (round to nearest even), and back. */
export function toF16(x: Float32Array): Uint16Array {
  const h = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) h[i] = float32ToF16Bits(x[i]);
  return h;
}

export function fromF16(h: Uint16Array): Float32Array {
  return decodeFloat32(Buffer.from(h.buffer, h.byteOffset, h.byteLength), "F16", "snapshot", "f16");
}
