// The ≤ 5-minute GPU check scripts/gpu-smoke.sh runs on a lent H100/H200: a Llama-3.1-8B shape in bf16 on CUDA at
// batch 1 (worker-seeded weights: the worker initialises them from the seed on the device, no 32 GB file), decode,
// base / LoRA r16 / DoRA r16 (unmerged, all linears) / int4, each eager and cuda-graph side by side; then a ~0.2B
// llama-shaped model's base decode, which runs after the 8B cases here and alone in a second run of the script, so
// that its device memory with and without a large case before it can be compared.
// Budget: each case and repeat gets a fresh worker on a GPU (a few seconds), builds the 8B model from the seed (~1 s;
// int4 quantises it, a few s), warms up ≤ 0.5 s, measures ≥ 2 s (the energy window) and profiles 5 untimed steps:
// ≈ 15–20 s per 8B case × 8 + 2 small cases ≈ 3 min, one repeat each (flagged few-processes: this is a check, not a benchmark).
import { defineSuite } from "effbench";
import { architectureModel } from "../datasets/architectures/index.js";
import { ALL_LINEAR, asTechnique } from "../datasets/technique-presets.js";

export default defineSuite({
  name: "gpu-smoke",
  description:
    "GPU smoke check: Llama-3.1-8B shape bf16 on CUDA, batch-1 decode, base/LoRA/DoRA/int4, eager and cuda-graph",
  models: [
    architectureModel("llama-3.1-8b", { name: "llama-8b", weights: { seed: 5 } }),
    {
      name: "llama-0.2b",
      layers: 8,
      hidden: 1024,
      heads: 16,
      kvHeads: 4,
      ffn: 2816,
      vocab: 32000,
      weights: { seed: 5, source: "worker" },
    },
  ],
  techniques: [
    { kind: "base" },
    asTechnique({ kind: "lora", rank: 16, alpha: 32, targets: [...ALL_LINEAR], merged: false }),
    asTechnique({ kind: "dora", rank: 16, alpha: 32, targets: [...ALL_LINEAR], merged: false }),
    asTechnique({ kind: "int4", blockSize: 32, symmetric: true }),
  ],
  // The small model is the memory probe: its base decode (in both modes).
  exclude: [{ model: "llama-0.2b", technique: ["lora", "dora", "int4"] }],
  scenarios: ["decode"],
  workloads: [{ name: "latency", batch: 1, promptTokens: 512 }],
  runners: ["torch"],
  torch: { device: "cuda", dtype: "bf16", mode: ["eager", "cuda-graph"] },
  protocol: { repeats: 1, minMeasureMs: 600, minIterations: 10, warmupMaxMs: 500, caseTimeoutMs: 120_000 },
});
