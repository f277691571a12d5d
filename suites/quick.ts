// The CI smoke suite: a tiny llama-style model (2 layers, hidden 256, GQA) and a tiny MoE of the same active width.
// Whole suite under 60 s on 2 cores.
import { defineSuite } from "effbench";

/** The shape both models share: 2 layers, hidden 256, 8 query heads over 2 KV heads (GQA), vocabulary 2048. */
const tiny = {
  family: "llama",
  layers: 2,
  hidden: 256,
  heads: 8,
  kvHeads: 2,
  ffn: 704,
  vocab: 2048,
  weights: { seed: 7 },
} as const;

export default defineSuite({
  name: "quick",
  description: "Smoke suite: a tiny llama-style model and a tiny MoE on the ort runner",
  models: [
    { name: "tiny-llama", ...tiny },
    // DeepSeekMoE-style MoE of the same active FFN width: 2 shared experts of 176 + top-2 of 8 routed experts of 176 = 704.
    { name: "tiny-moe", ...tiny, moe: { experts: 8, topK: 2, expertFfn: 176, sharedExperts: 2 } },
  ],
  techniques: [{ kind: "base" }],
  scenarios: ["prefill", "decode"],
  workloads: [
    { name: "short", batch: 1, promptTokens: 64 },
    { name: "batch", batch: 4, promptTokens: 128 },
  ],
  runners: ["ort"],
  protocol: { repeats: 3, minMeasureMs: 400, minIterations: 20, warmupMaxMs: 500 },
});
