// EfficientLLM's fine-tuning axis (arXiv 2505.13840 §4): full fine-tuning, LoRA (r 64, α 128), RSLoRA, DoRA and QLoRA
// (LoRA on a 4-bit base), one train step each (forward, backward and optimizer on the trainable parameters only).
// The paper's claims to check: DoRA is the slowest or next-slowest and the hungriest in memory
// (datasets/references/efficientllm.json). `base` under train-step is full fine-tuning (every parameter trains).
import { defineSuite } from "effbench";
import { architectureModel } from "../datasets/architectures/index.js";
import { EFFICIENTLLM } from "../datasets/technique-presets.js";

export default defineSuite({
  name: "efficientllm-finetune",
  description: "EfficientLLM fine-tuning grid: full, LoRA r64 α128, RSLoRA, DoRA, QLoRA; one train step at 512 tokens",
  models: [
    architectureModel("llama-3.2-1b"),
    architectureModel("llama-3.2-3b"),
    architectureModel("llama-3.1-8b"),
    architectureModel("qwen2.5-7b"),
    architectureModel("qwen2.5-14b"),
  ],
  techniques: [EFFICIENTLLM.full, EFFICIENTLLM.lora, EFFICIENTLLM.rslora, EFFICIENTLLM.dora, EFFICIENTLLM.qlora],
  scenarios: ["train-step"],
  workloads: [{ name: "sft", batch: 4, promptTokens: 512 }],
  // Training needs autograd: the torch runner; ort reports these cases as unsupported.
  runners: ["torch"],
  torch: { device: "auto", dtype: "bf16", gradientCheckpointing: false },
  protocol: { repeats: 3, minMeasureMs: 2000, minIterations: 5, warmupMinIterations: 2, warmupMaxMs: 5000 },
});
