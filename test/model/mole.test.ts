import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { modelSchema } from "../../src/suite/schema.js";
import { buildModelIr, type ModelIr } from "../../src/model/ir.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { emitOnnx, XLORA_BASE_CACHE_PREFIX } from "../../runners/ort/onnx/onnx.js";
import { referenceForwardIr } from "../support/reference.js";
import { relativeL2 } from "../../src/model/fidelity.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { summarizeMoleRouting } from "../../src/model/mole-routing.js";

const model = modelSchema.parse({
  name: "tiny-mole",
  layers: 4,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  ffn: 96,
  vocab: 97,
  maxPositions: 64,
});
const base = buildModelIr(model, synthesizeWeights(model));

const TOKENS = [
  [5, 17, 3, 88, 41, 9, 60, 2, 33, 71],
  [71, 14, 14, 30, 6, 95, 23, 50, 1, 44],
];

function mole(technique: Record<string, unknown>, routingSkew = 0): ModelIr {
  const t = getTechnique(technique.kind as string);
  return t.rewriteIr!(base, t.params.parse(technique), { routingSkew });
}

const ids = (rows: number[][]) =>
  new ort.Tensor(
    "int64",
    BigInt64Array.from(rows.flat(), (v) => BigInt(v)),
    [rows.length, rows[0]!.length],
  );

interface OrtRun {
  logits: Float32Array;
  /** Routing outputs by name, [batch·seq, k] token-major. */
  routing: Map<string, BigInt64Array>;
  optimized?: onnxProto.onnx.ModelProto;
}

async function prefill(ir: ModelIr, tokens: number[][], keepOptimized = false): Promise<OrtRun> {
  const { bytes, outputs } = emitOnnx(ir, { scenario: "prefill", allLogits: true, routingOutputs: true });
  const optimizedModelFilePath = join(mkdtempSync(join(tmpdir(), "effbench-mole-")), "optimized.onnx");
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: "all",
    intraOpNumThreads: 1,
    ...(keepOptimized ? { optimizedModelFilePath } : {}),
  });
  const out = await session.run({ input_ids: ids(tokens) });
  await session.release();
  const routing = new Map<string, BigInt64Array>();
  for (const name of outputs)
    if (name.startsWith("router_indices.")) routing.set(name, out[name]!.data as BigInt64Array);
  return {
    logits: out.logits!.data as Float32Array,
    routing,
    optimized: keepOptimized ? onnxProto.onnx.ModelProto.decode(readFileSync(optimizedModelFilePath)) : undefined,
  };
}

/** Decodes the tokens one at a time from empty caches (both passes' for X-LoRA), carrying the presents. */
async function decodeStepwise(
  ir: ModelIr,
  tokens: number[][],
): Promise<{ logitsPerPosition: Float32Array[]; routing: Map<string, BigInt64Array> }> {
  const { bytes, inputs, outputs } = emitOnnx(ir, { scenario: "decode", routingOutputs: true });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const batch = tokens.length;
  const seq = tokens[0]!.length;
  let cache: Record<string, ort.Tensor> = {};
  for (const input of inputs)
    if (input.name !== "input_ids")
      cache[input.name] = new ort.Tensor("float32", new Float32Array(0), [batch, ir.dims.kvHeads, 0, ir.dims.headDim]);
  const logitsPerPosition: Float32Array[] = [];
  const steps: Map<string, BigInt64Array>[] = [];
  for (let s = 0; s < seq; s++) {
    const out = await session.run({ input_ids: ids(tokens.map((row) => [row[s]!])), ...cache });
    logitsPerPosition.push(out.logits!.data as Float32Array);
    const step = new Map<string, BigInt64Array>();
    for (const name of outputs)
      if (name.startsWith("router_indices.")) step.set(name, out[name]!.data as BigInt64Array);
    steps.push(step);
    const next: Record<string, ort.Tensor> = {};
    for (const name of Object.keys(cache)) next[name] = out[name.replace("past_", "present_")]!;
    cache = next;
  }
  await session.release();
  // Reassemble [batch·seq, k] token-major from the per-step [batch, k].
  const routing = new Map<string, BigInt64Array>();
  for (const name of steps[0]!.keys()) {
    const k = steps[0]!.get(name)!.length / batch;
    const all = new BigInt64Array(batch * seq * k);
    for (let s = 0; s < seq; s++)
      for (let b = 0; b < batch; b++) all.set(steps[s]!.get(name)!.subarray(b * k, (b + 1) * k), (b * seq + s) * k);
    routing.set(name, all);
  }
  return { logitsPerPosition, routing };
}

function logitsAt(all: Float64Array, batch: number, seq: number, vocab: number, position: number): Float64Array {
  const out = new Float64Array(batch * vocab);
  for (let b = 0; b < batch; b++)
    out.set(all.subarray((b * seq + position) * vocab, (b * seq + position + 1) * vocab), b * vocab);
  return out;
}

/** ORT's routing equals the reference's own wherever the top-k margin exceeds 1e-3; returns how many tokens were compared. */
function expectRoutingAgrees(
  ortRouting: Map<string, BigInt64Array>,
  trace: Map<string, { k: number; indices: number[]; margins: number[] }>,
): number {
  let compared = 0;
  for (const [name, ortIndices] of ortRouting) {
    const own = trace.get(name)!;
    expect(own, name).toBeDefined();
    expect(own.margins.length * own.k).toBe(ortIndices.length);
    for (let t = 0; t < own.margins.length; t++) {
      if (own.margins[t]! <= 1e-3) continue;
      const ortSet = [...ortIndices.subarray(t * own.k, (t + 1) * own.k)].map(Number).sort();
      expect(ortSet, `${name} token ${t}`).toEqual(own.indices.slice(t * own.k, (t + 1) * own.k).sort());
      compared++;
    }
  }
  return compared;
}

const designs: [string, Record<string, unknown>, number, string[]][] = [
  // [name, technique, routing skew, routing outputs expected (a sample)]
  [
    "MixLoRA (4 experts, top-2, attention LoRA)",
    { kind: "mixlora", experts: 4, topK: 2, rank: 4, alpha: 8 },
    0,
    ["router_indices.0", "router_indices.3"],
  ],
  [
    "LLaVA-MoLE (top-1, MLP only) with Zipf skew",
    { kind: "mixlora", experts: 4, topK: 1, rank: 4, alpha: 8, attentionLora: false },
    1,
    ["router_indices.0"],
  ],
  [
    "MixLoRA with experts on down_proj only",
    { kind: "mixlora", experts: 3, topK: 2, rank: 2, alpha: 4, attentionLora: false, ffnTargets: ["down_proj"] },
    0,
    ["router_indices.1"],
  ],
  ["LoRAMoE (dense soft routing)", { kind: "loramoe", experts: 4, rank: 4, alpha: 8 }, 0, []],
  [
    "MoLA (2/4/6/8 experts per layer, top-2)",
    { kind: "mola", expertsPerLayerGroup: [2, 4, 6, 8], topK: 2, rank: 4, alpha: 8 },
    0,
    ["router_indices.1.q_proj", "router_indices.3.down_proj"],
  ],
  [
    "SMoRA (rank 16, 4 active ranks) with skew",
    { kind: "smora", rank: 16, topK: 4, alpha: 32 },
    0.5,
    ["router_indices.2.v_proj"],
  ],
  ["X-LoRA (dense scalings)", { kind: "xlora", experts: 4, rank: 4, alpha: 8 }, 0, []],
  [
    "X-LoRA (top-2 scalings)",
    { kind: "xlora", experts: 4, rank: 4, alpha: 8, topK: 2 },
    0,
    ["router_indices.0", "router_indices.3"],
  ],
];

describe.each(designs)("%s in ONNX", (_, technique, skew, sampleOutputs) => {
  const ir = mole(technique, skew);

  it("prefill equals the float64 reference (every expert computed, masked as ORT routed) within 1e-5, and routing agrees", async () => {
    const run = await prefill(ir, TOKENS);
    for (const name of sampleOutputs) expect([...run.routing.keys()]).toContain(name);
    // A router that takes all its experts (MoLA's bottom layers: 2 experts, top-2) chooses nothing: no routing output.
    if (technique.kind === "mola")
      expect([...run.routing.keys()].some((name) => name.startsWith("router_indices.0."))).toBe(false);
    const trace = new Map<string, { k: number; indices: number[]; margins: number[] }>();
    const reference = referenceForwardIr(ir, TOKENS, {}, { forcedRouting: run.routing, trace });
    expect(relativeL2(run.logits, reference)).toBeLessThan(1e-5);
    if (sampleOutputs.length > 0)
      expect(expectRoutingAgrees(run.routing, trace)).toBeGreaterThan(TOKENS.flat().length / 2);
    // The adapters really change the model.
    const plain = referenceForwardIr(base, TOKENS);
    expect(relativeL2(reference, plain)).toBeGreaterThan(1e-3);
  });

  it("decode from KV caches equals the reference at every position", async () => {
    const decoded = await decodeStepwise(ir, TOKENS);
    const reference = referenceForwardIr(ir, TOKENS, {}, { forcedRouting: decoded.routing });
    decoded.logitsPerPosition.forEach((logits, position) => {
      expect(
        relativeL2(logits, logitsAt(reference, 2, TOKENS[0]!.length, model.vocab, position)),
        `position ${position}`,
      ).toBeLessThan(1e-5);
    });
  });
});

describe("MoLE graphs", () => {
  it("MoLA gives each layer group its own expert count (2/4/6/8 bottom to top)", () => {
    const ir = mole({ kind: "mola", expertsPerLayerGroup: [2, 4, 6, 8], topK: 2, rank: 4, alpha: 8 });
    expect(ir.layers.map((l) => (l.attention.q.kind === "mole" ? l.attention.q.experts : 0))).toEqual([2, 4, 6, 8]);
    expect(ir.tensors.get("model.layers.3.mlp.down_proj.mole_experts.lora_A")!.shape).toEqual([8, 4, 96]);
    expect(ir.tensors.get("model.layers.3.mlp.down_proj.mole_experts.lora_B")!.shape).toEqual([8, 64, 4]);
    expect(ir.tensors.get("model.layers.0.self_attn.q_proj.mole_router.weight")!.shape).toEqual([2, 64]);
  });

  it("X-LoRA's decode graph keeps a separate KV cache for its base pass", () => {
    const ir = mole({ kind: "xlora", experts: 4, rank: 4, alpha: 8 });
    const { inputs, outputs } = emitOnnx(ir, { scenario: "decode" });
    expect(inputs.map((i) => i.name)).toContain(`${XLORA_BASE_CACHE_PREFIX}past_key.3`);
    expect(outputs).toContain(`${XLORA_BASE_CACHE_PREFIX}present_value.0`);
    expect(inputs.filter((i) => i.name.includes("past_")).length).toBe(4 * 2 * 2);
    expect(ir.tensors.get("xlora_classifier.weight")!.shape).toEqual([16, 64]);
  });

  it("MixLoRA decode runs the base gate/up once and the base down once per chosen expert (ORT's profile)", async () => {
    const ir = mole({ kind: "mixlora", experts: 4, topK: 2, rank: 4, alpha: 8 });
    const { bytes, inputs } = emitOnnx(ir, { scenario: "decode", presentOutputs: false });
    const readers = (weight: string) =>
      (onnxProto.onnx.ModelProto.decode(bytes).graph!.node ?? [])
        .filter((n) => n.opType === "MatMul" && (n.input ?? []).includes(`${weight}.T`))
        .map((n) => n.name!);
    const dir = mkdtempSync(join(tmpdir(), "effbench-mole-profile-"));
    const session = await ort.InferenceSession.create(bytes, {
      enableProfiling: true,
      profileFilePrefix: join(dir, "profile"),
      intraOpNumThreads: 1,
    });
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor("int64", BigInt64Array.of(5n), [1, 1]) };
    for (const input of inputs)
      if (input.name !== "input_ids")
        feeds[input.name] = new ort.Tensor("float32", new Float32Array(3 * ir.dims.kvHeads * ir.dims.headDim), [
          1,
          ir.dims.kvHeads,
          3,
          ir.dims.headDim,
        ]);
    await session.run(feeds);
    session.endProfiling();
    await session.release();
    const events = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!), "utf8")) as {
      cat: string;
      name: string;
      args?: { input_type_shape?: { float?: number[] }[] };
    }[];
    rmSync(dir, { recursive: true, force: true });
    const inputShape = (node: string) =>
      events.find((e) => e.cat === "Node" && e.name === `${node}_kernel_time`)?.args?.input_type_shape?.[0]?.float;
    for (let layer = 0; layer < model.layers; layer++) {
      const [down] = readers(`model.layers.${layer}.mlp.down_proj.weight`);
      const [gate] = readers(`model.layers.${layer}.mlp.gate_proj.weight`);
      expect(inputShape(down!), `layer ${layer} down`).toEqual([2, 1, 96]); // [k, tokens, I]: k base down products
      expect(inputShape(gate!), `layer ${layer} gate`).toEqual([1, 64]); // one shared base gate product
    }
  });

  it("routing skew (a Zipf bias on every router) concentrates the load as s rises; histograms sum to tokens × k", async () => {
    const ids = [Array.from({ length: 48 }, (_, i) => (i * 37 + 11) % 97)];
    const load = async (skew: number) => {
      const { routing } = await prefill(
        mole({ kind: "mixlora", experts: 8, topK: 2, rank: 2, alpha: 4, attentionLora: false }, skew),
        ids,
      );
      const summary = summarizeMoleRouting(
        routing,
        () => 2,
        () => 8,
      );
      for (const router of summary.routers) expect(router.tokensPerExpert.reduce((a, b) => a + b, 0)).toBe(48 * 2);
      return summary.maxMeanLoad;
    };
    const loads = [await load(0), await load(1), await load(2)];
    expect(loads[1]).toBeGreaterThan(loads[0]!);
    expect(loads[2]).toBeGreaterThan(loads[1]!);
  });

  it("keeps every expert MatMul on activations in ORT's optimised model (no B·A folded into the weights)", async () => {
    const cases: [Record<string, unknown>, string[]][] = [
      [
        { kind: "mixlora", experts: 4, topK: 2, rank: 4, alpha: 8 },
        ["mlp.gate_proj.mole_experts.lora_A", "mlp.down_proj.mole_experts.lora_B", "self_attn.q_proj.lora_A.weight"],
      ],
      [
        { kind: "loramoe", experts: 4, rank: 4, alpha: 8 },
        ["mlp.up_proj.mole_experts.lora_A", "mlp.up_proj.mole_experts.lora_B"],
      ],
      [
        { kind: "smora", rank: 16, topK: 4, alpha: 32 },
        ["self_attn.o_proj.mole_experts.lora_A", "self_attn.o_proj.mole_experts.lora_B"],
      ],
      [
        { kind: "xlora", experts: 4, rank: 4, alpha: 8 },
        ["self_attn.k_proj.mole_experts.lora_B", "xlora_classifier.weight"],
      ],
    ];
    for (const [technique, parts] of cases) {
      const { optimized } = await prefill(mole(technique), TOKENS, true);
      const initializers = new Set((optimized!.graph!.initializer ?? []).map((t) => t.name!));
      for (const part of parts) {
        const readers = (optimized!.graph!.node ?? []).filter((n) => (n.input ?? []).some((i) => i.includes(part)));
        expect(readers.length, `${technique.kind}: ${part}`).toBeGreaterThan(0);
        // Every reader multiplies the stacked adapter with an activation (never weight × weight).
        for (const n of readers)
          expect(["MatMul", "FusedMatMul", "Gemm"], `${technique.kind}: ${part} read by ${n.opType}`).toContain(
            n.opType,
          );
        for (const n of readers)
          expect(
            (n.input ?? []).some((i) => i !== "" && !initializers.has(i)),
            `${technique.kind}: ${part} on an activation`,
          ).toBe(true);
      }
    }
  });
});
