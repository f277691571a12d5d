// Every technique on a tiny model, with fidelity against the fp32 base filled for each (run by the tests:
// test/e2e/coverage.test.ts). quick.ts stays the small smoke suite.
import { defineSuite } from "effbench";

const all = "all-linear" as const;

export default defineSuite({
  name: "coverage",
  description: "Every technique on tiny models: timing, accounting and fidelity vs the fp32 base",
  models: [
    { name: "cov-llama", layers: 2, hidden: 128, heads: 4, kvHeads: 2, ffn: 256, vocab: 512, weights: { seed: 3 } },
    {
      name: "cov-moe",
      layers: 2,
      hidden: 128,
      heads: 4,
      kvHeads: 2,
      ffn: 256,
      vocab: 512,
      moe: { experts: 4, topK: 2, expertFfn: 128, sharedExperts: 1 },
      weights: { seed: 3 },
    },
  ],
  techniques: [
    { kind: "base" },
    { kind: "lora", rank: 8, alpha: 16, targets: all, merged: false },
    { kind: "lora", rank: 8, alpha: 16, targets: all, merged: true },
    { kind: "rslora", rank: 8, alpha: 16, targets: all, merged: false },
    { kind: "dora", rank: 8, alpha: 16, targets: all, merged: false },
    { kind: "dora", rank: 8, alpha: 16, targets: all, merged: true },
    { kind: "lora", rank: 8, alpha: 16, targets: all, merged: false, base: "int4" },
    { kind: "dora", rank: 8, alpha: 16, targets: all, merged: false, base: "int4" },
    { kind: "int4", blockSize: 32, symmetric: true },
    { kind: "int4", blockSize: 32, symmetric: false },
    { kind: "int8" },
    { kind: "fp16" },
    { kind: "bf16" },
    // Mixtures of LoRA experts (docs/mole.md), small: they adapt dense models, so on cov-moe they are unsupported.
    { kind: "mixlora", experts: 4, topK: 2, rank: 8, alpha: 16 },
    { kind: "mixlora", name: "llava-mole", experts: 4, topK: 1, rank: 8, alpha: 16, attentionLora: false },
    { kind: "loramoe", experts: 4, rank: 4, alpha: 8 },
    { kind: "mola", expertsPerLayerGroup: [2, 4], topK: 2, rank: 8, alpha: 16 },
    { kind: "xlora", experts: 4, rank: 8, alpha: 16 },
    { kind: "smora", rank: 16, topK: 4, alpha: 32 },
  ],
  scenarios: ["prefill"],
  workloads: [{ batch: 1, promptTokens: 16 }],
  runners: ["ort"],
  protocol: { repeats: 1, minMeasureMs: 30, minIterations: 5, warmupMaxMs: 30, warmupMinIterations: 2 },
});
