// Serving under load on CPU: a tiny llama-style model behind a managed `transformers serve`, the base model and a
// LoRA adapter served unmerged (peft injects it at load), each at 2 open-loop rates and 2 concurrency levels.
// Every request is stored (serve_requests). Under 3 min on 2 cores (docs/serving.md).
import { defineSuite } from "effbench";

export default defineSuite({
  name: "serve-quick",
  description: "Managed transformers serve on CPU: base vs an unmerged LoRA adapter under open- and closed-loop load",
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
  workloads: [{ name: "chat", batch: 1, promptTokens: 32, newTokens: 8 }],
  runners: ["serve"],
  serve: {
    device: "cpu",
    rates: [2, 8],
    concurrency: [1, 4],
    requests: 8,
    slo: { ttftMs: 250, tpotMs: 50 },
  },
  protocol: { repeats: 2 },
});
