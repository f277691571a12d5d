// fp16 / bf16 weights. On the ort CPU EP there are no fp16/bf16 MatMul kernels on x86: the graph casts the
// half-precision weights to fp32 and ORT constant-folds that Cast at load, so the file is half the size,
// but memory and compute at run time are fp32. The result says so (runtimeNotes) instead of pretending.
import { z } from "zod";
import type { ModelConfig } from "../suite/schema.js";
import { PROJECTIONS, projectionModule } from "../model/architecture.js";
import { irFloatTensor, mapLinears, type ModelIr } from "../model/ir.js";
import { toHalf } from "../model/quantize.js";
import { transpose2d } from "../model/transpose.js";
import { accountModel, FP32_BYTES } from "../model/accounting.js";
import type { Technique } from "./technique.js";
import { baseActiveParams, linearSites, type TechniqueAccounting } from "./accounting.js";

export function halfParams<K extends "fp16" | "bf16">(kind: K) {
  return z.object({ kind: z.literal(kind), name: z.string().optional() }).strict();
}

export function castIrToHalf(ir: ModelIr, dtype: "F16" | "BF16"): ModelIr {
  const added = new Map<string, any>();
  const result = mapLinears(ir, (linear, layer, projection) => {
    if (linear.kind !== "dense") throw new Error(`${dtype}: cannot convert a ${linear.kind} linear`);
    const tensor = irFloatTensor(ir, linear.weight);
    const [rows, cols] = tensor.shape as [number, number];
    const name = `${projectionModule(layer, projection)}.weight_${dtype.toLowerCase()}_t`;
    added.set(name, toHalf({ shape: [cols, rows], data: transpose2d(tensor.data, rows, cols) }, dtype));
    return {
      kind: "half",
      inFeatures: linear.inFeatures,
      outFeatures: linear.outFeatures,
      weight: name,
      bias: linear.bias,
    };
  });
  for (const [name, tensor] of added) result.tensors.set(name, tensor);
  for (let layer = 0; layer < ir.layers.length; layer++)
    for (const projection of PROJECTIONS) result.tensors.delete(`${projectionModule(layer, projection)}.weight`);
  result.notes.push(`${dtype} linear weights cast to fp32 in the graph`);
  return result;
}

export function halfAccounting(model: ModelConfig): TechniqueAccounting {
  const a = accountModel(model);
  let linearParams = 0;
  for (const { out, inFeatures, count } of linearSites(model)) linearParams += count * out * inFeatures;
  return {
    totalParams: a.totalParams,
    trainableParams: a.totalParams,
    activeParamsPerToken: baseActiveParams(model),
    weightBytes: (a.totalParams - linearParams) * FP32_BYTES + linearParams * 2,
    adapterParams: 0,
    adapterBytes: 0,
    extraFlopsPerToken: 0,
    extraFlopsPerForward: 0,
    notes: [
      model.moe
        ? "decoder linears in half precision (stored); embeddings, lm_head, norms, routers and routed expert stacks fp32"
        : "decoder linears in half precision (stored); embeddings, lm_head and norms fp32",
    ],
  };
}

const fp16 = halfParams("fp16");
const bf16 = halfParams("bf16");

export const fp16Technique: Technique<typeof fp16> = {
  kind: "fp16",
  family: "half",
  params: fp16,
  label: () => "fp16",
  unsupportedReason: () => undefined,
  rewriteIr: (ir) => castIrToHalf(ir, "F16"),
  account: (model) => halfAccounting(model),
};

export const bf16Technique: Technique<typeof bf16> = {
  kind: "bf16",
  family: "half",
  params: bf16,
  label: () => "bf16",
  unsupportedReason: () => undefined,
  rewriteIr: (ir) => castIrToHalf(ir, "BF16"),
  account: (model) => halfAccounting(model),
};
