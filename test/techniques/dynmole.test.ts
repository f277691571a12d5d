// DynMoLE routing (src/model/dynmole.ts) on LoRAMoE and MoLA: the ORT gate equals the float64 reference, and a model
// built to produce both regimes shows them: uncertain tokens (normalised Tsallis entropy above the threshold) use every
// expert, confident ones the top-p ∪ top-k experts, so the active-expert count varies and the routed FLOPs with it.
import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { modelSchema } from "../../src/suite/schema.js";
import { buildModelIr, type ModelIr } from "../../src/model/ir.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { emitOnnx } from "../../runners/ort/onnx/onnx.js";
import { referenceForwardIr } from "../support/reference.js";
import { relativeL2 } from "../../src/model/fidelity.js";
import { getTechnique, techniqueSchema } from "../../src/techniques/registry.js";
import { dynmoleMask, normalizedTsallisEntropy } from "../../src/model/dynmole.js";
import { dynmoleRoutingMeasures } from "../../src/model/mole-routing.js";

const model = modelSchema.parse({
  name: "tiny-dynmole",
  layers: 2,
  hidden: 32,
  heads: 4,
  kvHeads: 2,
  ffn: 48,
  vocab: 61,
  maxPositions: 64,
});
const TOKENS = [
  [5, 17, 3, 58, 41, 9, 60, 2, 33, 11, 7, 29],
  [11, 14, 14, 30, 6, 55, 23, 50, 1, 44, 40, 12],
];

async function ortRun(ir: ModelIr) {
  const { bytes, outputs } = emitOnnx(ir, {
    scenario: "prefill",
    allLogits: true,
    presentOutputs: false,
    routingOutputs: true,
  });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const out = await session.run({
    input_ids: new ort.Tensor("int64", BigInt64Array.from(TOKENS.flat(), BigInt), [2, TOKENS[0]!.length]),
  });
  await session.release();
  const masks = new Map<string, Float32Array>();
  for (const name of outputs) if (name.startsWith("router_mask.")) masks.set(name, out[name]!.data as Float32Array);
  return { logits: out.logits!.data as Float32Array, masks };
}

describe("DynMoLE routing", () => {
  it("computes the normalised Tsallis entropy and the hybrid mask as the authors' code defines them", () => {
    expect(normalizedTsallisEntropy([0.25, 0.25, 0.25, 0.25], 1.5)).toBeCloseTo(1, 3); // the ε shifts it by 6e-5
    expect(normalizedTsallisEntropy([1, 0, 0, 0], 1.5)).toBeLessThan(1e-4);
    const router = { kind: "dynmole" as const, tsallisQ: 1.1, entropyThreshold: 0.9, topP: 0.75, topK: 1 };
    expect(Array.from(dynmoleMask([0.7, 0.2, 0.06, 0.04], router).mask)).toEqual([1, 0, 0, 0]); // cum 0.7 ≤ 0.75, then 0.9
    expect(Array.from(dynmoleMask([0.3, 0.25, 0.25, 0.2], router).mask)).toEqual([1, 1, 1, 1]); // uncertain: all
    expect(Array.from(dynmoleMask([0.5, 0.3, 0.2, 0], { ...router, topK: 3, entropyThreshold: 1 }).mask)).toEqual([
      1, 1, 1, 0,
    ]);
  });

  for (const [label, technique] of [
    ["LoRAMoE", { kind: "loramoe", experts: 6, rank: 4, alpha: 8, targets: ["q_proj", "gate_proj", "down_proj"] }],
    [
      "MoLA",
      { kind: "mola", expertsPerLayerGroup: [4, 6], topK: 2, rank: 4, alpha: 8, targets: ["v_proj", "up_proj"] },
    ],
  ] as const)
    it(`produces both regimes, and ORT equals the float64 reference: ${label}`, async () => {
      const router = { kind: "dynmole", tsallisQ: 1.5, entropyThreshold: 0.8, topP: 0.5, topK: 1 };
      const params = techniqueSchema().parse({ ...technique, router });
      // A Zipf(1.5) routing skew makes some routers' tokens confident; the threshold leaves the rest uncertain.
      const ir = getTechnique(params.kind).rewriteIr!(buildModelIr(model, synthesizeWeights(model)), params, {
        routingSkew: 1.5,
      });
      const run = await ortRun(ir);
      const maskTrace = new Map<string, number[]>();
      const reference = referenceForwardIr(ir, TOKENS, {}, { forcedMasks: run.masks, maskTrace });
      expect(relativeL2(run.logits, reference)).toBeLessThan(1e-5);
      let agree = 0;
      let total = 0;
      const counts: number[] = [];
      for (const [name, mask] of run.masks) {
        const own = maskTrace.get(name)!;
        const E = own.length / (2 * TOKENS[0]!.length);
        for (let t = 0; t < own.length / E; t++) {
          const n = mask.subarray(t * E, (t + 1) * E).reduce((a, b) => a + b, 0);
          counts.push(n === E ? -1 : n); // -1: the all-experts regime
          total++;
          if (own.slice(t * E, (t + 1) * E).every((v, e) => v === mask[t * E + e])) agree++;
        }
      }
      expect(agree / total).toBeGreaterThan(0.97); // ties at topP or the threshold may differ in float32
      expect(counts.filter((n) => n === -1).length, "tokens in the all-experts regime").toBeGreaterThan(0);
      expect(counts.filter((n) => n > 0).length, "tokens in the top-p regime").toBeGreaterThan(0);
      const m = dynmoleRoutingMeasures(
        run.masks,
        (name) => run.masks.get(name)!.length / (2 * TOKENS[0]!.length),
        () => ({ inFeatures: 32, outFeatures: 32, rank: 4 }),
      );
      const value = (metric: string) => m.scalars.find((s) => s.metric === metric)!.value!;
      expect(value("routing_active_experts_min")).toBeGreaterThanOrEqual(1);
      expect(value("routing_active_experts_max")).toBeGreaterThan(value("routing_active_experts_min"));
      expect(value("routing_all_experts_share")).toBeGreaterThan(0);
      expect(value("routing_all_experts_share")).toBeLessThan(1);
      // The routed FLOPs lie between every router at its fewest and at all of its experts.
      let low = 0;
      let high = 0;
      for (const [name] of run.masks) {
        const E = run.masks.get(name)!.length / (2 * TOKENS[0]!.length);
        low += 2 * (E * 32 + 1 * 4 * 64);
        high += 2 * (E * 32 + E * 4 * 64);
      }
      expect(value("adapter_flops_per_token_routed")).toBeGreaterThan(low);
      expect(value("adapter_flops_per_token_routed")).toBeLessThan(high);
    });
});
