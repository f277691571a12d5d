// Routing metrics of a MoE case in the ort child: one extra run after the measure window that fetches the
// `router_indices.{layer}` outputs, summarised by src/model/moe-routing.ts (the one definition of the routing
// metrics) into the result's scalars and `details.routing` (the per-layer histograms).
import type * as ort from "onnxruntime-node";
import type { Case } from "../../src/suite/case.js";
import type { ScalarMeasure } from "../../src/runner/contract.js";
import { moeRoutingMeasures } from "../../src/model/moe-routing.js";
import {
  defaultLocalityOptions,
  routingLocalitySummary,
  type RoutingLocalitySummary,
} from "../../src/model/routing-locality.js";
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
  const locality = moeLocality(c, indices, c.model.moe!.topK); // routing locality (docs/moe.md)
  return {
    scalars: [...measures.scalars, ...locality.scalars],
    details: { ...measures.details, locality: locality.details },
  };
}

/**
 * Routing locality (src/model/routing-locality.ts) of a prefill's per-token routing, per sequence of the batch; a
 * decode or generate step routes one token per sequence, so it has none (null with the reason).
 */
function moeLocality(
  c: Case,
  indices: Map<number, BigInt64Array>,
  topK: number,
): { scalars: ScalarMeasure[]; details: RoutingLocalitySummary | null } {
  const experts = c.model.moe!.experts;
  const options = c.workload.locality ?? defaultLocalityOptions(topK);
  const names = {
    srp: (m: number) => `routing_srp_m${m}`,
    sch: (m: number, size: number) => `routing_sch_m${m}_c${size}`,
    lru: (size: number) => `routing_lru_hit_c${size}`,
  };
  if (c.scenario !== "prefill") {
    const reason = `routing locality needs a sequence of routed tokens: a ${c.scenario} step routes one token per sequence (see the prefill case)`;
    return {
      scalars: options.cacheSizes.map((size) => ({ metric: names.lru(size), unit: "ratio", value: null, reason })),
      details: null,
    };
  }
  const summary = routingLocalitySummary(
    indices,
    topK,
    experts,
    c.workload.batch,
    options,
    "the prefill's prompt tokens (seeded ids), per sequence of the batch",
  );
  const over = `mean over MoE layers and the ${summary.sequences} sequences of ${summary.tokensPerSequence} prompt tokens`;
  const scalars: ScalarMeasure[] = [];
  for (const m of summary.segmentLengths)
    scalars.push({
      metric: names.srp(m),
      unit: "ratio",
      value: summary.srp[String(m)]!,
      label: `segment routing best performance, segments of ${m} tokens, ${over}`,
    });
  for (const m of summary.segmentLengths)
    for (const size of summary.cacheSizes)
      scalars.push({
        metric: names.sch(m, size),
        unit: "ratio",
        value: summary.sch[`m${m}.c${size}`]!,
        label: `segment cache best hit rate, ${size} cached experts knowing the next ${m} tokens, ${over}`,
      });
  for (const size of summary.cacheSizes)
    scalars.push({
      metric: names.lru(size),
      unit: "ratio",
      value: summary.lru[String(size)]!,
      label: `LRU expert-cache hit rate, ${size} cached experts per layer, ${over}`,
    });
  return { scalars, details: summary };
}
