// Routing metrics of one MoE run, from the chosen experts the graph outputs (`router_indices.{layer}`,
// [tokens, k]), computed off the timed path: tokens per expert per layer, max/mean load, coefficient of variation,
// assignments dropped by the capacity factor, and active parameters per token as routed.
import type { ModelConfig } from "../suite/schema.js";
import type { ScalarMeasure } from "../runner/contract.js";
import { accountMoeModel } from "./moe-accounting.js";
import { isMoeLayer, moeShapeOf } from "./moe.js";

export interface LayerRouting {
  layer: number;
  /** Assignments per expert (sums to tokens × k). */
  tokensPerExpert: number[];
  maxMeanLoad: number;
  cv: number;
  droppedAssignments: number;
}

export interface RoutingSummary {
  tokens: number;
  topK: number;
  layers: LayerRouting[];
  /** Mean over MoE layers of max/mean expert load (1 = perfectly balanced, E/k = every token on the same experts). */
  maxMeanLoad: number;
  /** Mean over MoE layers of the coefficient of variation (std/mean) of expert load. */
  cv: number;
  /** Assignments over an expert's capacity, summed over layers (0 without a capacity factor). */
  droppedAssignments: number;
  /** Parameters one token used on average: non-routed parameters plus the routed experts it really ran. */
  activeParamsPerToken: number;
}

/** Summarises the chosen experts of each MoE layer ([tokens·k] indices, token-major) of one forward pass. */
export function summarizeRouting(
  model: ModelConfig,
  indicesByLayer: Map<number, ArrayLike<number | bigint>>,
): RoutingSummary {
  const s = moeShapeOf(model);
  const k = s.topK;
  const layers: LayerRouting[] = [];
  let tokens = 0;
  let keptAssignments = 0;
  for (let layer = 0; layer < model.layers; layer++) {
    if (!isMoeLayer(model, layer)) continue;
    const indices = indicesByLayer.get(layer);
    if (!indices) throw new Error(`routing of MoE layer ${layer} is missing`);
    tokens = indices.length / k;
    const capacity =
      model.moe!.capacityFactor === undefined
        ? Infinity
        : Math.ceil((model.moe!.capacityFactor * tokens * k) / s.experts);
    const counts = new Array<number>(s.experts).fill(0);
    let dropped = 0;
    for (let i = 0; i < indices.length; i++) {
      const e = Number(indices[i]);
      counts[e]! += 1;
      if (counts[e]! > capacity) dropped++;
    }
    keptAssignments += indices.length - dropped;
    const mean = indices.length / s.experts;
    const variance = counts.reduce((a, c) => a + (c - mean) ** 2, 0) / s.experts;
    layers.push({
      layer,
      tokensPerExpert: counts,
      maxMeanLoad: Math.max(...counts) / mean,
      cv: Math.sqrt(variance) / mean,
      droppedAssignments: dropped,
    });
  }
  const a = accountMoeModel(model);
  const nonRouted = a.totalParams - a.routedExpertParams;
  const average = (f: (l: LayerRouting) => number) => layers.reduce((sum, l) => sum + f(l), 0) / layers.length;
  return {
    tokens,
    topK: k,
    layers,
    maxMeanLoad: average((l) => l.maxMeanLoad),
    cv: average((l) => l.cv),
    droppedAssignments: layers.reduce((sum, l) => sum + l.droppedAssignments, 0),
    activeParamsPerToken: nonRouted + (tokens > 0 ? (keptAssignments / tokens) * a.perExpertParams : 0),
  };
}

/**
 * The routing scalars of a MoE run, as every runner records them (one definition: same names, units and labels),
 * with `details.routing`'s summary. `pass` says which forward the indices came from (e.g. "one timed iteration").
 */
export function moeRoutingMeasures(
  model: ModelConfig,
  indices: Map<number, ArrayLike<number | bigint>>,
  pass: string,
): { scalars: ScalarMeasure[]; details: RoutingSummary } {
  const summary = summarizeRouting(model, indices);
  const over = `over the ${summary.tokens} tokens of ${pass} (top-${summary.topK})`;
  return {
    scalars: [
      {
        metric: "routing_max_mean_load",
        unit: "ratio",
        value: summary.maxMeanLoad,
        label: `max/mean expert load, mean over MoE layers, ${over}`,
      },
      {
        metric: "routing_cv",
        unit: "ratio",
        value: summary.cv,
        label: `coefficient of variation of expert load, mean over MoE layers, ${over}`,
      },
      model.moe?.capacityFactor === undefined
        ? {
            metric: "routing_dropped_tokens",
            unit: "count",
            value: null,
            reason: "no capacityFactor: every assignment is computed, nothing can be dropped",
          }
        : {
            metric: "routing_dropped_tokens",
            unit: "count",
            value: summary.droppedAssignments,
            label: `token-expert assignments over capacity, summed over layers, ${over}`,
          },
      {
        metric: "params_active",
        unit: "count",
        value: summary.activeParamsPerToken,
        label: `parameters per token as routed (dropped assignments excluded), ${over}`,
      },
    ],
    details: summary,
  };
}
