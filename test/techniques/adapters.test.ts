import { describe, expect, it } from "vitest";
import { doraTechnique } from "../../src/techniques/dora.js";
import { loraTechnique } from "../../src/techniques/lora.js";
import { rsloraTechnique } from "../../src/techniques/rslora.js";
import { referenceForwardIr } from "../support/reference.js";
import { relativeL2 } from "../../src/model/fidelity.js";
import type { Technique } from "../../src/techniques/technique.js";
import { TOKENS, baseIr, nodesOnActivations, opTypes, runPrefill, tinyModel } from "./helpers.js";

const techniques: [string, Technique<any>][] = [
  ["lora", loraTechnique],
  ["rslora", rsloraTechnique],
  ["dora", doraTechnique],
];

describe.each(techniques)("%s", (kind, technique) => {
  const model = tinyModel({ attentionBias: true });
  const base = baseIr(model);
  const params = (merged: boolean) =>
    technique.params.parse({ kind, rank: 4, alpha: 8, targets: "all-linear", merged });

  it("gives the same logits unmerged (adapter ops on activations) and merged (folded into W), within 1e-5", async () => {
    const unmerged = await runPrefill(technique.rewriteIr!(base, params(false)));
    const merged = await runPrefill(technique.rewriteIr!(base, params(true)));
    const baseLogits = await runPrefill(base);
    expect(relativeL2(unmerged.logits, merged.logits)).toBeLessThan(1e-5);
    // …and the adapter really changes the model.
    expect(relativeL2(unmerged.logits, baseLogits.logits)).toBeGreaterThan(1e-3);
  });

  it("matches the float64 reference unmerged", async () => {
    const ir = technique.rewriteIr!(base, params(false));
    const { logits } = await runPrefill(ir);
    expect(relativeL2(logits, referenceForwardIr(ir, TOKENS))).toBeLessThan(1e-4);
  });

  it("keeps the adapter MatMuls on activations in ORT's optimised model (not constant-folded into W)", async () => {
    const ir = technique.rewriteIr!(base, params(false));
    const { optimized } = await runPrefill(ir);
    const onA = nodesOnActivations(optimized, "lora_A.weight");
    const onB = nodesOnActivations(optimized, "lora_B.weight");
    // 7 adapted linears × 2 layers, each with x·Aᵀ then (x·Aᵀ)·Bᵀ.
    expect(onA.filter((n) => n.opType === "MatMul" || n.opType === "FusedMatMul").length).toBeGreaterThanOrEqual(14);
    expect(onB.filter((n) => n.opType === "MatMul" || n.opType === "FusedMatMul").length).toBeGreaterThanOrEqual(14);
    if (kind === "dora") {
      // The norm ‖W + s·B·A‖ is recomputed each forward: its ReduceL2 survives optimisation.
      expect(opTypes(optimized).get("ReduceL2")).toBe(14);
    }
  });
});

describe("adapter accounting", () => {
  it("counts r·(in + out) per adapted linear, plus out for DoRA's magnitude (worked example)", () => {
    const model = tinyModel(); // hidden 64, q 64, k/v 32, ffn 128, 2 layers
    const lora = loraTechnique.account!(model, loraTechnique.params.parse({ kind: "lora", rank: 4 }));
    // q_proj: 4·(64+64) = 512, v_proj: 4·(64+32) = 384 → 896 per layer, 2 layers.
    expect(lora.trainableParams).toBe(1792);
    const dora = doraTechnique.account!(model, doraTechnique.params.parse({ kind: "dora", rank: 4 }));
    expect(dora.trainableParams).toBe(1792 + 2 * (64 + 32));
    const merged = loraTechnique.account!(model, loraTechnique.params.parse({ kind: "lora", rank: 4, merged: true }));
    expect(merged.adapterBytes).toBe(0);
    expect(lora.totalParams - merged.totalParams).toBe(1792);
  });
});
