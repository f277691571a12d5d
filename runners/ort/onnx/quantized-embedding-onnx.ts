// A quantised embedding table (int4/int8 `embeddings: true`), for ORT: the token rows are gathered from the
// quantised [vocab, hidden] matrix and dequantised per token, so the table stays 4 or 8 bits in memory. The
// matrix is the same one MatMulNBits / MatMulInteger read when the output projection is quantised too, so a tied
// model stores it once. Standard opset-17 ops (what com.microsoft GatherBlockQuantized does, spelled out):
// - int4: packed [vocab, blocks, blockSize/2] rows gathered, nibbles split with BitShift (low nibble first,
//   MatMulNBits' layout), (q − zero point) · scale per block; scales and zero points are gathered from their flat
//   initialisers at token·blocks + block (a Reshape of them would be folded into a second copy).
// - int8: weights are stored [hidden, vocab] for MatMulInteger, so the rows are a Gather on axis 1, transposed.
import type { Int4Linear, Int8Linear } from "../../../src/model/ir.js";
import { ELEMENT_TYPE } from "./onnx-graph.js";
import type { LinearEmitter } from "./onnx.js";

/** Embeddings [B, S, hidden] of token ids [B, S] from a quantised [vocab, hidden] linear. */
export function emitQuantizedEmbedding(emitter: LinearEmitter, linear: Int4Linear | Int8Linear, ids: string): string {
  const g = emitter.g;
  const hidden = linear.inFeatures;
  if (linear.kind === "int8") {
    const columns = g.op("Gather", [emitter.tensor(linear.quantizedWeight), ids], { axis: 1 }); // [H, B, S] int8
    const rows = g.op("Cast", [g.op("Transpose", [columns], { perm: [1, 2, 0] })], { to: ELEMENT_TYPE.float32 });
    const scales = g.op("Unsqueeze", [
      g.op("Gather", [emitter.tensor(linear.scales), ids], { axis: 0 }),
      g.int64([-1]),
    ]); // [B, S, 1]
    return g.op("Mul", [rows, scales]);
  }
  const blocks = Math.ceil(hidden / linear.blockSize);
  const four = g.op("Cast", [g.scalar(4)], { to: ELEMENT_TYPE.uint8 });
  const lastAxis = g.int64([-1]);
  /** Gathered packed bytes [..., n] → float nibbles [..., 2n], low nibble first. */
  const unpack = (packed: string, shape: number[]): string => {
    const high = g.op("BitShift", [packed, four], { direction: "RIGHT" });
    const low = g.op("BitShift", [g.op("BitShift", [packed, four], { direction: "LEFT" }), four], {
      direction: "RIGHT",
    });
    const pairs = g.op("Concat", [g.op("Unsqueeze", [low, lastAxis]), g.op("Unsqueeze", [high, lastAxis])], {
      axis: -1,
    });
    return g.op("Cast", [g.op("Reshape", [pairs, g.int64(shape)])], { to: ELEMENT_TYPE.float32 });
  };
  /** Gathers `width` consecutive entries per token from a flat [vocab · width] initialiser: [B, S, width]. */
  const rowsOfFlat = (flat: string, width: number): string => {
    const offsets = g.op("Add", [
      g.op("Unsqueeze", [g.op("Mul", [ids, g.int64([width], [])]), lastAxis]),
      g.int64(Array.from({ length: width }, (_, i) => i)),
    ]);
    return g.op("Gather", [flat, offsets], { axis: 0 });
  };
  const quantized = unpack(g.op("Gather", [emitter.tensor(linear.packedWeight), ids], { axis: 0 }), [
    0,
    0,
    blocks,
    linear.blockSize,
  ]); // [B, S, blocks, bs]
  let zero: string;
  if (linear.zeroPoints) {
    const zeroBytes = Math.ceil(blocks / 2);
    const zeros = unpack(rowsOfFlat(emitter.tensor(linear.zeroPoints), zeroBytes), [0, 0, 2 * zeroBytes]);
    zero = g.op("Unsqueeze", [g.op("Slice", [zeros, g.int64([0]), g.int64([blocks]), g.int64([2])]), lastAxis]); // [B, S, blocks, 1]
  } else zero = g.scalar(8);
  const scales = g.op("Unsqueeze", [rowsOfFlat(emitter.tensor(linear.scales), blocks), lastAxis]); // [B, S, blocks, 1]
  let rows = g.op("Reshape", [
    g.op("Mul", [g.op("Sub", [quantized, zero]), scales]),
    g.int64([0, 0, blocks * linear.blockSize]),
  ]);
  if (blocks * linear.blockSize !== hidden) rows = g.op("Slice", [rows, g.int64([0]), g.int64([hidden]), g.int64([2])]);
  return rows;
}
