// sub-moe: "Sub-MoE: Efficient Mixture-of-Expert LLMs Compression via Subspace Expert Merging" (Li et al. 2025,
// arXiv 2506.23266). Per MoE layer: experts are clustered by the cosine similarity of their outputs on calibration
// tokens (k-means seeded with the `clusters` most routed experts, which stay in their own clusters); per cluster and
// matrix kind (gate_up [2I, H], down [H, I]) a joint SVD of the members' concatenated weights [W_1 … W_n] gives a
// shared U (its first `rank` left singular vectors) and per-expert V_e = Uᵀ·W_e; with `mergeV` (the paper's
// inter-expert merging) the members' V are averaged by routed frequency into one expert per cluster, and the router
// keeps its outputs (a slot runs its cluster's expert). Without mergeV every expert keeps its own V (rank reduction
// only). `rank` absent = full (U a complete basis: W_e = U·V_e exactly, the check mode; more bytes, not fewer).
import { z } from "zod";
import type { ModelIr } from "../model/ir.js";
import type { MoeFfn } from "../model/moe.js";
import { moeShapeOf } from "../model/moe.js";
import { routedFrequency, type LayerCalibration } from "../model/moe-calibration.js";
import {
  byFrequency,
  calibrationSchema,
  compressedAccounting,
  compressionUnsupportedReason,
  resolveCalibrationText,
  calibrationKeyParams,
  MOE_COMPRESSION_FAMILY,
  cosine,
  expertMatrix,
  leftSingularVectors,
  projectOnto,
  rankSchema,
  requireMoe,
  rewriteMoeLayers,
  storeFactors,
} from "./moe-compression.js";
import type { Technique } from "./technique.js";

const params = z
  .object({
    kind: z.literal("sub-moe"),
    name: z.string().optional(),
    /** Clusters per MoE layer (each shares one U per matrix kind). */
    clusters: z.number().int("expected a whole number").positive("expected a positive integer — clusters per layer"),
    /** Rank of the shared U (absent: full, the matrix's output width). */
    rank: rankSchema.optional(),
    /** Merge each cluster's V by routed frequency into one expert (the paper); false: per-expert V. */
    mergeV: z.boolean().default(true),
    calibration: calibrationSchema,
  })
  .strict();

export type SubMoeParams = z.output<typeof params>;

function check(p: SubMoeParams, experts: number): string | undefined {
  return p.clusters > experts
    ? `sub-moe clusters ${p.clusters}: the model has ${experts} experts — at most ${experts}`
    : undefined;
}

/** Tokens whose expert outputs describe an expert (spread over the calibration pass). */
const OUTPUT_SAMPLE_TOKENS = 32;
const KMEANS_ITERATIONS = 10;

/** The cluster of every expert (clusters ordered by their seed expert's index). */
export function subMoeClusters(ir: ModelIr, ffn: MoeFfn, calib: LayerCalibration, clusters: number): number[] {
  const E = calib.experts;
  const H = ir.dims.hidden;
  const I = ffn.expertFfn;
  const T = calib.inputs.length / H;
  const step = Math.max(1, Math.floor(T / OUTPUT_SAMPLE_TOKENS));
  const tokens = Array.from({ length: Math.min(T, OUTPUT_SAMPLE_TOKENS) }, (_, i) => i * step).filter((t) => t < T);
  const features = Array.from({ length: E }, (_, e) => {
    const gateUp = expertMatrix(ir, ffn.gateUp, e);
    const down = expertMatrix(ir, ffn.down, e);
    const f = new Float64Array(tokens.length * H);
    const act = new Float64Array(I);
    tokens.forEach((t, n) => {
      const x = calib.inputs.subarray(t * H, (t + 1) * H);
      for (let j = 0; j < I; j++) {
        let g = 0;
        let u = 0;
        for (let i = 0; i < H; i++) {
          g += x[i]! * gateUp[j * H + i]!;
          u += x[i]! * gateUp[(I + j) * H + i]!;
        }
        act[j] = (g / (1 + Math.exp(-g))) * u;
      }
      for (let o = 0; o < H; o++) {
        let s = 0;
        for (let j = 0; j < I; j++) s += act[j]! * down[o * I + j]!;
        f[n * H + o] = s;
      }
    });
    return f;
  });
  const seeds = byFrequency(routedFrequency(calib))
    .slice(0, clusters)
    .sort((a, b) => a - b);
  let centres = seeds.map((e) => features[e]!);
  let assignment: number[] = [];
  for (let iteration = 0; iteration < KMEANS_ITERATIONS; iteration++) {
    assignment = features.map((f, e) => {
      const own = seeds.indexOf(e);
      if (own >= 0) return own;
      let best = 0;
      for (let c = 1; c < centres.length; c++) if (cosine(f, centres[c]!) > cosine(f, centres[best]!)) best = c;
      return best;
    });
    centres = centres.map((_, c) => {
      const centre = new Float64Array(features[0]!.length);
      assignment.forEach((a, e) => {
        if (a !== c) return;
        const f = features[e]!;
        const norm = Math.sqrt(f.reduce((s, x) => s + x * x, 0)) || 1;
        for (let i = 0; i < f.length; i++) centre[i] += f[i]! / norm;
      });
      return centre;
    });
  }
  return assignment;
}

export function subMoeIr(ir: ModelIr, p: SubMoeParams): ModelIr {
  const { experts } = requireMoe("sub-moe", ir);
  const reason = check(p, experts);
  if (reason) throw new Error(reason);
  return rewriteMoeLayers(
    ir,
    p.calibration,
    (ffn, _layer, calib, tensors) => {
      const H = ir.dims.hidden;
      const I = ffn.expertFfn;
      const clusterOf = subMoeClusters(ir, ffn, calib, p.clusters);
      const frequency = routedFrequency(calib);
      const members = Array.from({ length: p.clusters }, (_, c) =>
        clusterOf.map((a, e) => (a === c ? e : -1)).filter((e) => e >= 0),
      );
      const factorsOf = (kind: "gateUp" | "down", out: number, inF: number) => {
        const rank = Math.min(p.rank ?? out, out);
        const name = kind === "gateUp" ? ffn.gateUp : ffn.down;
        const u: Float64Array[] = [];
        const vOf = new Map<number, Float64Array>();
        for (const group of members) {
          // [W_1 … W_n] [out, n·in]: the shared U spans the members' joint output space.
          const weights = group.map((e) => expertMatrix(ir, name, e));
          const joint = new Float64Array(out * group.length * inF);
          for (let o = 0; o < out; o++)
            weights.forEach((w, m) => joint.set(w.subarray(o * inF, (o + 1) * inF), o * group.length * inF + m * inF));
          const shared = leftSingularVectors(joint, out, group.length * inF, rank);
          u.push(shared);
          group.forEach((e, m) => vOf.set(e, projectOnto(shared, weights[m]!, out, inF, rank)));
        }
        let v: Float64Array[];
        let uOf: number[];
        if (p.mergeV) {
          v = members.map((group) => {
            const total = group.reduce((s, e) => s + frequency[e]!, 0);
            const merged = new Float64Array(rank * inF);
            for (const e of group) {
              const f = total > 0 ? frequency[e]! / total : 1 / group.length;
              const ve = vOf.get(e)!;
              for (let i = 0; i < merged.length; i++) merged[i] += f * ve[i]!;
            }
            return merged;
          });
          uOf = members.map((_, c) => c);
        } else {
          v = Array.from({ length: experts }, (_, e) => vOf.get(e)!);
          uOf = clusterOf;
        }
        return storeFactors(tensors, `${name}.sub_moe`, { u, v, uOf }, out, inF, rank);
      };
      const factors = { gateUp: factorsOf("gateUp", 2 * I, H), down: factorsOf("down", H, I) };
      tensors.delete(ffn.gateUp);
      tensors.delete(ffn.down);
      return {
        ...ffn,
        compressed: p.mergeV ? { stored: p.clusters, expertMap: clusterOf, factors } : { stored: experts, factors },
      };
    },
    `sub-moe: ${experts} experts in ${p.clusters} clusters per MoE layer (output-similarity k-means, joint SVD, shared U${p.rank ? ` rank ${p.rank}` : " full rank"}${p.mergeV ? ", V merged by frequency" : ", per-expert V"})`,
  );
}

function accounting(model: Parameters<NonNullable<Technique<typeof params>["account"]>>[0], p: SubMoeParams) {
  const s = moeShapeOf(model);
  const H = model.hidden;
  const I = s.expertFfn;
  const r = (out: number) => Math.min(p.rank ?? out, out);
  const uParams = 2 * I * r(2 * I) + H * r(H);
  const vParams = r(2 * I) * H + r(H) * I;
  const stored = p.mergeV ? p.clusters : s.experts;
  return compressedAccounting(model, {
    routerExperts: s.experts,
    stored,
    storedParams: p.clusters * uParams + stored * vParams,
    indexEntries: 0,
    perSlotParams: uParams + vParams,
    notes: [
      `${s.experts} experts in ${p.clusters} clusters per MoE layer: ${p.clusters} shared U per matrix kind, ${stored} V`,
    ],
  });
}

export const subMoeTechnique: Technique<typeof params> = {
  kind: "sub-moe",
  params,
  label: (p) => `sub-moe C${p.clusters} ${p.rank ? `r${p.rank}` : "full-rank"}${p.mergeV ? "" : " per-expert-V"}`,
  family: MOE_COMPRESSION_FAMILY,
  unsupportedReason: (p, scenario, model) =>
    compressionUnsupportedReason("sub-moe", scenario, model, (e) => check(p, e), p.calibration),
  expandInput: resolveCalibrationText,
  caseKeyParams: calibrationKeyParams,
  rewriteIr: subMoeIr,
  account: accounting,
  irFormNotes: () => ["factorised experts: runners that run dense experts get U·V multiplied out (the same function)"],
};
