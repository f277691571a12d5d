// The ort runner's definition: onnxruntime-node running the ONNX graph the project emits from its IR, CPU by default.
import type { RunnerDefinition } from "../../src/runner/contract.js";
import { ortSettingsSchema, type OrtSettings } from "./settings.js";
import { ortHostMemory } from "./memory.js";
import { ortTechniqueNotes } from "./technique-notes.js";
import { exportOrtCase } from "./export.js";
import { ortControl } from "./control.js";
import { ortStaticReason } from "./support.js";
import { caseKeySettings } from "./identity.js";

export const ortRunnerDefinition: RunnerDefinition<OrtSettings> = {
  name: "ort",
  description: "onnxruntime-node (embedded, no Python): the project's ONNX graphs, a fresh process per repeat",
  settingsSchema: ortSettingsSchema,
  deviceClass: (s) => s.executionProvider,
  caseKeySettings,
  onHost: (s) => s.executionProvider === "cpu",
  hostThreads: (s) => s.intraOpThreads,
  unsupportedReason: ortStaticReason,
  hostMemory: ortHostMemory,
  techniqueNotes: ortTechniqueNotes,
  exportCase: exportOrtCase,
  driftControl: (c) => ortControl(c),
  estimate: { startS: 0.8, device: () => "cpu" },
  async load() {
    const { OrtRunner } = await import("./runner.js");
    return new OrtRunner();
  },
};
