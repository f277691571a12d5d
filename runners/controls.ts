// Which drift control goes with a case: each runner owns its control (runners/<name>/control.ts), a small fixed
// workload of the case's device class that `bench run` measures between the cases' processes (src/run/drift-control.ts).
import type { Case } from "../src/suite/case.js";
import type { RunnerOptions } from "./registry.js";
import { ortControl } from "./ort/control.js";
import { torchControl } from "./torch/control.js";

export type ControlOutcome =
  | { status: "completed"; valuesMs: number[]; settings: Record<string, unknown> }
  | { status: "failed" | "unsupported"; reason: string };

export interface DriftControlSpec {
  /** What it measures, device class included: base and head controls are paired by it. */
  key: string;
  measure(signal?: AbortSignal): Promise<ControlOutcome>;
}

export function controlFor(c: Case, options: RunnerOptions = {}): DriftControlSpec {
  return c.runner === "ort" ? ortControl(c) : torchControl(c, options);
}
