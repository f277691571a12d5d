// Compressed routed experts in the IR (src/techniques/moe-compression/: expert pruning, MC-SMoE, Sub-MoE): fewer
// stored experts than router outputs (a router slot runs the stored expert its group merged into) and/or experts
// stored as factors U·V (+ a structured-sparse residual on some input channels). The ORT graph runs the factors
// (runners/ort/onnx/moe-onnx.ts); a runner that runs dense experts gets their product (denseStoredStacks).
import { irFloatTensor, type ModelIr } from "./ir.js";
import type { MoeFfn } from "./moe.js";
import type { Tensor } from "./weights.js";

/** One expert matrix kind ([out, in] per expert: gate_up [2I, H] or down [H, I]) stored as factors. */
export interface FactorizedStack {
  rank: number;
  /** U factors [Su, out, r]. */
  u: string;
  /** Stored expert s uses U factor uOf[s] (Sub-MoE: one shared U per cluster). */
  uOf: number[];
  /** V factors [S, r, in]. */
  v: string;
  /** W_s ≈ U·V plus these weights [S, out, m] on the input channels `columns` [S, m] (channel ids as floats). */
  residual?: { weight: string; columns: string; width: number };
}

export interface CompressedExperts {
  /** Experts stored (the stacks' first dimension). */
  stored: number;
  /** Router slot e → stored expert (expert merging); absent: slot e runs stored expert e. */
  expertMap?: number[];
  /** Factorised stored experts; absent: dense [S, 2I, H] / [S, H, I] stacks under MoeFfn.gateUp / down. */
  factors?: { gateUp: FactorizedStack; down: FactorizedStack };
}

/** The stored expert router slot e runs. */
export function storedExpertOf(ffn: MoeFfn, slot: number): number {
  return ffn.compressed?.expertMap?.[slot] ?? slot;
}

/** Number of stored experts of a MoE FFN. */
export function storedExperts(ffn: MoeFfn): number {
  return ffn.compressed?.stored ?? ffn.experts;
}

/** W [out, in] (float64) of stored expert s from its factors. */
export function reconstructFactor(ir: ModelIr, f: FactorizedStack, s: number, out: number, inF: number): Float64Array {
  const r = f.rank;
  const u = irFloatTensor(ir, f.u).data.subarray(f.uOf[s]! * out * r, (f.uOf[s]! + 1) * out * r);
  const v = irFloatTensor(ir, f.v).data.subarray(s * r * inF, (s + 1) * r * inF);
  const w = new Float64Array(out * inF);
  for (let o = 0; o < out; o++)
    for (let j = 0; j < r; j++) {
      const uo = u[o * r + j]!;
      if (uo === 0) continue;
      for (let i = 0; i < inF; i++) w[o * inF + i] += uo * v[j * inF + i]!;
    }
  if (f.residual) {
    const m = f.residual.width;
    const weight = irFloatTensor(ir, f.residual.weight).data.subarray(s * out * m, (s + 1) * out * m);
    const columns = irFloatTensor(ir, f.residual.columns).data.subarray(s * m, (s + 1) * m);
    for (let o = 0; o < out; o++) for (let c = 0; c < m; c++) w[o * inF + columns[c]!] += weight[o * m + c]!;
  }
  return w;
}

/** Stored expert s's gate_up [2I, H] and down [H, I] as dense float64 matrices. */
export function storedExpertWeights(ir: ModelIr, ffn: MoeFfn, s: number): { gateUp: Float64Array; down: Float64Array } {
  const H = ir.dims.hidden;
  const I = ffn.expertFfn;
  const f = ffn.compressed?.factors;
  if (f) return { gateUp: reconstructFactor(ir, f.gateUp, s, 2 * I, H), down: reconstructFactor(ir, f.down, s, H, I) };
  const gateUp = irFloatTensor(ir, ffn.gateUp).data;
  const down = irFloatTensor(ir, ffn.down).data;
  return {
    gateUp: Float64Array.from(gateUp.subarray(s * 2 * I * H, (s + 1) * 2 * I * H)),
    down: Float64Array.from(down.subarray(s * H * I, (s + 1) * H * I)),
  };
}

/** The stored experts as dense float32 stacks gate_up [S, 2I, H] and down [S, H, I] (factors multiplied out). */
export function denseStoredStacks(ir: ModelIr, ffn: MoeFfn): { gateUp: Tensor; down: Tensor } {
  const S = storedExperts(ffn);
  const H = ir.dims.hidden;
  const I = ffn.expertFfn;
  if (!ffn.compressed?.factors) return { gateUp: irFloatTensor(ir, ffn.gateUp), down: irFloatTensor(ir, ffn.down) };
  const gateUp = new Float32Array(S * 2 * I * H);
  const down = new Float32Array(S * H * I);
  for (let s = 0; s < S; s++) {
    const w = storedExpertWeights(ir, ffn, s);
    gateUp.set(w.gateUp, s * 2 * I * H);
    down.set(w.down, s * H * I);
  }
  return { gateUp: { shape: [S, 2 * I, H], data: gateUp }, down: { shape: [S, H, I], data: down } };
}
