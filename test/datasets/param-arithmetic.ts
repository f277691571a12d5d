// Parameter arithmetic written from the transformers modelling code, independent of src/model, so that the two can
// check each other (test/datasets/architectures.test.ts holds both against transformers' meta-device counts).
import type { ModelConfig } from "../../src/suite/schema.js";

export interface Counts {
  totalParams: number;
  activeParams: number;
}

/**
 * Parameter arithmetic written from the transformers modelling code (Llama/Qwen2/Mistral decoder layers, Mixtral-style
 * experts of three matrices each, DeepSeek-style shared experts), independent of src/model so that the two can
 * check each other.
 */
export function handCount(model: ModelConfig): Counts {
  const kvHeads = model.kvHeads ?? model.heads;
  const headDim = model.headDim ?? model.hidden / model.heads;
  const qDim = model.heads * headDim;
  const kvDim = kvHeads * headDim;
  const attention =
    model.hidden * qDim + 2 * model.hidden * kvDim + qDim * model.hidden + (model.attentionBias ? qDim + 2 * kvDim : 0);
  const norms = 2 * model.hidden;
  const denseMlp = 3 * model.hidden * model.ffn;
  let total =
    model.layers * (attention + norms) + model.hidden + model.vocab * model.hidden * (model.tieEmbeddings ? 1 : 2);
  let inactive = 0;
  const moe = model.moe;
  if (!moe) return { totalParams: total + model.layers * denseMlp, activeParams: total + model.layers * denseMlp };
  const expertFfn = moe.expertFfn ?? model.ffn;
  const perExpert = 3 * model.hidden * expertFfn;
  const shared = moe.sharedExperts * 3 * model.hidden * (moe.sharedFfn ?? expertFfn);
  const moeLayers = model.layers - moe.firstDenseLayers;
  total +=
    moe.firstDenseLayers * denseMlp + moeLayers * (model.hidden * moe.experts + moe.experts * perExpert + shared);
  inactive = moeLayers * (moe.experts - moe.topK) * perExpert;
  return { totalParams: total, activeParams: total - inactive };
}
