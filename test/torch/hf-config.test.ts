// Models given as a transformers config (`hf: { config }`): any architecture, worker-seeded weights (the same
// mechanism as large IR models), counts from the meta-device model, checked here against arithmetic written out.
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { ortStaticReason } from "../../runners/ort/support.js";
import { completed, planCase, repeatContext, tokens, torchRunnerForFile } from "./helpers.js";
import { relativeL2 } from "../../src/model/fidelity.js";

const torchRunner = torchRunnerForFile("hf-config");

// Qwen3-MoE, tiny: 2 layers, hidden 32, 4 heads of 8 (2 KV heads), 4 experts of width 16, top-2, vocabulary 50.
const qwen3Moe = {
  model_type: "qwen3_moe",
  vocab_size: 50,
  hidden_size: 32,
  intermediate_size: 64,
  moe_intermediate_size: 16,
  num_experts: 4,
  num_experts_per_tok: 2,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 8,
  tie_word_embeddings: false,
};
// Per layer: q 32·32 = 1024, k 16·32 = 512, v 512, o 1024, q_norm 8, k_norm 8 (3088); two norms 64; router 4·32 = 128;
// experts gate_up 4·32·32 = 4096 and down 4·32·16 = 2048 (6144). Embeddings 50·32 twice, final norm 32.
const qwen3MoeTotal = 2 * (3088 + 64 + 128 + 6144) + 2 * 50 * 32 + 32; // 22080
const qwen3MoeActive = qwen3MoeTotal - 2 * (1 - 2 / 4) * 6144; // 15936
const tinyLlama = {
  model_type: "llama",
  vocab_size: 97,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};

describe("transformers-config models on the torch runner", () => {
  it(
    "derives the IR fields and counts total and active parameters on the meta device",
    { timeout: 120_000 },
    async () => {
      const base = planCase({ models: [{ name: "q3moe", hf: { config: qwen3Moe } }] });
      expect([base.model.layers, base.model.hidden, base.model.moe?.experts, base.model.moe?.topK]).toEqual([
        2, 32, 4, 2,
      ]);
      const counts = await torchRunner().inspect(base);
      expect(qwen3MoeTotal).toBe(22080);
      expect([counts.total, counts.activePerToken]).toEqual([qwen3MoeTotal, qwen3MoeActive]);
      // LoRA r4 on q, v: 4·(32 + 32) + 4·(32 + 16) per layer, on every token's path.
      const lora = planCase({
        models: [{ name: "q3moe", hf: { config: qwen3Moe } }],
        techniques: [{ kind: "lora", rank: 4 }],
      });
      const adapted = await torchRunner().inspect(lora);
      expect([adapted.trainable, adapted.total, adapted.activePerToken]).toEqual([
        896,
        qwen3MoeTotal + 896,
        qwen3MoeActive + 896,
      ]);
    },
  );

  it("runs base and LoRA (prefill, train-step) and records worker-seeded weights", { timeout: 180_000 }, async () => {
    for (const technique of [{ kind: "base" }, { kind: "lora", rank: 4 }] as const)
      for (const scenario of ["prefill", "train-step"] as const) {
        const c = planCase({
          models: [{ name: "q3moe", hf: { config: qwen3Moe } }],
          techniques: [technique],
          scenarios: [scenario],
        });
        const outcome = completed(await torchRunner().runRepeat(c, repeatContext()));
        expect(outcome.settings?.weightsSource).toBe("worker-seeded");
        const active = outcome.scalars?.find((s) => s.metric === "params_active_per_token");
        expect(active?.value).toBe(qwen3MoeActive + (technique.kind === "lora" ? 896 : 0));
        // Routing from transformers' own Qwen3MoeTopKRouter, summarised with the IR MoE models' metric names.
        const load = outcome.scalars?.find((s) => s.metric === "routing_max_mean_load");
        expect(load?.value).toBeGreaterThanOrEqual(1);
      }
  });

  it(
    "GPT-OSS (no SDPA path, sliding-window layers) builds with eager attention; decode runs or says why not",
    { timeout: 120_000 },
    async () => {
      const gptOss = {
        model_type: "gpt_oss",
        num_hidden_layers: 2,
        hidden_size: 64,
        intermediate_size: 64,
        num_local_experts: 4,
        num_experts_per_tok: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 16,
        vocab_size: 100,
        sliding_window: 4,
      };
      const decode = planCase({
        models: [{ name: "gpt-oss", hf: { config: gptOss } }],
        scenarios: ["decode"],
        workloads: [{ batch: 1, promptTokens: 8 }],
      });
      const outcome = await torchRunner().runRepeat(decode, repeatContext());
      if (outcome.status === "completed") expect(outcome.settings?.attnImplementation).toBe("eager");
      else expect(outcome.status === "unsupported" && outcome.reason).toMatch(/crop/);
      console.log(`gpt-oss decode: ${outcome.status}${outcome.status !== "completed" ? ` — ${outcome.reason}` : ""}`);
    },
  );

  it("logits follow the seed: equal for equal seeds across cases", { timeout: 120_000 }, async () => {
    const ids = tokens(1, 8, 97);
    const one = await torchRunner().forwardLogits(
      planCase({ models: [{ name: "a", hf: { config: tinyLlama } }] }),
      ids,
    );
    const two = await torchRunner().forwardLogits(
      planCase({ models: [{ name: "b", hf: { config: tinyLlama } }] }),
      ids,
    );
    const other = await torchRunner().forwardLogits(
      planCase({ models: [{ name: "c", hf: { config: tinyLlama }, weights: { seed: 9 } }] }),
      ids,
    );
    expect(relativeL2(one.data, two.data)).toBe(0);
    expect(relativeL2(other.data, one.data)).toBeGreaterThan(0.01);
  });

  it("reads configFile relative to the suite; bad configs are suite errors with the path", () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-hf-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify(qwen3Moe));
    const suite = (model: object) => ({
      name: "hf",
      models: [model],
      scenarios: ["prefill"],
      workloads: [{ batch: 1, promptTokens: 4 }],
      runners: ["torch"],
    });
    const { suite: resolved } = validateSuite(suite({ name: "f", hf: { configFile: "./config.json" } }), "s.ts", dir);
    expect(resolved.models[0]!.hf?.config.model_type).toBe("qwen3_moe");
    expect(() => validateSuite(suite({ name: "f", hf: { config: { hidden_size: 8 } } }), "s.ts", dir)).toThrow(
      /models\[0\]\.hf\.config\.model_type: missing/,
    );
    expect(() => validateSuite(suite({ name: "f", hf: { configFile: "./nope.json" } }), "s.ts", dir)).toThrow(
      /models\[0\]\.hf\.configFile: .*nope\.json does not exist/,
    );
  });

  it("the ort runner refuses what its IR cannot express, with the reason", () => {
    const { suite } = validateSuite(
      {
        name: "hf",
        models: [{ name: "q3moe", hf: { config: qwen3Moe } }],
        scenarios: ["prefill"],
        workloads: [{ batch: 1, promptTokens: 4 }],
        runners: ["ort"],
      },
      "s.ts",
    );
    const [c] = planSuite(suite, { codeVersion: "test" });
    expect(ortStaticReason(c!)).toMatch(/cannot express this qwen3_moe config: .*Qwen3-MoE/);
  });
});
