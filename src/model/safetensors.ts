// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}, padded
// with spaces to a multiple of 8, then the raw little-endian tensor bytes.
import { closeSync, openSync, readSync, writeSync, fstatSync } from "node:fs";
import type { Dtype, Tensor } from "./weights.js";

export const DTYPE_BYTES: Record<Dtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I8: 1, U8: 1 };

/** A tensor as stored: its dtype, shape and raw little-endian bytes. */
export interface RawTensor {
  dtype: Dtype;
  shape: number[];
  bytes: Uint8Array;
}

/** A float32 tensor (written as F32, or converted to `dtype` F16/BF16), or raw bytes of any dtype. */
export type SafetensorsEntry = (Tensor & { dtype?: "F32" | "F16" | "BF16" }) | RawTensor;

function isRaw(entry: SafetensorsEntry): entry is RawTensor {
  return (entry as RawTensor).bytes !== undefined;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE binary16 bits of a float, rounded to nearest even (overflow → ±inf, NaN kept). */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // may carry into the exponent: still correct
  return sign | half;
}

export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 bits of a float, rounded to nearest even. */
export function float32ToBfloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bfloat16BitsToFloat32(bits: number): number {
  u32[0] = bits << 16;
  return f32[0]!;
}

/** Encodes a float32 array as F32, F16 or BF16 little-endian bytes. */
export function encodeFloats(data: Float32Array, dtype: "F32" | "F16" | "BF16"): Uint8Array {
  if (dtype === "F32") {
    // Float32Array is little-endian on every platform Node supports; copy to own the buffer.
    return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  }
  const out = new Uint16Array(data.length);
  const convert = dtype === "F16" ? float32ToFloat16Bits : float32ToBfloat16Bits;
  for (let i = 0; i < data.length; i++) out[i] = convert(data[i]!);
  return new Uint8Array(out.buffer);
}

/** Decodes F32/F16/BF16/F64 bytes to float32 (integer dtypes are converted by value). */
export function decodeToFloat32(tensor: RawTensor): Float32Array {
  const { bytes, dtype } = tensor;
  const count = bytes.byteLength / DTYPE_BYTES[dtype];
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const view = (Ctor: any) => new Ctor(aligned.buffer, aligned.byteOffset, count);
  switch (dtype) {
    case "F32":
      return new Float32Array(view(Float32Array));
    case "F64":
      return Float32Array.from(view(Float64Array) as Float64Array);
    case "F16": {
      const halves = view(Uint16Array) as Uint16Array;
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = float16BitsToFloat32(halves[i]!);
      return out;
    }
    case "BF16": {
      const halves = view(Uint16Array) as Uint16Array;
      const out = new Float32Array(count);
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = halves[i]! << 16;
      return out;
    }
    case "I8":
      return Float32Array.from(view(Int8Array) as Int8Array);
    case "U8":
      return Float32Array.from(view(Uint8Array) as Uint8Array);
    case "I32":
      return Float32Array.from(view(Int32Array) as Int32Array);
    case "I64":
      return Float32Array.from(view(BigInt64Array) as BigInt64Array, (v) => Number(v));
  }
}

/** Writes tensors (in the Map's order) and optional string metadata to a .safetensors file. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, SafetensorsEntry>,
  metadata?: Record<string, string>,
): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, entry] of tensors) {
    const raw: RawTensor = isRaw(entry)
      ? entry
      : { dtype: entry.dtype ?? "F32", shape: entry.shape, bytes: encodeFloats(entry.data, entry.dtype ?? "F32") };
    const expected = raw.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[raw.dtype];
    if (raw.bytes.byteLength !== expected)
      throw new Error(
        `safetensors: ${name} has ${raw.bytes.byteLength} bytes, shape [${raw.shape}] of ${raw.dtype} needs ${expected}`,
      );
    header[name] = { dtype: raw.dtype, shape: raw.shape, data_offsets: [offset, offset + expected] };
    blobs.push(raw.bytes);
    offset += expected;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  const fd = openSync(path, "w");
  try {
    writeSync(fd, length);
    writeSync(fd, headerBytes);
    for (const blob of blobs) writeSync(fd, blob);
  } finally {
    closeSync(fd);
  }
}

export interface SafetensorsFile {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

/** Reads a whole .safetensors file. Tensor bytes are views into one buffer, 8-byte aligned where the file is. */
export function readSafetensors(path: string): SafetensorsFile {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const lengthBytes = Buffer.alloc(8);
    readSync(fd, lengthBytes, 0, 8, 0);
    const headerLength = Number(lengthBytes.readBigUInt64LE());
    if (headerLength + 8 > size)
      throw new Error(`${path}: not a safetensors file (header length ${headerLength} exceeds the file size ${size})`);
    const headerBytes = Buffer.alloc(headerLength);
    readSync(fd, headerBytes, 0, headerLength, 8);
    const header = JSON.parse(headerBytes.toString("utf8")) as Record<string, any>;
    const dataStart = 8 + headerLength;
    const data = new Uint8Array(size - dataStart);
    for (let read = 0; read < data.byteLength;) {
      const n = readSync(fd, data, read, data.byteLength - read, dataStart + read);
      if (n === 0) break;
      read += n;
    }
    const tensors = new Map<string, RawTensor>();
    for (const [name, info] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const [begin, end] = info.data_offsets as [number, number];
      if (!(info.dtype in DTYPE_BYTES)) throw new Error(`${path}: tensor ${name} has unsupported dtype ${info.dtype}`);
      tensors.set(name, {
        dtype: info.dtype as Dtype,
        shape: info.shape as number[],
        bytes: data.subarray(begin, end),
      });
    }
    return { tensors, metadata: (header.__metadata__ as Record<string, string>) ?? {} };
  } finally {
    closeSync(fd);
  }
}
