// The torch runner's definition: real transformers + peft in a Python worker, on CPU or CUDA. What the worker
// implements is said by technique family (the technique registry sends each case's family), never by kind lists.
import type { RunnerDefinition } from "../../src/runner/contract.js";
import { weightCopiesMemory } from "../shared/memory.js";
import { torchSettingsSchema, type TorchSettings } from "./settings.js";
import { torchControl } from "./control.js";
import { torchStaticReason } from "./support.js";
import { caseKeySettings, caseLabel, settingsVariants } from "./identity.js";
import { workerSeeded } from "./seeded.js";

export const torchRunnerDefinition: RunnerDefinition<TorchSettings> = {
  name: "torch",
  description: "transformers + peft in a Python worker (CPU or CUDA): the GPU path",
  settingsSchema: torchSettingsSchema,
  deviceClass: (s) => s.device,
  caseKeySettings,
  settingsVariants,
  caseLabel,
  onHost: (s) => s.device === "cpu",
  unsupportedReason: torchStaticReason,
  hostMemory: (c, inspection) =>
    (c.settings as TorchSettings).device === "cpu" ? weightCopiesMemory(inspection, 3) : undefined,
  driftControl: torchControl,
  estimate: { startS: 2.0, device: (s) => (s.device === "cpu" ? "cpu" : "cuda"), seededWeights: workerSeeded },
  async calibrateGpus(options) {
    const { TorchRunner } = await import("./runner.js");
    const runner = new TorchRunner(options);
    try {
      return await runner.calibrateGpus();
    } finally {
      await runner.close();
    }
  },
  async load(options) {
    // Loaded lazily: the torch runner's module starts nothing until used.
    const { TorchRunner } = await import("./runner.js");
    return new TorchRunner(options);
  },
};
