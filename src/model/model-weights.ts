// A whole model's seeded synthetic weights: every dense tensor, or a MoE's routers and expert stacks
// (src/model/moe.ts), each from src/model/weights.ts's per-tensor synthesis.
import type { ModelConfig } from "../suite/schema.js";
import { denseTensorShapes, dimensionsOf } from "./architecture.js";
import { synthesizeTensor, type SynthesisOptions, type WeightMap } from "./weights.js";
import { moeModelTensorShapes, synthesizeMoeTensor } from "./moe.js";

/** Every weight of the model, deterministic in `model.weights.seed` (HF names, [out, in] layout). */
export function synthesizeWeights(model: ModelConfig): WeightMap {
  if (model.checkpoint)
    throw new Error(
      `model ${model.name} comes from the checkpoint ${model.checkpoint}: load its weights (loadCheckpointWeights in src/model/checkpoint.ts), do not synthesise them`,
    );
  if (model.gguf)
    throw new Error(
      `model ${model.name} is the local GGUF ${model.gguf.path}: it runs as the file is, on a runner that loads GGUF files — its weights are neither read nor synthesised by the harness`,
    );
  dimensionsOf(model); // validates the shape before allocating anything
  const options: SynthesisOptions = { seed: model.weights.seed, distribution: model.weights.distribution };
  const weights: WeightMap = new Map();
  // MoE: routers and 3-D expert stacks replace the mlp.* of MoE layers (src/model/moe.ts).
  if (model.moe)
    for (const [name, shape] of moeModelTensorShapes(model, denseTensorShapes(model)))
      weights.set(name, synthesizeMoeTensor(name, shape, options));
  else for (const [name, shape] of denseTensorShapes(model)) weights.set(name, synthesizeTensor(name, shape, options));
  return weights;
}
