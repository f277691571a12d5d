// The suite the report tests run (test/reports/helpers.ts routingReportData): real CPU runs of a tiny MoE (with a capacity factor, so tokens
// are dropped) and of mixtures of LoRA experts on a tiny dense model, uniform and Zipf-skewed routing, on the ort
// runner and (skewed MoE and MoLA) the torch runner. The report's
// routing section is tested on what these really store (details.routing, routing_* metrics).
// By hand: `node bin/bench.js run test/reports/routing-suite.ts --db routing.db`
import { defineSuite } from "effbench";

const tiny = { layers: 2, hidden: 128, heads: 4, kvHeads: 2, ffn: 256, vocab: 512, weights: { seed: 5 } };

export default defineSuite({
  name: "report-routing",
  description:
    "Tiny MoE (capacity factor 1) and MoLE designs, uniform and Zipf-skewed routing, for the report's routing section",
  models: [
    { name: "tiny-dense", ...tiny },
    { name: "tiny-moe-cap", ...tiny, moe: { experts: 8, topK: 2, expertFfn: 64, sharedExperts: 1, capacityFactor: 1 } },
  ],
  techniques: [
    { kind: "base" },
    { kind: "mixlora", experts: 4, topK: 2, rank: 4, alpha: 8 },
    { kind: "mola", expertsPerLayerGroup: [3, 4], topK: 2, rank: 4, alpha: 8 },
    { kind: "loramoe", experts: 4, rank: 4, alpha: 8 },
  ],
  scenarios: ["prefill"],
  workloads: [
    { name: "uniform", batch: 1, promptTokens: 32 },
    { name: "zipf", batch: 1, promptTokens: 32, routingSkew: 1.5 },
  ],
  runners: ["ort", "torch"],
  // torch only where it adds a runner's view of routing (its own routing pass, runners/torch/routing.ts): skewed MoE and MoLA.
  exclude: [
    { runner: "torch", workload: "uniform" },
    { runner: "torch", technique: ["mixlora", "loramoe"] },
    { runner: "torch", model: "tiny-moe-cap", technique: "mola" },
  ],
  protocol: { repeats: 1, minMeasureMs: 30, minIterations: 5, warmupMaxMs: 30, warmupMinIterations: 2 },
});
