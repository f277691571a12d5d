// Routing metrics of a torch MoE or MoLE case: the worker records the experts each router chose in one
// untimed pass after the measure window (moe_block.py RoutingCapture, mole.py MoleRoutingCapture); they are summarised
// here by the same functions as the ort runner's (src/model/moe-routing.ts, mole-routing.ts), with the same metric
// names, into scalars and `details.routing` (histograms). The raw indices do not reach the store.
import type { Case } from "../../src/suite/case.js";
import type { RepeatOutcome } from "../../src/runner/contract.js";
import { moeRoutingMeasures } from "../../src/model/moe-routing.js";
import { moleRoutingMeasures } from "../../src/model/mole-routing.js";
import { moleRouterExperts } from "../../src/techniques/mole.js";

/** What the worker adds to a completed outcome: MoE {layer: [T·k]}, or a mixture's {routing output name: [T·k]}. */
export interface WorkerRouting {
  routingIndices?: Record<string, number[]>;
  moleRouting?: { indices: Record<string, number[]>; tokens: number };
}

export function routingOutcome(c: Case, outcome: RepeatOutcome & WorkerRouting): RepeatOutcome {
  const { routingIndices, moleRouting, ...rest } = outcome;
  const pass =
    c.scenario === "train-step"
      ? "the forward of one train step"
      : c.scenario === "generate"
        ? "the prompt's forward of one generation"
        : "one timed iteration";
  if (rest.status === "completed" && moleRouting) {
    // Mixtures of LoRA experts: one histogram per routed mixture, summarised as the ort child does.
    const expertsOf = moleRouterExperts(c.technique as { kind: string } & Record<string, unknown>, c.model);
    const measures = expertsOf
      ? moleRoutingMeasures(new Map(Object.entries(moleRouting.indices)), moleRouting.tokens, expertsOf, pass)
      : undefined;
    return measures
      ? {
          ...rest,
          scalars: [...rest.scalars, ...measures.scalars],
          details: { ...rest.details, routing: measures.details },
        }
      : (rest as RepeatOutcome);
  }
  if (rest.status !== "completed" || !routingIndices || !c.model.moe) return rest as RepeatOutcome;
  const measures = moeRoutingMeasures(
    c.model,
    new Map(Object.entries(routingIndices).map(([layer, indices]) => [Number(layer), indices])),
    pass,
  );
  return {
    ...rest,
    scalars: [...rest.scalars, ...measures.scalars],
    details: { ...rest.details, routing: { ...measures.details } },
  };
}
