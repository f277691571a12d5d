// What the mixtures of LoRA experts share (docs/mole.md): parameter schemas, the IR rewrite of a linear-level
// mixture (LoRAMoE, MoLA, SMoRA, X-LoRA), the runner support and the accounting by arithmetic.
//
// Accounting (per adapted projection of shape [out, in], per layer, E experts of rank r, top-k):
//   experts E·r·(in + out), router E·in (X-LoRA: no per-linear router, one classifier L·E·H + L·E);
//   active per token: the k experts a token runs (E for dense soft routing) plus the whole router;
//   extra FLOPs per token (multiply-add = 2): 2·(router + k·r·(in + out)), what a sparse implementation needs.
//   The routing-skew bias is a fixed workload prior, not a parameter, and is not counted.
import { z } from "zod";
import type { ModelConfig } from "../suite/schema.js";
import {
  PROJECTIONS,
  dimensionsOf,
  projectionModule,
  projectionShape,
  type ProjectionName,
} from "../model/architecture.js";
import { mapLinears, type LinearOp, type ModelIr } from "../model/ir.js";
import { expertBStd, expertStacks, molaExpertsAt, moleRouter, type MoleGating } from "../model/mole.js";
import { accountModel } from "../model/accounting.js";
import type { Tensor } from "../model/weights.js";
import { FP32_BYTES, type TechniqueAccounting } from "./accounting.js";
import type { RewriteContext } from "./technique.js";
import type { DynmoleRouter } from "../model/dynmole.js";

export type MoleKind = "mixlora" | "loramoe" | "mola" | "xlora" | "smora";
export const MOLE_KINDS: readonly MoleKind[] = ["mixlora", "loramoe", "mola", "xlora", "smora"];

const projectionEnum = z.enum(PROJECTIONS as [ProjectionName, ...ProjectionName[]]);

export const positiveInt = (what: string) =>
  z.number().int("expected a whole number").positive(`expected a positive integer — ${what}`);
export const expertCount = z
  .number()
  .int("expected a whole number")
  .min(2, "expected ≥ 2 — a mixture needs at least two experts");
export const targetsSchema = z.union([z.literal("all-linear"), z.array(projectionEnum).min(1)]);

export function targetProjections(targets: "all-linear" | ProjectionName[]): ProjectionName[] {
  return targets === "all-linear" ? [...PROJECTIONS] : [...new Set(targets)];
}

export function targetsLabel(targets: "all-linear" | ProjectionName[]): string {
  return targets === "all-linear" ? "all-linear" : targets.map((t) => t.replace("_proj", "")).join(",");
}

/** A zod check that topK ≤ the expert count named `expertsField` (a clear message at `topK`). */
export function topKAtMost(
  topK: number | undefined,
  experts: number,
  expertsField: string,
  ctx: z.core.$RefinementCtx,
): void {
  if (topK !== undefined && topK > experts)
    ctx.addIssue({
      code: "custom",
      path: ["topK"],
      message: `expected ≤ ${expertsField} (${experts}), got ${topK} — top-k picks among the experts`,
    });
}

/** Every MoLE kind runs on both runners (ort: prefill and decode; torch: runners/torch/mole.py) over a dense model. */
export function moleUnsupportedReason(kind: MoleKind, model?: ModelConfig): string | undefined {
  return model?.moe ? moeBaseReason(kind, model) : undefined;
}

function moeBaseReason(kind: MoleKind, model: ModelConfig): string {
  return `${kind} adapts a dense model; model ${model.name} has a moe block — use a dense model (mixtures of LoRA experts over routed experts are not modelled)`;
}

/** Mixtures of LoRA experts adapt a dense model: a MoE base would need experts on experts. */
export function refuseMoeBase(kind: MoleKind, model: ModelConfig): void {
  if (model.moe) throw new Error(moeBaseReason(kind, model));
}

/**
 * The expert count behind each routing output of a MoLE case (`router_indices.{layer}[.{projection}]`), for the
 * routing metrics; undefined for a technique that is not a mixture of LoRA experts.
 */
export function moleRouterExperts(
  technique: { kind: string } & Record<string, unknown>,
  model: ModelConfig,
): ((router: string) => number) | undefined {
  switch (technique.kind) {
    case "mixlora":
    case "xlora":
    case "loramoe":
      return () => technique.experts as number;
    case "smora":
      return () => technique.rank as number;
    case "mola":
      return (router) =>
        molaExpertsAt(technique.expertsPerLayerGroup as number[], Number(router.split(".")[1]), model.layers);
    default:
      return undefined;
  }
}

/** What the ort graph of a linear-level mixture computes beyond the design (said in the result's notes). */
export const ORT_DENSE_RANKS_NOTE =
  "ort: the A·x of all E experts is one MatMul over the stacked E·r ranks, masked by the per-token gate (dense over ranks, exact routing); never a B·A product on weights";

export interface LinearMixtureSpec {
  kind: MoleKind;
  targets: ProjectionName[];
  /** Rank of one expert's stack (1 for SMoRA). */
  rank: number;
  scale: number;
  /** The adapter rank σ_B is derived from (the expert rank; SMoRA: the whole LoRA's rank). */
  bStdRank: number;
  expertsAt(layer: number): number;
  /** The gating of a linear; `router` adds a router [E, in] (+ skew bias) under `{module}.mole_router` and returns its names. */
  gating(layer: number, experts: number, router: () => { router: string; routerBias?: string }): MoleGating;
}

/** The IR with a linear-level mixture of LoRA experts on every target linear (dense bases only). */
export function applyLinearMixture(
  ir: ModelIr,
  spec: LinearMixtureSpec,
  context: RewriteContext = { routingSkew: 0 },
): ModelIr {
  refuseMoeBase(spec.kind, ir.config);
  const targets = new Set(spec.targets);
  const seed = ir.config.weights.seed;
  const added = new Map<string, Tensor>();
  const result = mapLinears(ir, (linear, layer, projection): LinearOp => {
    if (!targets.has(projection)) return linear;
    if (linear.kind !== "dense")
      throw new Error(
        `${spec.kind}: cannot adapt a ${linear.kind} linear (mixtures of LoRA experts need a dense fp32 base)`,
      );
    const module = projectionModule(layer, projection);
    const experts = spec.expertsAt(layer);
    const { inFeatures, outFeatures } = linear;
    const stacks = expertStacks(
      seed,
      module,
      experts,
      spec.rank,
      inFeatures,
      outFeatures,
      expertBStd(spec.scale, spec.bStdRank),
    );
    added.set(...stacks.loraA).set(...stacks.loraB);
    const router = () => {
      const tensors = moleRouter(seed, `${module}.mole_router`, experts, inFeatures, context.routingSkew);
      added.set(...tensors.weight);
      if (tensors.bias) added.set(...tensors.bias);
      return { router: tensors.weight[0], routerBias: tensors.bias?.[0] };
    };
    return {
      kind: "mole",
      base: linear,
      layer,
      projection,
      experts,
      rank: spec.rank,
      scale: spec.scale,
      loraA: stacks.loraA[0],
      loraB: stacks.loraB[0],
      gating: spec.gating(layer, experts, router),
      inFeatures,
      outFeatures,
    };
  });
  for (const [name, tensor] of added) result.tensors.set(name, tensor);
  return result;
}

/** One adapted projection of a linear-level mixture, for the accounting. */
export interface MixtureLinearCount {
  experts: number;
  /** Experts a token runs (E for dense soft routing). */
  activeExperts: number;
  rank: number;
  /** Whether the linear has its own router [E, in]. */
  router: boolean;
}

/** Accounting of mixture adapters over a dense base: `linearAt(layer, projection)` describes each adapted linear (undefined: not adapted). */
export function mixtureAccounting(
  model: ModelConfig,
  kind: MoleKind,
  linearAt: (layer: number, projection: ProjectionName) => MixtureLinearCount | undefined,
  extra: {
    params?: number;
    trainableExcluded?: number;
    activeParams?: number;
    flopsPerToken?: number;
    notes?: string[];
  } = {},
): TechniqueAccounting {
  refuseMoeBase(kind, model);
  const dims = dimensionsOf(model);
  const a = accountModel(model);
  let adapterParams = extra.params ?? 0;
  let activeAdapterParams = extra.activeParams ?? 0;
  let extraFlopsPerToken = extra.flopsPerToken ?? 0;
  for (let layer = 0; layer < dims.layers; layer++)
    for (const projection of PROJECTIONS) {
      const linear = linearAt(layer, projection);
      if (!linear) continue;
      const [out, inFeatures] = projectionShape(dims, projection);
      const routerParams = linear.router ? linear.experts * inFeatures : 0;
      adapterParams += linear.experts * linear.rank * (inFeatures + out) + routerParams;
      const active = linear.activeExperts * linear.rank * (inFeatures + out) + routerParams;
      activeAdapterParams += active;
      extraFlopsPerToken += 2 * active;
    }
  const totalParams = a.totalParams + adapterParams;
  const adapterBytes = adapterParams * FP32_BYTES;
  return {
    totalParams,
    trainableParams: adapterParams - (extra.trainableExcluded ?? 0),
    activeParamsPerToken: (a.activeParams ?? a.totalParams) + activeAdapterParams,
    weightBytes: a.weightBytes + adapterBytes,
    adapterParams,
    adapterBytes,
    extraFlopsPerToken,
    extraFlopsPerForward: 0,
    notes: extra.notes ?? [],
  };
}

/** DynMoLE's gating for a linear-level mixture: its router and bias, topK capped at the layer's experts. */
export function dynmoleGating(
  router: DynmoleRouter,
  experts: number,
  names: { router: string; routerBias?: string },
): MoleGating {
  const { kind: _kind, ...settings } = router;
  return { kind: "dynmole", ...names, ...settings, topK: Math.min(router.topK, experts) };
}

export function dynmoleLabel(router: DynmoleRouter | undefined): string {
  return router ? ` dynmole(q${router.tsallisQ} H>${router.entropyThreshold} p${router.topP} k${router.topK})` : "";
}

/** Accounting of a DynMoLE router: experts active per token vary; the measured mean is a routing metric. */
export const DYNMOLE_ACCOUNTING_NOTE =
  "dynmole routing: active experts vary per token (top-k … all); active parameters and FLOPs here count every expert (the upper bound), the measured mean is routing_active_experts_mean, and its FLOPs adapter_flops_per_token_routed";
