// Serving under load on a GPU: suites/serve-quick.ts's model and techniques behind a managed `transformers serve` on
// CUDA with continuous batching (paged attention), so that concurrent requests batch instead of queueing. The
// profiler samples NVML over each point: `gpu_energy_j_per_token` (device-level, all requests together) and
// `gpu_power_avg_w`. Run by scripts/gpu-smoke.sh (step 6) where the GPU machine's Python has fastapi/uvicorn.
import { defineSuite } from "effbench";
import serveQuick from "./serve-quick.js";

export default defineSuite({
  ...serveQuick,
  name: "serve-gpu",
  description: "Managed transformers serve on CUDA with continuous batching: base vs an unmerged LoRA adapter",
  // 64 output tokens per request: a point lasts long enough for NVML's energy counter (about a second per point).
  workloads: [{ name: "chat", batch: 1, promptTokens: 32, newTokens: 64 }],
  serve: {
    device: "cuda",
    continuousBatching: true,
    cbNumBlocks: 256,
    rates: [8, 32],
    concurrency: [1, 8],
    requests: 32,
    slo: { ttftMs: 250, tpotMs: 50 },
  },
});
