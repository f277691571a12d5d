// A planned case: one point of the model × technique × scenario × workload × runner matrix.
import type { TechniqueConfig } from "../techniques/registry.js";
import type { ModelConfig, Protocol, RunnerName, Scenario, Workload } from "./schema.js";

export interface Case {
  /** Short stable id (12 hex chars of the caseKey's hash), what `--filter` and `--case` accept. */
  id: string;
  /** Canonical JSON of what is measured: model, technique, scenario, workload, runner, device class (and the runner's
   * measured settings that differ from their defaults). */
  caseKey: string;
  /** Hash of caseKey + protocol + runner settings + code version: what `--resume` trusts. */
  configHash: string;
  /** Human-readable name, e.g. "tiny-llama · lora r8 · decode · b1 p128". */
  name: string;
  model: ModelConfig;
  technique: TechniqueConfig;
  scenario: Scenario;
  workload: Workload;
  runner: RunnerName;
  protocol: Protocol;
  /** The case's runner's settings (the suite's `<runner>: {…}`, defaults filled in); the runner reads its own. */
  settings: Record<string, unknown>;
  /** Set when `--scale` shrank the model: what was asked and the factors applied (the report marks scaled results). */
  scale?: { requested: string | number; widthFactor: number; layersFrom: number; layersTo: number };
}
