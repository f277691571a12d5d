// MoE compression on a Mixtral-shaped tiny MoE (docs/moe.md, "Compressing the experts"): expert pruning, MC-SMoE and
// Sub-MoE at a few settings against the uncompressed MoE — weight bytes, KL/top-1 of the logits vs the uncompressed
// model, and decode latency, from one run (< 5 min on a 2-core CPU). Mixtral-8x7B's shape (8 experts, top-2, GQA
// 4:1, expert FFN 3.5 × hidden, rope θ 1e6) at hidden 128 and 4 layers, llm-like weights (heavy tails, outlier
// channels) and Zipf(1) routing skew, so that some experts are routed far more than others, as trained routers are.
// The prefill case records the uncompressed model's routing locality (SRP, SCH, LRU expert-cache hit rates).
//   node bin/bench.js run suites/moe-compression.ts --db moe-compression.db
import { defineSuite } from "effbench";
import { architectureModel } from "../datasets/architectures/index.js";

const calibration = { sequences: 2, sequenceLength: 64, seed: 0 };

export default defineSuite({
  name: "moe-compression",
  description: "Expert pruning, MC-SMoE and Sub-MoE on a Mixtral-shaped tiny MoE (llm-like weights, Zipf routing skew)",
  models: [
    architectureModel("mixtral-8x7b-v0.1", {
      name: "mixtral-tiny",
      layers: 4,
      hidden: 128,
      heads: 8,
      kvHeads: 2,
      ffn: 448,
      vocab: 2048,
      maxPositions: 512,
      moe: { experts: 8, topK: 2, expertFfn: 448, sharedExperts: 0, firstDenseLayers: 0, normTopK: true },
      weights: { seed: 11, distribution: "llm-like" },
    }),
  ],
  techniques: [
    { kind: "base" },
    { kind: "expert-prune", keep: 6, calibration },
    { kind: "expert-prune", keep: 4, calibration },
    { kind: "mc-smoe", groups: 6, calibration },
    { kind: "mc-smoe", groups: 4, calibration },
    { kind: "mc-smoe", groups: 4, rank: 48, sparseColumns: 0.1, calibration },
    { kind: "sub-moe", clusters: 6, rank: 64, calibration },
    { kind: "sub-moe", clusters: 4, rank: 64, calibration },
    { kind: "sub-moe", clusters: 4, rank: 32, calibration },
  ],
  scenarios: ["decode", "prefill"],
  workloads: [{ name: "zipf1", batch: 1, promptTokens: 128, routingSkew: 1 }],
  runners: ["ort"],
  // Locality is a property of the routing, recorded once on the uncompressed model's prefill.
  exclude: [{ scenario: "prefill", technique: ["expert-prune", "mc-smoe", "sub-moe"] }],
  protocol: { repeats: 2, minMeasureMs: 1000, minIterations: 20, warmupMaxMs: 300, warmupMinIterations: 5 },
});
