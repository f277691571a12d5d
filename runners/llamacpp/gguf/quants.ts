// The project's own ggml quantisers and dequantisers (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K) over rows of a
// row-major float32 matrix. Block layouts follow ggml-common.h; Q8_0 and Q4_0 follow ggml's reference quantisers
// exactly; Q4_K and Q6_K use a direct min/max (absmax) fit per sub-block instead of ggml's iterative scale search,
// so their bytes are valid blocks but not byte-identical to llama-quantize's. Dequantisation is float32 arithmetic
// in ggml's order (each product and difference rounded to float32), which is what makes it bit-exact.
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from "../../../src/model/safetensors.js";
import { GGML_TYPES, rowBytes, type GgmlType } from "./ggml-types.js";

const f = Math.fround;
const QK_K = 256;

/** Round half away from zero, as C's roundf. */
function roundf(x: number): number {
  return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
}

/** Round half to even (ggml's nearest_int). */
function nearestInt(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function half(value: number): number {
  return float32ToFloat16Bits(value);
}

function halfValue(bytes: Uint8Array, offset: number): number {
  return float16BitsToFloat32(bytes[offset]! | (bytes[offset + 1]! << 8));
}

function putHalf(bytes: Uint8Array, offset: number, bits: number): void {
  bytes[offset] = bits & 0xff;
  bytes[offset + 1] = bits >>> 8;
}

/** Encodes `values` (a whole number of rows of `rowLength`) as `type`. */
export function quantize(type: GgmlType, values: Float32Array, rowLength: number): Uint8Array {
  const rows = values.length / rowLength;
  if (!Number.isInteger(rows)) throw new Error(`${values.length} values are not whole rows of ${rowLength}`);
  const out = new Uint8Array(rows * rowBytes(type, rowLength));
  const blocks = values.length / GGML_TYPES[type].blockElements;
  const { blockBytes, blockElements } = GGML_TYPES[type];
  switch (type) {
    case "F32":
      new Uint8Array(out.buffer).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      return out;
    case "F16":
    case "BF16": {
      const toBits = type === "F16" ? float32ToFloat16Bits : float32ToBfloat16Bits;
      for (let i = 0; i < values.length; i++) putHalf(out, 2 * i, toBits(values[i]!));
      return out;
    }
  }
  const encode = { Q8_0: encodeQ8_0, Q4_0: encodeQ4_0, Q4_K: encodeQ4_K, Q6_K: encodeQ6_K }[type];
  for (let b = 0; b < blocks; b++)
    encode(values.subarray(b * blockElements, (b + 1) * blockElements), out.subarray(b * blockBytes));
  return out;
}

/** Decodes `count` values of `type` from `bytes` into float32. */
export function dequantize(type: GgmlType, bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const { blockBytes, blockElements } = GGML_TYPES[type];
  if (count % blockElements !== 0) throw new Error(`${count} values are not whole ${type} blocks`);
  const blocks = count / blockElements;
  if (bytes.length < blocks * blockBytes)
    throw new Error(`${type}: ${bytes.length} bytes hold fewer than ${count} values`);
  switch (type) {
    case "F32":
      new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
      return out;
    case "F16":
    case "BF16": {
      const fromBits = type === "F16" ? float16BitsToFloat32 : bfloat16BitsToFloat32;
      for (let i = 0; i < count; i++) out[i] = fromBits(bytes[2 * i]! | (bytes[2 * i + 1]! << 8));
      return out;
    }
  }
  const decode = { Q8_0: decodeQ8_0, Q4_0: decodeQ4_0, Q4_K: decodeQ4_K, Q6_K: decodeQ6_K }[type];
  for (let b = 0; b < blocks; b++)
    decode(bytes.subarray(b * blockBytes, (b + 1) * blockBytes), out.subarray(b * blockElements));
  return out;
}

// Q8_0: d = absmax/127, q = roundf(x/d) (ggml's quantize_row_q8_0_ref).
function encodeQ8_0(x: Float32Array, out: Uint8Array): void {
  let amax = 0;
  for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[i]!));
  const d = f(amax / 127);
  const id = d ? f(1 / d) : 0;
  putHalf(out, 0, half(d));
  for (let i = 0; i < 32; i++) out[2 + i] = roundf(f(x[i]! * id)) & 0xff;
}

function decodeQ8_0(b: Uint8Array, y: Float32Array): void {
  const d = halfValue(b, 0);
  for (let i = 0; i < 32; i++) y[i] = f(((b[2 + i]! << 24) >> 24) * d);
}

// Q4_0: d = (value of largest magnitude)/−8, q = min(15, trunc(x/d + 8.5)); element j in the low nibble of byte j,
// element j+16 in its high nibble (ggml's quantize_row_q4_0_ref).
function encodeQ4_0(x: Float32Array, out: Uint8Array): void {
  let amax = 0;
  let max = 0;
  for (let i = 0; i < 32; i++)
    if (amax < Math.abs(x[i]!)) {
      amax = Math.abs(x[i]!);
      max = x[i]!;
    }
  const d = f(max / -8);
  const id = d ? f(1 / d) : 0;
  putHalf(out, 0, half(d));
  for (let j = 0; j < 16; j++) {
    const q0 = Math.min(15, Math.trunc(f(f(x[j]! * id) + 8.5)));
    const q1 = Math.min(15, Math.trunc(f(f(x[j + 16]! * id) + 8.5)));
    out[2 + j] = q0 | (q1 << 4);
  }
}

function decodeQ4_0(b: Uint8Array, y: Float32Array): void {
  const d = halfValue(b, 0);
  for (let j = 0; j < 16; j++) {
    y[j] = f(((b[2 + j]! & 0xf) - 8) * d);
    y[j + 16] = f(((b[2 + j]! >> 4) - 8) * d);
  }
}

// Q4_K: 8 sub-blocks of 32, x ≈ d·sc_j·q − dmin·m_j with q ∈ [0, 15] and 6-bit sc_j, m_j. Each sub-block's scale
// is (max − min)/15 and its min −min (min clamped to ≤ 0, as ggml does), quantised to 6 bits against the super-block's d, dmin.
function encodeQ4_K(x: Float32Array, out: Uint8Array): void {
  const scales = new Float64Array(8);
  const mins = new Float64Array(8);
  for (let j = 0; j < 8; j++) {
    let lo = 0;
    let hi = -Infinity;
    for (let l = 0; l < 32; l++) {
      lo = Math.min(lo, x[32 * j + l]!);
      hi = Math.max(hi, x[32 * j + l]!);
    }
    scales[j] = Math.max(0, (hi - lo) / 15);
    mins[j] = -lo;
  }
  const maxScale = Math.max(...scales);
  const maxMin = Math.max(...mins);
  const inverseScale = maxScale > 0 ? 63 / maxScale : 0;
  const inverseMin = maxMin > 0 ? 63 / maxMin : 0;
  const ls = scales.map((s) => Math.min(63, nearestInt(inverseScale * s)));
  const lm = mins.map((m) => Math.min(63, nearestInt(inverseMin * m)));
  const dBits = half(f(maxScale / 63));
  const dminBits = half(f(maxMin / 63));
  putHalf(out, 0, dBits);
  putHalf(out, 2, dminBits);
  const sc = out.subarray(4, 16);
  sc.fill(0);
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      sc[j] = ls[j]!;
      sc[j + 4] = lm[j]!;
    } else {
      sc[j + 4] = (ls[j]! & 0xf) | ((lm[j]! & 0xf) << 4);
      sc[j - 4] |= (ls[j]! >> 4) << 6;
      sc[j] |= (lm[j]! >> 4) << 6;
    }
  }
  const d = float16BitsToFloat32(dBits);
  const dmin = float16BitsToFloat32(dminBits);
  const levels = new Uint8Array(QK_K);
  for (let j = 0; j < 8; j++) {
    const dq = f(d * ls[j]!);
    const dm = f(dmin * lm[j]!);
    for (let l = 0; l < 32; l++)
      levels[32 * j + l] = dq ? Math.max(0, Math.min(15, nearestInt((x[32 * j + l]! + dm) / dq))) : 0;
  }
  const qs = out.subarray(16, 144);
  for (let j = 0; j < QK_K; j += 64)
    for (let l = 0; l < 32; l++) qs[j / 2 + l] = levels[j + l]! | (levels[j + l + 32]! << 4);
}

/** The 6-bit scale and min of sub-block j of a Q4_K block (ggml's get_scale_min_k4). */
function scaleMinK4(j: number, q: Uint8Array): [number, number] {
  if (j < 4) return [q[j]! & 63, q[j + 4]! & 63];
  return [(q[j + 4]! & 0xf) | ((q[j - 4]! >> 6) << 4), (q[j + 4]! >> 4) | ((q[j]! >> 6) << 4)];
}

function decodeQ4_K(b: Uint8Array, y: Float32Array): void {
  const d = halfValue(b, 0);
  const dmin = halfValue(b, 2);
  const sc = b.subarray(4, 16);
  const qs = b.subarray(16, 144);
  for (let j = 0; j < 8; j++) {
    const [s, m] = scaleMinK4(j, sc);
    const dq = f(d * s);
    const dm = f(dmin * m);
    const chunk = (j >> 1) * 32;
    const shift = (j & 1) * 4;
    for (let l = 0; l < 32; l++) y[32 * j + l] = f(f(dq * ((qs[chunk + l]! >> shift) & 0xf)) - dm);
  }
}

// Q6_K: 16 sub-blocks of 16, x ≈ d·sc_j·(q − 32) with q ∈ [0, 63] and int8 sc_j. Each sub-block's scale is its
// value of largest magnitude / −32 (ggml's make_qx_quants starting point), quantised to int8 against d = max/−128.
function encodeQ6_K(x: Float32Array, out: Uint8Array): void {
  const scales = new Float64Array(16);
  let maxScale = 0;
  for (let j = 0; j < 16; j++) {
    let amax = 0;
    let max = 0;
    for (let l = 0; l < 16; l++)
      if (amax < Math.abs(x[16 * j + l]!)) {
        amax = Math.abs(x[16 * j + l]!);
        max = x[16 * j + l]!;
      }
    scales[j] = max / -32;
    if (Math.abs(scales[j]!) > Math.abs(maxScale)) maxScale = scales[j]!;
  }
  const ql = out.subarray(0, 128);
  const qh = out.subarray(128, 192);
  const sc = out.subarray(192, 208);
  ql.fill(0);
  qh.fill(0);
  const levels = new Uint8Array(QK_K).fill(32);
  if (maxScale === 0) {
    sc.fill(0);
    putHalf(out, 208, 0);
  } else {
    const iscale = -128 / maxScale;
    const dBits = half(f(1 / iscale));
    putHalf(out, 208, dBits);
    const d = float16BitsToFloat32(dBits);
    for (let j = 0; j < 16; j++) {
      const ls = Math.max(-128, Math.min(127, nearestInt(iscale * scales[j]!)));
      sc[j] = ls & 0xff;
      const dq = f(d * ls);
      if (!dq) continue;
      for (let l = 0; l < 16; l++)
        levels[16 * j + l] = Math.max(-32, Math.min(31, nearestInt(x[16 * j + l]! / dq))) + 32;
    }
  }
  for (let n = 0; n < QK_K; n += 128)
    for (let l = 0; l < 32; l++) {
      const [a, b, c, e] = [levels[n + l]!, levels[n + l + 32]!, levels[n + l + 64]!, levels[n + l + 96]!];
      ql[n / 2 + l] = (a & 0xf) | ((c & 0xf) << 4);
      ql[n / 2 + l + 32] = (b & 0xf) | ((e & 0xf) << 4);
      qh[n / 4 + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
    }
}

function decodeQ6_K(b: Uint8Array, y: Float32Array): void {
  const d = halfValue(b, 208);
  for (let n = 0; n < QK_K; n += 128) {
    const ql = b.subarray(n / 2, n / 2 + 64);
    const qh = b.subarray(128 + n / 4, 128 + n / 4 + 32);
    for (let l = 0; l < 32; l++) {
      const q = [
        ((ql[l]! & 0xf) | ((qh[l]! & 3) << 4)) - 32,
        ((ql[l + 32]! & 0xf) | (((qh[l]! >> 2) & 3) << 4)) - 32,
        ((ql[l]! >> 4) | (((qh[l]! >> 4) & 3) << 4)) - 32,
        ((ql[l + 32]! >> 4) | (((qh[l]! >> 6) & 3) << 4)) - 32,
      ];
      for (let k = 0; k < 4; k++) {
        const index = n + l + 32 * k;
        const scale = (b[192 + (index >> 4)]! << 24) >> 24;
        y[index] = f(f(d * scale) * q[k]!);
      }
    }
  }
}
