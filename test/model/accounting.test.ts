import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { modelSchema, type ModelConfig } from "../../src/suite/schema.js";
import {
  accountModel,
  bytesPerDecodeStep,
  decodeFlopsPerToken,
  prefillFlopsPerSequence,
  prefillFlopsPerToken,
} from "../../src/model/accounting.js";

const python = join(process.cwd(), ".venv/bin/python");
const parse = (m: object): ModelConfig => modelSchema.parse(m);

const llama2_7b = parse({ name: "llama-2-7b", layers: 32, hidden: 4096, heads: 32, ffn: 11008, vocab: 32000 });
const llama2_70b = parse({
  name: "llama-2-70b",
  layers: 80,
  hidden: 8192,
  heads: 64,
  kvHeads: 8,
  ffn: 28672,
  vocab: 32000,
});
const qwen2_05b = parse({
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
});
const mistral7b = parse({
  name: "mistral-7b",
  family: "mistral",
  layers: 32,
  hidden: 4096,
  heads: 32,
  kvHeads: 8,
  ffn: 14336,
  vocab: 32000,
});
const gemmaLikeHeadDim = parse({
  name: "wide-heads",
  layers: 3,
  hidden: 1024,
  heads: 8,
  kvHeads: 2,
  headDim: 256,
  ffn: 2816,
  vocab: 5000,
  tieEmbeddings: true,
});

describe("model accounting", () => {
  it("counts Llama-2-7B's 6,738,415,616 parameters", () => {
    const a = accountModel(llama2_7b);
    expect(a.totalParams).toBe(6_738_415_616);
    expect(a.embeddingParams).toBe(2 * 32000 * 4096);
    expect(a.nonEmbeddingParams).toBe(6_738_415_616 - 262_144_000);
    expect(a.weightBytes).toBe(4 * 6_738_415_616);
  });

  it("is instant for a 70B config (no weights allocated)", () => {
    const start = performance.now();
    const a = accountModel(llama2_70b);
    expect(performance.now() - start).toBeLessThan(1000); // generous: allocating 70B weights would take minutes; machines are noisy;
    expect(a.totalParams).toBe(68_976_648_192);
  });

  it("derives FLOPs per token from matmul parameters and attention (worked example, Llama-2-7B at 1024 tokens)", () => {
    // matmul params: 32 layers × (4·4096² + 3·4096·11008) + lm_head 32000·4096 = 6,607,077,376
    const matmulParams = 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008) + 32000 * 4096;
    expect(matmulParams).toBe(6_607_077_376);
    // decode at a cache of 1024 attends 1025 keys: 32 layers × 4 × 4096 × 1025
    expect(decodeFlopsPerToken(llama2_7b, 1024)).toBe(2 * matmulParams + 32 * 4 * 4096 * 1025);
    // prefill of 1024 attends (1024+1)/2 keys on average
    expect(prefillFlopsPerToken(llama2_7b, 1024)).toBe(2 * matmulParams + 32 * 4 * 4096 * 512.5);
    // the emitted prefill graph runs lm_head once per sequence
    const layerMatmul = matmulParams - 32000 * 4096;
    expect(prefillFlopsPerSequence(llama2_7b, 1024)).toBe(
      1024 * 2 * layerMatmul + 2 * 32000 * 4096 + 32 * 4 * 4096 * ((1024 * 1025) / 2),
    );
    expect(prefillFlopsPerSequence(llama2_7b, 1024, true)).toBe(1024 * prefillFlopsPerToken(llama2_7b, 1024));
  });

  it("counts bytes of a decode step as weights once plus the KV cache (GQA shrinks the cache)", () => {
    const a = accountModel(mistral7b);
    expect(a.kvCacheValuesPerToken).toBe(32 * 2 * 8 * 128);
    const weightsRead = 4 * (a.totalParams - a.embeddingParams + 32000 * 4096) + 4 * 4096;
    expect(bytesPerDecodeStep(mistral7b, 0)).toBe(weightsRead);
    expect(bytesPerDecodeStep(mistral7b, 4096, 2) - bytesPerDecodeStep(mistral7b, 0, 2)).toBe(
      2 * 4 * 32 * 2 * 8 * 128 * 4096,
    );
  });

  it.skipIf(!existsSync(python))(
    "equals what transformers counts on a meta-device model, tied embeddings and q/k/v biases included",
    () => {
      const configs = [llama2_7b, llama2_70b, qwen2_05b, mistral7b, gemmaLikeHeadDim];
      const script = `
import json, sys, torch
from transformers import LlamaConfig, Qwen2Config, MistralConfig, AutoModelForCausalLM
out = []
for m in json.loads(sys.argv[1]):
    cls = {"llama": LlamaConfig, "qwen2": Qwen2Config, "mistral": MistralConfig}[m["family"]]
    kw = dict(hidden_size=m["hidden"], num_hidden_layers=m["layers"], num_attention_heads=m["heads"],
              num_key_value_heads=m.get("kvHeads") or m["heads"], intermediate_size=m["ffn"], vocab_size=m["vocab"],
              tie_word_embeddings=m["tieEmbeddings"], head_dim=m.get("headDim") or m["hidden"] // m["heads"])
    if m["family"] == "llama": kw["attention_bias"] = m["attentionBias"]
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cls(**kw))
    bias = any(n.endswith("q_proj.bias") for n, _ in model.named_parameters())
    out.append({"total": sum(p.numel() for p in model.parameters()), "bias": bias})
print(json.dumps(out))`;
      const counts = JSON.parse(
        execFileSync(python, ["-c", script, JSON.stringify(configs)], { encoding: "utf8", timeout: 60_000 }),
      ) as { total: number; bias: boolean }[];
      configs.forEach((model, i) => {
        expect(counts[i]!.bias, `${model.name}: q/k/v bias`).toBe(model.attentionBias);
        expect(accountModel(model).totalParams, model.name).toBe(counts[i]!.total);
      });
    },
  );
});
