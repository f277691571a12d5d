// The energy window against the fake NVML library (CI has no GPU): when a repeat's GPU energy is measured, its measure
// window lasts at least protocol.minEnergyWindowMs, so a counter that moves every 100 ms covers ≥ 10 updates and the
// `energy-window-too-short` flag — whose rule is unchanged — is not raised; a 600 ms window still is.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measureLoop } from "../../runners/shared/measure-loop.js";
import { RepeatProfiler } from "../../src/run/repeat-profiler.js";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import type { Case } from "../../src/suite/case.js";
import { buildNative, FAKE_NVML } from "./native-build.js";

const dir = mkdtempSync(join(tmpdir(), "effbench-energy-window-"));
const savedLib = process.env.EFFBENCH_NVML_LIB;
const savedScript = process.env.EFFBENCH_FAKE_NVML_SCRIPT;

beforeAll(() => {
  buildNative();
  const script = join(dir, "script.txt");
  // A steady 300 W draw whose counter moves only every 100 ms, as Hopper's does.
  writeFileSync(
    script,
    ["0.uuid GPU-energy-window", "0.name Fake H200", "0.energy_rate_mw 300000", "0.energy_period_ms 100"].join("\n"),
  );
  process.env.EFFBENCH_NVML_LIB = FAKE_NVML;
  process.env.EFFBENCH_FAKE_NVML_SCRIPT = script;
});
afterAll(() => {
  if (savedLib === undefined) delete process.env.EFFBENCH_NVML_LIB;
  else process.env.EFFBENCH_NVML_LIB = savedLib;
  if (savedScript === undefined) delete process.env.EFFBENCH_FAKE_NVML_SCRIPT;
  else process.env.EFFBENCH_FAKE_NVML_SCRIPT = savedScript;
});

function gpuCase(minMeasureMs: number, minEnergyWindowMs?: number): Case {
  const { suite } = validateSuite(
    {
      name: "energy-window",
      runners: ["torch"],
      torch: { device: "cuda" },
      models: [{ name: "m", layers: 1, hidden: 64, heads: 4, ffn: 128, vocab: 97 }],
      scenarios: ["decode"],
      workloads: [{ promptTokens: 8 }],
      protocol: {
        minMeasureMs,
        minIterations: 5,
        warmupMaxMs: 20,
        ...(minEnergyWindowMs ? { minEnergyWindowMs } : {}),
      },
    },
    "energy-window.ts",
  );
  return planSuite(suite, { codeVersion: "test" })[0]!;
}

/** One repeat as the harness runs it: a real worker process is watched while a real measure loop runs here. */
async function repeat(c: Case) {
  const profiler = new RepeatProfiler(c);
  const measured = profiler.measureProtocol();
  const worker = spawn("sleep", ["60"]);
  try {
    profiler.onProcess(worker.pid!);
    let sink = 0;
    const work = async () => {
      for (let i = 0; i < 200_000; i++) sink += Math.sqrt(i);
    };
    await measureLoop(work, measured.protocol, { onMeasureStart: () => profiler.onWindow("measure-start") });
    profiler.onWindow("measure-end");
    expect(sink).toBeGreaterThan(0);
    const profile = profiler.finish(100);
    const value = (name: string) => profile.scalars.find((s) => s.metric === name)!.value;
    return { measured, profile, value, flags: profile.validity.map((v) => v.flag) };
  } finally {
    worker.kill();
  }
}

describe("energy windows (fake NVML)", () => {
  it("extends a 600 ms window to the 2 s default when GPU energy is measured, recording the window; no short-window flag", async () => {
    const { measured, value, flags } = await repeat(gpuCase(600));
    expect(measured.protocol.minMeasureMs).toBe(2000);
    expect(measured.energyWindow?.reason).toMatch(/extended from minMeasureMs 600 ms to minEnergyWindowMs 2000 ms/);
    const windowMs = value("gpu_energy_window_ms")!;
    expect(windowMs).toBeGreaterThanOrEqual(2000);
    expect(flags).not.toContain("energy-window-too-short");
    // 300 W over the window, to the counter's 100 ms quantum at either end.
    expect(value("gpu_energy_j")!).toBeGreaterThan(0.3 * (windowMs - 200));
    expect(value("gpu_energy_j")!).toBeLessThan(0.3 * (windowMs + 200));
  }, 30_000);

  it("keeps the flag's rule: a window left at 600 ms (minEnergyWindowMs set below it) is still flagged", async () => {
    const { measured, value, flags } = await repeat(gpuCase(600, 500));
    expect(measured.protocol.minMeasureMs).toBe(600);
    expect(measured.energyWindow).toBeUndefined();
    expect(value("gpu_energy_window_ms")!).toBeLessThan(1000);
    expect(flags).toContain("energy-window-too-short");
  }, 30_000);

  it("leaves CPU cases' windows alone", () => {
    const c = gpuCase(600);
    const cpu = new RepeatProfiler({ ...c, settings: { ...c.settings, device: "cpu" } }).measureProtocol();
    expect(cpu.protocol.minMeasureMs).toBe(600);
  });
});
