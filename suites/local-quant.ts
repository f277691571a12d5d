// Local quantised deployment as llama.cpp users run it: GGUF types (F16, Q8_0, Q4_0, Q4_K_M) and LoRA (merged, or as
// a GGUF adapter attached at context creation) on a tiny llama whose widths are K-quant compatible (multiples of
// 256), and a tiny Mixtral-style MoE. Runs on the CPU in under 3 minutes (docs/llamacpp.md).
import { defineSuite } from "effbench";

/** 2 layers, hidden 256, 8 query heads over 2 KV heads (GQA); ffn 768 = 3 × 256 (quick.ts's 704 cannot be K-quantised). */
const tiny = {
  family: "llama",
  layers: 2,
  hidden: 256,
  heads: 8,
  kvHeads: 2,
  ffn: 768,
  vocab: 2048,
  weights: { seed: 7 },
} as const;

export default defineSuite({
  name: "local-quant",
  description: "GGUF types and LoRA adapters on the llamacpp runner: a tiny llama and a tiny Mixtral-style MoE",
  models: [
    { name: "tiny-llama", ...tiny },
    // Mixtral-style: top-2 of 4 experts of width 256 in every layer, no shared experts, no capacity factor.
    { name: "tiny-mixtral", ...tiny, ffn: 256, moe: { experts: 4, topK: 2 } },
  ],
  techniques: [
    { kind: "base" },
    { kind: "quant", name: "f16", type: "f16" },
    { kind: "quant", name: "q8_0", type: "q8_0" },
    { kind: "quant", name: "q4_0", type: "q4_0" },
    { kind: "quant", name: "q4_k_m", type: "q4_k_m" },
    { kind: "lora", name: "lora-unmerged", rank: 8, merged: false },
    { kind: "lora", name: "lora-merged", rank: 8, merged: true },
  ],
  scenarios: ["decode", "adapter-swap"],
  workloads: [{ name: "short", batch: 1, promptTokens: 64 }],
  runners: ["llamacpp"],
  // The base GGUF is F32 (the fidelity reference); one thread, f16 KV cache, mmap: llama.cpp's CPU defaults but threads.
  llamacpp: { threads: 1 },
  exclude: [
    // adapter attach (a new context with the other adapter) needs an unmerged adapter
    { scenario: "adapter-swap", technique: ["base", "quant", "lora-merged"] },
    { model: "tiny-mixtral", technique: ["lora", "f16", "q4_0"] },
  ],
  protocol: { repeats: 2, minMeasureMs: 200, minIterations: 20, warmupMaxMs: 200 },
});
