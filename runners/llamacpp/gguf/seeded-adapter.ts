// A GGUF LoRA adapter for a local GGUF model, from the model's shapes alone: the harness never reads a local file's
// tensor data, and seeded adapter weights need none — A and B are the same seeded tensors src/techniques/adapters.ts
// gives a synthesised model of the same shape (so a trained-adapter-sized update, not B = 0).
import type { ModelConfig } from "../../../src/suite/schema.js";
import { dimensionsOf, projectionModule, projectionShape } from "../../../src/model/architecture.js";
import { randomTensor } from "../../../src/model/weights.js";
import {
  ADAPTER_RELATIVE_UPDATE,
  adapterScale,
  targetProjections,
  type AdapterParams,
  type AdapterVariant,
} from "../../../src/techniques/adapters.js";
import { GGUF_NAME, permuteHeads, type ModelGguf } from "./model-gguf.js";
import { quantize } from "./quants.js";
import type { GgufTensor } from "./writer.js";

/** Why a seeded adapter cannot be written for this model (undefined: it can). */
export function seededAdapterRefusal(model: ModelConfig, params: Pick<AdapterParams, "targets">): string | undefined {
  const ffn = targetProjections(params).filter((p) => p === "gate_proj" || p === "up_proj" || p === "down_proj");
  if (model.moe && ffn.length > 0)
    return `a GGUF LoRA adapter on a MoE file's experts (${ffn.join(", ")}) is not written: target the attention projections (q_proj, k_proj, v_proj, o_proj)`;
  return undefined;
}

/**
 * The adapter file of `variant` over a local GGUF of `architecture` (its `general.architecture`, which llama.cpp
 * checks against the model's). llama-architecture files hold q/k rows in llama.cpp's interleaved rope order, so
 * LoRA B's rows on q and k are permuted as the writer permutes a synthesised model's; qwen2/qwen3 files are not.
 */
export function seededLoraGguf(
  model: ModelConfig,
  variant: AdapterVariant,
  params: AdapterParams,
  architecture: string,
): ModelGguf {
  const refusal = seededAdapterRefusal(model, params);
  if (refusal) throw new Error(refusal);
  const dims = dimensionsOf(model);
  const scale = adapterScale(variant, params);
  const { rank } = params;
  const seed = model.weights.seed;
  const tensors: GgufTensor[] = [];
  for (let layer = 0; layer < model.layers; layer++)
    for (const projection of targetProjections(params)) {
      const [out, inFeatures] = projectionShape(dims, projection);
      const module = projectionModule(layer, projection);
      const base = `blk.${layer}.${GGUF_NAME[projection]}.weight`;
      const heads =
        architecture !== "llama"
          ? 0
          : projection === "q_proj"
            ? dims.heads
            : projection === "k_proj"
              ? dims.kvHeads
              : 0;
      tensors.push({
        name: `${base}.lora_a`,
        ne: [inFeatures, rank],
        type: "F32",
        data: () =>
          quantize(
            "F32",
            randomTensor(seed, `${module}.lora_A.weight`, [rank, inFeatures], 1 / Math.sqrt(inFeatures)).data,
            inFeatures,
          ),
      });
      tensors.push({
        name: `${base}.lora_b`,
        ne: [rank, out],
        type: "F32",
        data: () => {
          const b = randomTensor(
            seed,
            `${module}.lora_B.weight`,
            [out, rank],
            ADAPTER_RELATIVE_UPDATE / (scale * Math.sqrt(rank)),
          ).data;
          return quantize("F32", heads ? permuteHeads(b, out, rank, heads) : b, rank);
        },
      });
    }
  // llama.cpp scales an adapter by alpha / rank: alpha = scale·rank gives LoRA's α/r and RSLoRA's α/√r alike.
  return {
    metadata: [
      ["general.architecture", { type: "string", value: architecture }],
      ["general.type", { type: "string", value: "adapter" }],
      ["general.name", { type: "string", value: `${model.name} seeded ${variant} adapter` }],
      ["adapter.type", { type: "string", value: "lora" }],
      ["adapter.lora.alpha", { type: "f32", value: scale * rank }],
    ],
    tensors,
  };
}
