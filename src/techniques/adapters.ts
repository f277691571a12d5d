// What LoRA, RSLoRA and DoRA share: parameters, seeded adapter weights, the IR rewrite (merged or
// unmerged, over an fp32 or int4 base), and accounting.
//
// Adapter weights stand for a trained adapter, not peft's initialisation (B = 0 would make every adapter
// a no-op and every fidelity check trivial): A ~ N(0, 1/in), B ~ N(0, σ_B²) with σ_B chosen so that the
// update s·B·A·x is ADAPTER_RELATIVE_UPDATE of the base output's scale; DoRA's magnitude is the row norm
// of W + s·B·A times (1 + N(0, 0.05²)). Tensor names follow peft's module paths
// (`…q_proj.lora_A.weight`, `…q_proj.lora_magnitude_vector`), prefixed `base_model.model.` in a peft file.
import { z } from "zod";
import type { ModelConfig } from "../suite/schema.js";
import { PROJECTIONS, projectionModule, type ProjectionName } from "../model/architecture.js";
import {
  irFloatTensor,
  irRawTensor,
  mapLinears,
  type DenseLinear,
  type Int4Linear,
  type LinearOp,
  type ModelIr,
} from "../model/ir.js";
import { dequantizeInt4 } from "../model/quantize.js";
import { randomTensor, type Tensor } from "../model/weights.js";
import { accountModel } from "../model/accounting.js";
import { FP32_BYTES, linearSites, type TechniqueAccounting } from "./accounting.js";
import { INT4_DEFAULTS, int4Accounting, quantizeIrInt4 } from "./int4.js";

/** The adapter's update is this fraction of the base output's scale (a trained adapter, not B = 0). */
export const ADAPTER_RELATIVE_UPDATE = 0.1;
/** Relative spread of DoRA's magnitude vector around the row norms. */
export const DORA_MAGNITUDE_NOISE = 0.05;

export type AdapterVariant = "lora" | "rslora" | "dora";

const projectionEnum = z.enum(PROJECTIONS as [ProjectionName, ...ProjectionName[]]);

/** The parameters of an adapter technique; `kind` is the technique's. */
export function adapterParams<K extends AdapterVariant>(kind: K) {
  return z
    .object({
      kind: z.literal(kind),
      name: z.string().optional(),
      rank: z.number().int("expected a whole number").positive("expected a positive integer").default(8),
      alpha: z.number().positive().default(16),
      /** Modules to adapt; peft's default for llama is q_proj and v_proj. */
      targets: z.union([z.literal("all-linear"), z.array(projectionEnum).min(1)]).default(["q_proj", "v_proj"]),
      /** Folded into W (merge_and_unload) instead of computed on activations at run time. */
      merged: z.boolean().default(false),
      /** int4: QLoRA-style, the adapters over a block-wise 4-bit base (MatMulNBits). */
      base: z.enum(["fp32", "int4"]).default("fp32"),
    })
    .strict();
}

export type AdapterParams = z.output<ReturnType<typeof adapterParams<AdapterVariant>>>;

export function targetProjections(params: Pick<AdapterParams, "targets">): ProjectionName[] {
  return params.targets === "all-linear" ? [...PROJECTIONS] : params.targets;
}

export function adapterScale(variant: AdapterVariant, params: Pick<AdapterParams, "rank" | "alpha">): number {
  return variant === "rslora" ? params.alpha / Math.sqrt(params.rank) : params.alpha / params.rank;
}

export function adapterLabel(variant: AdapterVariant, params: AdapterParams): string {
  const targets =
    params.targets === "all-linear" ? "all-linear" : params.targets.map((t) => t.replace("_proj", "")).join("");
  return `${variant} r${params.rank} α${params.alpha} ${targets}${params.base === "int4" ? " int4-base" : ""} ${params.merged ? "merged" : "unmerged"}`;
}

export function adapterUnsupportedReason(variant: AdapterVariant, params: AdapterParams): string | undefined {
  if (params.merged && params.base !== "fp32")
    return `a merged ${variant} needs an fp32 base: merging into int4 weights would need requantisation`;
  // Every runner runs unmerged adapters over either base (ort: DoRA over int4 in runners/ort/onnx/dora-int4-onnx.ts).
  return undefined;
}

function rowNormsOf(weight: Float64Array, rows: number, cols: number): Float64Array {
  const norms = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += weight[r * cols + c]! ** 2;
    norms[r] = Math.sqrt(sum);
  }
  return norms;
}

/** W + s·B·A in float64, [out, in]. */
function combinedWeight(weight: Tensor, a: Tensor, b: Tensor, rank: number, scale: number): Float64Array {
  const [out, inFeatures] = weight.shape as [number, number];
  const combined = Float64Array.from(weight.data);
  for (let o = 0; o < out; o++)
    for (let r = 0; r < rank; r++) {
      const factor = scale * b.data[o * rank + r]!;
      if (factor === 0) continue;
      const rowOffset = o * inFeatures;
      const aOffset = r * inFeatures;
      for (let i = 0; i < inFeatures; i++) combined[rowOffset + i] += factor * a.data[aOffset + i]!;
    }
  return combined;
}

/** W [out, in] that an int4 linear's stored integers mean (what MatMulNBits multiplies by). */
export function dequantizeInt4Linear(ir: ModelIr, linear: Int4Linear): Tensor {
  const zeroPoints = linear.zeroPoints ? irRawTensor(ir, linear.zeroPoints) : undefined;
  return dequantizeInt4(
    { packed: irRawTensor(ir, linear.packedWeight), scales: irFloatTensor(ir, linear.scales), zeroPoints },
    linear.inFeatures,
    linear.blockSize,
  );
}

/** The IR with adapters on the target linears (merged into W, or as adapter ops on activations). */
export function applyAdapter(ir: ModelIr, variant: AdapterVariant, params: AdapterParams): ModelIr {
  const reason = adapterUnsupportedReason(variant, params);
  if (reason) throw new Error(reason);
  const { rank } = params;
  const scale = adapterScale(variant, params);
  const targets = new Set(targetProjections(params));
  const seed = ir.config.weights.seed;
  const source = params.base === "int4" ? quantizeIrInt4(ir, { ...INT4_DEFAULTS, kind: "int4" }) : ir;
  const added = new Map<string, Tensor>();
  const result = mapLinears(source, (linear, layer, projection): LinearOp => {
    if (!targets.has(projection)) return linear;
    if (linear.kind !== "dense" && linear.kind !== "int4")
      throw new Error(`${variant}: cannot adapt a ${linear.kind} linear`);
    const module = projectionModule(layer, projection);
    const { inFeatures, outFeatures } = linear;
    const loraA = randomTensor(seed, `${module}.lora_A.weight`, [rank, inFeatures], 1 / Math.sqrt(inFeatures));
    const loraB = randomTensor(
      seed,
      `${module}.lora_B.weight`,
      [outFeatures, rank],
      ADAPTER_RELATIVE_UPDATE / (scale * Math.sqrt(rank)),
    );
    let magnitude: Tensor | undefined;
    let combined: Float64Array | undefined;
    if (variant === "dora" || params.merged) {
      // DoRA over int4: the magnitude starts from the dequantised weight's norm, as peft initialises it over a quantised layer.
      const weight =
        linear.kind === "dense" ? irFloatTensor(source, linear.weight) : dequantizeInt4Linear(source, linear);
      combined = combinedWeight(weight, loraA, loraB, rank, scale);
    }
    if (variant === "dora") {
      const norms = rowNormsOf(combined!, outFeatures, inFeatures);
      const noise = randomTensor(seed, `${module}.lora_magnitude_vector`, [outFeatures], DORA_MAGNITUDE_NOISE);
      magnitude = { shape: [outFeatures], data: Float32Array.from(norms, (n, o) => n * (1 + noise.data[o]!)) };
    }
    if (params.merged) {
      const dense = linear as DenseLinear;
      if (magnitude) {
        const norms = rowNormsOf(combined!, outFeatures, inFeatures);
        for (let o = 0; o < outFeatures; o++)
          for (let i = 0; i < inFeatures; i++) combined![o * inFeatures + i] *= magnitude.data[o]! / norms[o]!;
      }
      added.set(dense.weight, { shape: [outFeatures, inFeatures], data: Float32Array.from(combined!) });
      return dense;
    }
    added.set(`${module}.lora_A.weight`, loraA);
    added.set(`${module}.lora_B.weight`, loraB);
    const common = {
      inFeatures,
      outFeatures,
      loraA: `${module}.lora_A.weight`,
      loraB: `${module}.lora_B.weight`,
      rank,
      scale,
    };
    if (variant === "dora") {
      added.set(`${module}.lora_magnitude_vector`, magnitude!);
      return {
        kind: "dora",
        base: linear as DenseLinear | Int4Linear,
        magnitude: `${module}.lora_magnitude_vector`,
        ...common,
      };
    }
    return { kind: "lora", base: linear, ...common };
  });
  for (const [name, tensor] of added) result.tensors.set(name, tensor);
  result.notes.push(`${adapterLabel(variant, params)} (scale ${scale.toPrecision(4)})`);
  return result;
}

/** Parameters, bytes and FLOPs of an adapter technique, by arithmetic (peft's counts: r·(in + out) per adapted linear, + out for DoRA's magnitude). */
export function adapterAccounting(
  model: ModelConfig,
  variant: AdapterVariant,
  params: AdapterParams,
): TechniqueAccounting {
  const base = params.base === "int4" ? int4Accounting(model, { ...INT4_DEFAULTS, kind: "int4" }) : undefined;
  const a = accountModel(model);
  let adapterParams = 0;
  let extraFlopsPerToken = 0;
  let extraFlopsPerForward = 0;
  for (const { out, inFeatures, count } of linearSites(model, targetProjections(params))) {
    adapterParams += count * (params.rank * (inFeatures + out) + (variant === "dora" ? out : 0));
    if (!params.merged) {
      extraFlopsPerToken += count * 2 * params.rank * (inFeatures + out);
      // DoRA recomputes ‖W + s·B·A‖ each forward: B·A (2·r·in·out) plus the add and the squared sum (2·in·out).
      if (variant === "dora")
        extraFlopsPerForward += count * (2 * params.rank * inFeatures * out + 2 * inFeatures * out);
      // …over int4, Ŵ = (q − zero point)·scale is rebuilt first: a subtract and a multiply per weight.
      if (variant === "dora" && params.base === "int4") extraFlopsPerForward += count * 2 * inFeatures * out;
    }
  }
  const totalParams = a.totalParams + (params.merged ? 0 : adapterParams);
  const adapterBytes = params.merged ? 0 : adapterParams * FP32_BYTES;
  return {
    totalParams,
    trainableParams: adapterParams,
    // Every adapted linear is on every token's path (linearSites): the base's active count plus the adapters.
    activeParamsPerToken: (a.activeParams ?? a.totalParams) + (params.merged ? 0 : adapterParams),
    weightBytes: (base?.weightBytes ?? a.weightBytes) + adapterBytes,
    adapterParams,
    adapterBytes,
    extraFlopsPerToken,
    extraFlopsPerForward,
    notes: params.merged
      ? ["adapters folded into the base weights: no run-time cost, trainable counts are the adapters'"]
      : [],
  };
}
