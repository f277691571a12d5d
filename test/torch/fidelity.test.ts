// The torch worker runs the very same model as the harness's float64 reference (and so as the ort graphs): same
// seeded weights, same adapters through real peft, logits within relative L2 1e-4; its parameter counts are
// peft's own and equal the TypeScript accounting.
import { describe, expect, it } from "vitest";
import { buildModelIr } from "../../src/model/ir.js";
import { referenceForwardIr } from "../support/reference.js";
import { relativeL2 } from "../../src/model/fidelity.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { accountModel } from "../../src/model/accounting.js";
import { caseIr } from "../../src/model/case-model.js";
import type { Case } from "../../src/suite/case.js";
import type { SuiteInput } from "../../src/suite/schema.js";
import { planCase, tokens, torchRunnerForFile } from "./helpers.js";

const torchRunner = torchRunnerForFile("fidelity");

function reference(c: Case, ids: number[][]): Float64Array {
  const base = buildModelIr(c.model, synthesizeWeights(c.model));
  const technique = getTechnique(c.technique.kind);
  const ir = technique.rewriteIr ? technique.rewriteIr(base, c.technique) : base;
  return referenceForwardIr(ir, ids);
}

const models: [string, SuiteInput["models"][number]][] = [
  [
    "llama, GQA, untied",
    { name: "tiny", layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, maxPositions: 64 },
  ],
  [
    "qwen2-style q/k/v biases, tied embeddings",
    {
      name: "tiny-qwen",
      family: "qwen2",
      layers: 2,
      hidden: 64,
      heads: 4,
      kvHeads: 1,
      ffn: 96,
      vocab: 97,
      maxPositions: 64,
      attentionBias: true,
      tieEmbeddings: true,
    },
  ],
];

const techniques: SuiteInput["techniques"] = [
  { kind: "base" },
  { kind: "lora", rank: 4, alpha: 8 },
  { kind: "lora", rank: 4, alpha: 8, merged: true, targets: "all-linear" },
  { kind: "rslora", rank: 8, alpha: 16, targets: ["q_proj", "k_proj", "v_proj", "o_proj"] },
  { kind: "dora", rank: 4, alpha: 8, targets: "all-linear" },
  { kind: "dora", rank: 4, alpha: 8, merged: true },
];

describe("torch logits against the float64 reference", () => {
  for (const [label, model] of models)
    for (const technique of techniques) {
      const c = planCase({ models: [model], techniques: [technique] });
      it(`agree within 1e-4 for ${label} · ${c.name.split(" · ")[1]}`, async () => {
        const ids = tokens(2, 7, c.model.vocab, 1);
        const { shape, data } = await torchRunner().forwardLogits(c, ids);
        expect(shape).toEqual([2, 7, c.model.vocab]);
        const expected = reference(c, ids);
        expect(relativeL2(data, expected)).toBeLessThan(1e-4);
        // The adapter changes the output: a technique that silently ran as base would pass the check above only
        // if the reference ignored it too.
        if (technique.kind !== "base") {
          const base = reference({ ...c, technique: { kind: "base" } } as Case, ids);
          expect(relativeL2(data, base)).toBeGreaterThan(1e-3);
        }
      });
    }
});

const moeModel = {
  name: "tiny-moe",
  layers: 2,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  ffn: 96,
  vocab: 97,
  maxPositions: 64,
};
const moeVariants: [string, NonNullable<SuiteInput["models"][number]["moe"]>, number][] = [
  ["Mixtral-style (transformers' own block)", { experts: 4, topK: 2 }, 0],
  ["Mixtral-style with a Zipf routing skew (router bias)", { experts: 4, topK: 2 }, 1],
  [
    "DeepSeekMoE-style: fine-grained and shared experts, a dense first layer",
    { experts: 8, topK: 2, expertFfn: 32, sharedExperts: 2, sharedFfn: 32, firstDenseLayers: 1 },
    0.5,
  ],
  ["top-1 without renormalisation", { experts: 4, topK: 1, normTopK: false }, 0],
];

describe("torch MoE logits against the float64 reference (routed as ort routes)", () => {
  for (const [label, moe, routingSkew] of moeVariants) {
    const c = planCase({ models: [{ ...moeModel, moe }], workloads: [{ batch: 1, promptTokens: 8, routingSkew }] });
    it(`agree within 1e-4 for ${label}, with transformers' total parameter count`, async () => {
      const ids = tokens(2, 7, c.model.vocab, 1);
      const { data, counts } = await torchRunner().forwardLogits(c, ids);
      expect(relativeL2(data, referenceForwardIr(caseIr(c), ids))).toBeLessThan(1e-4);
      expect(counts.architecture).toMatch(/^MixtralForCausalLM/);
      // The router bias of a skewed workload is a parameter of the torch model, not of the architecture.
      const routerBiases = routingSkew > 0 ? c.model.layers - (moe.firstDenseLayers ?? 0) : 0;
      expect(counts.total).toBe(accountModel(c.model).totalParams + routerBiases * moe.experts);
    });
  }
});

describe("parameter counts", () => {
  for (const technique of [
    { kind: "base" },
    { kind: "lora", rank: 8, targets: "all-linear" },
    { kind: "rslora", rank: 4 },
    { kind: "dora", rank: 8, targets: ["q_proj", "v_proj", "down_proj"] },
  ] as NonNullable<SuiteInput["techniques"]>) {
    const c = planCase({ models: [models[0]![1]], techniques: [technique], scenarios: ["train-step"] });
    it(`of ${c.name.split(" · ")[1]} are peft's get_nb_trainable_parameters and equal the TypeScript accounting`, async () => {
      const outcome = await torchRunner().runRepeat(c, {
        repeat: 0,
        signal: new AbortController().signal,
        timeoutMs: 60_000,
      });
      if (outcome.status !== "completed") throw new Error(outcome.reason);
      const trainable = outcome.scalars.find((s) => s.metric === "params_trainable")!.value;
      const total = outcome.scalars.find((s) => s.metric === "params_total_runner")!.value;
      // The same counts on the meta device, with no weights allocated (what `bench inspect` uses).
      const meta = await torchRunner().inspect(c);
      expect({ trainable, total }).toEqual({ trainable: meta.trainable, total: meta.total });
      const accounting = getTechnique(c.technique.kind).account?.(c.model, c.technique);
      if (accounting) {
        expect(trainable).toBe(accounting.trainableParams);
        expect(total).toBe(accounting.totalParams);
      } else {
        // Full fine-tune of the base model: every parameter is trainable.
        expect(trainable).toBe(total);
        expect(total).toBe(accountModel(c.model).totalParams);
      }
    });
  }
});

describe("the H200 run of runners/torch/gpu_check.py (test/torch/fixtures, 2025-11-27)", async () => {
  const { readFileSync } = await import("node:fs");
  const report = JSON.parse(readFileSync(new URL("./fixtures/h200-torch-gpu-check.json", import.meta.url), "utf8")) as {
    hello: { cuda: Array<{ name: string; uuid: string }> };
    cases: Array<{
      name: string;
      status: string;
      scalars?: Record<string, number>;
      settings?: Record<string, unknown>;
    }>;
    logits: Array<{ name: string; device: string; relativeL2VsCpu: number }>;
  };

  it("ran every case on CUDA, timed with CUDA events", () => {
    expect(report.hello.cuda[0]!.uuid).toMatch(/^GPU-[0-9a-f-]{36}$/);
    for (const c of report.cases) {
      expect(c.status, c.name).toBe("completed");
      expect(c.settings).toMatchObject({ device: "cuda", timer: "cuda-events" });
    }
  });

  it("gave fp32 CUDA logits within 1e-4 of the CPU torch logits (TF32 off)", () => {
    expect(report.logits.length).toBeGreaterThan(0);
    for (const l of report.logits) expect(l.relativeL2VsCpu, l.name).toBeLessThan(1e-4);
  });

  it("counted the trainable parameters of full fine-tune, LoRA and DoRA as the TypeScript accounting does", () => {
    const train = report.cases.filter((c) => c.name.includes("train-step"));
    const byTechnique = (fragment: string) =>
      train.find((c) => c.name.includes(fragment) && !c.name.includes("int4-base"))!.scalars!;
    const c = planCase({
      models: [
        { name: "gpu-small", layers: 2, hidden: 256, heads: 4, kvHeads: 2, ffn: 512, vocab: 1024, maxPositions: 1024 },
      ],
    });
    expect(byTechnique("base").params_trainable).toBe(accountModel(c.model).totalParams);
    for (const kind of ["lora", "dora"] as const) {
      const expected = getTechnique(kind).account!(
        c.model,
        getTechnique(kind).params.parse({ kind, rank: 16, targets: "all-linear" }),
      );
      expect(byTechnique(`${kind} r16`).params_trainable).toBe(expected.trainableParams);
    }
    // The allocator peak of every train step was measured (not 0, not null).
    for (const t of train) expect(t.scalars!.torch_max_memory_allocated_bytes).toBeGreaterThan(10 * 2 ** 20);
  });
});
