// Mixtures of LoRA experts (MoLE, docs/mole.md): the IR of the five designs and the builders that add
// their seeded tensors. The math and tensor names are shared with the torch runner (docs/mole.md):
//   {module}.mole_experts.lora_A   [E, r, in]    stacked expert adapters on a linear
//   {module}.mole_experts.lora_B   [E, out, r]
//   {module}.mole_router.weight    [E, in]       router of a linear-level mixture (+ `.bias` [E] with routing skew)
//   model.layers.{i}.mlp.mole_router.weight [E, H]  MixLoRA's FFN router (+ `.bias`)
//   xlora_classifier.weight [L·E, H], xlora_classifier.bias [L·E]   X-LoRA's depth-1 layer-wise classifier
// Experts are seeded like src/techniques/adapters.ts seeds one adapter (a trained adapter, not B = 0); routers are
// seeded Gaussian like the MoE router, so routing depends on the token; the workload's routing skew is a Zipf
// logit bias exactly as src/model/moe.ts routerSkewBias builds it.
import type { ProjectionName } from "./architecture.js";
import type { LinearOp, LinearShape, ModelIr } from "./ir.js";
import type { SwigluFfn } from "./moe.js";
import { routerSkewBias } from "./moe.js";
import { randomTensor, synthesizeTensor, type Tensor } from "./weights.js";
import type { DynmoleRouter } from "./dynmole.js";

/** The adapter's update is this fraction of the base output's scale (same as src/techniques/adapters.ts). */
export const MOLE_RELATIVE_UPDATE = 0.1;

/** How a linear-level mixture weights its experts per token. */
export type MoleGating =
  /** LoRAMoE: softmax over all experts, every expert runs. */
  | { kind: "soft"; router: string; routerBias?: string }
  /**
   * MoLA / SMoRA: top-k of the softmax, weights p_K / Σ_K p times `gain` (1 for MoLA; k for SMoRA, so that a
   * uniform router weights each active rank 1). `topK` is already capped at the expert count.
   */
  | { kind: "top-k"; router: string; routerBias?: string; topK: number; gain: number }
  /** X-LoRA: the layer's scalings from the classifier pass (optionally top-k, renormalised). */
  | { kind: "xlora"; topK?: number }
  /** DynMoLE's hybrid routing (src/model/dynmole.ts): p on the top-p ∪ top-k experts, or on all when uncertain. */
  | ({ kind: "dynmole"; router: string; routerBias?: string } & Omit<DynmoleRouter, "kind">);

/** y = base(x) + s · Σ_e gate_e(x) · B_e·(A_e·x): a linear-level mixture of LoRA experts. */
export interface MoleLinear extends LinearShape {
  kind: "mole";
  base: LinearOp;
  layer: number;
  projection: ProjectionName;
  experts: number;
  /** Rank of one expert (1 for SMoRA's rank-wise experts). */
  rank: number;
  scale: number;
  /** Stacked A [E, r, in]. */
  loraA: string;
  /** Stacked B [E, out, r]. */
  loraB: string;
  gating: MoleGating;
}

/** The stacked expert adapters of one FFN projection of MixLoRA. */
export interface MixloraExpertAdapters {
  loraA: string;
  loraB: string;
}

/**
 * MixLoRA: a dense base SwiGLU FFN whose projections carry E LoRA experts, routed top-k per token:
 * y = Σ_{e∈K} w_e · down_e(silu(gate_e(x)) ⊙ up_e(x)), each projection_e = base + s·B_e·A_e (docs/mole.md).
 */
export interface MixloraFfn {
  kind: "mixlora";
  layer: number;
  /** The base FFN (its linears run once for gate/up, and once per chosen expert for down). */
  base: SwigluFfn;
  experts: number;
  topK: number;
  rank: number;
  scale: number;
  router: string;
  routerBias?: string;
  adapters: Partial<Record<"gate_proj" | "up_proj" | "down_proj", MixloraExpertAdapters>>;
}

/** X-LoRA's classifier: scalings = softmax_E((z·Cᵀ + c) as [T, L, E]), z the base pass's final normed hidden state. */
export interface XloraClassifier {
  weight: string;
  bias: string;
  experts: number;
  layers: number;
  topK?: number;
}

export const XLORA_CLASSIFIER_WEIGHT = "xlora_classifier.weight";
export const XLORA_CLASSIFIER_BIAS = "xlora_classifier.bias";

/** Name of the chosen-experts debug output of a routed linear (`router_indices.{layer}.{projection}`) or MixLoRA FFN (`router_indices.{layer}`). */
export function moleRoutingOutput(layer: number, projection?: ProjectionName): string {
  return projection ? `router_indices.${layer}.${projection}` : `router_indices.${layer}`;
}

// ── Seeded tensors ─────────────────────────────────────────────────────────────────────────────────────────────

/** σ_B = MOLE_RELATIVE_UPDATE / (s·√r), r the adapter's rank (SMoRA: the whole LoRA's rank R, see docs/mole.md). */
export function expertBStd(scale: number, adapterRank: number): number {
  return MOLE_RELATIVE_UPDATE / (scale * Math.sqrt(adapterRank));
}

/** Stacked expert adapters A [E, r, in] ~ N(0, 1/in), B [E, out, r] ~ N(0, σ_B²), named `{module}.mole_experts.lora_{A,B}`. */
export function expertStacks(
  seed: number,
  module: string,
  experts: number,
  rank: number,
  inFeatures: number,
  outFeatures: number,
  bStd: number,
): { loraA: [string, Tensor]; loraB: [string, Tensor] } {
  const a = `${module}.mole_experts.lora_A`;
  const b = `${module}.mole_experts.lora_B`;
  return {
    loraA: [a, randomTensor(seed, a, [experts, rank, inFeatures], 1 / Math.sqrt(inFeatures))],
    loraB: [b, randomTensor(seed, b, [experts, outFeatures, rank], bStd)],
  };
}

/** A router [E, in] seeded Gaussian (σ = 1/√in, like the MoE router) and, with skew > 0, its Zipf bias `{prefix}.bias`. */
export function moleRouter(
  seed: number,
  prefix: string,
  experts: number,
  inFeatures: number,
  routingSkew: number,
): { weight: [string, Tensor]; bias?: [string, Tensor] } {
  const weight = `${prefix}.weight`;
  const bias = `${prefix}.bias`;
  return {
    weight: [weight, synthesizeTensor(weight, [experts, inFeatures], { seed, distribution: "gaussian" })],
    bias: routingSkew > 0 ? [bias, routerSkewBias(experts, routingSkew, seed, bias)] : undefined,
  };
}

/**
 * X-LoRA's classifier: weight [L·E, H] Gaussian (σ = 1/√H); bias [L·E] = the routing skew's Zipf bias of each layer
 * (slice l is routerSkewBias(E, s, seed, `xlora_classifier.bias.{l}`)), zero without skew.
 */
export function xloraClassifierTensors(
  seed: number,
  layers: number,
  experts: number,
  hidden: number,
  routingSkew: number,
): Map<string, Tensor> {
  const bias = new Float32Array(layers * experts);
  if (routingSkew > 0)
    for (let l = 0; l < layers; l++)
      bias.set(routerSkewBias(experts, routingSkew, seed, `${XLORA_CLASSIFIER_BIAS}.${l}`).data, l * experts);
  return new Map([
    [
      XLORA_CLASSIFIER_WEIGHT,
      synthesizeTensor(XLORA_CLASSIFIER_WEIGHT, [layers * experts, hidden], { seed, distribution: "gaussian" }),
    ],
    [XLORA_CLASSIFIER_BIAS, { shape: [layers * experts], data: bias }],
  ]);
}

// ── IR helpers ─────────────────────────────────────────────────────────────────────────────────────────────────

/** The linear-level mixture's gating input names (router and bias) to emit or read. */
export function moleLinearTensorNames(linear: MoleLinear): string[] {
  const names = [linear.loraA, linear.loraB];
  if (linear.gating.kind !== "xlora")
    names.push(linear.gating.router, ...(linear.gating.routerBias ? [linear.gating.routerBias] : []));
  return names;
}

export function mixloraOwnTensorNames(ffn: MixloraFfn): string[] {
  const names = [ffn.router, ...(ffn.routerBias ? [ffn.routerBias] : [])];
  for (const adapters of Object.values(ffn.adapters)) names.push(adapters.loraA, adapters.loraB);
  return names;
}

/** The base FFN's linears of a MixLoRA FFN (what linearsOf reports and mapLinears maps). */
export function mixloraLinears(ffn: MixloraFfn): { projection: ProjectionName; linear: LinearOp }[] {
  return [
    { projection: "gate_proj", linear: ffn.base.gate },
    { projection: "up_proj", linear: ffn.base.up },
    { projection: "down_proj", linear: ffn.base.down },
  ];
}

export function mapMixloraLinears(
  ffn: MixloraFfn,
  map: (linear: LinearOp, projection: ProjectionName) => LinearOp,
): MixloraFfn {
  return {
    ...ffn,
    base: {
      ...ffn.base,
      gate: map(ffn.base.gate, "gate_proj"),
      up: map(ffn.base.up, "up_proj"),
      down: map(ffn.base.down, "down_proj"),
    },
  };
}

/** X-LoRA's base pass: the IR with every mixture linear replaced by its base and no classifier (adapters off, scalings 0). */
export function xloraBaseIr(ir: ModelIr): ModelIr {
  const strip = (linear: LinearOp): LinearOp => (linear.kind === "mole" ? strip(linear.base) : linear);
  return {
    ...ir,
    xloraClassifier: undefined,
    layers: ir.layers.map((layer) => ({
      ...layer,
      attention: {
        q: strip(layer.attention.q),
        k: strip(layer.attention.k),
        v: strip(layer.attention.v),
        o: strip(layer.attention.o),
      },
      ffn:
        layer.ffn.kind === "swiglu"
          ? { ...layer.ffn, gate: strip(layer.ffn.gate), up: strip(layer.ffn.up), down: strip(layer.ffn.down) }
          : layer.ffn,
    })),
  };
}

/** MoLA's experts at a layer: expertsPerLayerGroup[floor(l·G/L)] (G groups spread bottom → top over L layers). */
export function molaExpertsAt(expertsPerLayerGroup: readonly number[], layer: number, layers: number): number {
  return expertsPerLayerGroup[Math.floor((layer * expertsPerLayerGroup.length) / layers)]!;
}
