// X-LoRA (Buehler & Buehler 2024, arXiv 2402.07148): frozen LoRA experts on each target linear, mixed by layer-wise
// scalings that a classifier reads off a first, base pass over the same tokens (adapters off, as peft's scaling
// pass with scaling_pass_value 0): scalings = softmax_E((z·Cᵀ + c) as [T, L, E]), z the final normed hidden state;
// then the adapted pass y = W·x + s·Σ_e scalings[t, l, e]·B_e·A_e·x. Two forward passes per token (docs/mole.md).
import { z } from "zod";
import { dimensionsOf } from "../model/architecture.js";
import { XLORA_CLASSIFIER_BIAS, XLORA_CLASSIFIER_WEIGHT, xloraClassifierTensors } from "../model/mole.js";
import { accountModel } from "../model/accounting.js";
import {
  ORT_DENSE_RANKS_NOTE,
  applyLinearMixture,
  expertCount,
  mixtureAccounting,
  moleUnsupportedReason,
  positiveInt,
  targetProjections,
  targetsLabel,
  targetsSchema,
  topKAtMost,
} from "./mole.js";
import type { Technique } from "./technique.js";

const params = z
  .object({
    kind: z.literal("xlora"),
    name: z.string().optional(),
    experts: expertCount.default(4),
    rank: positiveInt("the rank of each expert").default(8),
    alpha: z.number().positive().default(16),
    targets: targetsSchema.default("all-linear"),
    /** Keep only the top-k scalings per layer, renormalised (peft's top_k_lora); absent: every expert, dense. */
    topK: positiveInt("experts each token uses").optional(),
  })
  .strict()
  .superRefine((p, ctx) => topKAtMost(p.topK, p.experts, "experts", ctx));

export type XloraParams = z.output<typeof params>;

const XLORA_ORT_NOTE =
  "ort: two passes per forward — the base pass (its own KV cache in decode, xlora_base.*) for the classifier's scalings, then the adapted pass";

export const xloraTechnique: Technique<typeof params> = {
  kind: "xlora",
  family: "mole",
  params,
  label: (p) =>
    `xlora E${p.experts}${p.topK !== undefined ? ` top${p.topK}` : ""} r${p.rank} α${p.alpha} ${targetsLabel(p.targets)}`,
  unsupportedReason: (_p, _scenario, model) => moleUnsupportedReason("xlora", model),
  rewriteIr: (ir, p, context) => {
    const scale = p.alpha / p.rank;
    const result = applyLinearMixture(
      ir,
      {
        kind: "xlora",
        targets: targetProjections(p.targets),
        rank: p.rank,
        scale,
        bStdRank: p.rank,
        expertsAt: () => p.experts,
        gating: () => ({ kind: "xlora", topK: p.topK }),
      },
      context,
    );
    for (const [name, tensor] of xloraClassifierTensors(
      ir.config.weights.seed,
      ir.dims.layers,
      p.experts,
      ir.dims.hidden,
      context?.routingSkew ?? 0,
    ))
      result.tensors.set(name, tensor);
    result.xloraClassifier = {
      weight: XLORA_CLASSIFIER_WEIGHT,
      bias: XLORA_CLASSIFIER_BIAS,
      experts: p.experts,
      layers: ir.dims.layers,
      topK: p.topK,
    };
    result.notes.push(
      `${xloraTechnique.label(p)} (scale ${scale.toPrecision(4)})`,
      XLORA_ORT_NOTE,
      ORT_DENSE_RANKS_NOTE,
    );
    return result;
  },
  account: (model, p) => {
    const dims = dimensionsOf(model);
    const targets = new Set(targetProjections(p.targets));
    const classifierParams = dims.layers * p.experts * dims.hidden + dims.layers * p.experts;
    const active = p.topK ?? p.experts;
    const result = mixtureAccounting(
      model,
      "xlora",
      (_l, projection) => {
        if (!targets.has(projection)) return undefined;
        return { experts: p.experts, activeExperts: active, rank: p.rank, router: false };
      },
      {
        params: classifierParams,
        activeParams: classifierParams,
        // The base pass: every layer linear once more, and the classifier (its attention is not counted here).
        flopsPerToken: 2 * accountModel(model).layerLinearParams + 2 * dims.layers * p.experts * dims.hidden,
        notes: [
          "trainable: the classifier only — the LoRA experts are frozen, as peft's X-LoRA trains by default (use_trainable_adapters false)",
          "extra FLOPs include the whole base pass's linears (the scaling pass) but not its attention",
        ],
      },
    );
    return {
      ...result,
      trainableParams: classifierParams,
      notes: [...result.notes, `${result.adapterParams - classifierParams} frozen expert parameters`],
    };
  },
  irFormNotes: () => [XLORA_ORT_NOTE, ORT_DENSE_RANKS_NOTE],
};
