// MoLA (Gao et al. 2024, arXiv 2402.08562): LoRA experts on each target linear with top-k routing and a different
// number of experts per layer group, bottom → top (the "▽" allocation 2/4/6/8): layer l has
// E_l = expertsPerLayerGroup[floor(l·G/L)]; y = W·x + s·Σ_{e∈K} (p_e / Σ_K p)·B_e·A_e·x (docs/mole.md).
import { z } from "zod";
import { molaExpertsAt } from "../model/mole.js";
import { dimensionsOf } from "../model/architecture.js";
import {
  ORT_DENSE_RANKS_NOTE,
  applyLinearMixture,
  mixtureAccounting,
  moleUnsupportedReason,
  positiveInt,
  targetProjections,
  targetsLabel,
  targetsSchema,
} from "./mole.js";
import type { Technique } from "./technique.js";
import { dynmoleRouterSchema } from "../model/dynmole.js";
import { dynmoleGating, dynmoleLabel, DYNMOLE_ACCOUNTING_NOTE } from "./mole.js";

const params = z
  .object({
    kind: z.literal("mola"),
    name: z.string().optional(),
    /** Experts of each layer group, from the lowest to the highest group of layers. */
    expertsPerLayerGroup: z
      .array(positiveInt("experts in a layer group"))
      .min(1, "expected at least one layer group")
      .default([2, 4, 6, 8]),
    topK: positiveInt("experts each token uses").default(2),
    rank: positiveInt("the rank of each expert").default(8),
    alpha: z.number().positive().default(16),
    /** DynMoLE's hybrid routing instead of the design's own (src/model/dynmole.ts). */
    router: dynmoleRouterSchema.optional(),
    targets: targetsSchema.default("all-linear"),
  })
  .strict();

export type MolaParams = z.output<typeof params>;

export const molaTechnique: Technique<typeof params> = {
  kind: "mola",
  family: "mole",
  params,
  label: (p) =>
    `mola E${p.expertsPerLayerGroup.join("/")} top${p.topK} r${p.rank} α${p.alpha} ${targetsLabel(p.targets)}${dynmoleLabel(p.router)}`,
  unsupportedReason: (_p, _scenario, model) => moleUnsupportedReason("mola", model),
  rewriteIr: (ir, p, context) => {
    const layers = ir.dims.layers;
    const result = applyLinearMixture(
      ir,
      {
        kind: "mola",
        targets: targetProjections(p.targets),
        rank: p.rank,
        scale: p.alpha / p.rank,
        bStdRank: p.rank,
        expertsAt: (layer) => molaExpertsAt(p.expertsPerLayerGroup, layer, layers),
        gating: (_l, experts, router) =>
          p.router
            ? dynmoleGating(p.router, experts, router())
            : { kind: "top-k", ...router(), topK: Math.min(p.topK, experts), gain: 1 },
      },
      context,
    );
    const perLayer = Array.from({ length: layers }, (_, l) => molaExpertsAt(p.expertsPerLayerGroup, l, layers));
    result.notes.push(
      `${molaTechnique.label(p)} (experts per layer ${perLayer.join(",")}; scale ${(p.alpha / p.rank).toPrecision(4)})`,
      ORT_DENSE_RANKS_NOTE,
    );
    return result;
  },
  account: (model, p) => {
    const targets = new Set(targetProjections(p.targets));
    const layers = dimensionsOf(model).layers;
    return mixtureAccounting(
      model,
      "mola",
      (layer, projection) => {
        if (!targets.has(projection)) return undefined;
        const experts = molaExpertsAt(p.expertsPerLayerGroup, layer, layers);
        return { experts, activeExperts: p.router ? experts : Math.min(p.topK, experts), rank: p.rank, router: true };
      },
      p.router ? { notes: [DYNMOLE_ACCOUNTING_NOTE] } : undefined,
    );
  },
  irFormNotes: () => [ORT_DENSE_RANKS_NOTE],
};
