// The torch runner's drift control: control.py (a fixed GEMM plus a device copy) in its own Python process, on the
// case's device and thread count; CPU-capable, so a CPU-only machine still controls drift.
import { execa } from "execa";
import { fromRoot } from "../../src/paths.js";
import type { Case } from "../../src/suite/case.js";
import type { ControlSource } from "../../src/run/drift-control.js";
import type { RunnerOptions } from "../../src/runner/contract.js";
import { caseSettings } from "../../src/runner/registry.js";
import { interpreterCandidates } from "../shared/python.js";
import type { TorchSettings } from "./settings.js";

export function torchControl(c: Case, options: RunnerOptions): ControlSource {
  const { device, threads } = caseSettings<TorchSettings>(c);
  const key = `torch ${device}: GEMM 256×1024·1024×1024 fp32 + 16 MiB copy${threads ? `, ${threads} thread(s)` : ""}`;
  return {
    key,
    async measure(signal) {
      const python = interpreterCandidates(options)[0]!.python;
      const result = await execa(
        python,
        [fromRoot("runners/torch/control.py"), device, threads ? String(threads) : "-"],
        {
          reject: false,
          timeout: 120_000,
          cancelSignal: signal,
        },
      );
      const line = String(result.stdout).trim().split("\n").at(-1) ?? "";
      if (result.exitCode !== 0 || !line.startsWith("{"))
        return {
          status: "failed",
          reason: `the torch control (${python}) exited with code ${result.exitCode}: ${String(result.stderr).trim().slice(-500)}`,
        };
      const parsed = JSON.parse(line) as Record<string, unknown>;
      if (typeof parsed.unsupported === "string") return { status: "unsupported", reason: parsed.unsupported };
      const { latencyMs, ...settings } = parsed as { latencyMs: number[] };
      return { status: "completed", valuesMs: latencyMs, settings: { runner: "torch", ...settings } };
    },
  };
}
