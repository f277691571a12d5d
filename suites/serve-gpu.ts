// Serving under load on a GPU: suites/serve-quick.ts's model and techniques behind a managed `transformers serve` on
// CUDA with continuous batching (paged attention), so that concurrent requests batch instead of queueing. The
// profiler samples NVML over each point: `gpu_energy_j_per_token` (device-level, all requests together) and
// `gpu_power_avg_w`. Run by scripts/gpu-smoke.sh (step 7) where the GPU machine's Python has fastapi/uvicorn.
import { defineSuite } from "effbench";

export default defineSuite({
  name: "serve-gpu",
  description: "Managed transformers serve on CUDA with continuous batching: base vs an unmerged LoRA adapter",
  models: [
    {
      name: "tiny-llama",
      family: "llama",
      layers: 2,
      hidden: 256,
      heads: 8,
      kvHeads: 2,
      ffn: 704,
      vocab: 2048,
      weights: { seed: 7 },
    },
  ],
  techniques: [{ kind: "base" }, { kind: "lora", rank: 8, targets: ["q_proj", "v_proj"] }],
  scenarios: ["serving"],
  // 64 output tokens per request: a point lasts long enough for NVML's energy counter (about a second per point).
  workloads: [{ name: "chat", batch: 1, promptTokens: 32, newTokens: 64 }],
  runners: ["serve"],
  serve: {
    device: "cuda",
    continuousBatching: true,
    cbNumBlocks: 256,
    rates: [8, 32],
    concurrency: [1, 8],
    requests: 32,
    slo: { ttftMs: 250, tpotMs: 50 },
  },
  protocol: { repeats: 2 },
});
