import { describe, expect, it } from "vitest";
import { moleRoutingMeasures, summarizeMoleRouting } from "../../src/model/mole-routing.js";
import { moleRouterExperts } from "../../src/techniques/mole.js";
import { modelSchema } from "../../src/suite/schema.js";

describe("MoLE routing summary", () => {
  it("has per-router histograms that sum to tokens × k, with max/mean and CV of a known load (worked example)", () => {
    // 4 tokens: a top-2 FFN router over 4 experts, perfectly balanced; a top-1 linear router over 2 experts, all on expert 1.
    const summary = summarizeMoleRouting(
      new Map<string, number[]>([
        ["router_indices.0", [0, 1, 2, 3, 0, 2, 1, 3]],
        ["router_indices.0.q_proj", [1, 1, 1, 1]],
      ]),
      (router) => (router === "router_indices.0" ? 2 : 1),
      (router) => (router === "router_indices.0" ? 4 : 2),
    );
    expect(summary.tokens).toBe(4);
    expect(summary.routers.map((r) => r.tokensPerExpert)).toEqual([
      [2, 2, 2, 2],
      [0, 4],
    ]);
    expect(summary.routers[0]!.maxMeanLoad).toBe(1);
    expect(summary.routers[0]!.cv).toBe(0);
    expect(summary.routers[1]!.maxMeanLoad).toBe(2); // 4 of a mean of 2
    expect(summary.routers[1]!.cv).toBe(1); // counts [0, 4]: std 2, mean 2
    expect(summary.maxMeanLoad).toBe(1.5);
    expect(summary.cv).toBe(0.5);
  });

  it("knows each design's expert count per router (MoLA: per layer) and has nothing to say without routing outputs", () => {
    const model = modelSchema.parse({ name: "m", layers: 4, hidden: 32, heads: 4, ffn: 48, vocab: 50 });
    const mola = moleRouterExperts({ kind: "mola", expertsPerLayerGroup: [2, 4, 6, 8] }, model)!;
    expect(["router_indices.0.q_proj", "router_indices.3.down_proj"].map(mola)).toEqual([2, 8]);
    expect(moleRouterExperts({ kind: "smora", rank: 64 }, model)!("router_indices.1.v_proj")).toBe(64);
    expect(moleRouterExperts({ kind: "lora" }, model)).toBeUndefined();
    expect(moleRoutingMeasures(new Map(), 4, () => 4)).toBeUndefined();
  });
});
