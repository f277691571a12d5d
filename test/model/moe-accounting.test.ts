import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { modelSchema } from "../../src/suite/schema.js";
import { accountModel } from "../../src/model/accounting.js";
import { accountMoeModel } from "../../src/model/moe-accounting.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";

const python = join(process.cwd(), ".venv/bin/python");
const counter = readFileSync(join(process.cwd(), "test/datasets/hf-param-count.py"), "utf8");

// Small configs of each family (a meta-device build costs milliseconds either way); our ModelConfig beside the HF config.
const common = {
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  vocab_size: 1000,
  tie_word_embeddings: false,
};
const cases = [
  {
    id: "mixtral-like",
    ours: {
      layers: 4,
      hidden: 256,
      heads: 8,
      kvHeads: 2,
      ffn: 512,
      vocab: 1000,
      family: "mistral",
      moe: { experts: 8, topK: 2 },
    },
    hf: {
      model_type: "mixtral",
      hidden_size: 256,
      intermediate_size: 512,
      num_local_experts: 8,
      num_experts_per_tok: 2,
      ...common,
    },
    gateParamsPerMoeLayer: 0,
  },
  {
    // Qwen2-MoE: one shared expert, q/k/v bias, no top-k renormalisation, first layer dense (mlp_only_layers).
    id: "qwen2-moe-like",
    ours: {
      layers: 4,
      hidden: 128,
      heads: 8,
      kvHeads: 2,
      ffn: 384,
      vocab: 1000,
      family: "qwen2",
      attentionBias: true,
      moe: {
        experts: 16,
        topK: 4,
        expertFfn: 64,
        sharedExperts: 1,
        sharedFfn: 256,
        firstDenseLayers: 1,
        normTopK: false,
      },
    },
    hf: {
      model_type: "qwen2_moe",
      hidden_size: 128,
      intermediate_size: 384,
      moe_intermediate_size: 64,
      shared_expert_intermediate_size: 256,
      num_experts: 16,
      num_experts_per_tok: 4,
      norm_topk_prob: false,
      qkv_bias: true,
      decoder_sparse_step: 1,
      mlp_only_layers: [0],
      ...common,
    },
    // Qwen2-MoE's shared_expert_gate Linear(hidden, 1): not in ModelConfig (datasets/architectures, `unmodelled`).
    gateParamsPerMoeLayer: 128,
  },
  {
    // DeepSeek-V2/V3-shaped MoE (fine-grained routed experts, 2 shared fused into one MLP of 2 × 48, first 2 layers
    // dense). transformers' DeepSeek-V2/V3 have MLA attention, which ModelConfig does not express, so the MoE part is
    // checked through Qwen2-MoE with the same tensors (as datasets/architectures/deepseek-moe-16b.json does), its
    // shared_expert_gate subtracted.
    id: "deepseek-like",
    ours: {
      layers: 4,
      hidden: 128,
      heads: 8,
      kvHeads: 2,
      ffn: 512,
      vocab: 1000,
      moe: {
        experts: 32,
        topK: 6,
        expertFfn: 48,
        sharedExperts: 2,
        sharedFfn: 48,
        firstDenseLayers: 2,
        normTopK: false,
      },
    },
    hf: {
      model_type: "qwen2_moe",
      hidden_size: 128,
      intermediate_size: 512,
      moe_intermediate_size: 48,
      shared_expert_intermediate_size: 96,
      num_experts: 32,
      num_experts_per_tok: 6,
      norm_topk_prob: false,
      qkv_bias: false,
      decoder_sparse_step: 1,
      mlp_only_layers: [0, 1],
      ...common,
    },
    gateParamsPerMoeLayer: 128,
  },
] as const;

describe("MoE parameter accounting", () => {
  it.skipIf(!existsSync(python))(
    "equals transformers' total and active counts on meta-device Mixtral-, Qwen2-MoE- and DeepSeek-shaped models",
    () => {
      const hf = JSON.parse(
        execFileSync(python, ["-c", counter], {
          input: JSON.stringify(cases.map((c) => ({ id: c.id, hfConfig: c.hf }))),
          encoding: "utf8",
          timeout: 120_000,
        }),
      ) as { id: string; totalParams: number; activeParams: number; moeLayers: number }[];
      for (const c of cases) {
        const counted = hf.find((h) => h.id === c.id)!;
        const ours = accountModel(modelSchema.parse({ name: c.id, ...c.ours }));
        const gates = counted.moeLayers * c.gateParamsPerMoeLayer;
        expect(ours.totalParams, c.id).toBe(counted.totalParams - gates);
        expect(ours.activeParams, c.id).toBe(counted.activeParams - gates);
      }
    },
  );

  it("counts what the synthesised weights hold, and active = total − skipped experts (worked example)", () => {
    const model = modelSchema.parse({
      name: "w",
      layers: 3,
      hidden: 32,
      heads: 4,
      ffn: 64,
      vocab: 50,
      moe: { experts: 4, topK: 2, expertFfn: 16, sharedExperts: 1, firstDenseLayers: 1 },
    });
    const a = accountMoeModel(model);
    let stored = 0;
    for (const tensor of synthesizeWeights(model).values()) stored += tensor.data.length;
    expect(a.totalParams).toBe(stored);
    // Per MoE layer: router 4·32, 4 experts of 3·32·16, one shared of 3·32·16; 2 skipped experts per token.
    expect(a.perExpertParams).toBe(1536);
    expect(a.totalParams - a.activeParams).toBe(2 * 2 * 1536);
    expect(a.routerParams).toBe(2 * 4 * 32);
  });
});
