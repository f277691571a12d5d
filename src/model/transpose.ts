// Row-major matrix transpose: the IR keeps [out, in] weights, ONNX MatMul and the fp16 technique want [in, out].
/** Transposes a row-major [rows, cols] float matrix to [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  // Blocked to stay cache-friendly on large weights.
  const block = 64;
  for (let r0 = 0; r0 < rows; r0 += block) {
    const r1 = Math.min(rows, r0 + block);
    for (let c0 = 0; c0 < cols; c0 += block) {
      const c1 = Math.min(cols, c0 + block);
      for (let r = r0; r < r1; r++) {
        const rowOffset = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = data[rowOffset + c]!;
      }
    }
  }
  return out;
}
