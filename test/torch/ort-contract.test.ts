// The runner contract test: the same case gives the same logits on ort and torch. The ort graph is
// the one the ort runner times (src/model/case-model.ts: the case's IR after its technique), here with logits at
// every position; torch runs transformers + peft on the same seeded weights.
import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { caseIr } from "../../src/model/case-model.js";
import { buildOnnxModel } from "../../runners/ort/onnx/onnx.js";
import { relativeL2 } from "../../src/model/fidelity.js";
import { summarizeRouting, type RoutingSummary } from "../../src/model/moe-routing.js";
import type { SuiteInput } from "../../src/suite/schema.js";
import type { Case } from "../../src/suite/case.js";
import { planCase, tokens, torchRunnerForFile } from "./helpers.js";

const torchRunner = torchRunnerForFile("contract");

/** LoRAMoE under DynMoLE routing that produces both regimes (top-p and all experts) at Zipf 1.5 skew. */
const DYNMOLE_LORAMOE = {
  kind: "loramoe",
  experts: 6,
  rank: 4,
  alpha: 8,
  router: { kind: "dynmole", tsallisQ: 1.5, entropyThreshold: 0.8, topP: 0.5, topK: 1 },
} as const;
const dense = { name: "contract", layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 101, maxPositions: 64 };
const cases: [string, Partial<SuiteInput>][] = [
  ["base", {}],
  ["LoRA unmerged", { techniques: [{ kind: "lora", rank: 8, targets: "all-linear" }] }],
  ["LoRA merged", { techniques: [{ kind: "lora", rank: 8, merged: true }] }],
  ["RSLoRA unmerged", { techniques: [{ kind: "rslora", rank: 16, alpha: 16 }] }],
  ["DoRA unmerged", { techniques: [{ kind: "dora", rank: 8, targets: "all-linear" }] }],
  ["DoRA merged", { techniques: [{ kind: "dora", rank: 8, targets: "all-linear", merged: true }] }],
  [
    "Mixtral-style MoE with routing skew",
    {
      models: [{ ...dense, ffn: 64, moe: { experts: 4, topK: 2 } }],
      workloads: [{ batch: 1, promptTokens: 9, routingSkew: 1 }],
    },
  ],
  [
    "DeepSeekMoE-style MoE",
    {
      models: [
        { ...dense, ffn: 64, moe: { experts: 8, topK: 2, expertFfn: 32, sharedExperts: 1, firstDenseLayers: 1 } },
      ],
    },
  ],
  [
    "MixLoRA (top-2 FFN experts, attention LoRA)",
    { techniques: [{ kind: "mixlora", experts: 4, topK: 2, rank: 4, alpha: 8 }] },
  ],
  [
    "LLaVA-MoLE (MixLoRA top-1, no attention LoRA, up/down only), skewed",
    {
      techniques: [
        {
          kind: "mixlora",
          experts: 3,
          topK: 1,
          rank: 4,
          alpha: 8,
          attentionLora: false,
          ffnTargets: ["up_proj", "down_proj"],
        },
      ],
      workloads: [{ batch: 1, promptTokens: 9, routingSkew: 1 }],
    },
  ],
  ["LoRAMoE (dense soft routing)", { techniques: [{ kind: "loramoe", experts: 4, rank: 4, alpha: 8 }] }],
  [
    "MoLA (2 then 4 experts per layer, top-2), skewed",
    {
      techniques: [{ kind: "mola", expertsPerLayerGroup: [2, 4], topK: 2, rank: 4, alpha: 8 }],
      workloads: [{ batch: 1, promptTokens: 9, routingSkew: 1 }],
    },
  ],
  [
    "SMoRA (rank 16, top-4 rank-wise experts)",
    { techniques: [{ kind: "smora", rank: 16, topK: 4, alpha: 32, targets: ["q_proj", "v_proj", "down_proj"] }] },
  ],
  ["X-LoRA (dense layer-wise scalings)", { techniques: [{ kind: "xlora", experts: 3, rank: 4, alpha: 8 }] }],
  [
    "X-LoRA top-2, skewed",
    {
      techniques: [{ kind: "xlora", experts: 4, rank: 4, alpha: 8, topK: 2 }],
      workloads: [{ batch: 1, promptTokens: 9, routingSkew: 1 }],
    },
  ],
  [
    "MoE with a capacity factor that drops assignments",
    {
      models: [{ ...dense, ffn: 64, moe: { experts: 4, topK: 2, capacityFactor: 0.5 } }],
      workloads: [{ batch: 1, promptTokens: 9, routingSkew: 1 }],
    },
  ],
  [
    "LoRAMoE with DynMoLE routing (both regimes), skewed",
    {
      techniques: [DYNMOLE_LORAMOE],
      workloads: [{ batch: 1, promptTokens: 9, routingSkew: 1.5 }],
    },
  ],
  [
    "MoLA with DynMoLE routing",
    {
      techniques: [
        {
          kind: "mola",
          expertsPerLayerGroup: [4, 6],
          topK: 2,
          rank: 4,
          alpha: 8,
          targets: ["q_proj", "down_proj"],
          router: { kind: "dynmole", tsallisQ: 1.1, entropyThreshold: 0.9, topP: 0.75, topK: 2 },
        },
      ],
      workloads: [{ batch: 1, promptTokens: 9, routingSkew: 1 }],
    },
  ],
  // MoE compression: torch loads the compressed experts from the weights file (factors multiplied out).
  ...(
    [
      ["expert-prune (3 of 4 experts kept)", { kind: "expert-prune", keep: 3 }],
      ["mc-smoe (2 merged experts, aligned)", { kind: "mc-smoe", groups: 2 }],
      [
        "mc-smoe (2 merged experts, rank 8 + 25% residual channels)",
        { kind: "mc-smoe", groups: 2, rank: 8, sparseColumns: 0.25 },
      ],
      ["sub-moe (2 clusters, rank 16, merged V)", { kind: "sub-moe", clusters: 2, rank: 16 }],
    ] as [string, NonNullable<SuiteInput["techniques"]>[number]][]
  ).map(([label, technique]): [string, Partial<SuiteInput>] => [
    `MoE compressed by ${label}, skewed`,
    {
      models: [{ ...dense, ffn: 64, moe: { experts: 4, topK: 2 } }],
      techniques: [technique],
      workloads: [{ batch: 1, promptTokens: 9, routingSkew: 1 }],
    },
  ]),
];

describe("ort and torch on the same case", () => {
  for (const [label, input] of cases)
    it(`give the same logits (fp32, relative L2 ≤ 1e-4): ${label}`, async () => {
      const c = planCase({ models: [dense], ...input });
      const ids = tokens(2, 9, c.model.vocab, 2);
      const built = buildOnnxModel(c.model, {
        scenario: "prefill",
        ir: caseIr(c),
        batch: 2,
        promptTokens: 9,
        allLogits: true,
      });
      const session = await ort.InferenceSession.create(built.bytes, { intraOpNumThreads: 1 });
      const out = await session.run({
        input_ids: new ort.Tensor(
          "int64",
          BigInt64Array.from(ids.flat(), (v) => BigInt(v)),
          [2, 9],
        ),
      });
      await session.release();
      const torch = await torchRunner().forwardLogits(c, ids);
      expect(torch.shape).toEqual(out.logits!.dims);
      expect(relativeL2(torch.data, out.logits!.data as Float32Array)).toBeLessThan(1e-4);
      if (c.technique.kind !== "base") {
        // The technique really ran on both sides: its logits are not the base model's.
        const base = await torchRunner().forwardLogits({ ...c, technique: { kind: "base" } } as Case, ids);
        expect(relativeL2(torch.data, base.data)).toBeGreaterThan(1e-3);
      }
    });
});

describe("ort and torch MoE routing on the same tokens", () => {
  const moeCases: [string, NonNullable<SuiteInput["models"][number]["moe"]>, number][] = [
    ["Mixtral-style, Zipf-skewed", { experts: 4, topK: 2 }, 1.5],
    ["with a capacity factor of 0.5", { experts: 4, topK: 2, capacityFactor: 0.5 }, 1],
    [
      "DeepSeekMoE-style, dense first layer",
      { experts: 8, topK: 2, expertFfn: 32, sharedExperts: 1, firstDenseLayers: 1 },
      0,
    ],
  ];
  for (const [label, moe, routingSkew] of moeCases)
    it(`choose the same experts per token and layer, so the histograms and dropped counts agree: ${label}`, async () => {
      const c = planCase({
        models: [{ ...dense, ffn: 64, moe }],
        workloads: [{ batch: 1, promptTokens: 9, routingSkew }],
      });
      const ids = tokens(2, 9, c.model.vocab, 5);
      const built = buildOnnxModel(c.model, {
        scenario: "prefill",
        ir: caseIr(c),
        batch: 2,
        promptTokens: 9,
        allLogits: true,
        routingOutputs: true,
      });
      const session = await ort.InferenceSession.create(built.bytes, { intraOpNumThreads: 1 });
      const out = await session.run({
        input_ids: new ort.Tensor(
          "int64",
          BigInt64Array.from(ids.flat(), (v) => BigInt(v)),
          [2, 9],
        ),
      });
      await session.release();
      const ortIndices = new Map(
        Object.entries(out)
          .filter(([name]) => name.startsWith("router_indices."))
          .map(([name, v]) => [Number(name.split(".")[1]), Array.from(v.data as BigInt64Array, Number)]),
      );
      const torch = await torchRunner().forwardLogits(c, ids);
      const torchIndices = new Map(Object.entries(torch.routing!).map(([layer, v]) => [Number(layer), v]));
      expect([...torchIndices.keys()]).toEqual([...ortIndices.keys()]);
      for (const [layer, indices] of ortIndices) expect(torchIndices.get(layer), `layer ${layer}`).toEqual(indices);
      const summary = summarizeRouting(c.model, torchIndices);
      expect(summary).toEqual(summarizeRouting(c.model, ortIndices));
      for (const layer of summary.layers)
        expect(layer.tokensPerExpert.reduce((a, b) => a + b, 0)).toBe(2 * 9 * moe.topK!);
      if (moe.capacityFactor !== undefined) expect(summary.droppedAssignments).toBeGreaterThan(0);
    });

  const moleCases: [string, NonNullable<SuiteInput["techniques"]>[number]][] = [
    ["MixLoRA's FFN routers", { kind: "mixlora", experts: 4, topK: 2, rank: 4, alpha: 8 }],
    [
      "MoLA's per-linear routers",
      { kind: "mola", expertsPerLayerGroup: [2, 4], topK: 2, rank: 4, alpha: 8, targets: ["q_proj", "down_proj"] },
    ],
    ["SMoRA's rank routers", { kind: "smora", rank: 8, topK: 2, alpha: 16, targets: ["v_proj"] }],
    ["X-LoRA's top-k scalings", { kind: "xlora", experts: 4, rank: 4, alpha: 8, topK: 2 }],
    ["DynMoLE's kept-expert masks (LoRAMoE, both regimes)", DYNMOLE_LORAMOE],
  ];
  for (const [label, technique] of moleCases)
    it(`choose the same experts per token for mixtures of LoRA experts, under the same output names: ${label}`, async () => {
      const c = planCase({
        models: [dense],
        techniques: [technique],
        workloads: [{ batch: 1, promptTokens: 9, routingSkew: 0.5 }],
      });
      const ids = tokens(2, 9, c.model.vocab, 6);
      const built = buildOnnxModel(c.model, {
        scenario: "prefill",
        ir: caseIr(c),
        batch: 2,
        promptTokens: 9,
        allLogits: true,
        routingOutputs: true,
      });
      const session = await ort.InferenceSession.create(built.bytes, { intraOpNumThreads: 1 });
      const out = await session.run({
        input_ids: new ort.Tensor(
          "int64",
          BigInt64Array.from(ids.flat(), (v) => BigInt(v)),
          [2, 9],
        ),
      });
      await session.release();
      const ortIndices = Object.fromEntries(
        Object.entries(out)
          .filter(([name]) => name.startsWith("router_indices.") || name.startsWith("router_mask."))
          .map(([name, v]) => [name, Array.from(v.data as BigInt64Array | Float32Array, Number)]),
      );
      expect(Object.keys(ortIndices).length).toBeGreaterThan(0);
      const torch = await torchRunner().forwardLogits(c, ids);
      expect(torch.routing).toEqual(ortIndices);
    });

  it("are recorded by a timed torch case like the ort runner's (per-layer histograms over one iteration)", async () => {
    const c = planCase({
      models: [{ ...dense, ffn: 64, moe: { experts: 4, topK: 2, capacityFactor: 1 } }],
      scenarios: ["decode"],
      workloads: [{ batch: 3, promptTokens: 8, routingSkew: 2 }],
    });
    const outcome = await torchRunner().runRepeat(c, {
      repeat: 1,
      signal: new AbortController().signal,
      timeoutMs: 60_000,
    });
    if (outcome.status !== "completed") throw new Error(outcome.reason);
    const routing = outcome.details!.routing as RoutingSummary;
    // A decode step routes batch tokens through each of the 2 MoE layers.
    expect(routing.tokens).toBe(3);
    expect(routing.layers.map((l) => l.tokensPerExpert.reduce((a, b) => a + b, 0))).toEqual([6, 6]);
    const metric = (name: string) => outcome.scalars.find((s) => s.metric === name)!.value;
    expect(metric("routing_max_mean_load")).toBeCloseTo(routing.maxMeanLoad, 12);
    expect(metric("routing_dropped_tokens")).toBe(routing.droppedAssignments);
    expect(metric("params_active")).toBe(routing.activeParamsPerToken);
    expect(outcome).not.toHaveProperty("routingIndices");
  });

  it("of a timed torch prefill carry the routing locality the ort runner computes (docs/moe.md); a decode has none", async () => {
    const model = { ...dense, ffn: 64, moe: { experts: 4, topK: 2 } };
    const run = async (scenario: "prefill" | "decode") => {
      const c = planCase({
        models: [model],
        scenarios: [scenario],
        workloads: [{ batch: 2, promptTokens: 12, routingSkew: 1, locality: { segmentLengths: [4], cacheSizes: [2] } }],
      });
      const outcome = await torchRunner().runRepeat(c, {
        repeat: 1,
        signal: new AbortController().signal,
        timeoutMs: 60_000,
      });
      if (outcome.status !== "completed") throw new Error(outcome.reason);
      return outcome;
    };
    const prefill = await run("prefill");
    const locality = (prefill.details!.routing as { locality: { sequences: number; tokensPerSequence: number } })
      .locality;
    expect(locality).toMatchObject({ sequences: 2, tokensPerSequence: 12 });
    for (const metric of ["routing_srp_m4", "routing_sch_m4_c2", "routing_lru_hit_c2"]) {
      const value = prefill.scalars.find((s) => s.metric === metric)?.value;
      expect(value, metric).toBeGreaterThan(0);
      expect(value, metric).toBeLessThanOrEqual(1);
    }
    const decode = await run("decode");
    const lru = decode.scalars.find((s) => s.metric === "routing_lru_hit_c2")!;
    expect(lru.value).toBeNull();
    expect(lru.reason).toMatch(/one token per sequence/);
  });

  it("of a timed torch DynMoLE case count the experts each token used, varying per token", async () => {
    const c = planCase({
      models: [dense],
      scenarios: ["prefill"],
      techniques: [DYNMOLE_LORAMOE],
      workloads: [{ batch: 1, promptTokens: 16, routingSkew: 1.5 }],
    });
    const outcome = await torchRunner().runRepeat(c, {
      repeat: 1,
      signal: new AbortController().signal,
      timeoutMs: 60_000,
    });
    if (outcome.status !== "completed") throw new Error(outcome.reason);
    const metric = (name: string) => outcome.scalars.find((s) => s.metric === name)?.value;
    expect(metric("routing_active_experts_min")).toBeGreaterThanOrEqual(1);
    expect(metric("routing_active_experts_max")).toBeGreaterThan(metric("routing_active_experts_min")!);
    expect(metric("adapter_flops_per_token_routed")).toBeGreaterThan(0);
  });

  it("of a generate case are the prompt's forward alone (capacity counts per forward), not the prompt and every step pooled", async () => {
    const c = planCase({
      models: [{ ...dense, ffn: 64, moe: { experts: 4, topK: 2, capacityFactor: 1 } }],
      scenarios: ["generate"],
      workloads: [{ batch: 2, promptTokens: 8, newTokens: 4, routingSkew: 2 }],
    });
    const outcome = await torchRunner().runRepeat(c, {
      repeat: 1,
      signal: new AbortController().signal,
      timeoutMs: 60_000,
    });
    if (outcome.status !== "completed") throw new Error(outcome.reason);
    const routing = outcome.details!.routing as RoutingSummary;
    expect(routing.tokens).toBe(2 * 8);
    expect(routing.layers.map((l) => l.tokensPerExpert.reduce((a, b) => a + b, 0))).toEqual([32, 32]);
    expect(outcome.scalars.find((s) => s.metric === "routing_max_mean_load")!.label).toMatch(
      /the prompt's forward of one generation/,
    );
  });
});
