import { planTestCase as planCase } from "../support/plan.js";
import { ortTechniqueNotes } from "../../runners/ort/technique-notes.js";
import { describe, expect, it } from "vitest";
import { int4Technique } from "../../src/techniques/int4.js";
import { int8Technique } from "../../src/techniques/int8.js";
import { bf16Technique, fp16Technique } from "../../src/techniques/half.js";
import { loraTechnique } from "../../src/techniques/lora.js";
import { referenceForwardIr } from "../support/reference.js";
import { fidelity, relativeL2 } from "../../src/model/fidelity.js";
import { dequantizeInt4, int4Bytes, quantizeInt4, quantizeInt8, dequantizeInt8 } from "../../src/model/quantize.js";
import { synthesizeTensor } from "../../src/model/weights.js";
import { modelSchema } from "../../src/suite/schema.js";
import type { Technique } from "../../src/techniques/technique.js";
import { TOKENS, baseIr, nodesOnActivations, opTypes, runPrefill, tinyModel } from "./helpers.js";

describe("int4 block quantisation", () => {
  const weight = synthesizeTensor("model.layers.0.mlp.up_proj.weight", [48, 80], { seed: 2, distribution: "gaussian" });

  it.each([true, false])(
    "round-trips within half a step of each block's scale (symmetric: %s), in[] padded to whole blocks",
    (symmetric) => {
      const q = quantizeInt4(weight, 32, symmetric);
      expect(q.packed.shape).toEqual([48, 3, 16]); // 80 → 3 blocks of 32
      const back = dequantizeInt4(q, 80, 32);
      for (let r = 0; r < 48; r++)
        for (let c = 0; c < 80; c++) {
          const scale = q.scales.data[r * 3 + Math.floor(c / 32)]!;
          expect(Math.abs(back.data[r * 80 + c]! - weight.data[r * 80 + c]!)).toBeLessThanOrEqual(scale / 2 + 1e-7);
        }
    },
  );

  it("takes ≤ 0.16× (symmetric) and ≤ 0.165× (asymmetric) of the fp32 bytes, scales and zero points counted", () => {
    expect(int4Bytes(4096, 4096, 32, true) / (4096 * 4096 * 4)).toBeLessThanOrEqual(0.16);
    expect(int4Bytes(4096, 4096, 32, false) / (4096 * 4096 * 4)).toBeLessThanOrEqual(0.165);
    const q = quantizeInt4(weight, 32, false);
    expect(q.packed.bytes.byteLength + q.scales.data.byteLength + q.zeroPoints!.bytes.byteLength).toBe(
      int4Bytes(48, 80, 32, false),
    );
  });

  it("int8 per-channel round-trips within half a step, and reduce_range keeps weights in 7 bits", () => {
    for (const reduceRange of [false, true]) {
      const q = quantizeInt8(weight, reduceRange);
      const values = new Int8Array(q.weight.bytes.buffer, q.weight.bytes.byteOffset, q.weight.bytes.byteLength);
      expect(Math.max(...values.map(Math.abs))).toBe(reduceRange ? 63 : 127);
      const back = dequantizeInt8(q);
      for (let r = 0; r < 48; r++)
        for (let c = 0; c < 80; c++)
          expect(Math.abs(back.data[r * 80 + c]! - weight.data[r * 80 + c]!)).toBeLessThanOrEqual(
            q.scales.data[r]! / 2 + 1e-7,
          );
    }
  });
});

describe("quantised graphs on ORT", () => {
  const model = tinyModel();
  const base = baseIr(model);

  it.each([true, false])(
    "int4 (MatMulNBits, symmetric: %s) runs exactly what its dequantised weights mean at accuracy_level 0",
    async (symmetric) => {
      const ir = int4Technique.rewriteIr!(
        base,
        int4Technique.params.parse({ kind: "int4", symmetric, accuracyLevel: 0 }),
      );
      const { logits, optimized } = await runPrefill(ir);
      expect(opTypes(optimized).get("MatMulNBits")).toBe(14);
      expect(relativeL2(logits, referenceForwardIr(ir, TOKENS))).toBeLessThan(1e-5);
    },
  );

  it("int4 at accuracy_level 4 (the fast CPU path) adds int8 activation rounding on top of the weights' error", async () => {
    const ir = int4Technique.rewriteIr!(base, int4Technique.params.parse({ kind: "int4" }));
    const error = relativeL2((await runPrefill(ir)).logits, referenceForwardIr(ir, TOKENS));
    expect(error).toBeGreaterThan(1e-4);
    expect(error).toBeLessThan(0.1);
  });

  it("int8 runs as a fused dynamic-quantised MatMul; per-tensor u8 activations suffer from outlier channels", async () => {
    const errors: Record<string, number> = {};
    for (const distribution of ["gaussian", "llm-like"] as const) {
      const b = baseIr(tinyModel({ weights: { seed: 0, distribution } }));
      const ir = int8Technique.rewriteIr!(b, int8Technique.params.parse({ kind: "int8" }));
      const { logits, optimized } = await runPrefill(ir);
      const ops = opTypes(optimized);
      // ORT shares one DynamicQuantizeLinear between linears reading the same input (q/k/v, gate/up): those
      // become MatMulIntegerToFloat, the others DynamicQuantizeMatMul; nothing stays an unfused MatMulInteger.
      expect((ops.get("DynamicQuantizeMatMul") ?? 0) + (ops.get("MatMulIntegerToFloat") ?? 0)).toBe(14);
      expect(ops.get("MatMulInteger") ?? 0).toBe(0);
      errors[distribution] = relativeL2(logits, referenceForwardIr(ir, TOKENS));
      expect(relativeL2(logits, (await runPrefill(b)).logits)).toBeLessThan(0.2);
    }
    // The activation rounding error (vs the dequantised-weight reference) grows with outlier activations (LLM.int8()).
    expect(errors.gaussian!).toBeLessThan(0.05);
    expect(errors["llm-like"]!).toBeGreaterThan(1.5 * errors.gaussian!);
  });

  it.each<[string, Technique<any>]>([
    ["fp16", fp16Technique],
    ["bf16", bf16Technique],
  ])(
    "%s weights are cast to fp32 at load (no Cast left in the optimised graph) and match the rounded weights' reference",
    async (kind, technique) => {
      const ir = technique.rewriteIr!(base, technique.params.parse({ kind }));
      const { logits, optimized } = await runPrefill(ir);
      expect(opTypes(optimized).get("Cast") ?? 0).toBe(0);
      expect(relativeL2(logits, referenceForwardIr(ir, TOKENS))).toBeLessThan(1e-4);
      expect(ortTechniqueNotes(planCase({ techniques: [{ kind } as never] }))[0]).toMatch(/cast to fp32 at load/);
    },
  );

  it("QLoRA-style LoRA over an int4 base keeps the adapter unmerged over MatMulNBits", async () => {
    const ir = loraTechnique.rewriteIr!(
      base,
      loraTechnique.params.parse({ kind: "lora", base: "int4", targets: "all-linear" }),
    );
    const { logits, optimized } = await runPrefill(ir);
    expect(opTypes(optimized).get("MatMulNBits")).toBe(14);
    expect(nodesOnActivations(optimized, "lora_A.weight").length).toBeGreaterThanOrEqual(14);
    expect(relativeL2(logits, referenceForwardIr(ir, TOKENS))).toBeLessThan(0.1);
  });

  it("int4 loses visibly more fidelity on llm-like weights (outlier channels, heavy tails) than on Gaussian ones", async () => {
    const results: Record<string, number> = {};
    for (const distribution of ["gaussian", "llm-like"] as const) {
      const m = modelSchema.parse({
        name: "tiny",
        layers: 2,
        hidden: 256,
        heads: 4,
        kvHeads: 2,
        ffn: 512,
        vocab: 97,
        maxPositions: 64,
        weights: { seed: 5, distribution },
      });
      const b = baseIr(m);
      const quantized = int4Technique.rewriteIr!(b, int4Technique.params.parse({ kind: "int4" }));
      const f = fidelity((await runPrefill(b)).logits, (await runPrefill(quantized)).logits, m.vocab);
      results[distribution] = f.relativeL2;
    }
    expect(results["llm-like"]!).toBeGreaterThan(1.5 * results.gaussian!);
  });
});
