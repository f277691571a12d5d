import { describe, expect, it } from "vitest";
import { architectureModel } from "../../datasets/architectures/index.js";
import { parseScale, scaleModel, scaleModelDetailed } from "../../src/model/scale.js";
import { modelSchema, type ModelConfig } from "../../src/suite/schema.js";

const model = (id: Parameters<typeof architectureModel>[0]): ModelConfig => modelSchema.parse(architectureModel(id));

describe("scaleModel", () => {
  it("scales Qwen2.5-32B to tiny with whole KV heads, the same head_dim and the same query group size", () => {
    const detailed = scaleModelDetailed(model("qwen2.5-32b"), "tiny");
    // 8 KV heads × 1/16 rounds up to 1 KV head, so the realised factor is 1/8 (40 → 5 query heads, group of 5 kept).
    expect(detailed.widthFactor).toBe(1 / 8);
    expect(detailed.model).toMatchObject({
      name: "qwen2.5-32b@tiny",
      layers: 2,
      heads: 5,
      kvHeads: 1,
      headDim: 128,
      hidden: 640,
      ffn: 3456,
      vocab: 19008,
    });
    expect(detailed.layers).toEqual({ from: 64, to: 2 });
  });

  it("keeps the realised width factor equal to the requested one when KV heads divide evenly", () => {
    const detailed = scaleModelDetailed(model("llama-2-7b"), "tiny");
    expect(detailed.widthFactor).toBe(1 / 16);
    expect(detailed.model).toMatchObject({
      layers: 2,
      heads: 2,
      kvHeads: 2,
      headDim: 128,
      hidden: 256,
      ffn: 688,
      vocab: 2000,
    });
  });

  it("keeps experts, top-k and shared experts, scales expert widths, and keeps one MoE layer after dense-first layers", () => {
    const scaled = scaleModel(model("deepseek-moe-16b"), "tiny");
    expect(scaled.moe).toMatchObject({
      experts: 64,
      topK: 6,
      sharedExperts: 2,
      expertFfn: 88,
      sharedFfn: 88,
      firstDenseLayers: 1,
      normTopK: false,
    });
    expect(scaled.layers).toBe(2);
    const mixtral = scaleModel(model("mixtral-8x7b-v0.1"), "small");
    expect(mixtral.moe).toMatchObject({ experts: 8, topK: 2, expertFfn: 3584 });
    expect(mixtral).toMatchObject({ layers: 4, kvHeads: 2, heads: 8, hidden: 1024, ffn: 3584, vocab: 8000 });
  });

  it("produces a model the suite schema accepts, with the other settings untouched", () => {
    for (const id of ["qwen2.5-0.5b", "llama-3.2-1b", "phi-3.5-moe", "olmoe-1b-7b-0924"] as const) {
      const original = model(id);
      for (const scale of ["tiny", "small", 0.5] as const) {
        const scaled = scaleModel(original, scale);
        expect(() => modelSchema.parse(scaled), `${id}@${scale}`).not.toThrow();
        expect(scaled.hidden % scaled.heads, `${id}@${scale}`).toBe(original.hidden % original.heads);
        expect([
          scaled.tieEmbeddings,
          scaled.attentionBias,
          scaled.ropeTheta,
          scaled.rmsNormEps,
          scaled.family,
        ]).toEqual([
          original.tieEmbeddings,
          original.attentionBias,
          original.ropeTheta,
          original.rmsNormEps,
          original.family,
        ]);
      }
    }
  });

  it("scales depth and width by the same factor for a number, never below two layers", () => {
    const scaled = scaleModelDetailed(model("llama-3.1-8b"), 0.25);
    expect(scaled.model).toMatchObject({
      name: "llama-3.1-8b@0.25",
      layers: 8,
      kvHeads: 2,
      heads: 8,
      hidden: 1024,
      ffn: 3584,
      vocab: 32064,
    });
    expect(scaleModel(model("qwen2.5-0.5b"), 0.01).layers).toBe(2);
  });

  it("never grows a model: scale 1 is the identity apart from the name", () => {
    const original = model("qwen2.5-7b");
    const same = scaleModel(original, 1);
    expect({ ...same, name: original.name }).toEqual({ ...original, headDim: 128, kvHeads: 4 });
  });

  it("rejects factors outside (0, 1] and unknown names", () => {
    expect(() => scaleModel(model("qwen2.5-0.5b"), 0)).toThrow(/\(0, 1\]/);
    expect(() => scaleModel(model("qwen2.5-0.5b"), 2)).toThrow(/\(0, 1\]/);
    expect(parseScale("tiny")).toBe("tiny");
    expect(parseScale("0.125")).toBe(0.125);
    expect(() => parseScale("huge")).toThrow(/tiny, small or a factor/);
    expect(() => parseScale("")).toThrow();
  });
});
