// int4: block-wise 4-bit weights run by com.microsoft MatMulNBits (accuracy_level 4 = int8 activations
// on CPU, the fast path). Embeddings and lm_head stay fp32 unless `embeddings` / `lmHead` (quantized-outputs.ts);
// norms always do.
import { z } from "zod";
import type { ModelConfig } from "../suite/schema.js";
import { PROJECTIONS, projectionModule, type ProjectionName } from "../model/architecture.js";
import { irFloatTensor, mapLinears, type ModelIr } from "../model/ir.js";
import { int4Bytes, quantizeInt4 } from "../model/quantize.js";
import type { Technique } from "./technique.js";
import { quantizedAccounting, type TechniqueAccounting } from "./accounting.js";
import {
  quantizedOutputsLabel,
  quantizedOutputsParams,
  withQuantizedOutputs,
  type QuantizeMatrix,
} from "./quantized-outputs.js";

const projectionEnum = z.enum(PROJECTIONS as [ProjectionName, ...ProjectionName[]]);

const params = z
  .object({
    kind: z.literal("int4"),
    name: z.string().optional(),
    blockSize: z.number().int().min(16).default(32),
    symmetric: z.boolean().default(true),
    /** MatMulNBits accuracy_level: 4 quantises activations to int8, the fast CPU path. */
    accuracyLevel: z.number().int().min(0).max(4).default(4),
    targets: z.union([z.literal("all-linear"), z.array(projectionEnum).min(1)]).default("all-linear"),
    ...quantizedOutputsParams,
  })
  .strict();

export type Int4Params = z.output<typeof params>;
export const INT4_DEFAULTS: Omit<Int4Params, "kind"> = {
  blockSize: 32,
  symmetric: true,
  accuracyLevel: 4,
  targets: "all-linear",
  lmHead: false,
  embeddings: false,
};

function targets(p: Pick<Int4Params, "targets">): Set<ProjectionName> {
  return new Set(p.targets === "all-linear" ? PROJECTIONS : p.targets);
}

export function quantizeIrInt4(ir: ModelIr, p: Int4Params): ModelIr {
  const chosen = targets(p);
  const added = new Map<string, ReturnType<typeof quantizeInt4>[keyof ReturnType<typeof quantizeInt4>]>();
  const result = mapLinears(ir, (linear, layer, projection) => {
    if (!chosen.has(projection)) return linear;
    if (linear.kind !== "dense") throw new Error(`int4: cannot quantise a ${linear.kind} linear`);
    const module = projectionModule(layer, projection);
    const q = quantizeInt4(irFloatTensor(ir, linear.weight), p.blockSize, p.symmetric);
    added.set(`${module}.qweight`, q.packed);
    added.set(`${module}.scales`, q.scales);
    if (q.zeroPoints) added.set(`${module}.qzeros`, q.zeroPoints);
    return {
      kind: "int4",
      inFeatures: linear.inFeatures,
      outFeatures: linear.outFeatures,
      packedWeight: `${module}.qweight`,
      scales: `${module}.scales`,
      zeroPoints: q.zeroPoints ? `${module}.qzeros` : undefined,
      blockSize: p.blockSize,
      accuracyLevel: p.accuracyLevel,
      bias: linear.bias,
    };
  });
  for (const [name, tensor] of added)
    if (tensor && typeof tensor === "object" && "shape" in tensor) result.tensors.set(name, tensor);
  // The fp32 originals of quantised weights are not needed by the graph; drop them from the IR.
  for (const { layer, projection } of iterateTargets(ir, chosen))
    result.tensors.delete(`${projectionModule(layer, projection)}.weight`);
  result.notes.push(
    `int4 block ${p.blockSize} ${p.symmetric ? "symmetric" : "asymmetric"} accuracy_level ${p.accuracyLevel}`,
  );
  // The vocabulary matrices [vocab, hidden], when asked for: one MatMulNBits linear hidden → vocab each.
  const quantizeMatrix: QuantizeMatrix = (weight, module) => {
    const q = quantizeInt4(weight, p.blockSize, p.symmetric);
    const tensors = new Map<string, RawOrFloat>([
      [`${module}.qweight`, q.packed],
      [`${module}.scales`, q.scales],
    ]);
    if (q.zeroPoints) tensors.set(`${module}.qzeros`, q.zeroPoints);
    const [outFeatures, inFeatures] = weight.shape as [number, number];
    const linear = {
      kind: "int4",
      inFeatures,
      outFeatures,
      packedWeight: `${module}.qweight`,
      scales: `${module}.scales`,
      zeroPoints: q.zeroPoints ? `${module}.qzeros` : undefined,
      blockSize: p.blockSize,
      accuracyLevel: p.accuracyLevel,
    } as const;
    return { linear, tensors };
  };
  return withQuantizedOutputs(result, p, quantizeMatrix);
}

type RawOrFloat = ReturnType<typeof quantizeInt4>["packed"] | ReturnType<typeof quantizeInt4>["scales"];

function* iterateTargets(ir: ModelIr, chosen: Set<ProjectionName>) {
  for (let layer = 0; layer < ir.layers.length; layer++) for (const projection of chosen) yield { layer, projection };
}

export function int4Accounting(model: ModelConfig, p: Int4Params): TechniqueAccounting {
  return quantizedAccounting(
    model,
    targets(p),
    (out, inFeatures) => int4Bytes(out, inFeatures, p.blockSize, p.symmetric),
    "a quantised model alone is not fine-tuned (stack an adapter with base: int4 for QLoRA)",
    p,
  );
}

export const int4Technique: Technique<typeof params> = {
  kind: "int4",
  family: "quantized",
  params,
  label: (p) => `int4 b${p.blockSize} ${p.symmetric ? "sym" : "asym"}${quantizedOutputsLabel(p)}`,
  unsupportedReason: () => undefined,
  rewriteIr: quantizeIrInt4,
  account: int4Accounting,
};
