// mc-smoe: "Merge, Then Compress" (Li et al. 2024, ICLR, arXiv 2310.01334). Per MoE layer: the `groups` most routed
// experts are the dominant ones; every other expert joins the dominant expert whose router logits over the
// calibration tokens are the most similar (cosine); each member's FFN neurons are permuted onto the dominant
// expert's (weight matching: the assignment maximising Σ_j ⟨[gate_j, up_j, down_·j] of the dominant, of the
// member⟩, solved exactly by linear-sum-assignment); the group merges by a routed-frequency-weighted average. The
// router is kept: a slot runs its group's merged expert. Optionally (the "compress" stage) each merged matrix is
// stored as a rank-r product U·V plus the residual on its `sparseColumns` share of input channels with the
// largest residual norm (structured sparsity). Groups are uniform over layers here (the paper also adapts them).
import { z } from "zod";
import { linearSumAssignment } from "linear-sum-assignment";
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
  stackExperts,
  storeFactors,
  storedRank,
} from "./moe-compression.js";
import type { Technique } from "./technique.js";

const params = z
  .object({
    kind: z.literal("mc-smoe"),
    name: z.string().optional(),
    /** Merged experts per MoE layer. */
    groups: z
      .number()
      .int("expected a whole number")
      .positive("expected a positive integer — merged experts per layer"),
    /** Permute each member's neurons onto the dominant expert's before averaging. */
    align: z.boolean().default(true),
    /** Compress stage: store each merged matrix as a rank-`rank` product (absent: dense merged experts). */
    rank: rankSchema.optional(),
    /** Compress stage: share (0, 1] of input channels whose residual W − U·V is kept (structured sparsity); needs rank. */
    sparseColumns: z.number().gt(0).lte(1).optional(),
    calibration: calibrationSchema,
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.sparseColumns !== undefined && p.rank === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["sparseColumns"],
        message: "expected rank too — the sparse residual is what a rank-r product leaves out",
      });
  });

export type McSmoeParams = z.output<typeof params>;

function check(p: McSmoeParams, experts: number): string | undefined {
  return p.groups > experts
    ? `mc-smoe groups ${p.groups}: the model has ${experts} experts — at most ${experts}`
    : undefined;
}

/** Group of every expert (index into the dominant experts, ordered by expert index) and the dominant experts. */
export function mcSmoeGroups(calib: LayerCalibration, groups: number): { groupOf: number[]; dominant: number[] } {
  const E = calib.experts;
  const dominant = byFrequency(routedFrequency(calib))
    .slice(0, groups)
    .sort((a, b) => a - b);
  const T = calib.logits.length / E;
  const column = (e: number) => Float64Array.from({ length: T }, (_, t) => calib.logits[t * E + e]!);
  const columns = Array.from({ length: E }, (_, e) => column(e));
  const groupOf = Array.from({ length: E }, (_, e) => {
    const own = dominant.indexOf(e);
    if (own >= 0) return own;
    let best = 0;
    for (let g = 1; g < dominant.length; g++)
      if (cosine(columns[e]!, columns[dominant[g]!]!) > cosine(columns[e]!, columns[dominant[best]!]!)) best = g;
    return best;
  });
  return { groupOf, dominant };
}

/** The permutation π (new neuron j = member's neuron π[j]) aligning a member's neurons onto the dominant expert's. */
export function alignNeurons(
  dominant: { gateUp: Float64Array; down: Float64Array },
  member: { gateUp: Float64Array; down: Float64Array },
  H: number,
  I: number,
): number[] {
  const similarity = Array.from({ length: I }, (_, j) => {
    const row = new Float64Array(I);
    for (let m = 0; m < I; m++) {
      let dot = 0;
      for (let i = 0; i < H; i++) {
        dot += dominant.gateUp[j * H + i]! * member.gateUp[m * H + i]!;
        dot += dominant.gateUp[(I + j) * H + i]! * member.gateUp[(I + m) * H + i]!;
        dot += dominant.down[i * I + j]! * member.down[i * I + m]!;
      }
      row[m] = dot;
    }
    return row;
  });
  const { rowAssignments } = linearSumAssignment(similarity, { maximaze: true });
  return Array.from(rowAssignments, (m) => Number(m));
}

/** A member's gate_up [2I, H] and down [H, I] with its neurons permuted by π. */
export function permuteNeurons(
  w: { gateUp: Float64Array; down: Float64Array },
  pi: number[],
  H: number,
  I: number,
): { gateUp: Float64Array; down: Float64Array } {
  const gateUp = new Float64Array(w.gateUp.length);
  const down = new Float64Array(w.down.length);
  for (let j = 0; j < I; j++) {
    gateUp.set(w.gateUp.subarray(pi[j]! * H, (pi[j]! + 1) * H), j * H);
    gateUp.set(w.gateUp.subarray((I + pi[j]!) * H, (I + pi[j]! + 1) * H), (I + j) * H);
    for (let i = 0; i < H; i++) down[i * I + j] = w.down[i * I + pi[j]!]!;
  }
  return { gateUp, down };
}

/** The merged experts of one layer (float64), in group order. */
export function mcSmoeMerge(
  ir: ModelIr,
  ffn: MoeFfn,
  calib: LayerCalibration,
  p: Pick<McSmoeParams, "groups" | "align">,
): { groupOf: number[]; merged: { gateUp: Float64Array; down: Float64Array }[] } {
  const H = ir.dims.hidden;
  const I = ffn.expertFfn;
  const { groupOf, dominant } = mcSmoeGroups(calib, p.groups);
  const frequency = routedFrequency(calib);
  const weightsOf = (e: number) => ({ gateUp: expertMatrix(ir, ffn.gateUp, e), down: expertMatrix(ir, ffn.down, e) });
  const merged = dominant.map((d, g) => {
    const members = groupOf.map((group, e) => (group === g ? e : -1)).filter((e) => e >= 0);
    const anchor = weightsOf(d);
    if (members.length === 1) return anchor;
    const total = members.reduce((s, e) => s + frequency[e]!, 0);
    const gateUp = new Float64Array(anchor.gateUp.length);
    const down = new Float64Array(anchor.down.length);
    for (const e of members) {
      const raw = e === d ? anchor : weightsOf(e);
      const w = e !== d && p.align ? permuteNeurons(raw, alignNeurons(anchor, raw, H, I), H, I) : raw;
      const f = total > 0 ? frequency[e]! / total : 1 / members.length;
      for (let i = 0; i < gateUp.length; i++) gateUp[i] += f * w.gateUp[i]!;
      for (let i = 0; i < down.length; i++) down[i] += f * w.down[i]!;
    }
    return { gateUp, down };
  });
  return { groupOf, merged };
}

/** Rank-r product plus the residual on the `share` of input channels with the largest residual norm. */
function lowRankPlusSparse(w: Float64Array, out: number, inF: number, rank: number, share: number | undefined) {
  const u = leftSingularVectors(w, out, inF, rank);
  const v = projectOnto(u, w, out, inF, rank);
  if (share === undefined) return { u, v };
  const residual = Float64Array.from(w);
  for (let o = 0; o < out; o++)
    for (let j = 0; j < rank; j++) {
      const uo = u[o * rank + j]!;
      if (uo !== 0) for (let i = 0; i < inF; i++) residual[o * inF + i] -= uo * v[j * inF + i]!;
    }
  const norms = Array.from({ length: inF }, (_, i) => {
    let s = 0;
    for (let o = 0; o < out; o++) s += residual[o * inF + i]! ** 2;
    return s;
  });
  const width = sparseWidth(share, inF);
  const columns = norms
    .map((_, i) => i)
    .sort((a, b) => norms[b]! - norms[a]! || a - b)
    .slice(0, width)
    .sort((a, b) => a - b);
  const weight = new Float64Array(out * width);
  for (let o = 0; o < out; o++) columns.forEach((c, k) => (weight[o * width + k] = residual[o * inF + c]!));
  return { u, v, residual: { weight, columns } };
}

function sparseWidth(share: number, inF: number): number {
  return Math.max(1, Math.round(share * inF));
}

export function mcSmoeIr(ir: ModelIr, p: McSmoeParams): ModelIr {
  const { experts } = requireMoe("mc-smoe", ir);
  const reason = check(p, experts);
  if (reason) throw new Error(reason);
  return rewriteMoeLayers(
    ir,
    p.calibration,
    (ffn, _layer, calib, tensors) => {
      const H = ir.dims.hidden;
      const I = ffn.expertFfn;
      const { groupOf, merged } = mcSmoeMerge(ir, ffn, calib, p);
      const compressed = { stored: merged.length, expertMap: groupOf };
      if (p.rank === undefined) {
        tensors.set(
          ffn.gateUp,
          stackExperts(
            merged.map((m) => m.gateUp),
            2 * I,
            H,
          ),
        );
        tensors.set(
          ffn.down,
          stackExperts(
            merged.map((m) => m.down),
            H,
            I,
          ),
        );
        return { ...ffn, compressed };
      }
      const factorsOf = (kind: "gateUp" | "down", out: number, inF: number) => {
        const rank = storedRank(p.rank, out, inF);
        const parts = merged.map((m) => lowRankPlusSparse(m[kind], out, inF, rank, p.sparseColumns));
        const prefix = `${kind === "gateUp" ? ffn.gateUp : ffn.down}.mc_smoe`;
        return storeFactors(
          tensors,
          prefix,
          {
            u: parts.map((x) => x.u),
            v: parts.map((x) => x.v),
            uOf: parts.map((_, i) => i),
            residual: p.sparseColumns
              ? { weight: parts.map((x) => x.residual!.weight), columns: parts.map((x) => x.residual!.columns) }
              : undefined,
          },
          out,
          inF,
          rank,
        );
      };
      tensors.delete(ffn.gateUp);
      tensors.delete(ffn.down);
      return {
        ...ffn,
        compressed: {
          ...compressed,
          factors: { gateUp: factorsOf("gateUp", 2 * I, H), down: factorsOf("down", H, I) },
        },
      };
    },
    `mc-smoe: ${experts} experts merged into ${p.groups} per MoE layer (router-logit grouping, ${p.align ? "neurons aligned, " : ""}frequency-weighted)${p.rank ? `, rank ${p.rank}${p.sparseColumns ? ` + ${Math.round(p.sparseColumns * 100)}% residual channels` : ""}` : ""}`,
  );
}

function accounting(model: Parameters<NonNullable<Technique<typeof params>["account"]>>[0], p: McSmoeParams) {
  const s = moeShapeOf(model);
  const H = model.hidden;
  const I = s.expertFfn;
  let perExpert = 3 * H * I;
  let index = 0;
  if (p.rank !== undefined) {
    const matrix = (out: number, inF: number) => {
      const r = storedRank(p.rank, out, inF);
      const width = p.sparseColumns ? sparseWidth(p.sparseColumns, inF) : 0;
      index += width;
      return r * (out + inF) + out * width;
    };
    perExpert = matrix(2 * I, H) + matrix(H, I);
  }
  return compressedAccounting(model, {
    routerExperts: s.experts,
    stored: p.groups,
    storedParams: p.groups * perExpert,
    indexEntries: p.groups * index,
    perSlotParams: perExpert,
    notes: [
      `${s.experts} experts merged into ${p.groups} per MoE layer; the router keeps its ${s.experts} outputs`,
      ...(index ? ["residual channel ids stored as int64 (ORT Gather indices)"] : []),
    ],
  });
}

export const mcSmoeTechnique: Technique<typeof params> = {
  kind: "mc-smoe",
  params,
  label: (p) =>
    `mc-smoe G${p.groups}${p.align ? "" : " unaligned"}${p.rank ? ` r${p.rank}` : ""}${p.sparseColumns ? ` +${Math.round(p.sparseColumns * 100)}%cols` : ""}`,
  family: MOE_COMPRESSION_FAMILY,
  unsupportedReason: (p, scenario, model) =>
    compressionUnsupportedReason("mc-smoe", scenario, model, (e) => check(p, e), p.calibration),
  expandInput: resolveCalibrationText,
  caseKeyParams: calibrationKeyParams,
  rewriteIr: mcSmoeIr,
  account: accounting,
  irFormNotes: (p) =>
    p.rank !== undefined
      ? ["factorised experts: runners that run dense experts get U·V + residual multiplied out (the same function)"]
      : [],
};
