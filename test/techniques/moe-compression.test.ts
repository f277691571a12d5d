// MoE compression (expert-prune, mc-smoe, sub-moe): identity settings reproduce the original logits on ORT, the
// compressed graphs equal the float64 reference, MC-SMoE's merge equals a float64 re-implementation here (brute-force
// neuron alignment), and the accounting equals the tensors the rewrite stores.
import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { modelSchema, type ModelConfig } from "../../src/suite/schema.js";
import { buildModelIr, irFloatTensor, irTensorNames, type ModelIr } from "../../src/model/ir.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { withRoutingSkew, type MoeFfn } from "../../src/model/moe.js";
import { emitOnnx } from "../../runners/ort/onnx/onnx.js";
import { referenceForwardIr } from "../support/reference.js";
import { maxAbsError, relativeL2 } from "../../src/model/fidelity.js";
import { calibrateMoe, calibrationTokens, routedFrequency } from "../../src/model/moe-calibration.js";
import { getTechnique, techniqueSchema } from "../../src/techniques/registry.js";
import { expertMatrix, leftSingularVectors, projectOnto } from "../../src/techniques/moe-compression.js";
import { Matrix, SVD } from "ml-matrix";

function tinyMoe(extra: object = {}): ModelConfig {
  return modelSchema.parse({
    name: "tiny-moe-compress",
    layers: 2,
    hidden: 32,
    heads: 4,
    kvHeads: 2,
    ffn: 48,
    vocab: 61,
    maxPositions: 64,
    moe: { experts: 5, topK: 2, expertFfn: 6 },
    ...extra,
  });
}

const TOKENS = [
  [5, 17, 3, 58, 41, 9, 60, 2, 33, 11],
  [11, 14, 14, 30, 6, 55, 23, 50, 1, 44],
];
const CALIBRATION = { sequences: 2, sequenceLength: 24, seed: 3 };

async function ortRun(ir: ModelIr, ids: number[][]) {
  const { bytes, outputs } = emitOnnx(ir, {
    scenario: "prefill",
    allLogits: true,
    presentOutputs: false,
    routingOutputs: true,
  });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const input = new ort.Tensor("int64", BigInt64Array.from(ids.flat(), BigInt), [ids.length, ids[0]!.length]);
  const out = await session.run({ input_ids: input });
  await session.release();
  const routing = new Map<number, BigInt64Array>();
  for (const name of outputs)
    if (name.startsWith("router_indices.")) routing.set(Number(name.split(".")[1]), out[name]!.data as BigInt64Array);
  return { logits: out.logits!.data as Float32Array, routing };
}

function rewrite(ir: ModelIr, technique: object): ModelIr {
  const params = techniqueSchema().parse({ calibration: CALIBRATION, ...technique });
  return getTechnique(params.kind).rewriteIr!(ir, params);
}

/** ORT logits of the rewrite against the float64 reference of the same IR, routed as ORT routed. */
async function expectMatchesReference(ir: ModelIr) {
  const run = await ortRun(ir, TOKENS);
  const reference = referenceForwardIr(ir, TOKENS, { forcedRouting: run.routing });
  expect(relativeL2(run.logits, reference)).toBeLessThan(1e-5);
  return run;
}

describe("MoE compression", () => {
  const model = tinyMoe();
  const base = buildModelIr(model, withRoutingSkew(model, synthesizeWeights(model), 1));
  let baseLogits: Float32Array;

  it("calibration records the routing the float64 reference takes on the same seeded tokens", () => {
    const calib = calibrateMoe(base, CALIBRATION);
    const trace = new Map<number, { indices: number[]; margins: number[] }>();
    referenceForwardIr(base, calibrationTokens(model.vocab, CALIBRATION), { trace });
    for (const layer of calib.layers) {
      const own = trace.get(layer.layer)!;
      expect(Array.from(layer.chosen)).toEqual(own.indices);
      for (let t = 0; t < 48; t++)
        expect(layer.probs.subarray(t * 5, t * 5 + 5).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
    expect(calibrateMoe(base, CALIBRATION)).toBe(calib); // cached per weights and options
  });

  it("identity settings reproduce the original logits exactly on ORT (≤ 1e-6)", async () => {
    baseLogits = (await ortRun(base, TOKENS)).logits;
    for (const technique of [
      { kind: "expert-prune", keep: 5 },
      { kind: "mc-smoe", groups: 5 },
    ]) {
      const logits = (await ortRun(rewrite(base, technique), TOKENS)).logits;
      expect(maxAbsError(logits, baseLogits), technique.kind).toBeLessThanOrEqual(1e-6);
    }
  });

  it("Sub-MoE at full rank equals the original (shared U per cluster, per-expert V; and clusters of one)", async () => {
    // The transform is exact in float64: a full-rank shared U is a complete basis, so U·(Uᵀ·W_e) = W_e.
    const ffn = base.layers[0]!.ffn as MoeFfn;
    const [H, I] = [32, 6];
    const experts = [0, 3, 4].map((e) => expertMatrix(base, ffn.gateUp, e)); // [2I, H] each
    const joint = new Float64Array(2 * I * experts.length * H);
    for (let o = 0; o < 2 * I; o++)
      experts.forEach((w, m) => joint.set(w.subarray(o * H, (o + 1) * H), o * experts.length * H + m * H));
    const u = leftSingularVectors(joint, 2 * I, experts.length * H, 2 * I);
    for (const w of experts) {
      const v = projectOnto(u, w, 2 * I, H, 2 * I);
      let worst = 0;
      for (let o = 0; o < 2 * I; o++)
        for (let i = 0; i < H; i++) {
          let x = 0;
          for (let j = 0; j < 2 * I; j++) x += u[o * 2 * I + j]! * v[j * H + i]!;
          worst = Math.max(worst, Math.abs(x - w[o * H + i]!));
        }
      expect(worst).toBeLessThan(1e-12);
    }
    // Stored as float32 factors and run as x·Vᵀ·Uᵀ: the logits differ from the dense graph's by float32 rounding only
    // (float32's unit roundoff is 6e-8; the logits are sums of thousands of rounded products).
    for (const technique of [
      { kind: "sub-moe", clusters: 2, mergeV: false },
      { kind: "sub-moe", clusters: 5, mergeV: true },
    ]) {
      const ir = rewrite(base, technique);
      const logits = (await ortRun(ir, TOKENS)).logits;
      const scale = Math.max(...Array.from(baseLogits, Math.abs));
      expect(relativeL2(logits, baseLogits), JSON.stringify(technique)).toBeLessThan(1e-6);
      expect(maxAbsError(logits, baseLogits) / scale, JSON.stringify(technique)).toBeLessThan(1e-6);
    }
  });

  it("pruning drops the least routed experts and their router rows; the pruned graph equals the reference", async () => {
    const ir = rewrite(base, { kind: "expert-prune", keep: 3 });
    for (const layer of calibrateMoe(base, CALIBRATION).layers) {
      const frequency = routedFrequency(layer);
      const ffn = ir.layers[layer.layer]!.ffn as MoeFfn;
      expect(ffn.experts).toBe(3);
      expect(irFloatTensor(ir, ffn.router).shape).toEqual([3, 32]);
      expect(irFloatTensor(ir, ffn.routerBias!).shape).toEqual([3]);
      const kept = [0, 1, 2, 3, 4].filter((e) => {
        const row = irFloatTensor(base, ffn.router).data.subarray(e * 32, e * 32 + 32);
        for (let i = 0; i < 3; i++)
          if (
            irFloatTensor(ir, ffn.router)
              .data.subarray(i * 32, i * 32 + 32)
              .every((v, j) => v === row[j])
          )
            return true;
        return false;
      });
      const threshold = [...frequency].sort((a, b) => b - a)[2]!;
      for (const e of kept) expect(frequency[e]).toBeGreaterThanOrEqual(threshold);
      expect(kept.length).toBe(3);
    }
    await expectMatchesReference(ir);
  });

  it("MC-SMoE's merge equals a float64 re-implementation (brute-force neuron alignment, frequency-weighted)", async () => {
    const groups = 2;
    const ir = rewrite(base, { kind: "mc-smoe", groups });
    const H = 32;
    const I = 6;
    const permutations = (n: number): number[][] =>
      n === 0
        ? [[]]
        : permutations(n - 1).flatMap((p) =>
            Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]),
          );
    const allPermutations = permutations(I);
    for (const layer of calibrateMoe(base, CALIBRATION).layers) {
      const ffn = base.layers[layer.layer]!.ffn as MoeFfn;
      const E = 5;
      const frequency = routedFrequency(layer);
      const dominant = [0, 1, 2, 3, 4]
        .sort((a, b) => frequency[b]! - frequency[a]! || a - b)
        .slice(0, groups)
        .sort((a, b) => a - b);
      const T = layer.logits.length / E;
      const column = (e: number) => Array.from({ length: T }, (_, t) => layer.logits[t * E + e]!);
      const cos = (a: number[], b: number[]) => {
        const dot = a.reduce((s, x, i) => s + x * b[i]!, 0);
        return dot / Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
      };
      const groupOf = [0, 1, 2, 3, 4].map((e) => {
        if (dominant.includes(e)) return dominant.indexOf(e);
        const sims = dominant.map((d) => cos(column(e), column(d)));
        return sims.indexOf(Math.max(...sims));
      });
      const gu = irFloatTensor(base, ffn.gateUp).data;
      const dn = irFloatTensor(base, ffn.down).data;
      // Neuron j of expert e: gate row j, up row j, down column j.
      const neuron = (e: number, j: number) => [
        ...Array.from({ length: H }, (_, i) => gu[(e * 2 * I + j) * H + i]!),
        ...Array.from({ length: H }, (_, i) => gu[(e * 2 * I + I + j) * H + i]!),
        ...Array.from({ length: H }, (_, i) => dn[(e * H + i) * I + j]!),
      ];
      const mergedFeatures = dominant.map((d, g) => {
        const members = [0, 1, 2, 3, 4].filter((e) => groupOf[e] === g);
        const total = members.reduce((s, e) => s + frequency[e]!, 0);
        const merged = Array.from({ length: I }, () => new Array<number>(3 * H).fill(0));
        for (const e of members) {
          let best = allPermutations[0]!;
          let bestScore = -Infinity;
          if (e !== d) {
            const sim = Array.from({ length: I }, (_, j) =>
              Array.from({ length: I }, (_, m) => neuron(d, j).reduce((s, x, i) => s + x * neuron(e, m)[i]!, 0)),
            );
            for (const p of allPermutations) {
              const score = p.reduce((s, m, j) => s + sim[j]![m]!, 0);
              if (score > bestScore + 1e-12) [best, bestScore] = [p, score];
            }
          } else best = [0, 1, 2, 3, 4, 5];
          const weight = members.length === 1 ? 1 : frequency[e]! / total;
          for (let j = 0; j < I; j++) neuron(e, best[j]!).forEach((x, i) => (merged[j]![i]! += weight * x));
        }
        return merged;
      });
      const out = ir.layers[layer.layer]!.ffn as MoeFfn;
      expect(out.compressed!.expertMap).toEqual(groupOf);
      const mgu = irFloatTensor(ir, out.gateUp).data;
      const mdn = irFloatTensor(ir, out.down).data;
      expect(irFloatTensor(ir, out.gateUp).shape).toEqual([groups, 2 * I, H]);
      let worst = 0;
      mergedFeatures.forEach((merged, g) => {
        for (let j = 0; j < I; j++)
          for (let i = 0; i < H; i++) {
            worst = Math.max(worst, Math.abs(mgu[(g * 2 * I + j) * H + i]! - merged[j]![i]!));
            worst = Math.max(worst, Math.abs(mgu[(g * 2 * I + I + j) * H + i]! - merged[j]![H + i]!));
            worst = Math.max(worst, Math.abs(mdn[(g * H + i) * I + j]! - merged[j]![2 * H + i]!));
          }
      });
      expect(worst).toBeLessThan(1e-6);
    }
    await expectMatchesReference(ir); // the graph runs each slot's merged expert
  });

  it("factorised experts (MC-SMoE low-rank + sparse residual, Sub-MoE rank 3) run on ORT as the reference says", async () => {
    for (const technique of [
      { kind: "mc-smoe", groups: 3, rank: 2, sparseColumns: 0.25 },
      { kind: "sub-moe", clusters: 2, rank: 3 },
      { kind: "sub-moe", clusters: 3, rank: 4, mergeV: false },
    ]) {
      const ir = rewrite(base, technique);
      await expectMatchesReference(ir);
      const logits = (await ortRun(ir, TOKENS)).logits;
      expect(relativeL2(logits, baseLogits), JSON.stringify(technique)).toBeGreaterThan(1e-3); // compressed: not the original
    }
  });

  it("accounting equals the parameters and bytes the rewrite stores", () => {
    const baseParams = irTensorNames(base).reduce((s, n) => s + irFloatTensor(base, n).data.length, 0);
    for (const technique of [
      { kind: "expert-prune", keep: 3 },
      { kind: "mc-smoe", groups: 2 },
      { kind: "mc-smoe", groups: 3, rank: 2, sparseColumns: 0.25 },
      { kind: "sub-moe", clusters: 2, rank: 3 },
      { kind: "sub-moe", clusters: 3, rank: 4, mergeV: false },
    ]) {
      const params = techniqueSchema().parse({ calibration: CALIBRATION, ...technique });
      const ir = rewrite(base, technique);
      let stored = 0;
      let indices = 0;
      for (const name of irTensorNames(ir)) {
        if (name.endsWith(".gate.bias")) continue; // the routing-skew bias: a workload prior, not a parameter
        const n = irFloatTensor(ir, name).data.length;
        if (name.endsWith(".residual_columns")) indices += n;
        else stored += n;
      }
      const a = getTechnique(params.kind).account!(model, params);
      expect(a.totalParams, JSON.stringify(technique)).toBe(stored);
      expect(a.weightBytes).toBe(stored * 4 + indices * 8);
      expect(a.totalParams).toBeLessThan(baseParams);
    }
  });

  it("refuses settings the model cannot take, with the reason", () => {
    const p = techniqueSchema().parse({ kind: "expert-prune", keep: 1 });
    expect(getTechnique("expert-prune").unsupportedReason(p, "decode", model)).toMatch(
      /fewer than top-2 — keep at least 2/,
    );
    const dense = modelSchema.parse({
      name: "d",
      layers: 1,
      hidden: 32,
      heads: 4,
      ffn: 48,
      vocab: 61,
      maxPositions: 64,
    });
    expect(
      getTechnique("sub-moe").unsupportedReason(
        techniqueSchema().parse({ kind: "sub-moe", clusters: 2 }),
        "decode",
        dense,
      ),
    ).toMatch(/is dense/);
    expect(() => techniqueSchema().parse({ kind: "mc-smoe", groups: 2, sparseColumns: 0.5 })).toThrow(
      /expected rank too/,
    );
  });

  it("the randomized range finder captures the dominant subspace as the exact SVD does (large joint matrices)", () => {
    const rows = 120;
    const cols = 90;
    const rank = 12;
    const m = new Float64Array(rows * cols);
    const rng = (() => {
      let state = 7;
      return () => (state = (state * 16807) % 2147483647) / 2147483647 - 0.5;
    })();
    for (let k = 0; k < 40; k++) {
      const a = Array.from({ length: rows }, rng);
      const b = Array.from({ length: cols }, rng);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) m[r * cols + c] += 0.85 ** k * a[r]! * b[c]!;
    }
    const captured = (u: Float64Array) => {
      let e = 0;
      for (let c = 0; c < cols; c++)
        for (let k = 0; k < rank; k++) {
          let d = 0;
          for (let r = 0; r < rows; r++) d += u[r * rank + k]! * m[r * cols + c]!;
          e += d * d;
        }
      return e;
    };
    const svd = new SVD(
      new Matrix(Array.from({ length: rows }, (_, r) => Array.from(m.subarray(r * cols, (r + 1) * cols)))),
    );
    const exact = new Float64Array(rows * rank);
    for (let r = 0; r < rows; r++)
      for (let k = 0; k < rank; k++) exact[r * rank + k] = svd.leftSingularVectors.get(r, k);
    expect(captured(leftSingularVectors(m, rows, cols, rank)) / captured(exact)).toBeGreaterThan(0.9999);
  });
});
