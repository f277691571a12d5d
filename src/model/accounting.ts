// Parameter, byte and FLOP accounting of a llama-family model by arithmetic only (no weights are
// allocated, so a 70B config is instant). Counts equal what Hugging Face `transformers` reports for the
// same config (sum of p.numel() over model.parameters(), tied weights once); see test/model/accounting.test.ts.
//
// FLOPs (multiply-add = 2 FLOPs), per token, following Kaplan et al. 2020 ("Scaling Laws for Neural
// Language Models", Table 1) with GQA's narrower K/V:
//   linear  = 2 · (matmul weights of all layers + lm_head)     — the embedding lookup is free; norms,
//             residual adds, biases, activations and softmax are elementwise and not counted
//   attention at L attended keys = layers · 4 · heads · headDim · L   (QKᵀ: 2·q·L, probs·V: 2·q·L)
// decode at context C attends L = C + 1 keys (the cache and itself); prefill of C tokens attends
// (C + 1)/2 keys on average (causal). prefillFlopsPerSequence counts what the emitted graph runs: the
// lm_head once per sequence unless all logits are requested.
//
// Bytes of one decode step (the algorithmic minimum a memory-bound step must move, what MBU divides):
// every weight read once (all matmul weights, norms, biases; the embedding rows of the batch's tokens),
// plus the KV cache read (batch · layers · 2 · kvHeads · headDim · C values).
import type { ModelConfig } from "../suite/schema.js";
import { dimensionsOf } from "./architecture.js";
import { accountMoeModel } from "./moe-accounting.js";
import { accountDenseModel, FP32_BYTES, type ModelAccounting } from "./dense-accounting.js";

export { FP32_BYTES, type ModelAccounting } from "./dense-accounting.js";

export function accountModel(model: ModelConfig): ModelAccounting {
  return model.moe ? accountMoeModel(model) : accountDenseModel(model);
}

/** Attention FLOPs of one token attending `keys` keys, over all layers. */
export function attentionFlopsPerToken(model: ModelConfig, keys: number): number {
  const dims = dimensionsOf(model);
  return dims.layers * 4 * dims.qDim * keys;
}

/** FLOPs of one decode step of one sequence at context `contextTokens` (cache length). */
export function decodeFlopsPerToken(model: ModelConfig, contextTokens: number): number {
  const a = accountModel(model);
  return 2 * (a.layerLinearParams + a.lmHeadMatmulParams) + attentionFlopsPerToken(model, contextTokens + 1);
}

/** Mean FLOPs per token of a prefill of `promptTokens` tokens, lm_head counted for every token (Kaplan). */
export function prefillFlopsPerToken(model: ModelConfig, promptTokens: number): number {
  const a = accountModel(model);
  return 2 * (a.layerLinearParams + a.lmHeadMatmulParams) + attentionFlopsPerToken(model, (promptTokens + 1) / 2);
}

/** FLOPs the emitted prefill graph runs for one sequence: lm_head on the last position only unless `allLogits`. */
export function prefillFlopsPerSequence(model: ModelConfig, promptTokens: number, allLogits = false): number {
  const a = accountModel(model);
  const attention = attentionFlopsPerToken(model, 1) * ((promptTokens * (promptTokens + 1)) / 2);
  return promptTokens * 2 * a.layerLinearParams + (allLogits ? promptTokens : 1) * 2 * a.lmHeadMatmulParams + attention;
}

/** Bytes one decode step must move at least: all weights once, the batch's embedding rows, the KV cache. */
export function bytesPerDecodeStep(
  model: ModelConfig,
  contextTokens: number,
  batch = 1,
  bytesPerWeight = FP32_BYTES,
  bytesPerCacheValue = FP32_BYTES,
): number {
  const a = accountModel(model);
  const dims = dimensionsOf(model);
  const weightsRead =
    (a.layerLinearParams + a.lmHeadMatmulParams + a.normParams + a.biasParams) * bytesPerWeight +
    batch * dims.hidden * bytesPerWeight;
  const cacheRead = batch * a.kvCacheValuesPerToken * contextTokens * bytesPerCacheValue;
  return weightsRead + cacheRead;
}
