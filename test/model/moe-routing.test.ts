import { describe, expect, it } from "vitest";
import { modelSchema } from "../../src/suite/schema.js";
import { summarizeRouting } from "../../src/model/moe-routing.js";
import { accountMoeModel } from "../../src/model/moe-accounting.js";

const model = (moe: object) =>
  modelSchema.parse({
    name: "r",
    layers: 2,
    hidden: 32,
    heads: 4,
    ffn: 64,
    vocab: 50,
    moe: { experts: 4, topK: 2, expertFfn: 16, ...moe },
  });

describe("routing summary", () => {
  it("has histograms that sum to tokens × k, and max/mean and CV of a known load (worked example)", () => {
    // 4 tokens, top-2 over 4 experts: layer 0 balanced (each expert twice), layer 1 all on experts 0 and 1.
    const summary = summarizeRouting(
      model({}),
      new Map([
        [0, [0, 1, 2, 3, 0, 2, 1, 3]],
        [1, [0, 1, 1, 0, 0, 1, 0, 1]],
      ]),
    );
    expect(summary.tokens).toBe(4);
    for (const layer of summary.layers) expect(layer.tokensPerExpert.reduce((a, b) => a + b, 0)).toBe(4 * 2);
    expect(summary.layers[0]!.tokensPerExpert).toEqual([2, 2, 2, 2]);
    expect(summary.layers[0]!.maxMeanLoad).toBe(1);
    expect(summary.layers[0]!.cv).toBe(0);
    expect(summary.layers[1]!.maxMeanLoad).toBe(2); // 4 of a mean of 2
    expect(summary.layers[1]!.cv).toBe(1); // counts [4, 4, 0, 0]: std 2, mean 2
    expect(summary.maxMeanLoad).toBe(1.5);
    expect(summary.droppedAssignments).toBe(0);
    const a = accountMoeModel(model({}));
    expect(summary.activeParamsPerToken).toBe(a.activeParams);
  });

  it("counts assignments over capacity in token-major order and lowers the active parameters accordingly", () => {
    // capacity ceil(1.0 · 4 · 2 / 4) = 2: expert 0 gets 4 assignments → 2 dropped; expert 1 also 4 → 2 dropped.
    const m = model({ capacityFactor: 1 });
    const summary = summarizeRouting(
      m,
      new Map([
        [0, [0, 1, 0, 1, 0, 1, 0, 1]],
        [1, [0, 1, 2, 3, 0, 2, 1, 3]],
      ]),
    );
    expect(summary.layers[0]!.droppedAssignments).toBe(4);
    expect(summary.layers[1]!.droppedAssignments).toBe(0);
    const a = accountMoeModel(m);
    expect(summary.activeParamsPerToken).toBe(a.activeParams - (4 / 4) * a.perExpertParams);
  });
});
