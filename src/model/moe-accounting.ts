// Parameter accounting of MoE models by arithmetic (instant for Mixtral-8x7B or DeepSeek-V3 configs). Totals equal
// transformers' sum of p.numel() on a meta-device model (test/datasets/architectures.test.ts, test/model/moe.test.ts);
// "active per token" is what Mixtral's "13B active" means: everything but the E − k routed experts a token skips.
//
// For the FLOP and byte formulas of accounting.ts, `layerLinearParams` of a MoE model counts the matmul weights one
// token runs through: attention, dense MLPs, routers, shared experts and k routed experts per MoE layer. Decode
// bytes then assume batch 1 (a batch of B tokens reads up to min(E, B·k) experts per layer).
import type { ModelConfig } from "../suite/schema.js";
import { accountDenseModel, FP32_BYTES, type ModelAccounting } from "./dense-accounting.js";
import { moeShapeOf } from "./moe.js";

export interface MoeAccounting extends ModelAccounting {
  /** Parameters one token uses: total minus the routed experts it skips. */
  activeParams: number;
  moeLayers: number;
  /** Parameters of one routed expert (three matrices). */
  perExpertParams: number;
  routerParams: number;
  routedExpertParams: number;
  sharedExpertParams: number;
}

export function accountMoeModel(model: ModelConfig): MoeAccounting {
  const s = moeShapeOf(model);
  const dense = accountDenseModel({ ...model, moe: undefined });
  const h = model.hidden;
  const moeLayers = model.layers - s.firstDenseLayers;
  const denseMlp = 3 * h * model.ffn;
  const perExpertParams = 3 * h * s.expertFfn;
  const routerParams = moeLayers * s.experts * h;
  const routedExpertParams = moeLayers * s.experts * perExpertParams;
  const sharedExpertParams = moeLayers * 3 * h * s.sharedWidth;
  const moeParams = routerParams + routedExpertParams + sharedExpertParams;
  const totalParams = dense.totalParams - moeLayers * denseMlp + moeParams;
  const activeParams = totalParams - moeLayers * (s.experts - s.topK) * perExpertParams;
  const layerLinearParams =
    dense.layerLinearParams -
    moeLayers * denseMlp +
    routerParams +
    sharedExpertParams +
    moeLayers * s.topK * perExpertParams;
  return {
    ...dense,
    totalParams,
    nonEmbeddingParams: totalParams - dense.embeddingParams,
    layerLinearParams,
    weightBytes: totalParams * FP32_BYTES,
    activeParams,
    moeLayers,
    perExpertParams,
    routerParams,
    routedExpertParams,
    sharedExpertParams,
  };
}
