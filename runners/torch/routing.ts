// Routing metrics of a torch MoE case (issue 7): the worker records the experts each router chose in one untimed
// pass after the measure window (runners/torch/moe_block.py RoutingCapture); they are summarised here by the same
// function as the ort runner's (src/model/moe-routing.ts), with the same metric names, into scalars and
// `details.routing` (per-layer histograms). The raw indices do not reach the store.
import type { Case } from "../../src/suite/case.js";
import type { RepeatOutcome } from "../runner.js";
import { summarizeRouting } from "../../src/model/moe-routing.js";

export function routingOutcome(c: Case, outcome: RepeatOutcome & { routingIndices?: Record<string, number[]> }): RepeatOutcome {
  const { routingIndices, ...rest } = outcome;
  if (rest.status !== "completed" || !routingIndices || !c.model.moe) return rest as RepeatOutcome;
  const summary = summarizeRouting(c.model, new Map(Object.entries(routingIndices).map(([layer, indices]) => [Number(layer), indices])));
  const pass = c.scenario === "train-step" ? "the forward of one train step" : "one timed iteration";
  const over = `over the ${summary.tokens} tokens of ${pass} (top-${summary.topK})`;
  return {
    ...rest,
    scalars: [
      ...rest.scalars,
      { metric: "routing_max_mean_load", unit: "ratio", value: summary.maxMeanLoad, label: `max/mean expert load, mean over MoE layers, ${over}` },
      { metric: "routing_cv", unit: "ratio", value: summary.cv, label: `coefficient of variation of expert load, mean over MoE layers, ${over}` },
      { metric: "routing_dropped_tokens", unit: "count", value: summary.droppedAssignments, label: `token-expert assignments over capacity, summed over layers, ${over}` },
      { metric: "params_active", unit: "count", value: summary.activeParamsPerToken, label: `parameters per token as routed (dropped assignments excluded), ${over}` },
    ],
    details: { ...rest.details, routing: { ...summary } },
  };
}
