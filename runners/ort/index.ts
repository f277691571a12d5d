// The ort runner's definition: onnxruntime-node running the ONNX graph the project emits from its IR, CPU by default.
import type { RunnerDefinition } from "../../src/runner/contract.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { ortSettingsSchema, type OrtSettings } from "./settings.js";
import { ortHostMemory } from "./memory.js";
import { ortTechniqueNotes } from "./technique-notes.js";
import { exportOrtCase } from "./export.js";

export const ortRunnerDefinition: RunnerDefinition<OrtSettings> = {
  name: "ort",
  description: "onnxruntime-node (embedded, no Python): the project's ONNX graphs, a fresh process per repeat",
  settingsSchema: ortSettingsSchema,
  deviceClass: (s) => s.executionProvider,
  onHost: (s) => s.executionProvider === "cpu",
  hostThreads: (s) => s.intraOpThreads,
  unsupportedReason(c) {
    if (c.scenario !== "prefill" && c.scenario !== "decode")
      return `the ort runner does not implement the ${c.scenario} scenario (use the torch runner)`;
    const technique = getTechnique(c.technique.kind);
    if (c.technique.kind !== "base" && !technique.rewriteIr)
      return `technique ${c.technique.kind} has no ONNX form (run it on the torch runner)`;
    return undefined;
  },
  hostMemory: ortHostMemory,
  techniqueNotes: ortTechniqueNotes,
  exportCase: exportOrtCase,
  estimate: { startS: 0.8, device: () => "cpu" },
  async load() {
    const { OrtRunner } = await import("./runner.js");
    return new OrtRunner();
  },
};
