// SMoRA / MoRA-style rank-wise experts (docs/mole.md): one LoRA of rank R whose R rank-1 components are the experts,
// top-k ranks active per token with g_r = k·p_r / Σ_K p (a uniform router weights each active rank 1, i.e. a LoRA
// restricted to the chosen ranks): y = W·x + s·Σ_{r∈K} g_r·(a_r·x)·b_r, s = α/R. Stored as E = R stacks of rank 1.
import { z } from "zod";
import {
  ORT_DENSE_RANKS_NOTE,
  applyLinearMixture,
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
    kind: z.literal("smora"),
    name: z.string().optional(),
    /** The LoRA's rank R: R rank-1 experts. */
    rank: z
      .number()
      .int("expected a whole number")
      .min(2, "expected ≥ 2 — rank-wise experts need at least two ranks")
      .default(64),
    topK: positiveInt("ranks each token uses").default(8),
    alpha: z.number().positive().default(128),
    targets: targetsSchema.default("all-linear"),
  })
  .strict()
  .superRefine((p, ctx) => topKAtMost(p.topK, p.rank, "rank", ctx));

export type SmoraParams = z.output<typeof params>;

export const smoraTechnique: Technique<typeof params> = {
  kind: "smora",
  family: "mole",
  params,
  label: (p) => `smora r${p.rank} top${p.topK} α${p.alpha} ${targetsLabel(p.targets)}`,
  unsupportedReason: (_p, _scenario, model) => moleUnsupportedReason("smora", model),
  rewriteIr: (ir, p, context) => {
    const scale = p.alpha / p.rank;
    const result = applyLinearMixture(
      ir,
      {
        kind: "smora",
        targets: targetProjections(p.targets),
        rank: 1,
        scale,
        bStdRank: p.rank,
        expertsAt: () => p.rank,
        gating: (_l, _e, router) => ({ kind: "top-k", ...router(), topK: p.topK, gain: p.topK }),
      },
      context,
    );
    result.notes.push(`${smoraTechnique.label(p)} (scale ${scale.toPrecision(4)})`, ORT_DENSE_RANKS_NOTE);
    return result;
  },
  account: (model, p) => {
    const targets = new Set(targetProjections(p.targets));
    return mixtureAccounting(model, "smora", (_l, projection) =>
      targets.has(projection) ? { experts: p.rank, activeExperts: p.topK, rank: 1, router: true } : undefined,
    );
  },
  irFormNotes: () => [ORT_DENSE_RANKS_NOTE],
};
