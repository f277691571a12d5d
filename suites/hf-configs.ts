// Any transformers causal LM on the torch runner, from a config.json's contents (no download): a Llama-3.2-1B shape
// (rope llama3) and a Qwen3-30B-A3B MoE shape, base and LoRA, weights seeded in the worker. `bench inspect` gives
// their totals and MoE active counts instantly; the Qwen3-MoE shape (~122 GB in fp32) runs here only with --scale.
import { defineSuite } from "effbench";

const llama32_1b = {
  model_type: "llama",
  architectures: ["LlamaForCausalLM"],
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  vocab_size: 128256,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: {
    rope_type: "llama3",
    factor: 32,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 8192,
  },
  tie_word_embeddings: true,
};

const qwen3_30b_a3b = {
  model_type: "qwen3_moe",
  architectures: ["Qwen3MoeForCausalLM"],
  hidden_size: 2048,
  intermediate_size: 6144,
  moe_intermediate_size: 768,
  num_hidden_layers: 48,
  num_attention_heads: 32,
  num_key_value_heads: 4,
  head_dim: 128,
  num_experts: 128,
  num_experts_per_tok: 8,
  norm_topk_prob: true,
  decoder_sparse_step: 1,
  mlp_only_layers: [],
  vocab_size: 151936,
  max_position_embeddings: 40960,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: false,
};

export default defineSuite({
  name: "hf-configs",
  description: "transformers architectures from their config.json contents, base and LoRA, on torch",
  models: [
    { name: "llama-3.2-1b-shape", hf: { config: llama32_1b } },
    { name: "qwen3-30b-a3b-shape", hf: { config: qwen3_30b_a3b } },
  ],
  techniques: [{ kind: "base" }, { kind: "lora", rank: 16, targets: ["q_proj", "v_proj"] }],
  scenarios: ["prefill"],
  workloads: [{ name: "short", batch: 1, promptTokens: 32 }],
  runners: ["torch"],
  torch: { device: "cpu", threads: 2 },
  protocol: { repeats: 2, minMeasureMs: 500, minIterations: 3, warmupMinIterations: 1 },
});
