// Weight quantisation math shared by the int4/int8/fp16 techniques, the ONNX emitter and the float64
// reference (which runs on the dequantised weights, i.e. exactly what the stored integers mean).
import {
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  bfloat16BitsToFloat32,
  type RawTensor,
} from "./safetensors.js";
import type { Tensor } from "./weights.js";

export interface Int4Quantized {
  /** [out, blocks, blockSize/2] uint8, two values per byte: element 2j in the low nibble, 2j+1 in the high one (MatMulNBits' layout). */
  packed: RawTensor;
  /** [out · blocks] float32. */
  scales: Tensor;
  /** [out · ⌈blocks/2⌉] uint8, two 4-bit zero points per byte (asymmetric only). */
  zeroPoints?: RawTensor;
  blocks: number;
}

/**
 * Block-wise 4-bit quantisation of W [out, in] along `in` (the layout com.microsoft MatMulNBits reads).
 * Symmetric: scale = absmax/7, q = round(w/scale) + 8 ∈ [1, 15] (zero point 8, MatMulNBits' default).
 * Asymmetric: scale = (max − min)/15, zero point = round(−min/scale), q = round(w/scale) + zp ∈ [0, 15].
 * `in` is zero-padded to whole blocks.
 */
export function quantizeInt4(weight: Tensor, blockSize: number, symmetric: boolean): Int4Quantized {
  const [rows, cols] = weight.shape as [number, number];
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0)
    throw new Error(`int4 block size must be a power of two ≥ 16, got ${blockSize}`);
  const blocks = Math.ceil(cols / blockSize);
  const blobBytes = blockSize / 2;
  const packed = new Uint8Array(rows * blocks * blobBytes);
  const scales = new Float32Array(rows * blocks);
  const zeroBytes = Math.ceil(blocks / 2);
  const zeroPoints = symmetric ? undefined : new Uint8Array(rows * zeroBytes);
  const q = new Uint8Array(blockSize);
  for (let r = 0; r < rows; r++)
    for (let b = 0; b < blocks; b++) {
      const start = b * blockSize;
      const end = Math.min(cols, start + blockSize);
      let min = 0;
      let max = 0;
      for (let c = start; c < end; c++) {
        const w = weight.data[r * cols + c]!;
        if (w < min) min = w;
        if (w > max) max = w;
      }
      let scale: number;
      let zero: number;
      if (symmetric) {
        scale = Math.max(-min, max) / 7;
        zero = 8;
      } else {
        scale = (max - min) / 15;
        zero = scale === 0 ? 8 : Math.min(15, Math.max(0, Math.round(-min / scale)));
      }
      scale = Math.fround(scale);
      const inverse = scale === 0 ? 0 : 1 / scale;
      q.fill(zero);
      for (let c = start; c < end; c++)
        q[c - start] = Math.min(15, Math.max(0, Math.round(weight.data[r * cols + c]! * inverse) + zero));
      const offset = (r * blocks + b) * blobBytes;
      for (let j = 0; j < blobBytes; j++) packed[offset + j] = q[2 * j]! | (q[2 * j + 1]! << 4);
      scales[r * blocks + b] = scale;
      if (zeroPoints) zeroPoints[r * zeroBytes + (b >> 1)]! |= zero << ((b & 1) * 4);
    }
  return {
    packed: { dtype: "U8", shape: [rows, blocks, blobBytes], bytes: packed },
    scales: { shape: [rows * blocks], data: scales },
    zeroPoints: zeroPoints ? { dtype: "U8", shape: [rows * zeroBytes], bytes: zeroPoints } : undefined,
    blocks,
  };
}

/** W [out, in] that the int4 tensors stand for: (q − zp) · scale. */
export function dequantizeInt4(
  quantized: Pick<Int4Quantized, "packed" | "scales" | "zeroPoints">,
  inFeatures: number,
  blockSize: number,
): Tensor {
  const [rows, blocks, blobBytes] = quantized.packed.shape as [number, number, number];
  const zeroBytes = Math.ceil(blocks / 2);
  const data = new Float32Array(rows * inFeatures);
  for (let r = 0; r < rows; r++)
    for (let b = 0; b < blocks; b++) {
      const scale = quantized.scales.data[r * blocks + b]!;
      const zero = quantized.zeroPoints
        ? (quantized.zeroPoints.bytes[r * zeroBytes + (b >> 1)]! >> ((b & 1) * 4)) & 0xf
        : 8;
      for (let j = 0; j < blobBytes; j++) {
        const byte = quantized.packed.bytes[(r * blocks + b) * blobBytes + j]!;
        for (const [k, nibble] of [
          [2 * j, byte & 0xf],
          [2 * j + 1, byte >> 4],
        ] as const) {
          const c = b * blockSize + k;
          if (c < inFeatures) data[r * inFeatures + c] = (nibble - zero) * scale;
        }
      }
    }
  return { shape: [rows, inFeatures], data };
}

export interface Int8Quantized {
  /** [in, out] int8 (MatMulInteger's B layout), symmetric, zero point 0. */
  weight: RawTensor;
  /** [out] float32 per-output-channel scales. */
  scales: Tensor;
}

/**
 * Per-output-channel symmetric int8 of W [out, in], stored [in, out] for MatMulInteger.
 * `reduceRange` keeps weights in [−63, 63] (7 bits): x86 CPUs without VNNI multiply u8 activations by s8
 * weights with vpmaddubsw, whose int16 sums of two products saturate at 32767 (255·127·2 = 64770 does;
 * 255·63·2 = 32130 does not) — ORT's quantiser offers the same `reduce_range` for this reason.
 */
export function quantizeInt8(weight: Tensor, reduceRange: boolean): Int8Quantized {
  const [rows, cols] = weight.shape as [number, number];
  const qmax = reduceRange ? 63 : 127;
  const out = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let absmax = 0;
    for (let c = 0; c < cols; c++) absmax = Math.max(absmax, Math.abs(weight.data[r * cols + c]!));
    const scale = Math.fround(absmax / qmax);
    scales[r] = scale;
    const inverse = scale === 0 ? 0 : 1 / scale;
    for (let c = 0; c < cols; c++)
      out[c * rows + r] = Math.max(-qmax, Math.min(qmax, Math.round(weight.data[r * cols + c]! * inverse)));
  }
  return {
    weight: { dtype: "I8", shape: [cols, rows], bytes: new Uint8Array(out.buffer) },
    scales: { shape: [rows], data: scales },
  };
}

/** W [out, in] that int8 tensors stand for. */
export function dequantizeInt8(quantized: Int8Quantized): Tensor {
  const [cols, rows] = quantized.weight.shape as [number, number];
  const q = new Int8Array(quantized.weight.bytes.buffer, quantized.weight.bytes.byteOffset, rows * cols);
  const data = new Float32Array(rows * cols);
  for (let c = 0; c < cols; c++)
    for (let r = 0; r < rows; r++) data[r * cols + c] = q[c * rows + r]! * quantized.scales.data[r]!;
  return { shape: [rows, cols], data };
}

/** A float32 tensor rounded to fp16 or bf16 (raw bytes, same shape). */
export function toHalf(tensor: Tensor, dtype: "F16" | "BF16"): RawTensor {
  const convert = dtype === "F16" ? float32ToFloat16Bits : float32ToBfloat16Bits;
  const out = new Uint16Array(tensor.data.length);
  for (let i = 0; i < out.length; i++) out[i] = convert(tensor.data[i]!);
  return { dtype, shape: tensor.shape, bytes: new Uint8Array(out.buffer) };
}

export function fromHalf(raw: RawTensor): Tensor {
  const halves = new Uint16Array(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength / 2);
  const convert = raw.dtype === "F16" ? float16BitsToFloat32 : bfloat16BitsToFloat32;
  return { shape: raw.shape, data: Float32Array.from(halves, convert) };
}

/** Bytes of an int4 linear as stored: packed weights, fp32 scales, packed zero points. */
export function int4Bytes(outFeatures: number, inFeatures: number, blockSize: number, symmetric: boolean): number {
  const blocks = Math.ceil(inFeatures / blockSize);
  return (
    outFeatures * blocks * (blockSize / 2) +
    outFeatures * blocks * 4 +
    (symmetric ? 0 : outFeatures * Math.ceil(blocks / 2))
  );
}

/** Bytes of an int8 linear as stored: int8 weights and fp32 per-channel scales. */
export function int8Bytes(outFeatures: number, inFeatures: number): number {
  return outFeatures * inFeatures + outFeatures * 4;
}
