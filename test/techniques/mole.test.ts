import { describe, expect, it } from "vitest";
import { modelSchema } from "../../src/suite/schema.js";
import { validateSuite } from "../../src/suite/loader.js";
import { getTechnique, techniqueKinds } from "../../src/techniques/registry.js";
import { accountModel } from "../../src/model/accounting.js";
import { buildModelIr } from "../../src/model/ir.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { MOE_LORA } from "../../datasets/technique-presets.js";

// LLaMA-2-7B: H 4096, I 11008, 32 layers, MHA (k/v 4096 wide), vocab 32000; 6,738,415,616 parameters.
const llama7b = modelSchema.parse({
  name: "llama-2-7b",
  layers: 32,
  hidden: 4096,
  heads: 32,
  ffn: 11008,
  vocab: 32000,
});
const BASE_7B = 6_738_415_616;

function account(raw: Record<string, unknown>, model = llama7b) {
  const technique = getTechnique(raw.kind as string);
  return technique.account!(model, technique.params.parse(raw));
}

describe("MoLE accounting", () => {
  it("registers the five designs", () => {
    for (const kind of ["mixlora", "loramoe", "mola", "xlora", "smora"]) expect(techniqueKinds()).toContain(kind);
    expect(accountModel(llama7b).totalParams).toBe(BASE_7B);
  });

  // Worked example, MixLoRA's preset on LLaMA-2-7B (E 8, top-2, r 8, LoRA on q/k/v/o):
  //   FFN experts per layer: 3 projections × 8 experts × 8 × (4096 + 11008) = 2,899,968
  //   router 8 × 4096 = 32,768; attention LoRA 4 × 8 × (4096 + 4096) = 262,144
  //   per layer 3,194,880; × 32 layers = 102,236,160 trainable, 6,840,651,776 total
  //   active per token: 32 × (2 of 8 experts: 724,992 + router 32,768 + attention 262,144) = 32,636,928 → 6,771,052,544
  //   extra FLOPs per token: 2 × 32,636,928 + the base down once more (top-2): 2 × 4096 × 11008 × 32 = 2,950,955,008
  it("MixLoRA on LLaMA-2-7B equals the worked example", () => {
    const a = account(MOE_LORA.mixlora as Record<string, unknown>);
    expect(a.adapterParams).toBe(102_236_160);
    expect(a.trainableParams).toBe(102_236_160);
    expect(a.totalParams).toBe(6_840_651_776);
    expect(a.activeParamsPerToken).toBe(6_771_052_544);
    expect(a.extraFlopsPerToken).toBe(2_950_955_008);
    expect(a.adapterBytes).toBe(102_236_160 * 4);
    expect(a.weightBytes).toBe(6_840_651_776 * 4);
  });

  it("LLaVA-MoLE (top-1, MLP only) has no attention LoRA and one expert per token", () => {
    const a = account(MOE_LORA.llavaMole as Record<string, unknown>);
    // 32 × (2,899,968 + 32,768); active 32 × (3 × 8 × 15,104 + 32,768); FLOPs: no repeated base down at top-1.
    expect(a.trainableParams).toBe(32 * (2_899_968 + 32_768));
    expect(a.activeParamsPerToken).toBe(BASE_7B + 32 * (3 * 8 * 15_104 + 32_768));
    expect(a.extraFlopsPerToken).toBe(2 * 32 * (3 * 8 * 15_104 + 32_768));
  });

  it("LoRAMoE (8 × r4 on gate/up/down, soft routing): every expert is active", () => {
    // per layer 3 × 8 × 4 × 15,104 = 1,449,984 + routers 8 × (4096 + 4096 + 11008) = 153,600
    const a = account(MOE_LORA.loramoe as Record<string, unknown>);
    expect(a.trainableParams).toBe(32 * (1_449_984 + 153_600));
    expect(a.activeParamsPerToken).toBe(a.totalParams);
  });

  it("MoLA (2/4/6/8 over 8-layer groups, top-2, r8, all linear) counts each layer's experts", () => {
    // Σ(in + out) over the 7 projections = 78,080, Σ in = 35,584: a layer with E experts has E × (8 × 78,080 + 35,584)
    // = E × 660,224; Σ E = 8 × (2 + 4 + 6 + 8) = 160. Active: 2 experts' adapters + the whole router per layer.
    const a = account(MOE_LORA.mola as Record<string, unknown>);
    expect(a.trainableParams).toBe(160 * 660_224);
    expect(a.activeParamsPerToken).toBe(BASE_7B + 32 * 2 * 8 * 78_080 + 160 * 35_584);
  });

  it("SMoRA (rank 64, 8 active ranks) counts 64 rank-1 experts and 64-way routers", () => {
    const a = account(MOE_LORA.smora as Record<string, unknown>);
    expect(a.trainableParams).toBe(32 * 64 * (78_080 + 35_584));
    expect(a.activeParamsPerToken).toBe(BASE_7B + 32 * (8 * 78_080 + 64 * 35_584));
  });

  it("X-LoRA trains only its classifier (peft's default) and pays a second pass in FLOPs", () => {
    const a = account(MOE_LORA.xlora as Record<string, unknown>);
    const classifier = 32 * 4 * 4096 + 32 * 4;
    expect(a.trainableParams).toBe(classifier);
    expect(a.adapterParams).toBe(32 * 4 * 8 * 78_080 + classifier);
    // The base pass's linears (2 × layer linear params) + the classifier's matmul + the adapters of 4 experts.
    expect(a.extraFlopsPerToken).toBe(
      2 * accountModel(llama7b).layerLinearParams + 2 * 32 * 4 * 4096 + 2 * 32 * 4 * 8 * 78_080,
    );
  });

  it("counts exactly the tensors the IR rewrite adds (tiny model, every design)", () => {
    const tiny = modelSchema.parse({
      name: "tiny",
      layers: 4,
      hidden: 32,
      heads: 4,
      kvHeads: 2,
      ffn: 48,
      vocab: 50,
      weights: { seed: 9 },
    });
    const base = buildModelIr(tiny, synthesizeWeights(tiny));
    const baseCount = [...base.tensors.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    for (const raw of [
      { kind: "mixlora", experts: 4, topK: 2, rank: 2 },
      { kind: "mixlora", experts: 3, topK: 1, rank: 2, attentionLora: false, ffnTargets: ["up_proj"] },
      { kind: "loramoe", experts: 3, rank: 2, targets: "all-linear" },
      { kind: "mola", expertsPerLayerGroup: [2, 3], topK: 2, rank: 2 },
      { kind: "smora", rank: 6, topK: 2, targets: ["q_proj", "down_proj"] },
      { kind: "xlora", experts: 3, rank: 2, topK: 2 },
    ]) {
      const technique = getTechnique(raw.kind);
      const params = technique.params.parse(raw);
      const ir = technique.rewriteIr!(base, params); // no routing skew: no bias tensors (they are not parameters)
      const count = [...ir.tensors.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
      // X-LoRA's classifier bias is a parameter (peft's Linear has one), so it counts even when zero.
      expect(technique.account!(tiny, params).adapterParams, raw.kind).toBe(count - baseCount);
    }
  });

  it("refuses a MoE base model with a clear reason", () => {
    const moe = modelSchema.parse({
      name: "tiny-moe",
      layers: 2,
      hidden: 32,
      heads: 4,
      ffn: 48,
      vocab: 50,
      moe: { experts: 4, topK: 2 },
    });
    expect(() => account({ kind: "loramoe" }, moe)).toThrow(
      /loramoe adapts a dense model; model tiny-moe has a moe block/,
    );
    for (const kind of ["mixlora", "loramoe", "mola", "xlora", "smora"]) {
      const technique = getTechnique(kind);
      expect(technique.unsupportedReason(technique.params.parse({ kind }), "prefill", moe)).toMatch(
        new RegExp(`^${kind} adapts a dense model`),
      );
      expect(technique.unsupportedReason(technique.params.parse({ kind }), "prefill", llama7b)).toBeUndefined();
    }
  });
});

describe("MoLE parameters and labels", () => {
  const suite = (technique: Record<string, unknown>) => ({
    name: "s",
    models: [{ name: "m", layers: 1, hidden: 32, heads: 4, ffn: 48, vocab: 50 }],
    techniques: [technique],
    scenarios: ["prefill"],
    workloads: [{ batch: 1, promptTokens: 8 }],
  });
  const error = (technique: Record<string, unknown>) => {
    try {
      validateSuite(suite(technique), "suites/x.ts");
    } catch (e) {
      return (e as Error).message;
    }
    return "no error";
  };

  it("says where and why a parameter is wrong", () => {
    expect(error({ kind: "mixlora", experts: 4, topK: 5 })).toContain(
      "techniques[0].topK: expected ≤ experts (4), got 5 — top-k picks among the experts",
    );
    expect(error({ kind: "loramoe", experts: 1 })).toContain(
      "techniques[0].experts: expected ≥ 2 — a mixture needs at least two experts",
    );
    expect(error({ kind: "smora", rank: 8, topK: 9 })).toContain("techniques[0].topK: expected ≤ rank (8), got 9");
    expect(error({ kind: "mola", expertsPerLayerGroup: [] })).toContain(
      "techniques[0].expertsPerLayerGroup: expected at least one layer group",
    );
    expect(error({ kind: "xlora", experts: 4, topK: 0 })).toContain("techniques[0].topK");
    expect(error({ kind: "mixlora", ffnTargets: ["q_proj"] })).toContain("techniques[0].ffnTargets[0]");
    expect(error({ kind: "mixlora", experts: 4, topk: 2 })).toContain("techniques[0].topk: unknown field");
  });

  it("labels each design with its shape", () => {
    const label = (raw: Record<string, unknown>) =>
      getTechnique(raw.kind as string).label(getTechnique(raw.kind as string).params.parse(raw));
    expect(label(MOE_LORA.mixlora as Record<string, unknown>)).toBe(
      "mixlora E8 top2 r8 α16 ffn:gate,up,down +attn-lora",
    );
    expect(label(MOE_LORA.llavaMole as Record<string, unknown>)).toBe("mixlora E8 top1 r8 α16 ffn:gate,up,down");
    expect(label(MOE_LORA.loramoe as Record<string, unknown>)).toBe("loramoe E8 soft r4 α8 gate,up,down");
    expect(label(MOE_LORA.mola as Record<string, unknown>)).toBe("mola E2/4/6/8 top2 r8 α16 all-linear");
    expect(label(MOE_LORA.xlora as Record<string, unknown>)).toBe("xlora E4 r8 α16 all-linear");
    expect(label(MOE_LORA.smora as Record<string, unknown>)).toBe("smora r64 top8 α128 all-linear");
  });

  it("runs on both runners over a dense model", () => {
    for (const kind of ["mixlora", "loramoe", "mola", "xlora", "smora"]) {
      const technique = getTechnique(kind);
      const params = technique.params.parse({ kind });
      expect(technique.unsupportedReason(params, "decode")).toBeUndefined();
      expect(technique.unsupportedReason(params, "train-step")).toBeUndefined();
    }
  });
});
