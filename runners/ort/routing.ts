// Routing metrics of a MoE case in the ort child: one extra run after the measure window that fetches the
// `router_indices.{layer}` outputs, summarised by src/model/moe-routing.ts (the one definition of the routing
// metrics) into the result's scalars and `details.routing` (the per-layer histograms), plus routing locality and
// DynMoLE's active experts (runners/shared/routing.ts, shared with the torch runner).
import type * as ort from "onnxruntime-node";
import type { Case } from "../../src/suite/case.js";
import type { ScalarMeasure } from "../../src/runner/contract.js";
import { moeRoutingMeasures } from "../../src/model/moe-routing.js";
import { moleMeasures, moeLocality } from "../shared/routing.js";

export function routingMeasures(
  c: Case,
  outputs: ort.InferenceSession.OnnxValueMapType,
): { scalars: ScalarMeasure[]; details: Record<string, unknown> } | undefined {
  if (!c.model.moe) {
    // Mixtures of LoRA experts (docs/mole.md): one histogram per router; DynMoLE's masks.
    const moleIndices = new Map<string, BigInt64Array>();
    const masks = new Map<string, Float32Array>();
    for (const [name, value] of Object.entries(outputs))
      if (name.startsWith("router_indices.")) moleIndices.set(name, value.data as BigInt64Array);
      else if (name.startsWith("router_mask.")) masks.set(name, value.data as Float32Array);
    const tokens = c.scenario === "decode" ? c.workload.batch : c.workload.batch * c.workload.promptTokens;
    return moleMeasures(c, moleIndices, masks, tokens);
  }
  const indices = new Map<number, BigInt64Array>();
  for (const [name, value] of Object.entries(outputs))
    if (name.startsWith("router_indices."))
      indices.set(Number(name.slice("router_indices.".length)), value.data as BigInt64Array);
  const measures = moeRoutingMeasures(c.model, indices, "one timed iteration");
  const locality = moeLocality(c, indices); // routing locality (docs/moe.md)
  return {
    scalars: [...measures.scalars, ...locality.scalars],
    details: { ...measures.details, locality: locality.details },
  };
}
