// The nightly GPU suite (scripts/nightly-gpu.yml) for one H200 (141 GB): real-scale shapes in bf16 on the torch runner
// with worker-seeded weights (initialised from the seed on the device: an 8B model starts in seconds, and a
// Mixtral-8x7B shape needs no 187 GB fp32 file) — a Llama-3.1-8B shape and a Qwen2.5-7B shape with base, LoRA r16,
// DoRA r16, int4 and MixLoRA, and a Mixtral-8x7B shape (~93 GB in bf16) with base and LoRA r16; decode at batch 1 and
// 16, prefill 1 × 2048; eager and cuda-graph side by side (cuda-graph is unsupported, with the reason, on the MoE and on
// MixLoRA: their routing syncs the host).
// Sizing: `bench list suites/gpu-nightly.ts --estimate` before adding cases (calibrate its rates from a GPU DB); each
// case and repeat starts a fresh worker and builds its model from the seed, so the nightly workflow splits it in 4
// shards. It runs there, not in a short GPU window: scripts/gpu-smoke.sh is the ≤ 5-minute check.
import { defineSuite } from "effbench";
import { architectureModel } from "../datasets/architectures/index.js";
import { ALL_LINEAR, asTechnique, MOE_LORA } from "../datasets/technique-presets.js";

const lora = asTechnique({ kind: "lora", rank: 16, alpha: 32, targets: [...ALL_LINEAR], merged: false });

export default defineSuite({
  name: "gpu-nightly",
  description:
    "Nightly GPU suite: Llama-3.1-8B, Qwen2.5-7B and Mixtral-8x7B shapes in bf16 on CUDA, eager and cuda-graph",
  models: [
    architectureModel("llama-3.1-8b", { name: "llama-8b", weights: { seed: 11 } }),
    architectureModel("qwen2.5-7b", { name: "qwen-7b", weights: { seed: 11 } }),
    architectureModel("mixtral-8x7b-v0.1", { name: "mixtral-8x7b", weights: { seed: 11 } }),
  ],
  techniques: [
    { kind: "base" },
    lora,
    asTechnique({ kind: "dora", rank: 16, alpha: 32, targets: [...ALL_LINEAR], merged: false }),
    asTechnique({ kind: "int4", blockSize: 32, symmetric: true }),
    MOE_LORA.mixlora,
  ],
  // The MoE runs base and LoRA; MixLoRA (a mixture of LoRA experts over a dense model) only on the dense ones.
  exclude: [
    { model: "mixtral-8x7b", technique: ["dora", "int4", "mixlora"] },
    // Prefill 1 × 2048 only: the batch-16 workload is for decode.
    { scenario: "prefill", workload: "serve" },
  ],
  scenarios: ["prefill", "decode"],
  workloads: [
    { name: "latency", batch: 1, promptTokens: 2048 },
    { name: "serve", batch: 16, promptTokens: 2048 },
  ],
  runners: ["torch"],
  torch: { device: "cuda", dtype: "bf16", mode: ["eager", "cuda-graph"] },
  protocol: { repeats: 3, minMeasureMs: 1000, minIterations: 10, warmupMaxMs: 1000, caseTimeoutMs: 300_000 },
});
