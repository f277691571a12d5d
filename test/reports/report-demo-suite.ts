// The suite behind docs/report-screenshot.png: real CPU measurements of a tiny llama-style model under several
// techniques (run twice for the trend chart). `node bin/bench.js run test/reports/report-demo-suite.ts --db demo.db`
import { defineSuite } from "effbench";

export default defineSuite({
  name: "report-demo",
  description: "Tiny llama-style model, base vs adapters vs quantised, prefill and decode on the ort CPU runner",
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
  techniques: [
    { kind: "base" },
    { kind: "lora", rank: 8, alpha: 16 },
    { kind: "lora", rank: 8, alpha: 16, merged: true },
    { kind: "dora", rank: 8, alpha: 16 },
    { kind: "int8" },
    { kind: "int4", blockSize: 32 },
    { kind: "fp16" },
  ],
  scenarios: ["prefill", "decode"],
  workloads: [{ name: "short", batch: 1, promptTokens: 64 }],
  runners: ["ort"],
  protocol: { repeats: 3, minMeasureMs: 300, minIterations: 20, warmupMaxMs: 300 },
});
