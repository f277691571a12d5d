// The `quant` technique: the model as a GGUF file of one of llama.cpp's types (q8_0, q4_0, q4_k_m…), quantised by
// the project's own code (runners/llamacpp/gguf/) and run by llama.cpp's kernels — only on the llamacpp runner, which
// registers it (registerQuantTechnique) beside the built-in techniques.
import { z } from "zod";
import type { Technique } from "../../src/techniques/technique.js";
import { registerTechnique, techniqueKinds } from "../../src/techniques/registry.js";
import { accountModel } from "../../src/model/accounting.js";
import { GGUF_FILE_TYPES } from "./gguf/file-types.js";
import { ggufModelRefusal } from "./gguf/model-gguf.js";
import { ggufWeightBytes } from "./gguf/accounting.js";

const params = z
  .object({
    kind: z.literal("quant"),
    name: z.string().optional(),
    /** The GGUF file type (llama.cpp's names, lower case): q4_k_m = Q4_K with Q6_K for the output and some attn_v / ffn_down. */
    type: z.enum(GGUF_FILE_TYPES),
  })
  .strict();

export const quantTechnique: Technique<typeof params> = {
  kind: "quant",
  // Its own family: only the llamacpp runner implements it (ort refuses it for having no ONNX form, torch by family).
  family: "gguf",
  params,
  label: (p) => `gguf ${p.type}`,
  unsupportedReason: (p, scenario, model) => {
    if (scenario === "train-step" || scenario === "merge" || scenario === "adapter-swap")
      return `a quantised GGUF model has nothing to ${scenario === "train-step" ? "train" : scenario === "merge" ? "merge" : "swap"} on the llamacpp runner`;
    // A local GGUF model: the runner's own check says why it is not re-quantised (runners/llamacpp/support.ts).
    return model && !model.gguf ? ggufModelRefusal(model, p.type) : undefined;
  },
  account: (model, p) => {
    const a = accountModel(model);
    return {
      totalParams: a.totalParams,
      trainableParams: null,
      trainableReason: "post-training quantisation: nothing is trained",
      activeParamsPerToken: a.activeParams ?? a.totalParams,
      weightBytes: model.gguf ? a.weightBytes : ggufWeightBytes(model, p.type), // a local GGUF is not re-quantised
      adapterParams: 0,
      adapterBytes: 0,
      extraFlopsPerToken: 0,
      extraFlopsPerForward: 0,
      notes: [`GGUF ${p.type}: bytes as the file stores them (block scales included), norms F32`],
    };
  },
};

/** Registers the quant technique (idempotent): the runner's definition and its child processes call it. */
export function registerQuantTechnique(): void {
  if (!techniqueKinds().includes(quantTechnique.kind)) registerTechnique(quantTechnique);
}

declare module "../../src/techniques/technique.js" {
  interface TechniqueInputs {
    /** GGUF types on the llamacpp runner. */
    quant: z.input<typeof params>;
  }
}
