// The GPU code paths against the fake NVML library (native/fake-nvml): CI has no GPU.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import {
  monotonicNowMs,
  ProfilingSampler,
  probeNvml,
  selectDeviceUuids,
  type SamplerOptions,
  type SamplerTrace,
} from "../../src/measure/sampler.js";
import { samplerMetrics } from "../../src/measure/sampler-metrics.js";
import { buildNative, FAKE_NVML, FAKE_NVML_OLD_DRIVER } from "./native-build.js";

const UUID = "GPU-3f9c2a71-0000-4000-8000-00000000aaaa";
const dir = mkdtempSync(join(tmpdir(), "effbench-fake-nvml-"));
let scriptCount = 0;

function script(lines: string[]): void {
  const path = join(dir, `script-${scriptCount++}.txt`);
  writeFileSync(path, [`0.uuid ${UUID}`, "0.name Fake H100 80GB HBM3", ...lines].join("\n"));
  process.env.EFFBENCH_FAKE_NVML_SCRIPT = path;
}

/** Every source on every row unless `rates` says otherwise (the production defaults read NVML less often). */
async function sample(
  ms: number,
  libPath = FAKE_NVML,
  rates: Partial<SamplerOptions> = { fullHz: 100, energyHz: 100 },
): Promise<SamplerTrace> {
  const created = ProfilingSampler.create();
  if (!created.ok) throw new Error(created.reason);
  created.sampler.start({
    pids: [process.pid],
    hz: 100,
    nvmlDeviceUuids: [UUID],
    nvmlLibPath: libPath,
    perf: false,
    rapl: false,
    ...rates,
  });
  await sleep(ms);
  return created.sampler.stop();
}

const whole = (trace: SamplerTrace) => ({
  startMs: trace.timestampsMs[0]!,
  endMs: trace.timestampsMs[trace.timestampsMs.length - 1]!,
});
const metric = (result: ReturnType<typeof samplerMetrics>, name: string) =>
  result.metrics.find((m) => m.metric === name)!;
const flags = (result: ReturnType<typeof samplerMetrics>) => result.validity.map((v) => v.flag);

beforeAll(() => buildNative());

describe("NVML through the fake library", () => {
  it("lists devices with their UUIDs and the driver version", () => {
    script(["driver_version 550.54.15", "device_count 2", "1.uuid GPU-bbbb"]);
    const probe = probeNvml(FAKE_NVML);
    expect(probe).toMatchObject({ ok: true, driverVersion: "550.54.15" });
    expect(probe.ok && probe.devices.map((d) => d.uuid)).toEqual([UUID, "GPU-bbbb"]);
  });

  it("computes energy exactly from the counter difference, across a wrap of the 64-bit counter", async () => {
    // 616 mJ below 2^64: the counter wraps on the third call.
    script(["0.energy_start_mj 18446744073709551000", "0.energy_step_mj 250"]);
    const trace = await sample(300);
    const energy = trace.columns["gpu0.energy_mj"]!;
    expect(energy.length).toBeGreaterThan(10);
    for (let i = 1; i < energy.length; i++) expect(energy[i]! - energy[i - 1]!).toBe(250);
    const t = trace.timestampsMs;
    const window = { startMs: t[2]!, endMs: t[t.length - 2]! };
    const result = samplerMetrics(trace, window, { tokens: 1000 });
    const joules = ((t.length - 4) * 250) / 1000;
    expect(metric(result, "gpu_energy_j").value).toBe(joules);
    expect(metric(result, "gpu_energy_j_per_token").value).toBe(joules / 1000);
    expect(metric(result, "gpu_power_avg_w").value).toBeCloseTo((joules * 1000) / (window.endMs - window.startMs), 9);
    expect(flags(result)).not.toContain("energy-integrated-from-power");
  });

  it("reads the counter at the window's marked edges, so energy between marks is exact at the default rates", async () => {
    script(["0.energy_step_mj 250"]);
    const created = ProfilingSampler.create();
    if (!created.ok) throw new Error(created.reason);
    const sampler = created.sampler;
    sampler.start({
      pids: [process.pid],
      hz: 100,
      nvmlDeviceUuids: [UUID],
      nvmlLibPath: FAKE_NVML,
      perf: false,
      rapl: false,
    });
    await sleep(1200); // past the first second, where the counter is read densely
    const markedAt = monotonicNowMs();
    sampler.mark();
    await sleep(1200);
    sampler.mark();
    await sleep(100);
    const trace = sampler.stop();
    const t = trace.timestampsMs;
    const energy = trace.columns["gpu0.energy_mj"]!;
    const reads = [...t.keys()].filter((i) => Number.isFinite(energy[i]));
    const [first, second] = reads.filter((i) => t[i]! >= markedAt);
    const secondMark = reads.filter((i) => t[i]! >= markedAt).find((i) => t[i]! - t[first!]! > 1150)!;
    expect(second).toBeDefined();
    const between = reads.filter((i) => i > first! && i <= secondMark).length;
    // At 2 Hz there are about two periodic reads between the marks, plus the second mark itself.
    expect(between).toBeGreaterThanOrEqual(2);
    expect(between).toBeLessThanOrEqual(5);
    const result = samplerMetrics(trace, { startMs: t[first!]!, endMs: t[secondMark]! });
    expect(metric(result, "gpu_energy_j").value).toBe((between * 250) / 1000);
  });

  it("flags an energy window shorter than ten updates of the counter", async () => {
    script(["0.energy_step_mj 100"]);
    const trace = await sample(400);
    const t = trace.timestampsMs;
    expect(flags(samplerMetrics(trace, { startMs: t[1]!, endMs: t[4]! }))).toContain("energy-window-too-short");
    expect(flags(samplerMetrics(trace, whole(trace)))).not.toContain("energy-window-too-short");
  });

  it("flags thermal throttling that appears in the middle of the window, and only there", async () => {
    // Call 0 is the probe at start, so row k makes call k + 1: throttling from row 14 on.
    script(["0.clock_event_reasons 0 @15 0x40"]);
    const trace = await sample(400);
    const t = trace.timestampsMs;
    expect(flags(samplerMetrics(trace, { startMs: t[1]!, endMs: t[12]! }))).not.toContain("thermal-throttle");
    const result = samplerMetrics(trace, whole(trace));
    expect(flags(result)).toContain("thermal-throttle");
    expect(result.validity.find((v) => v.flag === "thermal-throttle")!.detail).toContain("0x40");
  });

  it("flags clock and power-limit changes inside the window, read at the default 10 Hz", async () => {
    script(["0.sm_clock 1980 @2 1410", "0.power_limit_mw 700000 @3 500000"]);
    const trace = await sample(400, FAKE_NVML, {});
    expect(flags(samplerMetrics(trace, whole(trace)))).toEqual(
      expect.arrayContaining(["clocks-changed", "power-limit-changed"]),
    );
  });

  it("takes PCU as the time-averaged utilization.gpu and labels it a duty cycle", async () => {
    script(["0.utilization_gpu 40 @10 80"]);
    // (every row reads utilisation here: call 10 is row 9)
    const trace = await sample(300);
    const result = samplerMetrics(trace, whole(trace));
    const pcu = metric(result, "gpu_pcu_pct");
    expect(pcu.value).toBeGreaterThan(40);
    expect(pcu.value).toBeLessThan(80);
    expect(pcu.label).toMatch(/duty cycle/);
  });

  it("sums the memory of the watched processes and ignores other PIDs on the device", async () => {
    script(["0.memory_used 30000000000", `0.process ${process.pid} 1073741824`, "0.process 4000000 5000000000"]);
    const trace = await sample(200);
    const r = samplerMetrics(trace, whole(trace));
    expect(metric(r, "gpu_process_memory_peak_bytes").value).toBe(1073741824);
    expect(metric(r, "gpu_amu_bytes").value).toBeCloseTo(30000000000, 0);
    expect(flags(r)).not.toContain("process-memory-from-device");
  });

  it("falls back to device memory, saying so, when NVML lists only PIDs of another namespace", async () => {
    script(["0.memory_used 30000000000", "0.process 4000000 5000000000", "0.process 4000001 1000"]);
    const trace = await sample(200);
    const r = samplerMetrics(trace, whole(trace));
    expect(metric(r, "gpu_process_memory_peak_bytes").value).toBe(30000000000);
    const note = r.validity.find((v) => v.flag === "process-memory-from-device")!;
    expect(note.detail).toMatch(/2 process\(es\).*none of the watched PIDs.*namespace/);
  });

  it("on an old driver without the energy counter, integrates power and flags it", async () => {
    script(["0.power_mw 250000", "0.clock_event_reasons 0x4"]);
    const trace = await sample(300, FAKE_NVML_OLD_DRIVER);
    expect(trace.unavailable["gpu0.energy_mj"]).toMatch(/nvmlDeviceGetTotalEnergyConsumption is missing/);
    expect(trace.processMemoryFunction).toBe("nvmlDeviceGetComputeRunningProcesses");
    const window = whole(trace);
    const r = samplerMetrics(trace, window);
    expect(metric(r, "gpu_energy_j").value).toBeCloseTo((250 * (window.endMs - window.startMs)) / 1000, 9);
    expect(flags(r)).toEqual(
      expect.arrayContaining(["energy-integrated-from-power", "energy-window-too-short", "power-capped"]),
    );
    // The throttle-reasons fallback still reads the bit mask.
    expect(trace.columns["gpu0.clock_event_reasons"]![0]).toBe(4);
  });

  it("reports a metric the device does not support as null with NVML's reason", async () => {
    script(["0.energy not_supported", "0.power_mw not_supported", "0.temperature not_supported"]);
    const trace = await sample(150);
    const r = samplerMetrics(trace, whole(trace));
    for (const name of ["gpu_energy_j", "gpu_power_avg_w", "gpu_temperature_max_c"]) {
      expect(metric(r, name).value).toBeNull();
      expect(metric(r, name).reason).toMatch(/Not Supported/);
    }
  });

  it("without NVML, reports every GPU metric as null with the dlopen error", async () => {
    script([]);
    const trace = await sample(100, join(dir, "no-such-libnvidia-ml.so.1"));
    const r = samplerMetrics(trace, whole(trace));
    const gpu = r.metrics.filter((m) => m.metric.startsWith("gpu_"));
    expect(gpu.length).toBeGreaterThan(10);
    for (const m of gpu) {
      expect(m.value).toBeNull();
      expect(m.reason).toMatch(/no NVML: dlopen\(.*no-such-libnvidia-ml/);
    }
  });

  it("reports an unknown device UUID instead of sampling another device", async () => {
    script([]);
    const created = ProfilingSampler.create();
    if (!created.ok) throw new Error(created.reason);
    created.sampler.start({ pids: [process.pid], nvmlDeviceUuids: ["GPU-nope"], nvmlLibPath: FAKE_NVML });
    const trace = created.sampler.stop();
    expect(trace.devices).toEqual([]);
    expect(trace.unavailable["nvml:GPU-nope"]).toMatch(/no NVML device has UUID GPU-nope/);
  });
});

describe("mapping CUDA_VISIBLE_DEVICES to NVML devices", () => {
  const devices = [
    { index: 1, uuid: "GPU-bbbb-2222", name: "B" },
    { index: 0, uuid: "GPU-aaaa-1111", name: "A" },
    { index: 2, uuid: "GPU-cccc-3333", name: "C" },
  ];
  it("maps indices in PCI order and UUIDs or their unique prefixes, in the given order", () => {
    expect(selectDeviceUuids("2,0", devices).uuids).toEqual(["GPU-cccc-3333", "GPU-aaaa-1111"]);
    expect(selectDeviceUuids("GPU-bbbb,GPU-aaaa-1111", devices).uuids).toEqual(["GPU-bbbb-2222", "GPU-aaaa-1111"]);
    expect(selectDeviceUuids(undefined, devices).uuids).toEqual(["GPU-aaaa-1111", "GPU-bbbb-2222", "GPU-cccc-3333"]);
  });
  it("stops at an entry that matches nothing, as CUDA does, and says so", () => {
    const result = selectDeviceUuids("1,7,0", devices);
    expect(result.uuids).toEqual(["GPU-bbbb-2222"]);
    expect(result.note).toMatch(/"7" matches no single NVML device/);
    expect(selectDeviceUuids("", devices).uuids).toEqual([]);
  });
});
