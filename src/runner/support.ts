// Whether a case can run, as far as is known before any runner is loaded: its technique's own reason (a scenario or
// model it cannot apply to on any runner), else its runner's static reason. Used by run, list --estimate and export.
import type { Case } from "../suite/case.js";
import { getTechnique } from "../techniques/registry.js";
import { getRunnerDefinition } from "./registry.js";

export function staticUnsupportedReason(c: Case): string | undefined {
  return (
    getTechnique(c.technique.kind).unsupportedReason(c.technique, c.scenario, c.model) ??
    getRunnerDefinition(c.runner).unsupportedReason?.(c)
  );
}
