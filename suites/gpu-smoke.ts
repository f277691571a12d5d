// The short GPU check scripts/gpu-smoke.sh runs within a few minutes of a lent GPU: a ~0.2B llama-shaped model
// in bf16 on CUDA through the torch runner, with NVML sampling — base, LoRA and DoRA unmerged, int4, MixLoRA
// (mixture of LoRA experts), prefill, decode and a train step — and a Mixtral-shaped MoE of the same width (base
// only). gpu-nightly.ts is the full nightly suite (Llama-3.2-1B, ~5 min on an H100).
import { defineSuite } from "effbench";
import { MOE_LORA } from "../datasets/technique-presets.js";

const shape = { layers: 8, hidden: 1024, heads: 16, kvHeads: 4, vocab: 32000, weights: { seed: 5 } };

export default defineSuite({
  name: "gpu-smoke",
  description: "Short GPU smoke suite: 0.2B llama-shaped bf16 model on CUDA",
  models: [
    { name: "llama-0.2b", ...shape, ffn: 2816 },
    // 8 experts of 2816, top-2: ~0.6B total, the active width of two llama-0.2b FFNs.
    { name: "mixtral-0.6b", ...shape, ffn: 2816, moe: { experts: 8, topK: 2 } },
  ],
  techniques: [
    { kind: "base" },
    {
      kind: "lora",
      rank: 16,
      alpha: 32,
      targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
      merged: false,
    },
    {
      kind: "dora",
      rank: 16,
      alpha: 32,
      targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
      merged: false,
    },
    { kind: "int4", blockSize: 32, symmetric: true },
    MOE_LORA.mixlora,
  ],
  // The MoE model runs base only (MoLE over a MoE base is not modelled; LoRA/DoRA/int4 are covered on the dense one).
  exclude: [
    { model: "mixtral-0.6b", technique: ["lora", "dora", "int4", "mixlora"] },
    // int4 alone has no trainable parameters (its packed weights have no gradient): always unsupported, so not planned.
    { technique: "int4", scenario: "train-step" },
  ],
  scenarios: ["prefill", "decode", "train-step"],
  workloads: [{ name: "serve", batch: 8, promptTokens: 256 }],
  runners: ["torch"],
  torch: { device: "cuda", dtype: "bf16" },
  protocol: { repeats: 2, minMeasureMs: 600, minIterations: 10, warmupMaxMs: 500, caseTimeoutMs: 90_000 },
});
