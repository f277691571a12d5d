// Quantising the vocabulary matrices too (int4 / int8 `lmHead` and `embeddings`, docs/quantized-stacks.md): by default the
// token embedding and lm_head stay fp32 (they are often the most sensitive weights, and for small models with
// large vocabularies the largest). With `lmHead: true` the logits come from a quantised linear (MatMulNBits /
// MatMulInteger over hidden → vocab); with `embeddings: true` the token rows are gathered from a quantised
// table and dequantised per token (runners/ort/onnx/quantized-embedding-onnx.ts). A tied model quantises its one matrix
// once when both are asked for; with only one of them, the other use keeps the fp32 matrix and the quantised
// copy is stored beside it (counted in the bytes).
import { z } from "zod";
import { EMBED_TOKENS, LM_HEAD } from "../model/architecture.js";
import { irFloatTensor, type Int4Linear, type Int8Linear, type IrTensor, type ModelIr } from "../model/ir.js";
import type { ModelConfig } from "../suite/schema.js";
import type { Tensor } from "../model/weights.js";
import { dimensionsOf } from "../model/architecture.js";

export const quantizedOutputsParams = {
  /** Also quantise the output projection (lm_head, or the tied embedding used as one). */
  lmHead: z.boolean().default(false),
  /** Also quantise the token embedding table (rows dequantised per token at run time). */
  embeddings: z.boolean().default(false),
};

export interface QuantizedOutputsOptions {
  lmHead: boolean;
  embeddings: boolean;
}

/** One [vocab, hidden] matrix quantised under a module name: the linear that reads it and its new tensors. */
export type QuantizeMatrix = (
  weight: Tensor,
  module: string,
) => { linear: Int4Linear | Int8Linear; tensors: Map<string, IrTensor> };

/** The IR with its embedding and/or output projection quantised (a copy; tensors shared). */
export function withQuantizedOutputs(ir: ModelIr, options: QuantizedOutputsOptions, quantize: QuantizeMatrix): ModelIr {
  if (!options.lmHead && !options.embeddings) return ir;
  const result: ModelIr = { ...ir, tensors: new Map(ir.tensors), notes: [...ir.notes] };
  const apply = (name: string, module: string) => {
    const { linear, tensors } = quantize(irFloatTensor(ir, name), module);
    for (const [tensorName, tensor] of tensors) result.tensors.set(tensorName, tensor);
    return linear;
  };
  if (ir.config.tieEmbeddings) {
    const linear = apply(EMBED_TOKENS, "model.embed_tokens");
    if (options.lmHead) result.outputLinear = linear;
    if (options.embeddings) result.embeddingLinear = linear;
    if (options.lmHead && options.embeddings) result.tensors.delete(EMBED_TOKENS);
  } else {
    if (options.lmHead) {
      result.outputLinear = apply(LM_HEAD, "lm_head");
      result.tensors.delete(LM_HEAD);
    }
    if (options.embeddings) {
      result.embeddingLinear = apply(EMBED_TOKENS, "model.embed_tokens");
      result.tensors.delete(EMBED_TOKENS);
    }
  }
  result.notes.push(quantizedOutputsNote(ir.config, options));
  return result;
}

export function quantizedOutputsNote(model: ModelConfig, options: QuantizedOutputsOptions): string {
  if (!options.lmHead && !options.embeddings) return "embeddings, lm_head and norms stay fp32";
  const parts = [
    options.embeddings ? "embeddings quantised (rows dequantised per token)" : "embeddings fp32",
    options.lmHead ? "lm_head quantised" : "lm_head fp32",
  ];
  if (model.tieEmbeddings && options.lmHead !== options.embeddings)
    parts.push("tied: the quantised copy is stored beside the fp32 matrix");
  return `${parts.join(", ")}; norms fp32`;
}

export function quantizedOutputsLabel(options: QuantizedOutputsOptions): string {
  return `${options.embeddings ? " +embed" : ""}${options.lmHead ? " +lm_head" : ""}`;
}

/**
 * Parameters that change from fp32 to quantised storage, and the quantised bytes added, for the vocabulary
 * matrices (`bytesOf(vocab, hidden)` is one quantised [vocab, hidden] matrix).
 */
export function quantizedOutputsBytes(
  model: ModelConfig,
  options: QuantizedOutputsOptions,
  bytesOf: (out: number, inFeatures: number) => number,
): { quantizedParams: number; quantizedBytes: number } {
  const { vocab, hidden } = dimensionsOf(model);
  const matrix = vocab * hidden;
  const bytes = bytesOf(vocab, hidden);
  if (model.tieEmbeddings) {
    if (options.lmHead && options.embeddings) return { quantizedParams: matrix, quantizedBytes: bytes };
    if (options.lmHead || options.embeddings) return { quantizedParams: 0, quantizedBytes: bytes }; // an extra copy beside the fp32 one
    return { quantizedParams: 0, quantizedBytes: 0 };
  }
  const count = (options.lmHead ? 1 : 0) + (options.embeddings ? 1 : 0);
  return { quantizedParams: count * matrix, quantizedBytes: count * bytes };
}
