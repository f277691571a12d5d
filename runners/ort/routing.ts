// Routing metrics of a MoE case in the ort child: one extra run after the measure window that fetches the
// `router_indices.{layer}` outputs, summarised by src/model/moe-routing.ts (the one definition of the routing
// metrics) into the result's scalars and `details.routing` (the per-layer histograms).
import type * as ort from "onnxruntime-node";
import type { Case } from "../../src/suite/case.js";
import type { ScalarMeasure } from "../../src/runner/contract.js";
import { moeRoutingMeasures } from "../../src/model/moe-routing.js";
import { dynmoleRoutingMeasures, moleRoutingMeasures } from "../../src/model/mole-routing.js";
import { dimensionsOf, projectionShape, type ProjectionName } from "../../src/model/architecture.js";
import { moleRouterExperts } from "../../src/techniques/mole.js";

export function routingMeasures(
  c: Case,
  outputs: ort.InferenceSession.OnnxValueMapType,
): { scalars: ScalarMeasure[]; details: Record<string, unknown> } | undefined {
  const expertsOf = moleRouterExperts(c.technique, c.model);
  if (!c.model.moe && expertsOf) {
    // Mixtures of LoRA experts (docs/mole.md): one histogram per router.
    const moleIndices = new Map<string, BigInt64Array>();
    const masks = new Map<string, Float32Array>();
    for (const [name, value] of Object.entries(outputs))
      if (name.startsWith("router_indices.")) moleIndices.set(name, value.data as BigInt64Array);
      else if (name.startsWith("router_mask.")) masks.set(name, value.data as Float32Array);
    const load = moleRoutingMeasures(
      moleIndices,
      c.scenario === "decode" ? c.workload.batch : c.workload.batch * c.workload.promptTokens,
      expertsOf,
    );
    if (masks.size === 0) return load;
    // DynMoLE: variable experts per token (src/model/dynmole.ts).
    const dims = dimensionsOf(c.model);
    const dynmole = dynmoleRoutingMeasures(masks, expertsOf, (router) => {
      const [outFeatures, inFeatures] = projectionShape(dims, router.split(".")[2] as ProjectionName);
      return { inFeatures, outFeatures, rank: (c.technique as { rank: number }).rank };
    });
    return {
      scalars: [...(load?.scalars ?? []), ...dynmole.scalars],
      details: { ...(load?.details ?? {}), ...dynmole.details },
    };
  }
  const indices = new Map<number, BigInt64Array>();
  for (const [name, value] of Object.entries(outputs))
    if (name.startsWith("router_indices."))
      indices.set(Number(name.slice("router_indices.".length)), value.data as BigInt64Array);
  const measures = moeRoutingMeasures(c.model, indices, "one timed iteration");
  return { scalars: measures.scalars, details: { ...measures.details } };
}
