import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { modelSchema, type ModelConfig } from "../../src/suite/schema.js";
import { buildModelIr, type ModelIr } from "../../src/model/ir.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { emitOnnx } from "../../runners/ort/onnx/onnx.js";
import { referenceForwardIr } from "../support/reference.js";
import { relativeL2 } from "../../src/model/fidelity.js";
import { routerIndicesOutput, type MoeCompute } from "../../runners/ort/onnx/moe-onnx.js";
import { withRoutingSkew } from "../../src/model/moe.js";

function tinyMoe(moe: object, extra: object = {}): ModelConfig {
  return modelSchema.parse({
    name: "tiny-moe",
    layers: 3,
    hidden: 64,
    heads: 4,
    kvHeads: 2,
    ffn: 96,
    vocab: 97,
    maxPositions: 64,
    moe,
    ...extra,
  });
}

const TOKENS = [
  [5, 17, 3, 88, 41, 9, 60, 2, 33, 71],
  [71, 14, 14, 30, 6, 95, 23, 50, 1, 44],
];

interface OrtRun {
  logits: Float32Array;
  routing: Map<number, BigInt64Array>;
  optimized: onnxProto.onnx.ModelProto;
}

async function runOrt(
  ir: ModelIr,
  scenario: "prefill" | "decode",
  compute: MoeCompute | undefined,
  ids: number[][],
): Promise<OrtRun> {
  const { bytes, outputs } = emitOnnx(ir, {
    scenario,
    allLogits: scenario === "prefill",
    presentOutputs: false,
    routingOutputs: true,
    moeCompute: compute,
  });
  const optimizedModelFilePath = join(mkdtempSync(join(tmpdir(), "effbench-moe-")), "optimized.onnx");
  const session = await ort.InferenceSession.create(bytes, {
    optimizedModelFilePath,
    graphOptimizationLevel: "all",
    intraOpNumThreads: 1,
  });
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor(
      "int64",
      BigInt64Array.from(ids.flat(), (v) => BigInt(v)),
      [ids.length, ids[0]!.length],
    ),
  };
  if (scenario === "decode")
    for (let layer = 0; layer < ir.dims.layers; layer++)
      for (const kind of ["key", "value"])
        feeds[`past_${kind}.${layer}`] = new ort.Tensor("float32", new Float32Array(0), [
          ids.length,
          ir.dims.kvHeads,
          0,
          ir.dims.headDim,
        ]);
  const out = await session.run(feeds);
  await session.release();
  const routing = new Map<number, BigInt64Array>();
  for (const name of outputs)
    if (name.startsWith("router_indices.")) routing.set(Number(name.split(".")[1]), out[name]!.data as BigInt64Array);
  return {
    logits: out.logits!.data as Float32Array,
    routing,
    optimized: onnxProto.onnx.ModelProto.decode(readFileSync(optimizedModelFilePath)),
  };
}

/** Checks ORT against the float64 reference routed as ORT routed, and ORT's routing against the reference's own. */
async function expectMatchesReference(
  ir: ModelIr,
  scenario: "prefill" | "decode",
  compute: MoeCompute | undefined,
  ids: number[][],
) {
  const run = await runOrt(ir, scenario, compute, ids);
  const trace = new Map<number, { indices: number[]; margins: number[] }>();
  const reference = referenceForwardIr(ir, ids, { forcedRouting: run.routing, trace });
  expect(relativeL2(run.logits, reference)).toBeLessThan(1e-5);
  const k =
    ir.layers.find((l) => l.ffn.kind === "moe")!.ffn.kind === "moe"
      ? (ir.layers.find((l) => l.ffn.kind === "moe")!.ffn as { topK: number }).topK
      : 0;
  let compared = 0;
  for (const [layer, ortIndices] of run.routing) {
    const own = trace.get(layer)!;
    for (let t = 0; t < own.margins.length; t++) {
      if (own.margins[t]! <= 1e-3) continue;
      const ortSet = [...ortIndices.subarray(t * k, (t + 1) * k)].map(Number).sort();
      expect(ortSet).toEqual(own.indices.slice(t * k, (t + 1) * k).sort());
      compared++;
    }
  }
  expect(compared).toBeGreaterThan(0);
  return run;
}

describe("MoE FFN in ONNX", () => {
  const model = tinyMoe({ experts: 6, topK: 2, expertFfn: 40, sharedExperts: 2, sharedFfn: 16, firstDenseLayers: 1 });
  const ir = buildModelIr(model, synthesizeWeights(model));

  it("keeps the first layers dense and gives the others a router, stacked experts and shared experts", () => {
    expect(ir.layers.map((l) => l.ffn.kind)).toEqual(["swiglu", "moe", "moe"]);
    expect(ir.tensors.get("model.layers.1.mlp.experts.gate_up_proj")!.shape).toEqual([6, 80, 64]);
    expect(ir.tensors.get("model.layers.1.mlp.experts.down_proj")!.shape).toEqual([6, 64, 40]);
    expect(ir.tensors.get("model.layers.2.mlp.shared_experts.up_proj.weight")!.shape).toEqual([32, 64]);
    expect(ir.tensors.has("model.layers.1.mlp.up_proj.weight")).toBe(false);
    expect(ir.tensors.has("model.layers.0.mlp.up_proj.weight")).toBe(true);
  });

  it("prefill (dense-masked) equals the float64 reference routed as ORT routed, within 1e-5", async () => {
    await expectMatchesReference(ir, "prefill", "dense-masked", TOKENS);
  });

  it("prefill with sparse (per-expert) experts equals the reference too", async () => {
    await expectMatchesReference(ir, "prefill", "sparse", TOKENS);
  });

  it("prefill with the older gathered experts, and decode by default, equal the reference too", async () => {
    await expectMatchesReference(ir, "prefill", "gathered", TOKENS);
    await expectMatchesReference(ir, "decode", undefined, [[5], [71]]);
  });

  it("decode runs only the k chosen experts: 2 expert MatMuls per chosen expert per MoE layer execute (ORT's profile)", async () => {
    const wide = tinyMoe({ experts: 20, topK: 2, expertFfn: 24 }); // ≥ 16 experts: the grouped two-level If
    const wideIr = buildModelIr(wide, synthesizeWeights(wide));
    await expectMatchesReference(wideIr, "decode", undefined, [[5]]);
    const { bytes } = emitOnnx(wideIr, { scenario: "decode", presentOutputs: false });
    // Names of the MatMuls that read an expert's own initialiser, in every (nested) subgraph.
    const expertMatMuls = new Set<string>();
    const visit = (graph: onnxProto.onnx.IGraphProto) => {
      for (const node of graph.node ?? []) {
        if (node.opType === "MatMul" && (node.input ?? []).some((i) => /experts\.(gate_up|down)_proj\.T\.\d+$/.test(i)))
          expertMatMuls.add(node.name!);
        for (const attribute of node.attribute ?? []) if (attribute.g) visit(attribute.g);
      }
    };
    visit(onnxProto.onnx.ModelProto.decode(bytes).graph!);
    expect(expertMatMuls.size).toBe(3 * 20 * 2); // every expert exists in the graph…
    const dir = mkdtempSync(join(tmpdir(), "effbench-moe-profile-"));
    const session = await ort.InferenceSession.create(bytes, {
      enableProfiling: true,
      profileFilePrefix: join(dir, "profile"),
      intraOpNumThreads: 1,
    });
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor("int64", BigInt64Array.of(5n), [1, 1]) };
    for (let layer = 0; layer < wideIr.dims.layers; layer++)
      for (const kind of ["key", "value"])
        feeds[`past_${kind}.${layer}`] = new ort.Tensor("float32", new Float32Array(0), [
          1,
          wideIr.dims.kvHeads,
          0,
          wideIr.dims.headDim,
        ]);
    await session.run(feeds);
    session.endProfiling();
    await session.release();
    const events = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!), "utf8")) as { cat: string; name: string }[];
    const ran = events.filter(
      (e) =>
        e.cat === "Node" && e.name.endsWith("_kernel_time") && expertMatMuls.has(e.name.replace(/_kernel_time$/, "")),
    );
    expect(ran.length).toBe(3 * 2 * 2); // …but only the 2 chosen ones run, per layer
    rmSync(dir, { recursive: true, force: true });
  });

  it("renormalised or not, with a capacity factor that drops tokens, still equals the reference", async () => {
    const dropping = tinyMoe({ experts: 4, topK: 2, expertFfn: 32, normTopK: false, capacityFactor: 0.5 });
    const dropIr = buildModelIr(dropping, synthesizeWeights(dropping));
    const run = await expectMatchesReference(dropIr, "prefill", "dense-masked", TOKENS);
    // Capacity ceil(0.5·20·2/4) = 5 of 20·2/4 = 10 assignments per expert on average: some must be dropped, which
    // changes the output against the same model without a capacity factor.
    const free = buildModelIr(
      { ...dropping, moe: { ...dropping.moe!, capacityFactor: undefined } },
      synthesizeWeights(dropping),
    );
    const freeRun = await runOrt(free, "prefill", "dense-masked", TOKENS);
    expect(relativeL2(run.logits, freeRun.logits)).toBeGreaterThan(1e-3);
    // The default (sparse) path drops the same assignments: a dropped one runs with weight 0.
    const sparse = await expectMatchesReference(dropIr, "prefill", undefined, TOKENS);
    expect(relativeL2(sparse.logits, run.logits)).toBeLessThan(1e-5);
  });

  it("routing skew in the router weights concentrates the load as s rises", async () => {
    const wide = tinyMoe({ experts: 8, topK: 2, expertFfn: 16 }, { layers: 2 });
    const weights = synthesizeWeights(wide);
    const ids = [Array.from({ length: 48 }, (_, i) => (i * 37 + 11) % 97)];
    const maxOverMean = async (skew: number) => {
      const skewedIr = buildModelIr(wide, withRoutingSkew(wide, weights, skew));
      const { routing } = await runOrt(skewedIr, "prefill", "dense-masked", ids);
      const counts = new Array<number>(8).fill(0);
      for (const e of routing.get(0)!) counts[Number(e)]++;
      expect(counts.reduce((a, b) => a + b, 0)).toBe(48 * 2);
      return Math.max(...counts) / (96 / 8);
    };
    const loads = [await maxOverMean(0), await maxOverMean(1), await maxOverMean(2)];
    expect(loads[1]).toBeGreaterThan(loads[0]!);
    expect(loads[2]).toBeGreaterThan(loads[1]!);
  });
});

export { routerIndicesOutput };
