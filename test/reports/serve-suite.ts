// The serving fixture of the report tests: a micro model behind a managed transformers serve, base and an unmerged
// LoRA adapter, one open-loop rate and one concurrency, 4 requests a point — a real run, about a minute on 2 cores.
import { defineSuite } from "effbench";

export default defineSuite({
  name: "report-serve",
  models: [{ name: "micro", layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, weights: { seed: 3 } }],
  techniques: [{ kind: "base" }, { kind: "lora", rank: 4 }],
  scenarios: ["serving"],
  workloads: [{ batch: 1, promptTokens: 12, newTokens: 4 }],
  runners: ["serve"],
  serve: { rates: [4], concurrency: [2], requests: 4, slo: { ttftMs: 5000, tpotMs: 1000 } },
  protocol: { repeats: 1 },
});
