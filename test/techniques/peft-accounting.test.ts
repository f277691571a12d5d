import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { modelSchema } from "../../src/suite/schema.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { targetProjections, type AdapterParams } from "../../src/techniques/adapters.js";

const python = join(process.cwd(), ".venv/bin/python");

// Mistral-7B-shaped (GQA) and a Qwen2-shaped model with q/k/v biases and tied embeddings.
const models = [
  modelSchema.parse({
    name: "mistral-7b",
    family: "mistral",
    layers: 32,
    hidden: 4096,
    heads: 32,
    kvHeads: 8,
    ffn: 14336,
    vocab: 32000,
  }),
  modelSchema.parse({
    name: "qwen2-0.5b",
    family: "qwen2",
    layers: 24,
    hidden: 896,
    heads: 14,
    kvHeads: 2,
    ffn: 4864,
    vocab: 151936,
    tieEmbeddings: true,
    attentionBias: true,
  }),
];
const adapters = [
  { kind: "lora", rank: 8 },
  { kind: "rslora", rank: 16, alpha: 32, targets: ["q_proj", "k_proj", "v_proj", "o_proj"] },
  { kind: "dora", rank: 64, alpha: 128, targets: "all-linear" },
];

describe.skipIf(!existsSync(python))("adapter accounting against peft", () => {
  it("equals peft's trainable and total parameter counts on meta-device models (LoRA, RSLoRA, DoRA)", () => {
    const cases = models.flatMap((model) =>
      adapters.map((raw) => {
        const technique = getTechnique(raw.kind);
        const params = technique.params.parse(raw) as AdapterParams;
        return { model, raw, params, accounting: technique.account!(model, params) };
      }),
    );
    const request = cases.map(({ model, raw, params }) => ({
      model: {
        family: model.family,
        hidden: model.hidden,
        layers: model.layers,
        heads: model.heads,
        kvHeads: model.kvHeads ?? model.heads,
        ffn: model.ffn,
        vocab: model.vocab,
        tie: model.tieEmbeddings,
      },
      lora: {
        r: params.rank,
        lora_alpha: params.alpha,
        target_modules: params.targets === "all-linear" ? "all-linear" : targetProjections(params),
        use_dora: raw.kind === "dora",
        use_rslora: raw.kind === "rslora",
      },
    }));
    const script = `
import json, sys, torch
from transformers import LlamaConfig, Qwen2Config, MistralConfig, AutoModelForCausalLM
from peft import LoraConfig, get_peft_model
out = []
for case in json.loads(sys.argv[1]):
    m = case["model"]
    cls = {"llama": LlamaConfig, "qwen2": Qwen2Config, "mistral": MistralConfig}[m["family"]]
    cfg = cls(hidden_size=m["hidden"], num_hidden_layers=m["layers"], num_attention_heads=m["heads"], num_key_value_heads=m["kvHeads"],
              intermediate_size=m["ffn"], vocab_size=m["vocab"], tie_word_embeddings=m["tie"])
    with torch.device("meta"):
        model = get_peft_model(AutoModelForCausalLM.from_config(cfg), LoraConfig(**case["lora"]))
    out.append({"trainable": sum(p.numel() for p in model.parameters() if p.requires_grad), "total": sum(p.numel() for p in model.parameters())})
print(json.dumps(out))`;
    const counts = JSON.parse(
      execFileSync(python, ["-c", script, JSON.stringify(request)], { encoding: "utf8", timeout: 110_000 }),
    ) as { trainable: number; total: number }[];
    cases.forEach(({ model, raw, accounting }, i) => {
      const label = `${model.name} ${JSON.stringify(raw)}`;
      expect(accounting.trainableParams, label).toBe(counts[i]!.trainable);
      expect(accounting.totalParams, label).toBe(counts[i]!.total);
    });
  });
});
