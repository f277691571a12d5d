// Real Hugging Face checkpoints: transformers writes small llama / qwen2 / mistral models (sharded, fp32, bf16 and
// fp16, tied and untied); the harness reads their config.json into ModelConfig, loads the safetensors, and its ORT
// graph gives transformers' own logits; the parameter counts are transformers'.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import type { Case } from "../../src/suite/case.js";
import { caseIr } from "../../src/model/case-model.js";
import { buildCaseOnnx } from "../../runners/ort/onnx/case-onnx.js";
import { buildOnnxModel } from "../../runners/ort/onnx/onnx.js";
import { relativeL2 } from "../../src/model/fidelity.js";
import { accountModel } from "../../src/model/accounting.js";
import { inspectCase } from "../../src/inspect.js";
import { scaledInvFreq } from "../../src/model/architecture.js";
import { loadCheckpointWeights, modelFieldsFromHfConfig, CheckpointError } from "../../src/model/checkpoint.js";
import { weightsIr } from "../../runners/torch/weights-file.js";
import { irFloatTensor, irTensorNames } from "../../src/model/ir.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { UsageError } from "../../src/messages.js";
import { writeCheckpoints, type CheckpointFixture } from "./checkpoint-fixtures.js";

let root: string;
let fixtures: CheckpointFixture[];
const fixture = (name: string) => fixtures.find((f) => f.spec.name === name)!;

beforeAll(() => {
  ({ root, fixtures } = writeCheckpoints([
    {
      name: "llama-fp32-sharded",
      arch: "llama",
      dtype: "float32",
      tie: false,
      maxShardBytes: 150_000,
      tokenizer: false,
    },
    {
      name: "llama-bf16-sharded",
      arch: "llama",
      dtype: "bfloat16",
      tie: false,
      maxShardBytes: 100_000,
      tokenizer: false,
    },
    { name: "qwen2-bf16-tied", arch: "qwen2", dtype: "bfloat16", tie: true, maxShardBytes: 100_000, tokenizer: false },
    {
      name: "llama3-rope-fp32",
      arch: "llama3",
      dtype: "float32",
      tie: false,
      maxShardBytes: 10_000_000,
      tokenizer: false,
    },
    { name: "qwen3-fp32", arch: "qwen3", dtype: "float32", tie: true, maxShardBytes: 10_000_000, tokenizer: false },
    {
      name: "mistral-fp16-single",
      arch: "mistral",
      dtype: "float16",
      tie: false,
      maxShardBytes: 100_000_000,
      tokenizer: false,
    },
    {
      name: "mixtral-fp32-sharded",
      arch: "mixtral",
      dtype: "float32",
      tie: false,
      maxShardBytes: 150_000,
      tokenizer: false,
    },
  ]));
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

function planCheckpoint(model: object, techniques: object[] = [{ kind: "base" }], baseDir?: string): Case[] {
  const { suite } = validateSuite(
    { name: "ckpt", models: [model], techniques, scenarios: ["prefill"], workloads: [{ promptTokens: 8 }] },
    "ckpt.ts",
    baseDir,
  );
  return planSuite(suite, { codeVersion: "test" });
}

async function ortLogits(c: Case, ids: number[][]): Promise<Float32Array> {
  const built = buildOnnxModel(c.model, {
    scenario: "prefill",
    ir: caseIr(c),
    batch: ids.length,
    promptTokens: ids[0]!.length,
    allLogits: true,
  });
  const session = await ort.InferenceSession.create(built.bytes, {
    intraOpNumThreads: 1,
    graphOptimizationLevel: "all",
  });
  try {
    const out = await session.run({
      input_ids: new ort.Tensor("int64", BigInt64Array.from(ids.flat(), BigInt), [ids.length, ids[0]!.length]),
    });
    return out.logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function invalidSuiteMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error("expected the suite to be refused");
}

describe("a checkpoint model", () => {
  it("takes its architecture from config.json alone, relative to the suite's folder", () => {
    const [c] = planCheckpoint({ checkpoint: "llama-fp32-sharded" }, undefined, root);
    expect(c!.model).toMatchObject({
      name: "llama-fp32-sharded",
      checkpoint: join(root, "llama-fp32-sharded"),
      family: "llama",
      layers: 2,
      hidden: 64,
      heads: 4,
      kvHeads: 2,
      headDim: 16,
      ffn: 96,
      vocab: 320,
      maxPositions: 48,
      ropeTheta: 500000,
      rmsNormEps: 1e-6,
      tieEmbeddings: false,
      attentionBias: false,
    });
    const [q] = planCheckpoint({ checkpoint: join(root, "qwen2-bf16-tied") });
    expect(q!.model).toMatchObject({ family: "qwen2", attentionBias: true, tieEmbeddings: true, ropeTheta: 1000000 });
  });

  it("reads a Mixtral's MoE block from config.json and stacks its per-expert tensors into the fused layout", () => {
    const [c] = planCheckpoint({ checkpoint: fixture("mixtral-fp32-sharded").dir });
    expect(c!.model).toMatchObject({
      family: "mistral",
      ffn: 96,
      moe: { experts: 4, topK: 2, expertFfn: 96, sharedExperts: 0, firstDenseLayers: 0, normTopK: true },
    });
    const weights = loadCheckpointWeights(c!.model);
    expect(weights.get("model.layers.1.mlp.experts.gate_up_proj")!.shape).toEqual([4, 192, 64]);
    expect(weights.get("model.layers.1.mlp.experts.down_proj")!.shape).toEqual([4, 64, 96]);
    expect(weights.get("model.layers.1.mlp.gate.weight")!.shape).toEqual([4, 64]);
    expect(() => modelFieldsFromHfConfig({ model_type: "qwen2_moe" })).toThrow(/shared_expert_gate/);
  });

  it("is sharded where save_pretrained was given a small max_shard_size", () => {
    expect(fixture("llama-fp32-sharded").files.length).toBeGreaterThan(1);
    expect(fixture("qwen2-bf16-tied").files.length).toBeGreaterThan(1);
    expect(fixture("mistral-fp16-single").files).toEqual(["model.safetensors"]);
  });

  for (const name of [
    "llama-fp32-sharded",
    "llama-bf16-sharded",
    "qwen2-bf16-tied",
    "mistral-fp16-single",
    "mixtral-fp32-sharded",
    "llama3-rope-fp32",
    "qwen3-fp32",
  ]) {
    it(`${name}: ORT logits equal transformers' within 1e-4 and the parameter counts are transformers'`, async () => {
      const f = fixture(name);
      const [c] = planCheckpoint({ checkpoint: f.dir });
      const logits = await ortLogits(c!, f.ids);
      const error = relativeL2(logits, f.logits);
      console.log(`${name}: ORT vs transformers logits, relative L2 ${error.toExponential(2)}`);
      expect(error).toBeLessThan(1e-4);
      expect(accountModel(c!.model).totalParams).toBe(f.params);
      expect(inspectCase(c!).totalParams).toBe(f.params);
      let loaded = 0;
      for (const tensor of loadCheckpointWeights(c!.model).values()) loaded += tensor.data.length;
      expect(loaded).toBe(f.params);
    });
  }

  it("runs techniques over the checkpoint's weights (int4 and a LoRA differ from the base, merged equals unmerged)", async () => {
    const f = fixture("llama-fp32-sharded");
    const [base, int4, lora, loraMerged] = planCheckpoint({ checkpoint: f.dir }, [
      { kind: "base" },
      { kind: "int4" },
      { kind: "lora", rank: 4, alpha: 8, targets: "all-linear" },
      { kind: "lora", rank: 4, alpha: 8, targets: "all-linear", merged: true },
    ]);
    const baseLogits = await ortLogits(base!, f.ids);
    expect(relativeL2(baseLogits, f.logits)).toBeLessThan(1e-4);
    const int4Error = relativeL2(await ortLogits(int4!, f.ids), baseLogits);
    expect(int4Error).toBeGreaterThan(1e-3);
    expect(int4Error).toBeLessThan(1);
    const unmerged = await ortLogits(lora!, f.ids);
    expect(relativeL2(unmerged, baseLogits)).toBeGreaterThan(1e-3);
    expect(relativeL2(unmerged, await ortLogits(loraMerged!, f.ids))).toBeLessThan(1e-5);
  });

  it("records where its weights came from, and the torch weights file holds the checkpoint's tensors", () => {
    const f = fixture("qwen2-bf16-tied");
    const [c] = planCheckpoint({ checkpoint: f.dir }, [{ kind: "lora", rank: 2, alpha: 4 }]);
    const built = buildCaseOnnx(c!);
    expect(built.settings.weightsSource).toMatchObject({
      checkpoint: { path: f.dir, files: f.files.length, dtypes: ["BF16"] },
      convertedTo: "float32",
    });
    const ir = weightsIr(c!);
    const loaded = loadCheckpointWeights(c!.model);
    expect(irFloatTensor(ir, "model.layers.1.mlp.down_proj.weight").data).toEqual(
      loaded.get("model.layers.1.mlp.down_proj.weight")!.data,
    );
    expect(irTensorNames(ir)).toContain("model.layers.0.self_attn.q_proj.lora_A.weight");
    expect(() => synthesizeWeights(c!.model)).toThrow(/comes from the checkpoint/);
  });
});

describe("a checkpoint case's identity", () => {
  it("is the same wherever the checkpoint sits (case id by content, not path); new weights change the config hash", () => {
    const source = fixture("llama-bf16-sharded");
    const copy = join(root, "elsewhere", "nested", "llama-bf16-sharded"); // same folder name: the model is named after it
    mkdirSync(join(copy, ".."), { recursive: true });
    cpSync(source.dir, copy, { recursive: true });
    const [a] = planCheckpoint({ checkpoint: source.dir });
    const [b] = planCheckpoint({ checkpoint: copy });
    expect(b!.id).toBe(a!.id);
    expect(b!.caseKey).not.toContain(copy);
    const shard = source.files.find((f) => f.endsWith(".safetensors"))!;
    const touched = join(copy, shard.replace(/^.*\//, ""));
    utimesSync(touched, new Date(), new Date(Date.now() + 60_000));
    const [c] = planCheckpoint({ checkpoint: copy });
    expect(c!.id).toBe(a!.id);
    expect(c!.configHash).not.toBe(b!.configHash);
  });
});

describe("a full-size checkpoint is planned and inspected from its config.json alone", () => {
  // The published config.json fields of two real models; no weights on disk (inspect must not need them).
  const configs: [string, Record<string, unknown>, number][] = [
    [
      "Llama-2-7b-hf",
      {
        model_type: "llama",
        hidden_size: 4096,
        intermediate_size: 11008,
        num_hidden_layers: 32,
        num_attention_heads: 32,
        num_key_value_heads: 32,
        vocab_size: 32000,
        max_position_embeddings: 4096,
        rms_norm_eps: 1e-5,
        rope_theta: 10000,
        rope_scaling: null,
        tie_word_embeddings: false,
        hidden_act: "silu",
        attention_bias: false,
      },
      6_738_415_616,
    ],
    [
      "Qwen2-0.5B",
      {
        model_type: "qwen2",
        hidden_size: 896,
        intermediate_size: 4864,
        num_hidden_layers: 24,
        num_attention_heads: 14,
        num_key_value_heads: 2,
        vocab_size: 151936,
        max_position_embeddings: 131072,
        max_window_layers: 24,
        sliding_window: 131072,
        use_sliding_window: false,
        rms_norm_eps: 1e-6,
        rope_theta: 1000000,
        tie_word_embeddings: true,
        hidden_act: "silu",
      },
      494_032_768,
    ],
  ];
  for (const [name, config, params] of configs)
    it(`${name}: ${params.toLocaleString("en")} parameters, as transformers counts them`, () => {
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "config.json"), JSON.stringify(config));
      const [c] = planCheckpoint({ checkpoint: dir });
      expect(inspectCase(c!).totalParams).toBe(params);
    });
});

describe("a checkpoint the IR cannot represent is refused with the reason", () => {
  const variant = (name: string, edit: (config: Record<string, unknown>) => void, dropFile?: string): string => {
    const source = fixture("mistral-fp16-single").dir;
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(source, "config.json"), "utf8")) as Record<string, unknown>;
    edit(config);
    writeFileSync(join(dir, "config.json"), JSON.stringify(config));
    if (dropFile !== "model.safetensors")
      copyFileSync(join(source, "model.safetensors"), join(dir, "model.safetensors"));
    return dir;
  };

  it("rope types it does not implement (yarn…) are refused with the reason", () => {
    const dir = variant(
      "yarn-rope",
      (c) =>
        (c.rope_parameters = {
          rope_type: "yarn",
          rope_theta: 500000,
          factor: 4,
          original_max_position_embeddings: 32,
        }),
    );
    expect(invalidSuiteMessage(() => planCheckpoint({ checkpoint: dir }))).toMatch(
      /ckpt\.ts › models\[0\]\.checkpoint: .*config\.json: rope type "yarn" is not implemented/,
    );
    const small = {
      model_type: "llama",
      hidden_size: 64,
      num_attention_heads: 4,
      num_hidden_layers: 2,
      intermediate_size: 96,
      vocab_size: 10,
      max_position_embeddings: 32,
    };
    expect(
      modelFieldsFromHfConfig({ ...small, rope_scaling: { type: "linear", factor: 2 } }).fields.ropeScaling,
    ).toMatchObject({ type: "linear", factor: 2 });
    expect(() =>
      modelFieldsFromHfConfig({
        model_type: "llama",
        rope_parameters: { rope_type: "llama3", rope_theta: 500000, factor: 8 },
      }),
    ).toThrow(/rope llama3: "low_freq_factor" should be a positive number/);
  });

  it("the llama3 fixture has a frequency in each band: kept, interpolated, divided by the factor", () => {
    const [c] = planCheckpoint({ checkpoint: fixture("llama3-rope-fp32").dir });
    const model = c!.model;
    expect(model.ropeScaling).toMatchObject({ type: "llama3", factor: 8, originalMaxPositions: 64 });
    const half = 8; // head dim 16
    const bands = { kept: 0, interpolated: 0, divided: 0 };
    for (let i = 0; i < half; i++) {
      const inv = Math.fround(1 / Math.fround(Math.pow(500000, Math.fround((2 * i) / 16))));
      const scaled = scaledInvFreq(model, inv);
      if (scaled === inv) bands.kept++;
      else if (Math.abs(scaled - Math.fround(inv / 8)) <= 1e-7 * inv) bands.divided++;
      else bands.interpolated++;
    }
    expect(bands).toEqual({ kept: 1, interpolated: 1, divided: 6 });
  });

  it("architectures, biases and quantised checkpoints it does not model", () => {
    expect(() => modelFieldsFromHfConfig({ model_type: "gemma2" })).toThrow(CheckpointError);
    expect(() => modelFieldsFromHfConfig({ model_type: "gemma2" })).toThrow(
      /model_type "gemma2" is not supported: checkpoints of llama, mistral, qwen2/,
    );
    expect(() => modelFieldsFromHfConfig({ model_type: "llama", attention_bias: true })).toThrow(/o_proj bias/);
    expect(() => modelFieldsFromHfConfig({ model_type: "llama", mlp_bias: true })).toThrow(/mlp_bias/);
    expect(() =>
      modelFieldsFromHfConfig({ model_type: "llama", quantization_config: { quant_method: "gptq" } }),
    ).toThrow(/quantised/);
    expect(() => modelFieldsFromHfConfig({ model_type: "llama", hidden_act: "gelu" })).toThrow(/SwiGLU/);
  });

  it("a mistral sliding window caps the context (exact within it)", () => {
    const dir = variant("mistral-window", (c) => (c.sliding_window = 16));
    const [c] = planCheckpoint({ checkpoint: dir });
    expect(c!.model.maxPositions).toBe(16);
    expect(inspectCase(c!).notes.join("; ")).toMatch(/sliding window 16: maxPositions capped at 16/);
  });

  it("a field the suite gives must agree with config.json; maxPositions may only be lowered", () => {
    const dir = fixture("llama-fp32-sharded").dir;
    expect(invalidSuiteMessage(() => planCheckpoint({ checkpoint: dir, layers: 4 }))).toMatch(
      /models\[0\]\.layers: the checkpoint's config\.json says 2, the suite says 4 — remove the field/,
    );
    expect(planCheckpoint({ checkpoint: dir, name: "mine", maxPositions: 32, layers: 2 })[0]!.model).toMatchObject({
      name: "mine",
      maxPositions: 32,
    });
    expect(invalidSuiteMessage(() => planCheckpoint({ checkpoint: dir, maxPositions: 4096 }))).toMatch(/maxPositions/);
  });

  it("a missing directory, config or weights", () => {
    expect(invalidSuiteMessage(() => planCheckpoint({ checkpoint: join(root, "nowhere") }))).toMatch(
      /models\[0\]\.checkpoint: .*nowhere does not exist/,
    );
    const noWeights = variant("no-weights", () => {}, "model.safetensors");
    const [c] = planCheckpoint({ checkpoint: noWeights }); // config.json alone is enough to plan and inspect
    expect(inspectCase(c!).totalParams).toBe(fixture("mistral-fp16-single").params);
    expect(() => caseIr(c!)).toThrow(/has neither model\.safetensors nor model\.safetensors\.index\.json/);
  });

  it("a config that does not match the weights names the tensor", () => {
    const dir = variant("wrong-ffn", (c) => (c.intermediate_size = 128));
    const [c] = planCheckpoint({ checkpoint: dir });
    expect(() => caseIr(c!)).toThrow(
      /model\.layers\.0\.mlp\.\w+_proj\.weight has shape \[\d+, \d+\], model wrong-ffn expects \[\d+, \d+\]/,
    );
  });
});

describe("a checkpoint model under --scale", () => {
  it("keeps the config's shape, scaled, and runs seeded weights (its own do not fit): no checkpoint, no perplexity text", () => {
    const { suite } = validateSuite(
      {
        name: "ckpt",
        models: [{ checkpoint: fixture("llama-fp32-sharded").dir }],
        scenarios: ["prefill"],
        workloads: [{ promptTokens: 8 }],
      },
      "ckpt.ts",
    );
    const [c] = planSuite(suite, { codeVersion: "test", scale: "tiny" });
    expect(c!.model.checkpoint).toBeUndefined();
    expect(c!.model.name).toMatch(/@tiny$/);
    expect(caseIr(c!).tensors.size).toBeGreaterThan(0);
  });
});

describe("config.json keys left out", () => {
  it("take transformers' default of that model type (Mixtral: rope θ 1e6, rms eps 1e-5; llama: 1e4, 1e-6)", () => {
    const common = {
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 97,
      max_position_embeddings: 64,
      hidden_act: "silu",
    };
    const mixtral = modelFieldsFromHfConfig({
      model_type: "mixtral",
      ...common,
      num_local_experts: 4,
      num_experts_per_tok: 2,
    }).fields;
    expect(mixtral).toMatchObject({ ropeTheta: 1e6, rmsNormEps: 1e-5 });
    const llama = modelFieldsFromHfConfig({ model_type: "llama", ...common }).fields;
    expect(llama).toMatchObject({ ropeTheta: 10000, rmsNormEps: 1e-6 });
  });
});
