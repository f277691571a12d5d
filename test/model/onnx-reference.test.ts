import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { modelSchema, type ModelConfig } from "../../src/suite/schema.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { buildOnnxModel } from "../../runners/ort/onnx/onnx.js";
import { referenceForward } from "../support/reference.js";
import { relativeL2 } from "../../src/model/fidelity.js";
import { dimensionsOf } from "../../src/model/architecture.js";

function tinyModel(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return modelSchema.parse({
    name: "tiny",
    layers: 2,
    hidden: 64,
    heads: 4,
    kvHeads: 2,
    ffn: 128,
    vocab: 97,
    maxPositions: 64,
    ...overrides,
  });
}

function tokens(batch: number, seq: number, vocab: number, salt: number): number[][] {
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length: seq }, (_, s) => (b * 31 + s * 17 + salt * 7 + 3) % vocab),
  );
}

function idsTensor(ids: number[][]): ort.Tensor {
  return new ort.Tensor(
    "int64",
    BigInt64Array.from(ids.flat(), (v) => BigInt(v)),
    [ids.length, ids[0]!.length],
  );
}

/** Rows [b, s, :] of reference logits [batch, seq, vocab] for the given position s. */
function logitsAt(all: Float64Array, batch: number, seq: number, vocab: number, position: number): Float64Array {
  const out = new Float64Array(batch * vocab);
  for (let b = 0; b < batch; b++)
    out.set(all.subarray((b * seq + position) * vocab, (b * seq + position + 1) * vocab), b * vocab);
  return out;
}

const variants: [string, Partial<ModelConfig>][] = [
  ["untied, no bias", {}],
  ["tied embeddings with q/k/v bias (qwen2-like)", { tieEmbeddings: true, attentionBias: true, family: "qwen2" }],
  ["gaussian weights, multi-query attention", { kvHeads: 1, weights: { seed: 3, distribution: "gaussian" } }],
  [
    "q/k norms and llama3 rope (qwen3-like heads, Llama 3.1 frequencies)",
    {
      family: "qwen3",
      qkNorm: true,
      ropeTheta: 500000,
      ropeScaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 },
    },
  ],
  [
    "linear rope",
    { ropeScaling: { type: "linear", factor: 4, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } },
  ],
];

describe.each(variants)("the ONNX graph of a tiny model (%s)", (_, overrides) => {
  const model = tinyModel(overrides);
  const weights = synthesizeWeights(model);
  const batch = 2;
  const seq = 7;
  const ids = tokens(batch, seq, model.vocab, 1);
  const reference = referenceForward(model, weights, ids);

  it("matches the float64 reference on every position of a prefill", async () => {
    const built = buildOnnxModel(model, { scenario: "prefill", weights, batch, promptTokens: seq, allLogits: true });
    const session = await ort.InferenceSession.create(built.bytes);
    const out = await session.run({ input_ids: idsTensor(ids) });
    expect(out.logits!.dims).toEqual([batch, seq, model.vocab]);
    expect(relativeL2(out.logits!.data as Float32Array, reference)).toBeLessThan(1e-4);
  });

  it("outputs only the last position's logits by default, matching the reference", async () => {
    const built = buildOnnxModel(model, { scenario: "prefill", weights, batch, promptTokens: seq });
    expect(built.outputs).toEqual(["logits"]);
    const session = await ort.InferenceSession.create(built.bytes);
    const out = await session.run({ input_ids: idsTensor(ids) });
    expect(out.logits!.dims).toEqual([batch, model.vocab]);
    expect(
      relativeL2(out.logits!.data as Float32Array, logitsAt(reference, batch, seq, model.vocab, seq - 1)),
    ).toBeLessThan(1e-4);
  });

  it("decodes the next token from a KV cache that an ORT prefill produced, matching the reference", async () => {
    const dims = dimensionsOf(model);
    const past = seq - 1;
    // Prefill of the first `past` tokens with present outputs: a decode graph with an empty cache.
    const decode = buildOnnxModel(model, { scenario: "decode", weights, batch, promptTokens: past });
    expect(decode.inputSpecs.find((s) => s.name === "past_key.0")!.dims).toEqual([
      batch,
      dims.kvHeads,
      past,
      dims.headDim,
    ]);
    const session = await ort.InferenceSession.create(decode.bytes);
    const emptyCache = (): ort.Tensor =>
      new ort.Tensor("float32", new Float32Array(0), [batch, dims.kvHeads, 0, dims.headDim]);
    // Feed tokens one by one from an empty cache (exercises the decode graph at every position)...
    let cache: Record<string, ort.Tensor> = {};
    for (let layer = 0; layer < dims.layers; layer++) {
      cache[`past_key.${layer}`] = emptyCache();
      cache[`past_value.${layer}`] = emptyCache();
    }
    for (let position = 0; position < seq; position++) {
      const out = await session.run({ input_ids: idsTensor(ids.map((row) => [row[position]!])), ...cache });
      const expected = logitsAt(reference, batch, seq, model.vocab, position);
      expect(relativeL2(out.logits!.data as Float32Array, expected), `position ${position}`).toBeLessThan(1e-4);
      cache = {};
      for (let layer = 0; layer < dims.layers; layer++) {
        cache[`past_key.${layer}`] = out[`present_key.${layer}`]!;
        cache[`past_value.${layer}`] = out[`present_value.${layer}`]!;
      }
      expect(cache["past_key.0"]!.dims).toEqual([batch, dims.kvHeads, position + 1, dims.headDim]);
    }
  });
});
