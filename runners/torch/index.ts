// The torch runner's definition: real transformers + peft in a Python worker, on CPU or CUDA. What the worker
// implements is said by technique family (the technique registry sends each case's family), never by kind lists.
import type { RunnerDefinition } from "../../src/runner/contract.js";
import type { Case } from "../../src/suite/case.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { weightCopiesMemory } from "../shared/memory.js";
import { torchSettingsSchema, type TorchSettings } from "./settings.js";

/** Technique families the worker builds (runners/torch/hf_model.py); others are `unsupported` with the reason. */
const TORCH_FAMILIES = new Set(["base", "adapter", "quantized", "half", "mole"]);
const TORCH_SCENARIOS = new Set(["prefill", "decode", "generate", "train-step", "adapter-swap", "merge"]);

export const torchRunnerDefinition: RunnerDefinition<TorchSettings> = {
  name: "torch",
  description: "transformers + peft in a Python worker (CPU or CUDA): the GPU path",
  settingsSchema: torchSettingsSchema,
  deviceClass: (s) => s.device,
  onHost: (s) => s.device === "cpu",
  unsupportedReason: torchStaticReason,
  hostMemory: (c, inspection) =>
    (c.settings as TorchSettings).device === "cpu" ? weightCopiesMemory(inspection, 3) : undefined,
  estimate: { startS: 2.0, device: (s) => (s.device === "cpu" ? "cpu" : "cuda") },
  async load(options) {
    // Loaded lazily: the torch runner's module starts nothing until used.
    const { TorchRunner } = await import("./runner.js");
    return new TorchRunner(options);
  },
};

/** What the torch runner cannot run, known without starting Python. */
export function torchStaticReason(c: Case): string | undefined {
  const technique = getTechnique(c.technique.kind);
  const params = c.technique as { merged?: boolean; lmHead?: boolean; embeddings?: boolean };
  if (!TORCH_SCENARIOS.has(c.scenario)) return `the torch runner does not implement the ${c.scenario} scenario yet`;
  if (!TORCH_FAMILIES.has(technique.family))
    return `the torch runner does not implement technique ${c.technique.kind} (family ${technique.family})`;
  if (technique.family === "quantized" && (params.lmHead || params.embeddings))
    return `${c.technique.kind} lmHead/embeddings run on the ort runner only: the torch worker quantises the decoder linears`;
  if (technique.family === "quantized" && c.scenario === "train-step")
    return c.technique.kind === "int4"
      ? "int4 alone is not fine-tuned on torch: the packed int4 weights have no gradient (train LoRA over it with base: int4, QLoRA-style)"
      : `${c.technique.kind} alone is not fine-tuned on torch: ${c.technique.kind} weights have no gradient (train an adapter over an fp32 or int4 base instead)`;
  if ((c.scenario === "adapter-swap" || c.scenario === "merge") && (technique.family !== "adapter" || params.merged))
    return `the ${c.scenario} scenario needs an unmerged adapter technique (lora, rslora or dora with merged: false)`;
  if (c.model.moe && c.model.attentionBias)
    return "a MoE model with q/k/v biases: the torch runner builds MoE models as Mixtral, which has none — set the model's attentionBias to false, or run it on the ort runner";
  if (params.merged && c.scenario === "train-step")
    return "a merged adapter has no separate trainable parameters: train-step needs merged: false";
  return undefined;
}
