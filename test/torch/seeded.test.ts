// Worker-seeded weights: the torch worker initialises the weights from the seed on the device (no weights file), the
// same seed giving the same tensors; large models default to it, small ones to the harness's file.
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { workerSeeded } from "../../runners/torch/seeded.js";
import { architectureModel } from "../../datasets/architectures/index.js";
import { completed, planCase, planCases, repeatContext, tokens, torchRunnerForFile } from "./helpers.js";
import { defaultWeightsCacheDir } from "../../runners/torch/weights-file.js";

const torchRunner = torchRunnerForFile("seeded");
const model = (seed: number) => ({
  name: "tiny-s",
  layers: 2,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  ffn: 128,
  vocab: 97,
  maxPositions: 64,
  weights: { seed, source: "worker" as const },
});

describe("worker-seeded weights", () => {
  it("the same seed gives identical logits (so identical tensors), another seed other ones; no weights file", async () => {
    const before = new Set(safeList(defaultWeightsCacheDir()));
    const ids = tokens(1, 8, 97);
    const a = await torchRunner().forwardLogits(planCase({ models: [model(3)] }), ids);
    const b = await torchRunner().forwardLogits(planCase({ models: [model(3)] }), ids);
    const c = await torchRunner().forwardLogits(planCase({ models: [model(4)] }), ids);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(Array.from(c.data)).not.toEqual(Array.from(a.data));
    expect(a.counts).toMatchObject({ weightsSource: "worker-seeded" });
    // Adapters are seeded too (B·A is not zero): LoRA changes the logits.
    const lora = await torchRunner().forwardLogits(
      planCase({ models: [model(3)], techniques: [{ kind: "lora", rank: 4, alpha: 8, merged: false }] }),
      ids,
    );
    expect(Array.from(lora.data)).not.toEqual(Array.from(a.data));
    expect(safeList(defaultWeightsCacheDir()).filter((f) => !before.has(f))).toEqual([]);
  }, 300_000);

  it("a timed case says its weights were worker-seeded, and skips fidelity with the reason", async () => {
    const c = planCase({
      models: [model(3)],
      techniques: [{ kind: "lora", rank: 4, alpha: 8, merged: false }],
      scenarios: ["decode"],
    });
    const outcome = completed(await torchRunner().runRepeat(c, repeatContext()));
    expect(outcome.settings).toMatchObject({ weightsSource: "worker-seeded" });
    expect(outcome.scalars.find((s) => s.metric === "rel_l2_error")).toMatchObject({
      value: null,
      reason: expect.stringMatching(/worker-seeded/),
    });
  }, 300_000);

  it("defaults to worker-seeded above 8 GiB of fp32 weights (an 8B shape), to the file below", () => {
    const [big] = planCases({ models: [architectureModel("llama-3.1-8b")] });
    const [small] = planCases({
      models: [model(1)].map(({ weights, ...m }) => ({ ...m, weights: { seed: weights.seed } })),
    });
    expect(workerSeeded(big!)).toBe(true);
    expect(workerSeeded(small!)).toBe(false);
  });
});

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
