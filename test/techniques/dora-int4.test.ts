// Unmerged DoRA over an int4 base on ORT: the int4 matmul stays MatMulNBits, the column norm is computed from the
// dequantised weight on every forward (runners/ort/onnx/dora-int4-onnx.ts), and the result is what the float64 reference
// computes from the same stored integers.
import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { emitOnnx } from "../../runners/ort/onnx/onnx.js";
import { int4Technique } from "../../src/techniques/int4.js";
import { applyAdapter, adapterUnsupportedReason, dequantizeInt4Linear } from "../../src/techniques/adapters.js";
import { doraTechnique } from "../../src/techniques/dora.js";
import { quantizeIrInt4, INT4_DEFAULTS } from "../../src/techniques/int4.js";
import { linearsOf, mapLinears, type Int4Linear, type LinearOp, type ModelIr } from "../../src/model/ir.js";
import { referenceForwardIr } from "../support/reference.js";
import { relativeL2 } from "../../src/model/fidelity.js";
import { TOKENS, baseIr, opTypes, runPrefill, tinyModel } from "./helpers.js";

const doraParams = (extra: object = {}) =>
  doraTechnique.params.parse({ kind: "dora", rank: 4, alpha: 8, targets: "all-linear", base: "int4", ...extra });

/** The IR with every int4 linear's accuracy_level set (0: float activations, so ORT computes what the reference does). */
function withAccuracyLevel(ir: ModelIr, accuracyLevel: number): ModelIr {
  const set = (linear: LinearOp): LinearOp =>
    linear.kind === "dora" && linear.base.kind === "int4"
      ? { ...linear, base: { ...linear.base, accuracyLevel } }
      : linear.kind === "int4"
        ? { ...linear, accuracyLevel }
        : linear;
  return mapLinears(ir, set);
}

/** DoRA over an asymmetric int4 base: the adapters of `dora`, the base quantised with zero points. */
function withAsymmetricBase(dora: ModelIr, fp32: ModelIr): ModelIr {
  const asymmetric = quantizeIrInt4(fp32, { ...INT4_DEFAULTS, kind: "int4", symmetric: false });
  const bases = new Map<string, Int4Linear>();
  for (const { layer, projection, linear } of linearsOf(asymmetric))
    bases.set(`${layer}.${projection}`, linear as Int4Linear);
  const ir = mapLinears(dora, (linear, layer, projection) =>
    linear.kind === "dora" ? { ...linear, base: bases.get(`${layer}.${projection}`)! } : linear,
  );
  for (const [name, tensor] of asymmetric.tensors)
    if (name.endsWith(".qweight") || name.endsWith(".scales") || name.endsWith(".qzeros")) ir.tensors.set(name, tensor);
  return ir;
}

describe("DoRA over an int4 base on ORT", () => {
  it("is no longer refused for ort (a merged DoRA over int4 still is)", () => {
    expect(adapterUnsupportedReason("dora", doraParams())).toBeUndefined();
    expect(adapterUnsupportedReason("dora", doraParams({ merged: true }))).toMatch(/merged dora needs an fp32 base/);
  });

  for (const [label, model] of [
    ["symmetric, whole blocks", tinyModel()],
    ["symmetric, in-features padded to whole blocks (ffn 80, block 32)", tinyModel({ ffn: 80 })],
    ["qwen2-style q/k/v biases", tinyModel({ attentionBias: true, tieEmbeddings: true })],
  ] as const)
    it(`runs what the float64 reference computes from the stored integers (${label}): relative L2 ≤ 1e-5`, async () => {
      const ir = withAccuracyLevel(doraTechnique.rewriteIr!(baseIr(model), doraParams()), 0);
      const { logits } = await runPrefill(ir);
      const error = relativeL2(logits, referenceForwardIr(ir, TOKENS));
      console.log(`DoRA int4 (${label}) ORT vs float64 reference: relative L2 ${error.toExponential(2)}`);
      expect(error).toBeLessThan(1e-5);
    });

  it("with an asymmetric base (zero points unpacked at run time) too", async () => {
    const model = tinyModel({ ffn: 80 });
    const fp32 = baseIr(model);
    const ir = withAccuracyLevel(withAsymmetricBase(applyAdapter(fp32, "dora", doraParams()), fp32), 0);
    expect(
      [...linearsOf(ir)].every(
        ({ linear }) => linear.kind === "dora" && linear.base.kind === "int4" && linear.base.zeroPoints !== undefined,
      ),
    ).toBe(true);
    const { logits } = await runPrefill(ir);
    expect(relativeL2(logits, referenceForwardIr(ir, TOKENS))).toBeLessThan(1e-5);
  });

  it("starts the magnitude from the dequantised weight's norm, as peft does over a quantised layer", () => {
    const ir = doraTechnique.rewriteIr!(baseIr(tinyModel()), doraParams());
    const linear = ir.layers[0]!.attention.q;
    if (linear.kind !== "dora" || linear.base.kind !== "int4") throw new Error("expected DoRA over int4");
    const weight = dequantizeInt4Linear(ir, linear.base);
    const magnitude = ir.tensors.get(linear.magnitude) as { data: Float32Array };
    // m = ‖Ŵ + s·B·A‖·(1 + 5% noise): with a small adapter, within ~20% of ‖Ŵ‖ row by row.
    for (let o = 0; o < 4; o++) {
      let sum = 0;
      for (let i = 0; i < linear.inFeatures; i++) sum += weight.data[o * linear.inFeatures + i]! ** 2;
      expect(magnitude.data[o]! / Math.sqrt(sum)).toBeGreaterThan(0.8);
      expect(magnitude.data[o]! / Math.sqrt(sum)).toBeLessThan(1.2);
    }
  });

  it("keeps the norm at run time in the optimised model: 14 ReduceL2, 14 MatMulNBits, the unpacking, and no fp32 copy of a weight", async () => {
    const model = tinyModel();
    const { optimized } = await runPrefill(doraTechnique.rewriteIr!(baseIr(model), doraParams()));
    const ops = opTypes(optimized);
    expect(ops.get("ReduceL2")).toBe(14); // 2 layers × 7 adapted linears
    expect(ops.get("MatMulNBits")).toBe(14);
    expect(ops.get("BitShift")).toBeGreaterThanOrEqual(14 * 3);
    // The only float initialisers of a projection's size would be a folded Ŵ or B·A: there must be none.
    const floatMatrices = (optimized.graph!.initializer ?? []).filter(
      (t) =>
        t.dataType === 1 &&
        (t.dims ?? []).length === 2 &&
        Number(t.dims![0]) * Number(t.dims![1]) >= 64 * 64 &&
        !t.name!.includes("embed_tokens") &&
        !t.name!.includes("lm_head"),
    );
    expect(floatMatrices.map((t) => t.name)).toEqual([]);
  });

  it("at accuracy_level 4 (the fast CPU path) stays close to the reference and to DoRA over fp32", async () => {
    const model = tinyModel();
    const fp32 = baseIr(model);
    const ir = doraTechnique.rewriteIr!(fp32, doraParams());
    const { logits } = await runPrefill(ir);
    expect(relativeL2(logits, referenceForwardIr(ir, TOKENS))).toBeLessThan(0.1);
    const doraFp32 = await runPrefill(doraTechnique.rewriteIr!(fp32, doraParams({ base: "fp32" })));
    const error = relativeL2(logits, doraFp32.logits);
    console.log(`DoRA int4 (accuracy_level 4) vs DoRA fp32: relative L2 ${error.toExponential(2)}`);
    expect(error).toBeGreaterThan(1e-3); // int4 does change the weights…
    expect(error).toBeLessThan(1); // …but the model is the same model
  });

  it("decodes token by token from a KV cache as the reference computes (DoRA over int4, with int4 embeddings and lm_head too)", async () => {
    const model = tinyModel({ tieEmbeddings: true });
    const dora = withAccuracyLevel(doraTechnique.rewriteIr!(baseIr(model), doraParams()), 0);
    const vocabularyToo = int4Technique.rewriteIr!(
      baseIr(model),
      int4Technique.params.parse({ kind: "int4", accuracyLevel: 0, lmHead: true, embeddings: true }),
    );
    for (const ir of [dora, vocabularyToo]) {
      const session = await ort.InferenceSession.create(emitOnnx(ir, { scenario: "decode" }).bytes, {
        intraOpNumThreads: 1,
      });
      const { kvHeads, headDim, layers, vocab } = ir.dims;
      const batch = TOKENS.length;
      const seq = TOKENS[0]!.length;
      const reference = referenceForwardIr(ir, TOKENS);
      let cache: Record<string, ort.Tensor> = {};
      for (let layer = 0; layer < layers; layer++)
        for (const kind of ["key", "value"])
          cache[`past_${kind}.${layer}`] = new ort.Tensor("float32", new Float32Array(0), [batch, kvHeads, 0, headDim]);
      for (let position = 0; position < seq; position++) {
        const ids = new ort.Tensor("int64", BigInt64Array.from(TOKENS.map((row) => BigInt(row[position]!))), [
          batch,
          1,
        ]);
        const out = await session.run({ input_ids: ids, ...cache });
        const expected = new Float64Array(batch * vocab);
        for (let b = 0; b < batch; b++)
          expected.set(reference.subarray((b * seq + position) * vocab, (b * seq + position + 1) * vocab), b * vocab);
        expect(relativeL2(out.logits!.data as Float32Array, expected), `position ${position}`).toBeLessThan(1e-5);
        cache = {};
        for (let layer = 0; layer < layers; layer++)
          for (const kind of ["key", "value"]) cache[`past_${kind}.${layer}`] = out[`present_${kind}.${layer}`]!;
      }
      await session.release();
    }
  });
});
