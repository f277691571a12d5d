// Unmerged DoRA over a block-wise int4 base, for ORT (docs/quantized-stacks.md). As peft runs DoRA over a quantised layer:
//   y = (m / ‖Ŵ + s·B·A‖_row) ⊙ (int4_matmul(x) + s·(x·Aᵀ)·Bᵀ) + b,   Ŵ = (q − zero point) · scale
// The matmul on activations stays MatMulNBits (the fast int4 path); the column norm needs the dequantised
// weight Ŵ, which is rebuilt from the very bytes MatMulNBits reads (the packed nibbles, scales and zero points
// are shared initialisers, nothing is stored twice) on every forward with opset-17 ops:
//   high nibble = packed >> 4, low nibble = (packed << 4) >> 4 (uint8 BitShift truncates), interleaved
//   low-first (MatMulNBits' layout), Cast to float, minus the zero point (8 when symmetric), times the scale.
// ORT constant-folds anything derived from initialisers alone, which here would store Ŵ (or B·A) as an fp32
// initialiser — four times the int4 bytes — and precompute the norm. So each weights-only chain starts from a
// run-time value: the shift amount 4 is the run-time 1 of LinearEmitter.runtimeOne() times 4, and the adapter
// factors are multiplied by that run-time 1 before B·A (as the fp32 DoRA path does).
import type { DoraLinear, Int4Linear } from "../../../src/model/ir.js";
import { ELEMENT_TYPE } from "./onnx-graph.js";
import type { LinearEmitter } from "./onnx.js";

/** Emits unmerged DoRA over an int4 base; returns y [..., out]. */
export function emitDoraInt4(emitter: LinearEmitter, linear: DoraLinear & { base: Int4Linear }, x: string): string {
  const g = emitter.g;
  const base = linear.base;
  const { outFeatures: out, inFeatures: inFeatures } = linear;
  const blocks = Math.ceil(inFeatures / base.blockSize);
  const one = emitter.runtimeOne();
  const four = g.op("Cast", [g.op("Mul", [one, g.scalar(4)])], { to: ELEMENT_TYPE.uint8 }); // a run-time uint8 4

  /** [n, m] packed bytes → [n, 2m] float nibbles, low nibble first. */
  const unpack = (packed: string, rows: number, bytesPerRow: number): string => {
    const high = g.op("BitShift", [packed, four], { direction: "RIGHT" });
    const low = g.op("BitShift", [g.op("BitShift", [packed, four], { direction: "LEFT" }), four], {
      direction: "RIGHT",
    });
    const axis = g.int64([-1]);
    const pairs = g.op("Concat", [g.op("Unsqueeze", [low, axis]), g.op("Unsqueeze", [high, axis])], { axis: -1 });
    return g.op("Cast", [g.op("Reshape", [pairs, g.int64([rows, 2 * bytesPerRow])])], { to: ELEMENT_TYPE.float32 });
  };

  const blobBytes = base.blockSize / 2;
  const packedWeight = emitter.tensor(base.packedWeight); // [out, blocks, blockSize/2] uint8, shared with MatMulNBits
  const quantized = g.op("Reshape", [
    unpack(packedWeight, out * blocks, blobBytes),
    g.int64([out, blocks, base.blockSize]),
  ]);
  let zero: string;
  if (base.zeroPoints) {
    const zeroBytes = Math.ceil(blocks / 2);
    const zeros = unpack(g.op("Reshape", [emitter.tensor(base.zeroPoints), g.int64([out, zeroBytes])]), out, zeroBytes); // [out, 2·⌈blocks/2⌉]
    const used = g.op("Slice", [zeros, g.int64([0]), g.int64([blocks]), g.int64([1])]);
    zero = g.op("Unsqueeze", [used, g.int64([-1])]); // [out, blocks, 1]
  } else zero = g.scalar(8);
  const scales = g.op("Reshape", [emitter.tensor(base.scales), g.int64([out, blocks, 1])]);
  let weight = g.op("Reshape", [
    g.op("Mul", [g.op("Sub", [quantized, zero]), scales]),
    g.int64([out, blocks * base.blockSize]),
  ]);
  if (blocks * base.blockSize !== inFeatures)
    weight = g.op("Slice", [weight, g.int64([0]), g.int64([inFeatures]), g.int64([1])]); // drop the padding

  // ‖Ŵ + s·B·A‖ per output row, with B and A transposed back at run time from the [in, r] / [r, out]
  // initialisers the activation path reads (tiny transposes; no second copy of the adapter in the file).
  const loraAT = emitter.transposedWeight(linear.loraA); // [in, r]
  const loraBT = emitter.transposedWeight(linear.loraB); // [r, out]
  const loraB = g.op("Transpose", [g.op("Mul", [loraBT, one])], { perm: [1, 0] }); // [out, r]
  const loraA = g.op("Transpose", [g.op("Mul", [loraAT, one])], { perm: [1, 0] }); // [r, in]
  const combined = g.op("Add", [weight, g.op("Mul", [g.op("MatMul", [loraB, loraA]), g.scalar(linear.scale)])]); // [out, in]
  const norm = g.op("ReduceL2", [combined], { axes: [1], keepdims: 0 }); // [out]
  const magnitudeScale = g.op("Div", [emitter.tensor(linear.magnitude), norm]);

  const baseOut = emitter.emit({ ...base, bias: undefined }, x); // MatMulNBits on the activations
  const loraOut = g.op("Mul", [g.op("MatMul", [g.op("MatMul", [x, loraAT]), loraBT]), g.scalar(linear.scale)]);
  const y = g.op("Mul", [g.op("Add", [baseOut, loraOut]), magnitudeScale]);
  return base.bias ? g.op("Add", [y, emitter.tensor(base.bias)]) : y;
}
