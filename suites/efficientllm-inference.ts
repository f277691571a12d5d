// EfficientLLM's inference axis (arXiv 2505.13840 §5): the same models at bf16, fp16, int8 and int4, so that the
// report can put our int4/bf16 ratios of memory (AMU), throughput (IT), mean power (AEC) and MCR beside the paper's
// (datasets/references/efficientllm.json). fp32 `base` is the reference where bf16 is not supported (CPU EP).
// Full-size models: on a CPU run it with `--scale tiny` (datasets/architectures/README.md, "Scaling rule").
import { defineSuite } from "effbench";
import { architectureModel } from "../datasets/architectures/index.js";
import { EFFICIENTLLM } from "../datasets/technique-presets.js";
import { workloadsFrom } from "../datasets/workloads/index.js";

export default defineSuite({
  name: "efficientllm-inference",
  description:
    "EfficientLLM inference grid: Qwen2.5-32B at fp32/bf16/fp16/int8/int4, prefill and decode on ShareGPT-length chat",
  // Qwen2.5-32B is the model of the paper's headline int4/bf16 ratios. One model keeps `--scale tiny` on a 2-core CPU
  // under 10 minutes: measured here, this grid (5 precisions × 2 scenarios × 2 workloads on ort and torch, 40 cases ×
  // 3 repeats) took 6 min 15 s on a quiet machine (9 min 56 s while other jobs loaded it). Add llama-3.1-8b etc. for
  // GPU runs.
  models: [architectureModel("qwen2.5-32b")],
  techniques: [{ kind: "base" }, EFFICIENTLLM.bf16, EFFICIENTLLM.fp16, EFFICIENTLLM.int8, EFFICIENTLLM.int4],
  scenarios: ["prefill", "decode"],
  // ShareGPT mean lengths (vLLM paper, Figure 11) at batch 1 and at a serving-like batch of 8.
  workloads: [...workloadsFrom("chat-sharegpt", { batch: 1 }), ...workloadsFrom("chat-sharegpt", { batch: 8 })],
  runners: ["ort", "torch"],
  torch: { device: "auto", dtype: "bf16" },
  protocol: { repeats: 3, minMeasureMs: 500, minIterations: 10, warmupMaxMs: 500 },
});
