// The mixture-of-LoRA-experts papers' configurations on their common base, LLaMA-2-7B: MixLoRA (8 experts, top-2,
// r 8), LLaVA-MoLE (top-1, MLP only), LoRAMoE (8 × r 4, dense routing), MoLA (2/4/6/8 experts per layer group),
// X-LoRA (two passes), SMoRA (rank-wise experts), against plain LoRA r 8 and the base model. The claims to check
// (datasets/references/moe-lora.json): MixLoRA's memory and token latency, X-LoRA ≈ 2× latency, dynamic adapters
// ≥ 2.5× decode latency on GPU.
import { defineSuite } from "effbench";
import { architectureModel } from "../datasets/architectures/index.js";
import { MOE_LORA } from "../datasets/technique-presets.js";

export default defineSuite({
  name: "moe-lora",
  description: "MixLoRA, LLaVA-MoLE, LoRAMoE, MoLA, X-LoRA and SMoRA presets on LLaMA-2-7B vs LoRA r8 and the base",
  models: [architectureModel("llama-2-7b")],
  techniques: [
    { kind: "base" },
    MOE_LORA.lora,
    MOE_LORA.mixlora,
    MOE_LORA.llavaMole,
    MOE_LORA.loramoe,
    MOE_LORA.mola,
    MOE_LORA.xlora,
    MOE_LORA.smora,
  ],
  scenarios: ["prefill", "decode", "train-step"],
  workloads: [
    { name: "chat", batch: 1, promptTokens: 161 },
    { name: "batched", batch: 8, promptTokens: 512 },
    // Skewed routing (Zipf 1.0 over experts), as trained routers are; uniform random routing flatters load balance.
    { name: "chat-skewed", batch: 1, promptTokens: 161, routingSkew: 1 },
  ],
  runners: ["ort", "torch"],
  torch: { device: "auto", dtype: "bf16" },
  protocol: { repeats: 3, minMeasureMs: 1000, minIterations: 10 },
});
