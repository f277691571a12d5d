// The GPU-busy share: the profiling pass is null with the reason on the CPU; on a GPU its kernel time is the union of
// the kernels' intervals (overlapping streams counted once); under half of the step flags `host-bound`.
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { hostBoundFlag } from "../../src/measure/gpu-busy.js";
import { fromRoot } from "../../src/paths.js";
import { completed, planCase, repeatContext, torchRunnerForFile, venvPython } from "./helpers.js";

const torchRunner = torchRunnerForFile("busy");

describe("GPU-busy share", () => {
  it("is null with the reason on a CPU result", async () => {
    const c = planCase({ scenarios: ["decode"], torch: { device: "cpu" } });
    const outcome = completed(await torchRunner().runRepeat(c, repeatContext()));
    for (const metric of ["gpu_kernel_ms_per_iteration", "gpu_busy_fraction"])
      expect(outcome.scalars.find((s) => s.metric === metric)).toMatchObject({
        value: null,
        reason: expect.stringMatching(/ran on the CPU/),
      });
  }, 120_000);

  it("takes the union of kernel intervals, not their sum (the pass's own arithmetic, in the worker's Python)", async () => {
    // Kernels overlapping on two streams over [0, 7] ms, then one on [10, 11] ms: 8 ms busy, 12 ms summed.
    const ns = (ms: number) => ms * 1e6;
    const intervals = JSON.stringify([
      [ns(0), ns(5)],
      [ns(2), ns(7)],
      [ns(10), ns(11)],
      [ns(3), ns(4)],
    ]);
    const { stdout } = await execa(
      venvPython,
      ["-c", `import gpu_profile, json; print(gpu_profile._union_ms(json.loads('${intervals}')))`],
      {
        cwd: fromRoot("runners/torch"),
      },
    );
    expect(Number(stdout.trim())).toBeCloseTo(8, 9);
  }, 60_000);

  it("flags host-bound below half, with both numbers and NVML's PCU beside them", () => {
    const m = (busy: number | null) => [
      { name: "gpu_busy_fraction", value: busy, unit: "ratio" },
      { name: "gpu_kernel_ms_per_iteration", value: busy === null ? null : busy * 7, unit: "ms" },
      { name: "latency_p50_ms", value: 7, unit: "ms" },
      { name: "gpu_pcu_pct", value: 10, unit: "%" },
    ];
    expect(hostBoundFlag(m(0.12))).toMatchObject({
      flag: "host-bound",
      detail: expect.stringMatching(/busy 12% of the step \(0\.840 ms of 7\.000 ms\).*PCU over the window: 10%/),
    });
    expect(hostBoundFlag(m(0.8))).toBeUndefined();
    expect(hostBoundFlag(m(null))).toBeUndefined();
  });
});
