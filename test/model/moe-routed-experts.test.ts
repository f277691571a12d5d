import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../../runners/ort/onnx/onnx-graph.js";
import { emitRoutedExperts, type RoutedExpertsOptions } from "../../runners/ort/onnx/moe-onnx.js";
import { createRng } from "../../src/measure/stats.js";

const [T, H, OUT, K, E] = [5, 6, 4, 2, 7];

/** Σ over each token's chosen experts of weight · (token · W_e), in float64. */
function expected(
  tokens: Float32Array,
  indices: number[],
  weights: Float32Array,
  matrices: Float32Array[],
): Float64Array {
  const out = new Float64Array(T * OUT);
  for (let t = 0; t < T; t++)
    for (let j = 0; j < K; j++) {
      const e = indices[t * K + j]!;
      for (let o = 0; o < OUT; o++) {
        let sum = 0;
        for (let h = 0; h < H; h++) sum += tokens[t * H + h]! * matrices[e]![h * OUT + o]!;
        out[t * OUT + o] += weights[t * K + j]! * sum;
      }
    }
  return out;
}

async function run(options: RoutedExpertsOptions, indices: number[], zeroWeightToken?: number) {
  const rng = createRng(7);
  const tokens = Float32Array.from({ length: T * H }, () => rng() - 0.5);
  const weights = Float32Array.from({ length: T * K }, () => rng());
  if (zeroWeightToken !== undefined) weights.fill(0, zeroWeightToken * K, (zeroWeightToken + 1) * K);
  const matrices = Array.from({ length: E }, () => Float32Array.from({ length: H * OUT }, () => rng() - 0.5));
  const g = new GraphBuilder();
  g.input("tokens", "float32", ["tokens", H]);
  g.input("indices", "int64", ["tokens", K]);
  g.input("weights", "float32", ["tokens", K]);
  const outputShape = g.int64([T, OUT]);
  const result = emitRoutedExperts(
    g,
    "tokens",
    "indices",
    "weights",
    E,
    (e, rows) => g.op("MatMul", [rows, g.float(`w.${e}`, [H, OUT], matrices[e]!)]),
    { ...options, outputShape },
  );
  g.op("Identity", [result], {}, { name: "out" });
  g.output("out", "float32", ["tokens", OUT]);
  const session = await ort.InferenceSession.create(g.toBytes("routed"), { intraOpNumThreads: 1 });
  const out = await session.run({
    tokens: new ort.Tensor("float32", tokens, [T, H]),
    indices: new ort.Tensor("int64", BigInt64Array.from(indices, BigInt), [T, K]),
    weights: new ort.Tensor("float32", weights, [T, K]),
  });
  await session.release();
  return { got: out.out!.data as Float32Array, want: expected(tokens, indices, weights, matrices) };
}

// Experts 5 and 6 get no token; expert 0 gets three.
const INDICES = [0, 3, 1, 0, 4, 2, 0, 1, 3, 2];

describe("emitRoutedExperts", () => {
  it.each<[string, RoutedExpertsOptions]>([
    ["every expert's branch unconditionally", { skipIdleExperts: false }],
    ["an If per expert", {}],
    ["Ifs grouped three experts a group (the last group padded)", { groupSize: 3 }],
  ])("adds each token's weighted chosen experts back at its row (%s)", async (_, options) => {
    const { got, want } = await run(options, INDICES);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
  });

  it("gives a token whose weights are zero (dropped assignments) a zero row, and leaves the other rows as they were", async () => {
    const { got, want } = await run({}, INDICES, 2);
    expect([...got.subarray(2 * OUT, 3 * OUT)]).toEqual([0, 0, 0, 0]);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
  });
});
