import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { calibrateGemm, calibrateMemory, matmulModelBytes, mbu, mfu } from "../../src/measure/calibrate.js";

describe("calibration of this machine's peaks", () => {
  it("builds a MatMul model whose product onnxruntime computes correctly", async () => {
    const session = await ort.InferenceSession.create(matmulModelBytes(2, 3, 2));
    const a = new ort.Tensor("float32", Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    const b = new ort.Tensor("float32", Float32Array.from([7, 8, 9, 10, 11, 12]), [3, 2]);
    const { Y } = await session.run({ A: a, B: b });
    expect(Array.from(Y!.data as Float32Array)).toEqual([58, 64, 139, 154]);
  });

  it("measures GEMM FLOP/s with the peak at least the median", async () => {
    const gemm = await calibrateGemm(1, 256, 5);
    expect(gemm.peakFlopsPerS).toBeGreaterThanOrEqual(gemm.medianFlopsPerS);
    // Any CPU that runs this project does more than 100 MFLOP/s and less than 100 TFLOP/s per thread.
    expect(gemm.medianFlopsPerS).toBeGreaterThan(1e8);
    expect(gemm.peakFlopsPerS).toBeLessThan(1e14);
  });

  it("measures copy bandwidth in parallel workers", async () => {
    const memory = await calibrateMemory(2, 32 * 1024 * 1024, 3);
    expect(memory.peakBytesPerS).toBeGreaterThanOrEqual(memory.medianBytesPerS);
    expect(memory.medianBytesPerS).toBeGreaterThan(1e8);
    expect(memory.method).toMatch(/2 worker/);
  });

  it("divides achieved by peak for MFU and MBU, and gives null rather than a guess without a peak", () => {
    expect(mfu(50e9, 200e9)).toBe(0.25);
    expect(mbu(10e9, 40e9)).toBe(0.25);
    expect(mfu(50e9, null)).toBeNull();
    expect(mbu(null, 40e9)).toBeNull();
  });
});
