// GPU utilisation and the decode weight-read floor from `bench calibrate`'s per-UUID peaks: the arithmetic on a GPU
// result, null with the reason on CPU results and without a calibration of that GPU; and `bench calibrate` on this
// CPU-only machine records that no GPU was calibrated, with the reason.
import { execa } from "execa";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { RepeatOutcome } from "../../src/runner/contract.js";
import { resultMetrics, type Peaks } from "../../src/measure/result-metrics.js";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";

const plan = (device: "cuda" | "cpu") =>
  planSuite(
    validateSuite(
      {
        name: "floor",
        runners: ["torch"],
        torch: { device, dtype: "bf16" },
        models: [{ name: "m", layers: 2, hidden: 256, heads: 4, ffn: 512, vocab: 1000 }],
        scenarios: ["decode"],
        workloads: [{ batch: 1, promptTokens: 64 }],
      },
      "floor.ts",
    ).suite,
    { codeVersion: "test" },
  )[0]!;

const outcome = (uuid?: string): Extract<RepeatOutcome, { status: "completed" }> => ({
  status: "completed",
  series: [{ metric: "latency_ms", unit: "ms", values: [0.5, 0.5, 0.5, 0.5, 0.5] }],
  scalars: [{ metric: "weight_bytes", unit: "B", value: 2_000_000 }],
  tokensPerIteration: 1,
  settings: { dtype: "bf16", ...(uuid ? { deviceUuid: uuid } : {}) },
});

const peaks: Peaks = {
  cpuThreads: 0,
  cpuFlopsPerS: 0,
  cpuBytesPerS: 0,
  source: "",
  cpuCalibrated: false,
  gpus: { "GPU-a": { copyBytesPerS: 4e12, bf16FlopsPerS: 8e14, name: "H200", source: "bench calibrate, run 1" } },
};
const value = (metrics: ReturnType<typeof resultMetrics>, name: string) => metrics.find((m) => m.name === name)!;

describe("GPU MBU/MFU and the decode floor", () => {
  it("divides by the calibrated peaks of the result's own GPU", () => {
    const metrics = resultMetrics(plan("cuda"), [outcome("GPU-a")], peaks);
    const bytes = value(metrics, "bytes_per_iteration").value!;
    expect(value(metrics, "decode_floor_ms").value).toBeCloseTo((bytes / 4e12) * 1000, 12);
    expect(value(metrics, "decode_floor_ratio").value).toBeCloseTo(0.5 / ((bytes / 4e12) * 1000), 9);
    expect(value(metrics, "mbu").value).toBeCloseTo(bytes / 0.5e-3 / 4e12, 12);
    expect(value(metrics, "mfu").label).toMatch(/bf16 GEMM peak, against H200/);
  });

  it("is null with the reason for another GPU and for CPU results", () => {
    const other = resultMetrics(plan("cuda"), [outcome("GPU-b")], peaks);
    expect(value(other, "decode_floor_ratio")).toMatchObject({
      value: null,
      reason: expect.stringMatching(/no calibration of this GPU \(GPU-b\)/),
    });
    const cpu = resultMetrics(plan("cpu"), [outcome()], peaks);
    expect(value(cpu, "decode_floor_ratio")).toMatchObject({
      value: null,
      reason: expect.stringMatching(/GPU results/),
    });
    expect(value(cpu, "mbu")).toMatchObject({ value: null, reason: expect.stringMatching(/no calibration/) });
  });

  it("bench calibrate on a machine without CUDA stores the CPU peaks and says no GPU was calibrated", async () => {
    const db = join(mkdtempSync(join(tmpdir(), "effbench-calibrate-")), "c.db");
    const { stdout, exitCode } = await execa("node", [resolve("bin/bench.js"), "calibrate", "--db", db, "--json"], {
      reject: false,
    });
    expect(exitCode).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.gemm.peakFlopsPerS).toBeGreaterThan(0);
    expect(result.gpuCalibration).toMatchObject({ gpus: [], reason: expect.stringMatching(/no CUDA device/) });
  }, 180_000);
});
