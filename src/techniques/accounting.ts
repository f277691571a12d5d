// What a technique does to a model's parameters, bytes and FLOPs, by arithmetic only (instant for 70B
// configs). `bench inspect` and the stored per-case metrics read this.
import type { ModelConfig } from "../suite/schema.js";
import { accountModel, FP32_BYTES } from "../model/accounting.js";
import { PROJECTIONS, dimensionsOf, projectionShape, type ProjectionName } from "../model/architecture.js";
import { isMoeLayer, moeShapeOf } from "../model/moe.js";
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
  /** Set when the counts above are the base model's only: the runner counts the technique (the reason says where). */
  countedByRunner?: string;
}

/** One kind of linear the techniques rewrite, with its shape and how many of it the model has. */
export interface LinearSite {
  projection: ProjectionName;
  out: number;
  inFeatures: number;
  /** Layers that hold this linear. */
  count: number;
}

/**
 * The linears a technique's targets reach, as the IR (mapLinears) and peft's target_modules do: the attention
 * projections of every layer and the MLP projections of dense layers and of a MoE layer's shared experts. A MoE
 * layer's routed experts are fused 3-D tensors (transformers 5), not linears: adapters and weight quantisation
 * leave them as they are. Every site is on every token's path, so a technique's own parameters there are active.
 */
export function linearSites(model: ModelConfig, targets: Iterable<ProjectionName> = PROJECTIONS): LinearSite[] {
  const dims = dimensionsOf(model);
  const chosen = new Set(targets);
  const moeLayers = model.moe
    ? Array.from({ length: dims.layers }, (_, l) => l).filter((l) => isMoeLayer(model, l)).length
    : 0;
  const sharedWidth = model.moe ? moeShapeOf(model).sharedWidth : 0;
  const sites: LinearSite[] = [];
  for (const projection of PROJECTIONS) {
    if (!chosen.has(projection)) continue;
    const [out, inFeatures] = projectionShape(dims, projection);
    if (projection === "gate_proj" || projection === "up_proj" || projection === "down_proj") {
      if (dims.layers - moeLayers > 0) sites.push({ projection, out, inFeatures, count: dims.layers - moeLayers });
      if (moeLayers > 0 && sharedWidth > 0) {
        const shared: [number, number] =
          projection === "down_proj" ? [dims.hidden, sharedWidth] : [sharedWidth, dims.hidden];
        sites.push({ projection, out: shared[0], inFeatures: shared[1], count: moeLayers });
      }
    } else sites.push({ projection, out, inFeatures, count: dims.layers });
  }
  return sites;
}

/** Parameters one token uses in the model without a technique (a MoE's active count; all of a dense model). */
export function baseActiveParams(model: ModelConfig): number {
  const a = accountModel(model);
  return a.activeParams ?? a.totalParams;
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
  let quantizedParams = 0;
  let quantizedBytes = 0;
  for (const { out, inFeatures, count } of linearSites(model, targets)) {
    quantizedParams += count * out * inFeatures;
    quantizedBytes += count * bytesOf(out, inFeatures);
  }
  const vocabularyMatrices = quantizedOutputsBytes(model, outputs, bytesOf); // embeddings / lm_head, when quantised
  quantizedParams += vocabularyMatrices.quantizedParams;
  quantizedBytes += vocabularyMatrices.quantizedBytes;
  return {
    totalParams: a.totalParams,
    trainableParams: null,
    trainableReason,
    // Quantisation changes bytes, not which parameters a token uses.
    activeParamsPerToken: baseActiveParams(model),
    weightBytes: (a.totalParams - quantizedParams) * FP32_BYTES + quantizedBytes,
    adapterParams: 0,
    adapterBytes: 0,
    extraFlopsPerToken: 0,
    extraFlopsPerForward: 0,
    notes: [quantizedOutputsNote(model, outputs)],
  };
}
