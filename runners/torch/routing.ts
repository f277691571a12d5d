// Routing metrics of a torch MoE or MoLE case: the worker records the experts each router chose (and DynMoLE's
// kept-expert masks) in one untimed pass after the measure window (moe_block.py RoutingCapture, mole.py
// MoleRoutingCapture); they are summarised here by the same functions as the ort runner's (src/model/moe-routing.ts,
// mole-routing.ts, runners/shared/routing.ts), with the same metric names, into scalars and `details.routing`
// (histograms, routing locality). The raw indices do not reach the store.
import type { Case } from "../../src/suite/case.js";
import type { RepeatOutcome } from "../../src/runner/contract.js";
import { moeRoutingMeasures } from "../../src/model/moe-routing.js";
import { moleMeasures, moeLocality } from "../shared/routing.js";

/** What the worker adds to a completed outcome: MoE {layer: [T·k]}, or a mixture's {routing output name: [T·k]}. */
export interface WorkerRouting {
  routingIndices?: Record<string, number[]>;
  /** `indices`: `router_indices.*` → [T·k] chosen experts; `router_mask.*` → DynMoLE's [T·E] kept-expert masks. */
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
    // Mixtures of LoRA experts: one histogram per routed mixture, DynMoLE's active experts, as the ort child does.
    const entries = Object.entries(moleRouting.indices);
    const measures = moleMeasures(
      c,
      new Map(entries.filter(([name]) => !name.startsWith("router_mask."))),
      new Map(entries.filter(([name]) => name.startsWith("router_mask."))),
      moleRouting.tokens,
      pass,
    );
    return measures
      ? {
          ...rest,
          scalars: [...rest.scalars, ...measures.scalars],
          details: { ...rest.details, routing: measures.details },
        }
      : (rest as RepeatOutcome);
  }
  if (rest.status !== "completed" || !routingIndices || !c.model.moe) return rest as RepeatOutcome;
  const indices = new Map(Object.entries(routingIndices).map(([layer, chosen]) => [Number(layer), chosen]));
  const measures = moeRoutingMeasures(c.model, indices, pass);
  // Routing locality (docs/moe.md): a prefill's per-token routing; the torch capture is token-major over the batch.
  const locality = moeLocality(c, indices);
  return {
    ...rest,
    scalars: [...rest.scalars, ...measures.scalars, ...locality.scalars],
    details: { ...rest.details, routing: { ...measures.details, locality: locality.details } },
  };
}
