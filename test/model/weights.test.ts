import { describe, expect, it } from "vitest";
import { modelSchema } from "../../src/suite/schema.js";
import { OUTLIER_SCALE_RANGE, outlierChannels, synthesizeTensor } from "../../src/model/weights.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { normalQuantile, studentT4Cdf, studentT4Quantile } from "../../src/model/sampling.js";
import { accountModel } from "../../src/model/accounting.js";

const tiny = (extra: object = {}) =>
  modelSchema.parse({ name: "tiny", layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, ...extra });

function moments(data: Float32Array): { std: number; kurtosis: number } {
  let mean = 0;
  for (const v of data) mean += v;
  mean /= data.length;
  let m2 = 0;
  let m4 = 0;
  for (const v of data) {
    m2 += (v - mean) ** 2;
    m4 += (v - mean) ** 4;
  }
  m2 /= data.length;
  m4 /= data.length;
  return { std: Math.sqrt(m2), kurtosis: m4 / (m2 * m2) };
}

describe("synthesised weights", () => {
  it("have every Hugging Face tensor with its shape, and a parameter count equal to the accounting", () => {
    const model = tiny({ attentionBias: true });
    const weights = synthesizeWeights(model);
    expect(weights.get("model.layers.1.self_attn.k_proj.weight")!.shape).toEqual([32, 64]);
    expect(weights.get("model.layers.0.self_attn.q_proj.bias")!.shape).toEqual([64]);
    expect(weights.get("model.layers.0.mlp.down_proj.weight")!.shape).toEqual([64, 128]);
    expect(weights.has("lm_head.weight")).toBe(true);
    expect(weights.has("model.layers.0.self_attn.o_proj.bias")).toBe(false);
    const total = [...weights.values()].reduce((n, t) => n + t.data.length, 0);
    expect(total).toBe(accountModel(model).totalParams);
    expect(synthesizeWeights(tiny({ tieEmbeddings: true })).has("lm_head.weight")).toBe(false);
  });

  it("are the same for the same seed and differ for another seed", () => {
    const a = synthesizeWeights(tiny()).get("model.layers.0.mlp.up_proj.weight")!.data;
    const b = synthesizeWeights(tiny()).get("model.layers.0.mlp.up_proj.weight")!.data;
    const c = synthesizeWeights(tiny({ weights: { seed: 1 } })).get("model.layers.0.mlp.up_proj.weight")!.data;
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });

  it("depend only on the seed and the tensor's own name, so adding layers shifts nothing", () => {
    const two = synthesizeWeights(tiny());
    const three = synthesizeWeights(tiny({ layers: 3, attentionBias: true }));
    for (const name of ["model.layers.1.self_attn.v_proj.weight", "model.embed_tokens.weight", "model.norm.weight"])
      expect(Buffer.from(two.get(name)!.data.buffer).equals(Buffer.from(three.get(name)!.data.buffer)), name).toBe(
        true,
      );
  });

  it("scale linears to 1/√fan_in and keep norms near 1", () => {
    const shape = [512, 256];
    const gaussian = synthesizeTensor("model.layers.0.mlp.gate_proj.weight", shape, {
      seed: 0,
      distribution: "gaussian",
    });
    expect(moments(gaussian.data).std).toBeCloseTo(1 / 16, 3);
    expect(moments(gaussian.data).kurtosis).toBeGreaterThan(2.85);
    expect(moments(gaussian.data).kurtosis).toBeLessThan(3.15);
    const norm = synthesizeTensor("model.layers.0.input_layernorm.weight", [4096], {
      seed: 0,
      distribution: "llm-like",
    });
    const mean = norm.data.reduce((a, b) => a + b, 0) / norm.data.length;
    expect(mean).toBeGreaterThan(0.99);
    expect(mean).toBeLessThan(1.01);
  });

  it("are heavy-tailed with a few ×10–20 outlier input channels when llm-like", () => {
    const [rows, cols] = [256, 1024];
    const name = "model.layers.0.self_attn.q_proj.weight";
    const llm = synthesizeTensor(name, [rows, cols], { seed: 0, distribution: "llm-like" });
    const outliers = outlierChannels(0, cols);
    expect(outliers.length).toBe(5); // 0.5% of 1024
    const columnRms = (c: number) =>
      Math.sqrt(Array.from({ length: rows }, (_, r) => llm.data[r * cols + c]! ** 2).reduce((a, b) => a + b) / rows);
    const outlierSet = new Set(outliers.map((o) => o.channel));
    const ordinary = Array.from({ length: cols }, (_, c) => c).filter((c) => !outlierSet.has(c));
    const ordinaryRms = Math.sqrt(ordinary.reduce((s, c) => s + columnRms(c) ** 2, 0) / ordinary.length);
    expect(ordinaryRms).toBeCloseTo(1 / 32, 2);
    for (const { channel, scale } of outliers) {
      expect(scale).toBeGreaterThanOrEqual(OUTLIER_SCALE_RANGE[0]);
      expect(columnRms(channel) / ordinaryRms).toBeGreaterThan(OUTLIER_SCALE_RANGE[0] * 0.8);
    }
    // Heavy tails beyond the outlier columns: Student-t ν=4 has far more mass beyond 4σ than a Gaussian.
    const body = new Float32Array(ordinary.length * rows);
    let k = 0;
    for (let r = 0; r < rows; r++) for (const c of ordinary) body[k++] = llm.data[r * cols + c]!;
    expect(moments(body).kurtosis).toBeGreaterThan(5);
  });

  it("sample the Student-t quantile exactly (CDF round trip) and the normal quantile to 1e-8", () => {
    for (const p of [1e-9, 1e-4, 0.01, 0.2, 0.5, 0.7, 0.99, 1 - 1e-6])
      expect(studentT4Cdf(studentT4Quantile(p))).toBeCloseTo(p, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963985, 8);
    expect(normalQuantile(1e-6)).toBeCloseTo(-4.753424309, 6);
  });

  it("synthesise a two-layer hidden-256 model in milliseconds", () => {
    const model = modelSchema.parse({
      name: "quick",
      layers: 2,
      hidden: 256,
      heads: 4,
      kvHeads: 2,
      ffn: 688,
      vocab: 1024,
    });
    synthesizeWeights(model); // warm the JIT and the quantile tables
    const start = performance.now();
    synthesizeWeights(model);
    expect(performance.now() - start).toBeLessThan(5000); // generous: a bound that catches pathology, not a benchmark (machines are noisy);
  });
});
