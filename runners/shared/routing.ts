// Routing measures both in-process runners derive from the experts their routers chose (ort: graph outputs; torch:
// the worker's capture pass), so a MoE or MoLE case reports the same metrics under the same names on either runner:
// routing locality of a MoE prefill (docs/moe.md) and DynMoLE's variable active experts (docs/mole.md).
import type { Case } from "../../src/suite/case.js";
import type { ScalarMeasure } from "../../src/runner/contract.js";
import {
  defaultLocalityOptions,
  routingLocalitySummary,
  type RoutingLocalitySummary,
} from "../../src/model/routing-locality.js";
import { dynmoleRoutingMeasures, moleRoutingMeasures } from "../../src/model/mole-routing.js";
import { dimensionsOf, projectionShape, type ProjectionName } from "../../src/model/architecture.js";
import { moleRouterExperts } from "../../src/techniques/mole.js";

type Measures = { scalars: ScalarMeasure[]; details: Record<string, unknown> };

/**
 * A mixture of LoRA experts' routing: load per routed mixture from the chosen experts (`router_indices.*`) and, for
 * DynMoLE, the experts active per token from its kept-expert masks (`router_mask.{layer}.{projection}`, [T, E]).
 */
export function moleMeasures(
  c: Case,
  indices: Map<string, ArrayLike<number | bigint>>,
  masks: Map<string, ArrayLike<number>>,
  tokens: number,
  pass = "one timed iteration",
): Measures | undefined {
  const expertsOf = moleRouterExperts(c.technique, c.model);
  if (!expertsOf) return undefined;
  const load = moleRoutingMeasures(indices, tokens, expertsOf, pass);
  if (masks.size === 0) return load;
  const dims = dimensionsOf(c.model);
  const dynmole = dynmoleRoutingMeasures(
    masks,
    expertsOf,
    (router) => {
      const [outFeatures, inFeatures] = projectionShape(dims, router.split(".")[2] as ProjectionName);
      return { inFeatures, outFeatures, rank: (c.technique as { rank: number }).rank };
    },
    pass,
  );
  return {
    scalars: [...(load?.scalars ?? []), ...dynmole.scalars],
    details: { ...(load?.details ?? {}), ...dynmole.details },
  };
}

/**
 * Routing locality (src/model/routing-locality.ts) of a prefill's per-token routing, per sequence of the batch
 * (`indices`: layer → token-major [B·T·k]); a decode or generate step routes one token per sequence, so it has none
 * (null with the reason).
 */
export function moeLocality(
  c: Case,
  indices: Map<number, ArrayLike<number | bigint>>,
): { scalars: ScalarMeasure[]; details: RoutingLocalitySummary | null } {
  const { experts, topK } = c.model.moe!;
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
