// Parameter accounting of a dense decoder by arithmetic: the base of every model's accounting (a MoE's replaces its
// MLPs, src/model/moe-accounting.ts). Kept apart from accounting.ts so that the MoE accounting needs no import cycle.
import type { ModelConfig } from "../suite/schema.js";
import { PROJECTIONS, dimensionsOf, projectionHasBias, projectionShape } from "./architecture.js";

export const FP32_BYTES = 4;

export interface ModelAccounting {
  totalParams: number;
  /** embed_tokens, plus lm_head when untied (Kaplan's "embedding parameters"). */
  embeddingParams: number;
  nonEmbeddingParams: number;
  /** Weights of the decoder layers' linears (q, k, v, o, gate, up, down), biases excluded. */
  layerLinearParams: number;
  /** vocab · hidden: the output projection's matmul weights (tied or not). */
  lmHeadMatmulParams: number;
  normParams: number;
  biasParams: number;
  /** totalParams · 4 (all fp32). */
  weightBytes: number;
  /** Values of K and V cached per token per sequence: layers · 2 · kvHeads · headDim. */
  kvCacheValuesPerToken: number;
  /** Parameters one token uses (MoE: total minus the skipped routed experts); absent for dense models. */
  activeParams?: number;
}

/** A dense model's parameters by arithmetic (a MoE's go through src/model/moe-accounting.ts, which starts here). */
export function accountDenseModel(model: ModelConfig): ModelAccounting {
  const dims = dimensionsOf(model);
  let layerLinearParams = 0;
  let biasParams = 0;
  for (const projection of PROJECTIONS) {
    const [out, inFeatures] = projectionShape(dims, projection);
    layerLinearParams += out * inFeatures;
    if (projectionHasBias(model, projection)) biasParams += out;
  }
  layerLinearParams *= dims.layers;
  biasParams *= dims.layers;
  // Two RMSNorms per layer and the final one; Qwen3's q_norm and k_norm add two of the head dimension per layer.
  const normParams = dims.layers * 2 * dims.hidden + dims.hidden + (model.qkNorm ? dims.layers * 2 * dims.headDim : 0);
  const embedTokens = dims.vocab * dims.hidden;
  const lmHead = model.tieEmbeddings ? 0 : dims.vocab * dims.hidden;
  const embeddingParams = embedTokens + lmHead;
  const totalParams = layerLinearParams + biasParams + normParams + embeddingParams;
  return {
    totalParams,
    embeddingParams,
    nonEmbeddingParams: totalParams - embeddingParams,
    layerLinearParams,
    lmHeadMatmulParams: dims.vocab * dims.hidden,
    normParams,
    biasParams,
    weightBytes: totalParams * FP32_BYTES,
    kvCacheValuesPerToken: dims.layers * 2 * dims.kvDim,
  };
}
