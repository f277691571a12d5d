// The llamacpp runner's definition: llama.cpp through node-llama-cpp's prebuilt binaries, on GGUF files the project
// writes from its models (docs/llamacpp.md). The CPU by default; CUDA or Vulkan only when asked for.
import type { RunnerDefinition } from "../../src/runner/contract.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { accountModel } from "../../src/model/accounting.js";
import { llamacppSettingsSchema, type LlamacppSettings } from "./settings.js";
import { llamacppUnsupportedReason } from "./support.js";
import { registerQuantTechnique } from "./quant-technique.js";
import { ggufWeightBytes } from "./gguf/accounting.js";

registerQuantTechnique(); // suites may use it as soon as the runner is registered

export const llamacppRunnerDefinition: RunnerDefinition<LlamacppSettings> = {
  name: "llamacpp",
  description:
    "llama.cpp through node-llama-cpp (prebuilt binaries, no Python): GGUF types, K-quants and LoRA adapters",
  settingsSchema: llamacppSettingsSchema,
  deviceClass: (s) => s.gpu,
  onHost: (s) => s.gpu === "cpu",
  hostThreads: (s) => s.threads,
  unsupportedReason: llamacppUnsupportedReason,
  // The synthesised fp32 weights (twice while a merged or quantised copy is derived), then the GGUF llama.cpp maps.
  hostMemory: (c, inspection) => {
    if ((c.settings as LlamacppSettings).gpu !== "cpu") return undefined;
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
    if (c.model.gguf)
      return {
        hostBytes: inspection.weightBytes + inspection.kvCacheBytes,
        explanation: `the local GGUF's ${gib(c.model.gguf.tensorBytes)} of tensors (run as they are) and the KV cache`,
      };
    const fp32 = accountModel(c.model).weightBytes;
    return {
      hostBytes: 2 * fp32 + inspection.weightBytes + inspection.kvCacheBytes,
      explanation: `2 × ${gib(fp32)} of fp32 weights while writing the GGUF, then its ${gib(inspection.weightBytes)}`,
    };
  },
  // The model file's bytes as written: a technique that is not a GGUF type is written in the `weights` type.
  heldAccounting: (c, a) => {
    const weights = (c.settings as LlamacppSettings).weights;
    if (c.model.gguf || getTechnique(c.technique.kind).family === "gguf" || weights === "f32") return undefined;
    return {
      ...a,
      // The model file, plus what the technique adds to the base's bytes (an adapter, in its own GGUF).
      weightBytes: ggufWeightBytes(c.model, weights) + (a.weightBytes - accountModel(c.model).weightBytes),
      notes: [...a.notes, `weights as the GGUF file holds them: ${weights.toUpperCase()} (norms and router F32)`],
    };
  },
  techniqueNotes: (c) =>
    getTechnique(c.technique.kind).family === "adapter"
      ? [
          (c.technique as { merged?: boolean }).merged
            ? "merged into the GGUF's weights"
            : `a GGUF LoRA adapter${c.model.gguf ? " (seeded from the local file's shapes)" : ""} attached at context creation (llama.cpp computes s·B·A·x beside the base matmul)`,
        ]
      : [],
  estimate: {
    startS: 3.0,
    device: (s) => (s.gpu === "cuda" ? "cuda" : "cpu"),
    seededWeights: (c) => c.model.gguf !== undefined, // a local GGUF is mapped as it is: nothing is synthesised
  },
  async load() {
    const { LlamacppRunner } = await import("./runner.js");
    return new LlamacppRunner();
  },
};
