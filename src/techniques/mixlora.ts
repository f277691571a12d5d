// MixLoRA (Li et al. 2024, arXiv 2404.15159): a dense base SwiGLU FFN with E LoRA experts on its projections, routed
// top-k per token (8 experts, top-2, r 8 in the paper), plus plain LoRA on attention. For each chosen expert e:
// g_e = x·W_gᵀ + s·B_{g,e}A_{g,e}x, u_e likewise, h_e = silu(g_e)⊙u_e, y_e = h_e·W_dᵀ + s·B_{d,e}A_{d,e}h_e;
// y = Σ_{e∈K} (p_e / Σ_K p)·y_e. The base gate/up products are shared; the base down runs once per chosen expert.
// LLaVA-MoLE (arXiv 2401.16160) is this with topK 1 and attentionLora false (datasets/technique-presets.ts).
// The auxiliary load-balance loss (Switch: E·Σ_e f_e·P_e) is reported by the torch train step (docs/mole.md).
import { z } from "zod";
import {
  ATTENTION_PROJECTIONS,
  MLP_PROJECTIONS,
  dimensionsOf,
  layerPrefix,
  projectionModule,
} from "../model/architecture.js";
import { expertBStd, expertStacks, moleRouter, type MixloraExpertAdapters, type MixloraFfn } from "../model/mole.js";
import type { Tensor } from "../model/weights.js";
import { applyAdapter } from "./adapters.js";
import {
  expertCount,
  mixtureAccounting,
  moleUnsupportedReason,
  positiveInt,
  refuseMoeBase,
  topKAtMost,
} from "./mole.js";
import type { Technique } from "./technique.js";

const ffnProjection = z.enum(MLP_PROJECTIONS);

const params = z
  .object({
    kind: z.literal("mixlora"),
    name: z.string().optional(),
    experts: expertCount.default(8),
    topK: positiveInt("experts each token uses").default(2),
    rank: positiveInt("the rank of each expert").default(8),
    alpha: z.number().positive().default(16),
    /** Plain LoRA (same rank and alpha) on q, k, v and o. */
    attentionLora: z.boolean().default(true),
    /** Weight of the load-balance loss added to the train step's loss. */
    auxLossCoefficient: z.number().nonnegative().default(0.01),
    /** FFN projections that carry the experts' LoRA. */
    ffnTargets: z
      .array(ffnProjection)
      .min(1, "expected at least one FFN projection")
      .default(["gate_proj", "up_proj", "down_proj"]),
  })
  .strict()
  .superRefine((p, ctx) => topKAtMost(p.topK, p.experts, "experts", ctx));

export type MixloraParams = z.output<typeof params>;

const MIXLORA_ORT_NOTE =
  "ort: base gate/up once, each of the k routing slots gets its expert's LoRA deltas through a rank mask over the stacked E·r ranks (dense over ranks), the base down projection runs once per slot (k times)";

export const mixloraTechnique: Technique<typeof params> = {
  kind: "mixlora",
  family: "mole",
  params,
  label: (p) =>
    `mixlora E${p.experts} top${p.topK} r${p.rank} α${p.alpha} ffn:${p.ffnTargets.map((t) => t.replace("_proj", "")).join(",")}${p.attentionLora ? " +attn-lora" : ""}`,
  unsupportedReason: (_p, _scenario, model) => moleUnsupportedReason("mixlora", model),
  rewriteIr: (ir, p, context) => {
    refuseMoeBase("mixlora", ir.config);
    const scale = p.alpha / p.rank;
    const seed = ir.config.weights.seed;
    const source = p.attentionLora
      ? applyAdapter(ir, "lora", {
          kind: "lora",
          rank: p.rank,
          alpha: p.alpha,
          targets: [...ATTENTION_PROJECTIONS],
          merged: false,
          base: "fp32",
        })
      : ir;
    const added = new Map<string, Tensor>();
    const layers = source.layers.map((layer, index) => {
      const ffn = layer.ffn;
      if (ffn.kind !== "swiglu" || ffn.gate.kind !== "dense" || ffn.up.kind !== "dense" || ffn.down.kind !== "dense")
        throw new Error(
          `mixlora: layer ${index} has a ${ffn.kind === "swiglu" ? "non-dense" : ffn.kind} FFN; MixLoRA's experts need a dense fp32 SwiGLU FFN`,
        );
      const adapters: MixloraFfn["adapters"] = {};
      for (const projection of new Set(p.ffnTargets)) {
        const linear = ffn[projection === "gate_proj" ? "gate" : projection === "up_proj" ? "up" : "down"];
        const stacks = expertStacks(
          seed,
          projectionModule(index, projection),
          p.experts,
          p.rank,
          linear.inFeatures,
          linear.outFeatures,
          expertBStd(scale, p.rank),
        );
        added.set(...stacks.loraA).set(...stacks.loraB);
        adapters[projection] = { loraA: stacks.loraA[0], loraB: stacks.loraB[0] } satisfies MixloraExpertAdapters;
      }
      const router = moleRouter(
        seed,
        `${layerPrefix(index)}.mlp.mole_router`,
        p.experts,
        ir.dims.hidden,
        context?.routingSkew ?? 0,
      );
      added.set(...router.weight);
      if (router.bias) added.set(...router.bias);
      const mixture: MixloraFfn = {
        kind: "mixlora",
        layer: index,
        base: ffn,
        experts: p.experts,
        topK: p.topK,
        rank: p.rank,
        scale,
        router: router.weight[0],
        routerBias: router.bias?.[0],
        adapters,
      };
      return { ...layer, ffn: mixture };
    });
    const result = { ...source, layers, tensors: new Map(source.tensors), notes: [...source.notes] };
    for (const [name, tensor] of added) result.tensors.set(name, tensor);
    result.notes.push(`${mixloraTechnique.label(p)} (scale ${scale.toPrecision(4)})`, MIXLORA_ORT_NOTE);
    return result;
  },
  account: (model, p) => {
    const dims = dimensionsOf(model);
    const ffnTargets = new Set<string>(p.ffnTargets);
    const routerParams = dims.layers * p.experts * dims.hidden;
    return mixtureAccounting(
      model,
      "mixlora",
      (_l, projection) => {
        if (ffnTargets.has(projection))
          return { experts: p.experts, activeExperts: p.topK, rank: p.rank, router: false };
        if (p.attentionLora && (ATTENTION_PROJECTIONS as readonly string[]).includes(projection))
          return { experts: 1, activeExperts: 1, rank: p.rank, router: false };
        return undefined;
      },
      {
        params: routerParams,
        activeParams: routerParams,
        // Router, and the base down projection once more for each chosen expert beyond the first.
        flopsPerToken: 2 * routerParams + dims.layers * (p.topK - 1) * 2 * dims.hidden * dims.ffn,
        notes: [`the base down projection runs once per chosen expert (${p.topK}×): counted in the extra FLOPs`],
      },
    );
  },
  irFormNotes: () => [MIXLORA_ORT_NOTE],
};
