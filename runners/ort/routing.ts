// Routing metrics of a MoE case in the ort child (issue 5): one extra run after the measure window that fetches
// the `router_indices.{layer}` outputs, summarised by src/model/moe-routing.ts into the result's scalars and
// `details.routing` (the per-layer histograms).
import type * as ort from "onnxruntime-node";
import type { Case } from "../../src/suite/case.js";
import type { ScalarMeasure } from "../../src/runner/contract.js";
import { summarizeRouting } from "../../src/model/moe-routing.js";
import { moleRoutingMeasures } from "../../src/model/mole-routing.js";
import { moleRouterExperts } from "../../src/techniques/mole.js";

export function routingMeasures(
  c: Case,
  outputs: ort.InferenceSession.OnnxValueMapType,
): { scalars: ScalarMeasure[]; details: Record<string, unknown> } | undefined {
  const expertsOf = moleRouterExperts(c.technique, c.model);
  if (!c.model.moe && expertsOf) {
    // Mixtures of LoRA experts (docs/mole.md): one histogram per router.
    const moleIndices = new Map<string, BigInt64Array>();
    for (const [name, value] of Object.entries(outputs))
      if (name.startsWith("router_indices.")) moleIndices.set(name, value.data as BigInt64Array);
    return moleRoutingMeasures(
      moleIndices,
      c.scenario === "decode" ? c.workload.batch : c.workload.batch * c.workload.promptTokens,
      expertsOf,
    );
  }
  const indices = new Map<number, BigInt64Array>();
  for (const [name, value] of Object.entries(outputs))
    if (name.startsWith("router_indices."))
      indices.set(Number(name.slice("router_indices.".length)), value.data as BigInt64Array);
  const summary = summarizeRouting(c.model, indices);
  const perIteration = `over the ${summary.tokens} tokens of one timed iteration (top-${summary.topK})`;
  return {
    scalars: [
      {
        metric: "routing_max_mean_load",
        unit: "ratio",
        value: summary.maxMeanLoad,
        label: `max/mean expert load, mean over MoE layers, ${perIteration}`,
      },
      {
        metric: "routing_cv",
        unit: "ratio",
        value: summary.cv,
        label: `coefficient of variation of expert load, mean over MoE layers, ${perIteration}`,
      },
      c.model.moe?.capacityFactor === undefined
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
            label: `token-expert assignments over capacity, summed over layers, ${perIteration}`,
          },
      {
        metric: "params_active",
        unit: "count",
        value: summary.activeParamsPerToken,
        label: `parameters per token as routed (dropped assignments excluded), ${perIteration}`,
      },
    ],
    details: { ...summary },
  };
}
