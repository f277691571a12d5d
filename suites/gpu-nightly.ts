// The nightly GPU suite (scripts/gpu-smoke.sh): one H100 in under 10 minutes. Llama-3.2-1B's real shape in bf16 on the
// torch runner (CUDA), the techniques users compare most (LoRA, DoRA, int8, int4) in prefill, decode and a train
// step. Sizing: 15 cases × 3 repeats = 45 case-repeats at ≈ 5–8 s each (model build from seeded weights, warm-up
// ≤ 1 s, ≥ 1 s measured; int8/int4 train steps are unsupported and cost nothing) ≈ 4–6 min; check with
// `bench list suites/gpu-nightly.ts --estimate` and keep it under 10 minutes when adding cases. (A MoE model would
// cross with every technique here; MoE at real size belongs in efficientllm-moe.ts.)
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
  workloads: [{ name: "serve", batch: 8, promptTokens: 512 }],
  runners: ["torch"],
  torch: { device: "cuda", dtype: "bf16" },
  protocol: { repeats: 3, minMeasureMs: 1000, minIterations: 10, warmupMaxMs: 1000, caseTimeoutMs: 120_000 },
});
