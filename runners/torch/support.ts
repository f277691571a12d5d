// What the torch runner cannot run, known without starting Python: by scenario and by technique family (the
// registry's), never by a list of technique kinds.
import type { Case } from "../../src/suite/case.js";
import { getTechnique } from "../../src/techniques/registry.js";

/** Technique families the worker builds (runners/torch/hf_model.py); others are `unsupported` with the reason. */
const TORCH_FAMILIES = new Set(["base", "adapter", "quantized", "half", "mole", "moe-compression", "peft"]);
const TORCH_SCENARIOS = new Set(["prefill", "decode", "generate", "train-step", "adapter-swap", "merge"]);

/** What the torch runner cannot run, known without starting Python. */
export function torchStaticReason(c: Case): string | undefined {
  const technique = getTechnique(c.technique.kind);
  const params = c.technique as { merged?: boolean; lmHead?: boolean; embeddings?: boolean };
  if (c.model.gguf)
    return "a local GGUF runs on the llamacpp runner; the torch runner loads Hugging Face weights, which needs a checkpoint directory (checkpoint: …) or synthesised weights";
  if (!TORCH_SCENARIOS.has(c.scenario)) return `the torch runner does not implement the ${c.scenario} scenario yet`;
  if (!TORCH_FAMILIES.has(technique.family))
    return `the torch runner does not implement technique ${c.technique.kind} (family ${technique.family})`;
  if (technique.family === "quantized" && (params.lmHead || params.embeddings))
    return `${c.technique.kind} lmHead/embeddings run on the ort runner only: the torch worker quantises the decoder linears`;
  if (technique.family === "quantized" && c.scenario === "train-step")
    return c.technique.kind === "int4"
      ? "int4 alone is not fine-tuned on torch: the packed int4 weights have no gradient (train LoRA over it with base: int4, QLoRA-style)"
      : `${c.technique.kind} alone is not fine-tuned on torch: ${c.technique.kind} weights have no gradient (train an adapter over an fp32 or int4 base instead)`;
  if (
    (c.scenario === "adapter-swap" || c.scenario === "merge") &&
    ((technique.family !== "adapter" && technique.family !== "peft") || params.merged)
  )
    return `the ${c.scenario} scenario needs an unmerged adapter technique (lora, rslora, dora or peft with merged: false)`;
  if (c.model.moe && c.model.attentionBias)
    return "a MoE model with q/k/v biases: the torch runner builds MoE models as Mixtral, which has none — set the model's attentionBias to false, or run it on the ort runner";
  if (params.merged && c.scenario === "train-step")
    return "a merged adapter has no separate trainable parameters: train-step needs merged: false";
  return undefined;
}
