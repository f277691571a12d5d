// What a technique does to a model's parameters, bytes and FLOPs, by arithmetic only (instant for 70B
// configs). `bench inspect` and the stored per-case metrics read this.
import type { ModelConfig } from "../suite/schema.js";
import { accountModel, FP32_BYTES } from "../model/accounting.js";
import { dimensionsOf, projectionShape, type ProjectionName } from "../model/architecture.js";
import { quantizedOutputsBytes, quantizedOutputsNote, type QuantizedOutputsOptions } from "./quantized-outputs.js";

export interface TechniqueAccounting {
  /** Parameters of the model as run; quantised weights count as the parameters they stand for. */
  totalParams: number;
  /** What training would update: the adapters for PEFT, every parameter for the base (full fine-tuning); null with a reason when the technique is not trained. */
  trainableParams: number | null;
  trainableReason?: string;
  /** Parameters used per token (less than total for MoE). */
  activeParamsPerToken: number;
  /** Bytes of every weight as stored at run time (scales and zero points included). */
  weightBytes: number;
  adapterParams: number;
  adapterBytes: number;
  /** Matmul FLOPs per token beyond the base model's (unmerged adapter paths). */
  extraFlopsPerToken: number;
  /** FLOPs per forward pass that do not scale with tokens (unmerged DoRA's weight norm). */
  extraFlopsPerForward: number;
  notes: string[];
}

/** The unmodified fp32 model: full fine-tuning would train everything. */
export function baseAccounting(model: ModelConfig): TechniqueAccounting {
  const a = accountModel(model);
  return {
    totalParams: a.totalParams,
    trainableParams: a.totalParams,
    activeParamsPerToken: a.activeParams ?? a.totalParams,
    weightBytes: a.weightBytes,
    adapterParams: 0,
    adapterBytes: 0,
    extraFlopsPerToken: 0,
    extraFlopsPerForward: 0,
    notes: [],
  };
}

export { FP32_BYTES };

/**
 * Weight-only quantisation of some linears: parameter counts unchanged (packed weights count as the parameters
 * they stand for), bytes as stored, nothing trainable. `bytesOf(out, in)` is one quantised linear's storage.
 */
export function quantizedAccounting(
  model: ModelConfig,
  targets: Iterable<ProjectionName>,
  bytesOf: (out: number, inFeatures: number) => number,
  trainableReason: string,
  outputs: QuantizedOutputsOptions = { lmHead: false, embeddings: false },
): TechniqueAccounting {
  const a = accountModel(model);
  const dims = dimensionsOf(model);
  let quantizedParams = 0;
  let quantizedBytes = 0;
  for (const projection of targets) {
    const [out, inFeatures] = projectionShape(dims, projection);
    quantizedParams += dims.layers * out * inFeatures;
    quantizedBytes += dims.layers * bytesOf(out, inFeatures);
  }
  const vocabularyMatrices = quantizedOutputsBytes(model, outputs, bytesOf); // embeddings / lm_head, when quantised
  quantizedParams += vocabularyMatrices.quantizedParams;
  quantizedBytes += vocabularyMatrices.quantizedBytes;
  return {
    totalParams: a.totalParams,
    trainableParams: null,
    trainableReason,
    activeParamsPerToken: a.totalParams,
    weightBytes: (a.totalParams - quantizedParams) * FP32_BYTES + quantizedBytes,
    adapterParams: 0,
    adapterBytes: 0,
    extraFlopsPerToken: 0,
    extraFlopsPerForward: 0,
    notes: [quantizedOutputsNote(model, outputs)],
  };
}
