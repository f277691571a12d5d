// Routing metrics of a mixture of LoRA experts (docs/mole.md), from the chosen experts the graph outputs
// (`router_indices.{layer}` for MixLoRA's FFN router and X-LoRA's top-k scalings, `router_indices.{layer}.{projection}`
// for MoLA's and SMoRA's per-linear routers), computed off the timed path like the MoE ones (moe-routing.ts):
// assignments per expert per router, max/mean load and coefficient of variation. MoLE routers have no capacity,
// so nothing is dropped; dense soft routing (LoRAMoE, X-LoRA without topK) chooses nothing and has no histogram.

export interface MoleRouterLoad {
  /** The routing output's name, e.g. `router_indices.3.q_proj`. */
  router: string;
  layer: number;
  /** Assignments per expert (sums to tokens × k). */
  tokensPerExpert: number[];
  maxMeanLoad: number;
  cv: number;
}

export interface MoleRoutingSummary {
  tokens: number;
  routers: MoleRouterLoad[];
  /** Mean over routers of max/mean expert load (1 = perfectly balanced). */
  maxMeanLoad: number;
  /** Mean over routers of the coefficient of variation (std/mean) of expert load. */
  cv: number;
}

/** Load of each router from its chosen experts ([tokens·k], token-major); `expertsOf` gives a router's expert count. */
export function summarizeMoleRouting(
  indicesByOutput: Map<string, ArrayLike<number | bigint>>,
  topKOf: (router: string) => number,
  expertsOf: (router: string) => number,
): MoleRoutingSummary {
  const routers: MoleRouterLoad[] = [];
  let tokens = 0;
  for (const [router, indices] of [...indicesByOutput].sort(([a], [b]) =>
    a.localeCompare(b, "en", { numeric: true }),
  )) {
    const experts = expertsOf(router);
    tokens = indices.length / topKOf(router);
    const counts = new Array<number>(experts).fill(0);
    for (let i = 0; i < indices.length; i++) counts[Number(indices[i])]! += 1;
    const mean = indices.length / experts;
    const variance = counts.reduce((a, c) => a + (c - mean) ** 2, 0) / experts;
    routers.push({
      router,
      layer: Number(router.split(".")[1]),
      tokensPerExpert: counts,
      maxMeanLoad: Math.max(...counts) / mean,
      cv: Math.sqrt(variance) / mean,
    });
  }
  const average = (f: (r: MoleRouterLoad) => number) =>
    routers.length > 0 ? routers.reduce((sum, r) => sum + f(r), 0) / routers.length : NaN;
  return { tokens, routers, maxMeanLoad: average((r) => r.maxMeanLoad), cv: average((r) => r.cv) };
}

/** The routing metrics of a MoLE case as the ort child stores them (scalars beside the MoE ones, histograms in details). */
export function moleRoutingMeasures(
  indicesByOutput: Map<string, ArrayLike<number | bigint>>,
  tokens: number,
  expertsOf: (router: string) => number,
  /** What the captured tokens were, for the label: "one timed iteration", "the forward of one train step"… */
  pass = "one timed iteration",
):
  | {
      scalars: { metric: string; unit: string; value: number | null; label?: string; reason?: string }[];
      details: Record<string, unknown>;
    }
  | undefined {
  if (indicesByOutput.size === 0) return undefined;
  const summary = summarizeMoleRouting(
    indicesByOutput,
    (router) => indicesByOutput.get(router)!.length / tokens,
    expertsOf,
  );
  const over = `over the ${summary.tokens} tokens of ${pass}, mean over ${summary.routers.length} MoLE routers`;
  return {
    scalars: [
      {
        metric: "routing_max_mean_load",
        unit: "ratio",
        value: summary.maxMeanLoad,
        label: `max/mean expert load, ${over}`,
      },
      {
        metric: "routing_cv",
        unit: "ratio",
        value: summary.cv,
        label: `coefficient of variation of expert load, ${over}`,
      },
    ],
    details: { ...summary },
  };
}

/**
 * DynMoLE's routing (src/model/dynmole.ts) from its kept-expert masks (`router_mask.{layer}.{projection}`, [T, E]):
 * experts active per token (mean, min, max over tokens and routers), the share of tokens in the all-experts regime,
 * and the adapter FLOPs per token as routed: 2·(E·in + active·r·(in + out)) per router, summed (what a sparse
 * implementation runs; the ort graph itself is dense over the ranks).
 */
export function dynmoleRoutingMeasures(
  masks: Map<string, ArrayLike<number>>,
  expertsOf: (router: string) => number,
  shapeOf: (router: string) => { inFeatures: number; outFeatures: number; rank: number },
  pass = "one timed iteration",
): {
  scalars: { metric: string; unit: string; value: number | null; label?: string }[];
  details: Record<string, unknown>;
} {
  const routers: { router: string; meanActive: number; minActive: number; maxActive: number; allExperts: number }[] =
    [];
  let tokens = 0;
  let active = 0;
  let count = 0;
  let all = 0;
  let min = Infinity;
  let max = 0;
  let flops = 0;
  for (const [router, mask] of [...masks].sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }))) {
    const E = expertsOf(router);
    tokens = mask.length / E;
    let sum = 0;
    let lo = Infinity;
    let hi = 0;
    let everyExpert = 0;
    for (let t = 0; t < tokens; t++) {
      let n = 0;
      for (let e = 0; e < E; e++) n += mask[t * E + e]! > 0.5 ? 1 : 0;
      sum += n;
      lo = Math.min(lo, n);
      hi = Math.max(hi, n);
      if (n === E) everyExpert++;
    }
    const mean = sum / tokens;
    routers.push({ router, meanActive: mean, minActive: lo, maxActive: hi, allExperts: everyExpert / tokens });
    active += sum;
    count += tokens;
    all += everyExpert;
    min = Math.min(min, lo);
    max = Math.max(max, hi);
    const s = shapeOf(router);
    flops += 2 * (E * s.inFeatures + mean * s.rank * (s.inFeatures + s.outFeatures));
  }
  const over = `over the ${tokens} tokens of ${pass} and ${routers.length} DynMoLE routers`;
  return {
    scalars: [
      {
        metric: "routing_active_experts_mean",
        unit: "count",
        value: active / count,
        label: `experts active per token, mean ${over}`,
      },
      {
        metric: "routing_active_experts_min",
        unit: "count",
        value: min,
        label: `fewest experts a token used, ${over}`,
      },
      { metric: "routing_active_experts_max", unit: "count", value: max, label: `most experts a token used, ${over}` },
      {
        metric: "routing_all_experts_share",
        unit: "ratio",
        value: all / count,
        label: `share of token-router pairs whose Tsallis entropy exceeded the threshold (all experts active), ${over}`,
      },
      {
        metric: "adapter_flops_per_token_routed",
        unit: "FLOP",
        value: flops,
        label: `adapter FLOPs per token as routed, 2·(E·in + active·r·(in+out)) summed over routers (a sparse implementation's; the ort graph is dense over ranks), ${over}`,
      },
    ],
    details: { dynmole: { tokens, routers } },
  };
}
