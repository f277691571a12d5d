// Real hardware: a trace the sampler recorded on an NVIDIA H200 (driver 580.159.04) through native/tools/nvml-check
// while native/tools/gpu-load.py ran 12 s of bf16 8192² GEMMs (fixtures/h200-nvml-check, 2026-11-27).
import { describe, expect, it } from "vitest";
import { counterUpdatePeriodMs, energyFromPower } from "../../src/measure/energy.js";
import { samplerMetrics } from "../../src/measure/sampler-metrics.js";
import { fromRoot } from "../../src/paths.js";
import { readNvmlCheck } from "../../native/tools/read-trace.js";

const { trace, load } = readNvmlCheck(fromRoot("test/native/fixtures/h200-nvml-check"));
const window = { startMs: load.windowStartMs, endMs: load.windowEndMs };
const result = samplerMetrics(trace, window, { tokens: load.iterations });
const value = (name: string) => result.metrics.find((m) => m.metric === name)!.value!;

describe("the sampler's metrics on a real H200 trace", () => {
  it("agrees within 5% between the energy counter and integrated power over the 12 s window", () => {
    const integrated = energyFromPower(
      trace.timestampsMs,
      Float64Array.from(trace.columns["gpu0.power_mw"]!, (mw) => mw / 1000),
      window,
    );
    expect(integrated.energyJ).not.toBeNull();
    expect(Math.abs(value("gpu_energy_j") / integrated.energyJ! - 1)).toBeLessThan(0.05);
    expect(value("gpu_power_avg_w")).toBeGreaterThan(600);
    expect(value("gpu_power_avg_w")).toBeLessThanOrEqual(value("gpu_power_limit_w") * 1.02);
  });

  it("sees the counter's ~100 ms update period from the dense reads of the first second", () => {
    const period = counterUpdatePeriodMs(trace.timestampsMs, trace.columns["gpu0.energy_mj"]!)!;
    expect(period).toBeGreaterThan(80);
    expect(period).toBeLessThan(120);
    expect(result.validity.map((v) => v.flag)).not.toContain("energy-window-too-short");
  });

  it("finds the load's process by PID and its memory is torch's reserved memory plus a CUDA context", () => {
    const processBytes = value("gpu_process_memory_peak_bytes");
    expect(result.validity.map((v) => v.flag)).not.toContain("process-memory-from-device");
    expect(processBytes).toBeGreaterThan(load.memoryReservedBytes);
    expect(processBytes - load.memoryReservedBytes).toBeLessThan(1024 ** 3);
    expect(value("gpu_amu_bytes")).toBeGreaterThanOrEqual(processBytes);
  });

  it("reports a near-full duty cycle and the power cap the GPU ran into", () => {
    expect(value("gpu_pcu_pct")).toBeGreaterThan(90);
    expect(result.validity.map((v) => v.flag)).toEqual(expect.arrayContaining(["power-capped"]));
    expect(result.validity.map((v) => v.flag)).not.toContain("thermal-throttle");
  });
});
