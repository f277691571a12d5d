// int8: per-output-channel symmetric int8 weights, activations quantised to u8 per run
// (DynamicQuantizeLinear → MatMulInteger → rescale, fused by ORT into DynamicQuantizeMatMul).
import { z } from "zod";
import { readFileSync } from "node:fs";
import type { ModelConfig } from "../suite/schema.js";
import { PROJECTIONS, projectionModule, type ProjectionName } from "../model/architecture.js";
import { irFloatTensor, mapLinears, type ModelIr } from "../model/ir.js";
import { int8Bytes, quantizeInt8 } from "../model/quantize.js";
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
    kind: z.literal("int8"),
    name: z.string().optional(),
    /** 7-bit weights to avoid u8·s8 saturation on CPUs without VNNI; "auto" decides from /proc/cpuinfo. */
    reduceRange: z.union([z.boolean(), z.literal("auto")]).default("auto"),
    targets: z.union([z.literal("all-linear"), z.array(projectionEnum).min(1)]).default("all-linear"),
    ...quantizedOutputsParams,
  })
  .strict();

export type Int8Params = z.output<typeof params>;

/** Whether this CPU has VNNI (AVX512-VNNI or AVX-VNNI), whose u8·s8 dot products do not saturate. */
export function cpuHasVnni(): boolean | undefined {
  try {
    return /\b(avx512_vnni|avx_vnni|amx_int8)\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return undefined;
  }
}

export function resolveReduceRange(p: Pick<Int8Params, "reduceRange">): boolean {
  if (p.reduceRange !== "auto") return p.reduceRange;
  return cpuHasVnni() === false; // unknown CPU: keep full range
}

function targets(p: Pick<Int8Params, "targets">): Set<ProjectionName> {
  return new Set(p.targets === "all-linear" ? PROJECTIONS : p.targets);
}

export function quantizeIrInt8(ir: ModelIr, p: Int8Params): ModelIr {
  const chosen = targets(p);
  const reduceRange = resolveReduceRange(p);
  const added = new Map<string, any>();
  const result = mapLinears(ir, (linear, layer, projection) => {
    if (!chosen.has(projection)) return linear;
    if (linear.kind !== "dense") throw new Error(`int8: cannot quantise a ${linear.kind} linear`);
    const module = projectionModule(layer, projection);
    const q = quantizeInt8(irFloatTensor(ir, linear.weight), reduceRange);
    added.set(`${module}.weight_int8`, q.weight);
    added.set(`${module}.weight_scale`, q.scales);
    return {
      kind: "int8",
      inFeatures: linear.inFeatures,
      outFeatures: linear.outFeatures,
      quantizedWeight: `${module}.weight_int8`,
      scales: `${module}.weight_scale`,
      reduceRange,
      bias: linear.bias,
    };
  });
  for (const [name, tensor] of added) result.tensors.set(name, tensor);
  for (let layer = 0; layer < ir.layers.length; layer++)
    for (const projection of chosen) result.tensors.delete(`${projectionModule(layer, projection)}.weight`);
  result.notes.push(`int8 per-channel weights${reduceRange ? " (7-bit, reduce_range)" : ""}, dynamic u8 activations`);
  // The vocabulary matrices [vocab, hidden], when asked for: per-row (per-token) scales; stored [hidden, vocab].
  const quantizeMatrix: QuantizeMatrix = (weight, module) => {
    const q = quantizeInt8(weight, reduceRange);
    const [outFeatures, inFeatures] = weight.shape as [number, number];
    const linear = {
      kind: "int8",
      inFeatures,
      outFeatures,
      quantizedWeight: `${module}.weight_int8`,
      scales: `${module}.weight_scale`,
      reduceRange,
    } as const;
    return {
      linear,
      tensors: new Map<string, typeof q.weight | typeof q.scales>([
        [linear.quantizedWeight, q.weight],
        [linear.scales, q.scales],
      ]),
    };
  };
  return withQuantizedOutputs(result, p, quantizeMatrix);
}

export function int8Accounting(model: ModelConfig, p: Int8Params): TechniqueAccounting {
  return quantizedAccounting(
    model,
    targets(p),
    (out, inFeatures) => int8Bytes(out, inFeatures),
    "a quantised model alone is not fine-tuned",
    p,
  );
}

export const int8Technique: Technique<typeof params> = {
  kind: "int8",
  family: "quantized",
  params,
  label: (p) => `int8${p.reduceRange === true ? " 7-bit" : ""}${quantizedOutputsLabel(p)}`,
  unsupportedReason: () => undefined,
  rewriteIr: quantizeIrInt8,
  account: int8Accounting,
  irFormNotes: (p) => [
    `int8 weights ${resolveReduceRange(p) ? "7-bit (reduce_range: no VNNI on this CPU)" : "8-bit"}, u8 activations quantised per run`,
  ],
};
