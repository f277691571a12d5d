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
