// Mixtures of LoRA experts on torch (runners/torch/mole.py, docs/mole.md): the parameter counts equal the TypeScript
// accounting, every scenario runs, and MixLoRA's train step reports its load-balance loss. (Logits against the ort
// graphs: ort-contract.test.ts.)
import { describe, expect, it } from "vitest";
import { getTechnique } from "../../src/techniques/registry.js";
import type { SuiteInput } from "../../src/suite/schema.js";
import { completed, planCase, repeatContext, torchRunnerForFile } from "./helpers.js";

const torchRunner = torchRunnerForFile("mole");

const model = { name: "tiny-mole", layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, maxPositions: 64 };

const designs: [string, NonNullable<SuiteInput["techniques"]>[number]][] = [
  ["MixLoRA", { kind: "mixlora", experts: 4, topK: 2, rank: 4, alpha: 8 }],
  ["LoRAMoE", { kind: "loramoe", experts: 4, rank: 4, alpha: 8 }],
  ["MoLA", { kind: "mola", expertsPerLayerGroup: [2, 4], topK: 2, rank: 4, alpha: 8 }],
  ["SMoRA", { kind: "smora", rank: 16, topK: 4, alpha: 32 }],
  ["X-LoRA", { kind: "xlora", experts: 3, rank: 4, alpha: 8, topK: 2 }],
];

describe("mixtures of LoRA experts on torch", () => {
  for (const [label, technique] of designs)
    it(`count total and trainable parameters as the TypeScript accounting does: ${label}`, async () => {
      const c = planCase({ models: [model], techniques: [technique], scenarios: ["train-step"] });
      const expected = getTechnique(c.technique.kind).account!(c.model, c.technique as never);
      const counts = await torchRunner().inspect(c);
      expect({ total: counts.total, trainable: counts.trainable }).toEqual({
        total: expected.totalParams,
        trainable: expected.trainableParams,
      });
      expect(counts.architecture).toContain(`effbench ${technique.kind}`);
    });

  for (const [label, technique] of designs)
    it(`run decode with a KV cache and generate (X-LoRA with a second cache for its base pass): ${label}`, async () => {
      for (const scenario of ["decode", "generate"] as const) {
        const c = planCase({
          models: [model],
          techniques: [technique],
          scenarios: [scenario],
          workloads: [{ batch: 2, promptTokens: 8, newTokens: 3 }],
        });
        const outcome = completed(await torchRunner().runRepeat(c, { ...repeatContext(), repeat: 1 }));
        expect(outcome.settings).toMatchObject({ mole: technique.kind });
      }
    });

  it("report MixLoRA's load-balance loss from every timed train step, its trainable parameters as the accounting counts them", async () => {
    const c = planCase({
      models: [model],
      techniques: [{ kind: "mixlora", experts: 4, topK: 2, rank: 4, alpha: 8, auxLossCoefficient: 0.02 }],
      scenarios: ["train-step"],
    });
    const outcome = completed(await torchRunner().runRepeat(c, repeatContext()));
    const latency = outcome.series.find((s) => s.metric === "latency_ms")!.values;
    const aux = outcome.series.find((s) => s.metric === "aux_loss")!.values;
    expect(aux).toHaveLength(latency.length);
    // E·Σ f_e·P_e with f_e = assignments / tokens (transformers' definition): about k (= 2) when balanced, at most E (= 4).
    for (const value of aux) expect(value > 1 && value <= 4).toBe(true);
    expect(outcome.settings).toMatchObject({ auxLoss: expect.stringContaining("× 0.02") });
    const trainable = outcome.scalars.find((s) => s.metric === "params_trainable")!.value;
    expect(trainable).toBe(getTechnique("mixlora").account!(c.model, c.technique as never).trainableParams);
    // Fidelity against the base model, as for every technique (the base is built from the same weights file).
    expect(outcome.scalars.find((s) => s.metric === "rel_l2_error")!.value).toBeGreaterThan(1e-3);
    // Routing of the step's forward: one histogram per layer's FFN router, summing to tokens × k.
    const routing = outcome.details!.routing as {
      tokens: number;
      routers: { router: string; tokensPerExpert: number[] }[];
    };
    expect(routing.routers.map((r) => r.router)).toEqual(["router_indices.0", "router_indices.1"]);
    for (const r of routing.routers) expect(r.tokensPerExpert.reduce((a, b) => a + b, 0)).toBe(routing.tokens * 2);
    expect(outcome.scalars.find((s) => s.metric === "routing_max_mean_load")!.value).toBeGreaterThanOrEqual(1);
  });

  it("train X-LoRA's classifier only (its experts frozen, as peft's X-LoRA by default)", async () => {
    const c = planCase({
      models: [model],
      techniques: [{ kind: "xlora", experts: 3, rank: 4, alpha: 8 }],
      scenarios: ["train-step"],
    });
    const outcome = completed(await torchRunner().runRepeat(c, repeatContext()));
    expect(outcome.scalars.find((s) => s.metric === "params_trainable")!.value).toBe(2 * 3 * 64 + 2 * 3);
    expect(outcome.series.find((s) => s.metric === "aux_loss")).toBeUndefined();
  });
});
