// int8 and int4 on the torch runner (docs/torch-runner.md): torch's own kernels run exactly the integers src/model/quantize.ts
// produces (so the float64 reference of the quantised IR is the oracle), the fidelity the worker reports against
// the fp32 base is fidelity.ts's math on the same prompt the ort runner uses, and it sits in the range of ort's.
import { staticUnsupportedReason } from "../../src/runner/support.js";
import { describe, expect, it } from "vitest";
import { fidelityInputIds } from "../../runners/torch/runner.js";
import type { RepeatOutcome } from "../../src/runner/contract.js";
import { caseIr } from "../../src/model/case-model.js";
import { caseFidelity } from "../../runners/ort/case-fidelity.js";
import { referenceForwardIr } from "../support/reference.js";
import { fidelity, relativeL2 } from "../../src/model/fidelity.js";
import { getTechnique } from "../../src/techniques/registry.js";
import type { Case } from "../../src/suite/case.js";
import type { SuiteInput } from "../../src/suite/schema.js";
import { completed, planCase, repeatContext, tokens, torchRunnerForFile } from "./helpers.js";

const torchRunner = torchRunnerForFile("quant");

// Every projection's out_features is a multiple of 16 (torch's CPU int4 pack needs it) and in_features of 32.
const model = { name: "tiny-q", layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, maxPositions: 64 };

const scalar = (o: Extract<RepeatOutcome, { status: "completed" }>, metric: string) =>
  o.scalars.find((s) => s.metric === metric)?.value;

const quantized: [string, NonNullable<SuiteInput["techniques"]>[number]][] = [
  ["int8 (8-bit)", { kind: "int8", reduceRange: false }],
  ["int8 (7-bit, reduceRange)", { kind: "int8", reduceRange: true }],
  ["int4 symmetric, block 32", { kind: "int4" }],
  ["int4 asymmetric, block 64", { kind: "int4", symmetric: false, blockSize: 64 }],
];

describe("int8 and int4 on torch", () => {
  for (const [label, technique] of quantized)
    it(`run the very integers of src/model/quantize.ts, float activations (logits within 1e-4 of the reference): ${label}`, async () => {
      const c = planCase({ models: [model], techniques: [technique] });
      expect(staticUnsupportedReason(c)).toBeUndefined();
      const ids = tokens(2, 9, c.model.vocab, 3);
      const { data, counts } = await torchRunner().forwardLogits(c, ids);
      expect(relativeL2(data, referenceForwardIr(caseIr(c), ids))).toBeLessThan(1e-4);
      // Not the base: quantisation changed the logits.
      expect(
        relativeL2(data, referenceForwardIr(caseIr({ ...c, technique: { kind: "base" } } as Case), ids)),
      ).toBeGreaterThan(1e-3);
      expect(counts.quantizedLinears).toBe(2 * 7);
    });

  for (const [label, technique] of quantized)
    it(`report fidelity against the fp32 base on ort's fidelity prompt, in the range of ort's own: ${label}`, async () => {
      const c = planCase({ models: [model], techniques: [technique], workloads: [{ batch: 1, promptTokens: 16 }] });
      const outcome = completed(await torchRunner().runRepeat(c, repeatContext()));
      const torchRelL2 = scalar(outcome, "rel_l2_error")!;
      // Not fine-tunable alone: no trainable count (null with the reason, as the TypeScript accounting has it).
      expect(outcome.scalars.find((s) => s.metric === "params_trainable")).toMatchObject({
        value: null,
        reason: expect.stringMatching(/not fine-tuned/),
      });
      // The worker's float64 math is fidelity.ts's: recompute from the logits of both models on the same prompt.
      const ids = fidelityInputIds(c);
      const base = await torchRunner().forwardLogits({ ...c, technique: { kind: "base" } } as Case, ids);
      const quant = await torchRunner().forwardLogits(c, ids);
      const expected = fidelity(base.data, quant.data, c.model.vocab);
      expect(torchRelL2).toBeCloseTo(expected.relativeL2, 6);
      expect(scalar(outcome, "top1_agreement")).toBeCloseTo(expected.top1Agreement, 9);
      expect(scalar(outcome, "kl_base_technique")).toBeCloseTo(expected.klDivergence, 6);
      // ort quantises activations too (MatMulNBits accuracy_level 4, dynamic u8 for int8), torch only weights:
      // torch's error is at most ort's plus a little, and of the same order.
      const ort = (await caseFidelity(c, { intraOpNumThreads: 1 })).find((s) => s.metric === "rel_l2_error")!.value!;
      console.log(`fidelity rel L2 vs fp32 base, ${label}: torch ${torchRelL2.toFixed(4)}, ort ${ort.toFixed(4)}`);
      expect(torchRelL2).toBeLessThan(ort * 1.1);
      expect(torchRelL2).toBeGreaterThan(ort / 4);
    });

  const overInt4: NonNullable<SuiteInput["techniques"]> = [
    { kind: "lora", rank: 4, alpha: 8, base: "int4", targets: "all-linear" },
    { kind: "dora", rank: 4, alpha: 8, base: "int4", targets: ["q_proj", "v_proj", "down_proj"] },
  ];
  for (const technique of overInt4)
    it(`run ${technique.kind} over a packed int4 base as the reference of the same IR does (logits within 1e-4)`, async () => {
      const c = planCase({ models: [model], techniques: [technique] });
      const ids = tokens(2, 9, c.model.vocab, 4);
      const { data } = await torchRunner().forwardLogits(c, ids);
      expect(relativeL2(data, referenceForwardIr(caseIr(c), ids))).toBeLessThan(1e-4);
    });

  it("train LoRA adapters over a packed int4 base (QLoRA-style): backward runs through the packed weights, the adapters are all that is trainable", async () => {
    const c = planCase({
      models: [model],
      techniques: [{ kind: "lora", rank: 4, base: "int4", targets: "all-linear" }],
      scenarios: ["train-step"],
    });
    const outcome = completed(await torchRunner().runRepeat(c, repeatContext()));
    expect(scalar(outcome, "params_trainable")).toBe(
      getTechnique("lora").account!(c.model, c.technique as never).trainableParams,
    );
    expect(outcome.settings).toMatchObject({
      adapterBase: expect.stringMatching(/^int4/),
      int4: expect.stringContaining("_weight_int4pack_mm_for_cpu"),
    });
  });

  it("refuse a train step of int4 or int8 alone, with the reason", () => {
    for (const kind of ["int4", "int8"] as const) {
      const c = planCase({ models: [model], techniques: [{ kind }], scenarios: ["train-step"] });
      expect(staticUnsupportedReason(c)).toMatch(new RegExp(`^${kind} alone is not fine-tuned on torch`));
    }
  });

  it("say unsupported, with the reason, for a shape torch's CPU int4 pack does not take", async () => {
    const c = planCase({ models: [{ ...model, kvHeads: 1, heads: 8 }], techniques: [{ kind: "int4" }] });
    const outcome = await torchRunner().runRepeat(c, repeatContext());
    expect(outcome).toMatchObject({
      status: "unsupported",
      reason: expect.stringMatching(/out_features 8 is not a multiple of 16/),
    });
  });
});
