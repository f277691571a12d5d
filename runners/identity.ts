// Each runner's case identity (runners/<name>/identity.ts) by name: the planner asks it which settings join the
// case key and which settings axes expand into several cases. Light modules only: planning imports no runner.
import type { RunnerName } from "../src/suite/schema.js";
import * as ort from "./ort/identity.js";
import * as torch from "./torch/identity.js";

export interface RunnerIdentity {
  /** The suite's settings for this runner expanded along its axes (e.g. torch execution modes): one per case. */
  settingsVariants(settings: unknown): unknown[];
  /** Non-default settings that change what is measured; `{}` at defaults (the case key then omits them). */
  caseKeySettings(settings: unknown): Record<string, unknown>;
  /** Appended to the case name when the settings are not the default ones (e.g. "cuda-graph"). */
  caseLabel(settings: unknown): string | undefined;
}

const identities: Record<RunnerName, RunnerIdentity> = {
  ort: ort as RunnerIdentity,
  torch: torch as RunnerIdentity,
};

export function runnerIdentity(name: RunnerName): RunnerIdentity {
  return identities[name];
}
