// EfficientLLM's MoE vs dense comparison (arXiv 2505.13840 §3): Qwen2.5-1.5B dense against MoE variants of the
// same shape. Two ways to pair them, both here:
//   - "×8 upcycled": 8 experts of the dense FFN width, top-2 — EfficientLLM's "1.5B×8 top-2" (more active
//     parameters than the dense model: the paper reports AMU 76.5 vs 44.8 GB and AL ≈ 1.11× in pretraining);
//   - "equal active": expert widths chosen so that top-k experts (plus shared ones) add up to the dense FFN width,
//     Mixtral-style (8 × 4480, top-2) and DeepSeekMoE-style fine-grained (64 × 1120, 2 shared + top-6).
import { defineSuite } from "effbench";
import { architectureModel } from "../datasets/architectures/index.js";

const dense = architectureModel("qwen2.5-1.5b");
const denseFfn = 8960; // Qwen2.5-1.5B intermediate_size

export default defineSuite({
  name: "efficientllm-moe",
  description: "Dense Qwen2.5-1.5B vs MoE variants: EfficientLLM's 1.5B×8 top-2 and equal-active-parameter MoEs",
  models: [
    dense,
    {
      ...architectureModel("qwen2.5-1.5b", { name: "qwen2.5-1.5b-moe-8x-top2" }),
      moe: { experts: 8, topK: 2, expertFfn: denseFfn },
    },
    {
      ...architectureModel("qwen2.5-1.5b", { name: "qwen2.5-1.5b-moe-8x-top2-equal-active" }),
      moe: { experts: 8, topK: 2, expertFfn: denseFfn / 2 },
    },
    {
      ...architectureModel("qwen2.5-1.5b", { name: "qwen2.5-1.5b-moe-64x-top6-2shared-equal-active" }),
      moe: {
        experts: 64,
        topK: 6,
        expertFfn: denseFfn / 8,
        sharedExperts: 2,
        sharedFfn: denseFfn / 8,
        normTopK: false,
      },
    },
  ],
  techniques: [{ kind: "base" }],
  scenarios: ["prefill", "decode", "train-step"],
  workloads: [
    { name: "short", batch: 1, promptTokens: 256 },
    { name: "batched", batch: 8, promptTokens: 512 },
  ],
  runners: ["ort", "torch"],
  torch: { device: "auto", dtype: "bf16" },
  protocol: { repeats: 3, minMeasureMs: 1000, minIterations: 10 },
});
