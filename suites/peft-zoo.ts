// peft's tuners side by side on one small llama, through the `peft` pass-through technique (docs/torch-runner.md):
// the config is peft's own, adapter weights are seeded and non-identity, merged twins where peft can merge.
// Runs on CPU in a few minutes (the time of a run is in the docs).
import { defineSuite } from "effbench";

const qv = ["q_proj", "v_proj"];
const peft = (name: string, config: { peft_type: string } & Record<string, unknown>, merged = false) => ({
  kind: "peft" as const,
  name: merged ? `${name} merged` : name,
  config: { target_modules: qv, ...config },
  merged,
});

export default defineSuite({
  name: "peft-zoo",
  description: "peft 0.21's tuners (LoRA-like, orthogonal, Kronecker, vector-based) on a small llama, torch runner",
  models: [
    {
      name: "small-llama",
      family: "llama",
      layers: 2,
      hidden: 256,
      heads: 8,
      kvHeads: 2,
      ffn: 704,
      vocab: 2048,
      weights: { seed: 7 },
    },
    // Qwen3-MoE-shaped (q/k norms, 16 experts of width 128, top-4), weights seeded by transformers in the worker.
    {
      name: "small-qwen3-moe",
      hf: {
        config: {
          model_type: "qwen3_moe",
          vocab_size: 2048,
          hidden_size: 256,
          intermediate_size: 704,
          moe_intermediate_size: 128,
          num_experts: 16,
          num_experts_per_tok: 4,
          num_hidden_layers: 2,
          num_attention_heads: 8,
          num_key_value_heads: 2,
          head_dim: 32,
        },
      },
      weights: { seed: 7 },
    },
  ],
  techniques: [
    { kind: "base" },
    // LoRA-like
    peft("lora r8", { peft_type: "LORA", r: 8, lora_alpha: 16 }),
    peft("lora r8", { peft_type: "LORA", r: 8, lora_alpha: 16 }, true),
    peft("lora pissa", { peft_type: "LORA", r: 8, lora_alpha: 8, init_lora_weights: "pissa" }),
    peft("adalora", { peft_type: "ADALORA", init_r: 12, target_r: 8, total_step: 1000 }),
    peft("loha r8", { peft_type: "LOHA", r: 8, alpha: 16 }),
    peft("loha r8", { peft_type: "LOHA", r: 8, alpha: 16 }, true),
    peft("randlora", { peft_type: "RANDLORA", r: 8 }),
    peft("vblora", { peft_type: "VBLORA", r: 4, num_vectors: 64, vector_length: 64 }),
    peft("miss", { peft_type: "MISS", r: 8 }),
    peft("shira", { peft_type: "SHIRA", r: 8 }),
    peft("delora", { peft_type: "DELORA", r: 8 }),
    // Orthogonal
    peft("oft", { peft_type: "OFT", r: 0, oft_block_size: 32 }),
    peft("boft", { peft_type: "BOFT", boft_block_size: 8 }),
    peft("boft", { peft_type: "BOFT", boft_block_size: 8 }, true),
    peft("hra", { peft_type: "HRA", r: 8 }),
    peft("road", { peft_type: "ROAD", group_size: 64 }),
    // Kronecker
    peft("lokr r8", { peft_type: "LOKR", r: 8 }),
    // Vector-based
    peft("ia3", {
      peft_type: "IA3",
      target_modules: ["k_proj", "v_proj", "down_proj"],
      feedforward_modules: ["down_proj"],
    }),
    peft("vera r64", { peft_type: "VERA", r: 64 }),
    peft("fourierft", { peft_type: "FOURIERFT", n_frequency: 1000 }),
    peft("c3a", { peft_type: "C3A", block_size: 64 }),
    // LoRA on the routed experts' fused 3-D parameters (peft's target_parameters): each forward adds the experts'
    // low-rank products to the fused weights, a per-forward cost that does not shrink with top-k.
    {
      kind: "peft",
      name: "lora r8 experts",
      config: {
        peft_type: "LORA",
        r: 8,
        lora_alpha: 16,
        target_modules: [],
        target_parameters: ["mlp.experts.gate_up_proj", "mlp.experts.down_proj"],
      },
    },
  ],
  // The dense tuners on the small llama; the base, LoRA q/v and LoRA on the experts on the MoE.
  exclude: [
    { model: "small-llama", technique: "lora r8 experts" },
    {
      model: "small-qwen3-moe",
      technique: [
        "lora r8 merged",
        "lora pissa",
        "adalora",
        "loha r8",
        "loha r8 merged",
        "randlora",
        "vblora",
        "miss",
        "shira",
        "delora",
        "oft",
        "boft",
        "boft merged",
        "hra",
        "road",
        "lokr r8",
        "ia3",
        "vera r64",
        "fourierft",
        "c3a",
      ],
    },
  ],
  scenarios: ["prefill", "decode", "train-step"],
  workloads: [{ name: "short", batch: 1, promptTokens: 64 }],
  runners: ["torch"],
  torch: { device: "cpu", dtype: "fp32", threads: 1 },
  protocol: { repeats: 1, minMeasureMs: 200, minIterations: 5, warmupMaxMs: 200 },
});
