// The nightly GPU suite (scripts/gpu-smoke.sh): one H100 in under 10 minutes. Llama-3.2-1B's real shape in bf16 on the
// torch runner (CUDA), the techniques users compare most (LoRA, DoRA, int8, int4) in prefill, decode and a train
// step, at a latency workload (batch 1) and a serving workload (batch 8 × 512).
// Sizing, from test/datasets/gpu-nightly-sizing.py on one H200 (test/datasets/gpu-nightly-sizing.h200.json): building
// the 1.24B model in bf16 on the GPU takes 0.7 s; at batch 8 × 512 a prefill takes 21 ms, a decode step 79 ms, a train
// step 94 ms (full), 130 ms (LoRA r16), 209 ms (DoRA r16), allocator peaks 3.7 / 21 / 19 / 29 GB. So a case costs
// ≈ 3 s (build + warm-up ≤ 1 s + ≥ 1 s and ≥ 10 iterations measured) and 30 cases × 3 repeats ≈ 4.5 min plus three
// torch worker starts — under 10 minutes on an H100 too (slower memory than the H200: decode-bound cases take longer).
// Check with `bench list suites/gpu-nightly.ts --estimate` when adding cases. (A MoE model would cross with every
// technique here; MoE at real size belongs in efficientllm-moe.ts.)
import { defineSuite } from "effbench";
import { architectureModel } from "../datasets/architectures/index.js";
import { ALL_LINEAR, asTechnique } from "../datasets/technique-presets.js";

export default defineSuite({
  name: "gpu-nightly",
  description: "Nightly GPU regression suite: Llama-3.2-1B bf16 on CUDA: base, LoRA, DoRA, int8, int4",
  models: [architectureModel("llama-3.2-1b", { weights: { seed: 11 } })],
  techniques: [
    { kind: "base" },
    asTechnique({ kind: "lora", rank: 16, alpha: 32, targets: [...ALL_LINEAR], merged: false }),
    asTechnique({ kind: "dora", rank: 16, alpha: 32, targets: [...ALL_LINEAR], merged: false }),
    asTechnique({ kind: "int8" }),
    asTechnique({ kind: "int4", blockSize: 32, symmetric: true }),
  ],
  scenarios: ["prefill", "decode", "train-step"],
  workloads: [
    { name: "latency", batch: 1, promptTokens: 128 },
    { name: "serve", batch: 8, promptTokens: 512 },
  ],
  runners: ["torch"],
  torch: { device: "cuda", dtype: "bf16" },
  // Sized with `bench list suites/gpu-nightly.ts --estimate` (calibrated on the H200 gpu-smoke run): ≈ 7.5 min; two repeats
  // per case (flagged few-processes): loading the 1B model per repeat dominates the budget.
  protocol: { repeats: 2, minMeasureMs: 800, minIterations: 10, warmupMaxMs: 600, caseTimeoutMs: 120_000 },
});
