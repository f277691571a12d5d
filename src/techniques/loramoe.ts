// LoRAMoE (Dou et al. 2023, arXiv 2312.09979): E LoRA experts on each target linear, dense soft routing — every
// expert runs, weighted by softmax(x·Rᵀ): y = W·x + s·Σ_e p_e·B_e·A_e·x (docs/mole.md).
import { z } from "zod";
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
} from "./mole.js";
import type { Technique } from "./technique.js";
import { dynmoleRouterSchema } from "../model/dynmole.js";
import { dynmoleGating, dynmoleLabel, DYNMOLE_ACCOUNTING_NOTE } from "./mole.js";

const params = z
  .object({
    kind: z.literal("loramoe"),
    name: z.string().optional(),
    experts: expertCount.default(8),
    rank: positiveInt("the rank of each expert").default(4),
    alpha: z.number().positive().default(8),
    /** DynMoLE's hybrid routing instead of the design's own (src/model/dynmole.ts). */
    router: dynmoleRouterSchema.optional(),
    targets: targetsSchema.default(["gate_proj", "up_proj", "down_proj"]),
  })
  .strict();

export type LoramoeParams = z.output<typeof params>;

export const loramoeTechnique: Technique<typeof params> = {
  kind: "loramoe",
  family: "mole",
  params,
  label: (p) =>
    `loramoe E${p.experts} ${p.router ? "dynmole" : "soft"} r${p.rank} α${p.alpha} ${targetsLabel(p.targets)}${dynmoleLabel(p.router).replace(" dynmole", "")}`,
  unsupportedReason: (_p, _scenario, model) => moleUnsupportedReason("loramoe", model),
  rewriteIr: (ir, p, context) => {
    const result = applyLinearMixture(
      ir,
      {
        kind: "loramoe",
        targets: targetProjections(p.targets),
        rank: p.rank,
        scale: p.alpha / p.rank,
        bStdRank: p.rank,
        expertsAt: () => p.experts,
        gating: (_l, experts, router) =>
          p.router ? dynmoleGating(p.router, experts, router()) : { kind: "soft", ...router() },
      },
      context,
    );
    result.notes.push(
      `${loramoeTechnique.label(p)} (scale ${(p.alpha / p.rank).toPrecision(4)})`,
      ORT_DENSE_RANKS_NOTE,
    );
    return result;
  },
  account: (model, p) => {
    const targets = new Set(targetProjections(p.targets));
    return mixtureAccounting(
      model,
      "loramoe",
      (_l, projection) =>
        targets.has(projection)
          ? { experts: p.experts, activeExperts: p.experts, rank: p.rank, router: true }
          : undefined,
      {
        notes: [
          p.router ? DYNMOLE_ACCOUNTING_NOTE : "dense soft routing: every expert runs on every token (active = total)",
        ],
      },
    );
  },
  irFormNotes: () => [ORT_DENSE_RANKS_NOTE],
};
