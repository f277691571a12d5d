// What the MoE compression techniques share (expert-prune, mc-smoe, sub-moe; docs/moe.md "Compressing the experts"):
// the calibration parameters, the support rule, the rewrite of one MoE layer's experts, the linear algebra (SVD by
// ml-matrix, neuron alignment by linear-sum-assignment) and the accounting by arithmetic.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { Matrix, SVD } from "ml-matrix";
import type { ModelConfig, Scenario } from "../suite/schema.js";
import { irFloatTensor, type ModelIr } from "../model/ir.js";
import type { MoeFfn } from "../model/moe.js";
import { accountMoeModel } from "../model/moe-accounting.js";
import { textIdentity } from "../model/checkpoint.js";
import { moeShapeOf } from "../model/moe.js";
import { calibrateMoe, calibrationSource, type LayerCalibration } from "../model/moe-calibration.js";
import type { FactorizedStack } from "../model/moe-compressed.js";
import { FP32_BYTES, type TechniqueAccounting } from "./accounting.js";
import { seededUniform } from "../model/sampling.js";

export type MoeCompressionKind = "expert-prune" | "mc-smoe" | "sub-moe";

const count = (what: string) =>
  z.number().int("expected a whole number").positive(`expected a positive integer — ${what}`);

/** The seeded calibration pass the methods decide from (src/model/moe-calibration.ts). */
export const calibrationSchema = z
  .object({
    sequences: count("calibration sequences").default(4),
    sequenceLength: count("tokens per calibration sequence").default(64),
    seed: z.number().int().default(0),
    /**
     * A UTF-8 text file (relative to the suite file) to calibrate on instead of seeded token ids: its first
     * sequences × sequenceLength tokens, tokenised by the model checkpoint's tokenizer.json (checkpoint models only).
     */
    text: z.string().min(1).optional(),
  })
  .strict()
  .default({ sequences: 4, sequenceLength: 64, seed: 0 });

export const rankSchema = count("the rank of the factors");

/** The family the runners implement these by (the torch worker loads the compressed experts from its weights file). */
export const MOE_COMPRESSION_FAMILY = "moe-compression";

/**
 * Runs where the model is a MoE; not fine-tuned (a compressed MoE is measured for inference); a text calibration
 * needs the model's own tokenizer (a checkpoint).
 */
export function compressionUnsupportedReason(
  kind: MoeCompressionKind,
  scenario: Scenario,
  model: ModelConfig | undefined,
  check: (experts: number, topK: number) => string | undefined,
  calibration?: z.output<typeof calibrationSchema>,
): string | undefined {
  if (model && !model.moe) return `${kind} compresses the routed experts of a MoE model; model ${model.name} is dense`;
  if (model && calibration?.text && !model.checkpoint)
    return `${kind} calibration.text needs the model's tokenizer: model ${model.name} is synthesised (no checkpoint with tokenizer.json) — omit text to calibrate on seeded tokens`;
  if (scenario === "train-step")
    return `${kind} is measured for inference: fine-tuning a compressed MoE is not modelled (compress after training)`;
  if (model?.moe) {
    const reason = check(model.moe.experts, model.moe.topK);
    if (reason) return reason;
  }
  return undefined;
}

/** The model's experts and top-k, refusing a dense model (the rewrite's own check). */
export function requireMoe(kind: MoeCompressionKind, ir: ModelIr): { experts: number; topK: number } {
  if (!ir.config.moe)
    throw new Error(`${kind}: model ${ir.config.name} has no moe block — it compresses routed experts`);
  return { experts: ir.config.moe.experts, topK: ir.config.moe.topK };
}

/** Applies `rewrite` to every MoE layer with that layer's calibration; returns a new IR (tensors shared). */
export function rewriteMoeLayers(
  ir: ModelIr,
  calibration: z.output<typeof calibrationSchema>,
  rewrite: (ffn: MoeFfn, layer: number, calib: LayerCalibration, tensors: Map<string, unknown>) => MoeFfn,
  note: string,
): ModelIr {
  const calib = calibrateMoe(ir, calibration);
  const tensors = new Map(ir.tensors);
  const layers = ir.layers.map((layer, index) => {
    if (layer.ffn.kind !== "moe") return layer;
    const c = calib.layers.find((l) => l.layer === index)!;
    return { ...layer, ffn: rewrite(layer.ffn, index, c, tensors as Map<string, unknown>) };
  });
  return {
    ...ir,
    tensors,
    layers,
    notes: [...ir.notes, `${note}; calibration: ${calibrationSource(calibration)}, float64 forward of the base`],
  };
}

/** Expert e of a stacked [E, out, in] tensor as float64. */
export function expertMatrix(ir: ModelIr, name: string, e: number): Float64Array {
  const t = irFloatTensor(ir, name);
  const [, out, inF] = t.shape as [number, number, number];
  return Float64Array.from(t.data.subarray(e * out * inF, (e + 1) * out * inF));
}

/** Experts ordered by routed frequency (most first; ties to the lower index). */
export function byFrequency(frequency: number[]): number[] {
  return frequency.map((_, e) => e).sort((a, b) => frequency[b]! - frequency[a]! || a - b);
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/** Oversampling and power iterations of the randomized range finder (Halko, Martinsson & Tropp 2011, §4.4). */
const OVERSAMPLE = 10;
const POWER_ITERATIONS = 3;

/**
 * The first `rank` left singular vectors of M [rows, cols] (float64, row-major), zero-padded, [rows, rank]. Exact
 * (ml-matrix's SVD) when rank + 10 reaches the smaller side; otherwise a seeded randomized range finder with 3 power
 * iterations narrows M to rank + 10 directions first, then the small matrix's exact SVD (Halko et al. 2011, Alg. 4.4
 * and 5.1): the joint matrices of Sub-MoE ([2I, n·H]) are too large for a full SVD per case in plain JavaScript.
 */
export function leftSingularVectors(m: Float64Array, rows: number, cols: number, rank: number): Float64Array {
  const l = rank + OVERSAMPLE;
  if (l >= Math.min(rows, cols)) return exactLeftSingularVectors(m, rows, cols, rank);
  const rng = seededUniform(rows * 7919 + cols * 104729 + rank, "randomized-range-finder");
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  // Column-major blocks: q[j] is column j.
  let q: Float64Array[] = Array.from({ length: l }, () => Float64Array.from({ length: cols }, gaussian));
  const times = (x: Float64Array[]): Float64Array[] =>
    x.map((v) => {
      const y = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        const o = r * cols;
        for (let c = 0; c < cols; c++) s += m[o + c]! * v[c]!;
        y[r] = s;
      }
      return y;
    });
  const timesT = (x: Float64Array[]): Float64Array[] =>
    x.map((v) => {
      const y = new Float64Array(cols);
      for (let r = 0; r < rows; r++) {
        const a = v[r]!;
        if (a === 0) continue;
        const o = r * cols;
        for (let c = 0; c < cols; c++) y[c] += a * m[o + c]!;
      }
      return y;
    });
  let y = orthonormalize(times(q));
  for (let i = 0; i < POWER_ITERATIONS; i++) y = orthonormalize(times(orthonormalize(timesT(y))));
  q = y; // [rows] × l, orthonormal columns spanning M's dominant range
  const b = timesT(q); // row j of B = Qᵀ·M is q_jᵀ·M: [l, cols]
  const small = new Float64Array(l * cols);
  b.forEach((row, j) => small.set(row, j * cols));
  const ub = exactLeftSingularVectors(small, l, cols, rank); // [l, rank]
  const out = new Float64Array(rows * rank);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < l; j++) {
      const qr = q[j]![r]!;
      for (let k = 0; k < rank; k++) out[r * rank + k] += qr * ub[j * rank + k]!;
    }
  return out;
}

/** Modified Gram–Schmidt (twice, for stability) on column vectors; a dependent column becomes zero. */
function orthonormalize(columns: Float64Array[]): Float64Array[] {
  const out: Float64Array[] = [];
  for (const column of columns) {
    const v = Float64Array.from(column);
    for (let pass = 0; pass < 2; pass++)
      for (const u of out) {
        let dot = 0;
        for (let i = 0; i < v.length; i++) dot += u[i]! * v[i]!;
        for (let i = 0; i < v.length; i++) v[i]! -= dot * u[i]!;
      }
    let norm = 0;
    for (let i = 0; i < v.length; i++) norm += v[i]! ** 2;
    norm = Math.sqrt(norm);
    if (norm > 1e-12) for (let i = 0; i < v.length; i++) v[i]! /= norm;
    else v.fill(0);
    out.push(v);
  }
  return out;
}

function exactLeftSingularVectors(m: Float64Array, rows: number, cols: number, rank: number): Float64Array {
  const matrix = new Matrix(rows, cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) matrix.set(r, c, m[r * cols + c]!);
  const svd = new SVD(matrix, {
    computeLeftSingularVectors: true,
    computeRightSingularVectors: false,
    autoTranspose: true,
  });
  const u = svd.leftSingularVectors;
  const available = Math.min(u.columns, svd.diagonal.length);
  const out = new Float64Array(rows * rank);
  for (let r = 0; r < rows; r++) for (let j = 0; j < Math.min(rank, available); j++) out[r * rank + j] = u.get(r, j);
  return out;
}

/** V = Uᵀ·W [rank, in] for U [out, rank] and W [out, in]. */
export function projectOnto(u: Float64Array, w: Float64Array, out: number, inF: number, rank: number): Float64Array {
  const v = new Float64Array(rank * inF);
  for (let o = 0; o < out; o++)
    for (let j = 0; j < rank; j++) {
      const uo = u[o * rank + j]!;
      if (uo !== 0) for (let i = 0; i < inF; i++) v[j * inF + i] += uo * w[o * inF + i]!;
    }
  return v;
}

/** Factor stacks of one matrix kind under `${prefix}.{u,v}` (+ residual), written into `tensors`. */
export function storeFactors(
  tensors: Map<string, unknown>,
  prefix: string,
  parts: {
    u: Float64Array[];
    v: Float64Array[];
    uOf: number[];
    residual?: { weight: Float64Array[]; columns: number[][] };
  },
  out: number,
  inF: number,
  rank: number,
): FactorizedStack {
  const stack = (items: Float64Array[], shape: number[]) => {
    const data = new Float32Array(items.length * (items[0]?.length ?? 0));
    items.forEach((item, i) => data.set(item, i * item.length));
    return { shape: [items.length, ...shape], data };
  };
  tensors.set(`${prefix}.u`, stack(parts.u, [out, rank]));
  tensors.set(`${prefix}.v`, stack(parts.v, [rank, inF]));
  const f: FactorizedStack = { rank, u: `${prefix}.u`, uOf: parts.uOf, v: `${prefix}.v` };
  if (parts.residual) {
    const width = parts.residual.columns[0]!.length;
    tensors.set(`${prefix}.residual`, stack(parts.residual.weight, [out, width]));
    tensors.set(`${prefix}.residual_columns`, {
      shape: [parts.residual.columns.length, width],
      data: Float32Array.from(parts.residual.columns.flat()),
    });
    f.residual = { weight: `${prefix}.residual`, columns: `${prefix}.residual_columns`, width };
  }
  return f;
}

/** Stacks float64 expert matrices into one float32 [n, out, in] tensor. */
export function stackExperts(items: Float64Array[], out: number, inF: number): { shape: number[]; data: Float32Array } {
  const data = new Float32Array(items.length * out * inF);
  items.forEach((item, i) => data.set(item, i * out * inF));
  return { shape: [items.length, out, inF], data };
}

/** What one stored expert costs in parameters (factorised: its V and residual, plus its U when it has its own). */
export interface StoredExpertsShape {
  /** Router rows kept (pruning drops rows). */
  routerExperts: number;
  /** Stored experts per MoE layer. */
  stored: number;
  /** Parameters of all stored experts of one layer (U, V, residual weights). */
  storedParams: number;
  /** Index entries stored beside them (residual channel ids, int64 in the ORT graph). */
  indexEntries: number;
  /** Parameters one routed expert slot reads per token. */
  perSlotParams: number;
  notes: string[];
}

/** Accounting of a compressed MoE: the base MoE's with the routed experts (and router rows) replaced. */
export function compressedAccounting(model: ModelConfig, shape: StoredExpertsShape): TechniqueAccounting {
  const a = accountMoeModel(model);
  const s = moeShapeOf(model);
  const h = model.hidden;
  const L = a.moeLayers;
  const totalParams =
    a.totalParams - a.routedExpertParams - a.routerParams + L * shape.storedParams + L * shape.routerExperts * h;
  const activeBase = a.activeParams;
  const activeParams = totalParams - L * shape.storedParams + L * s.topK * shape.perSlotParams;
  return {
    totalParams,
    trainableParams: null,
    trainableReason: "a compressed MoE is measured for inference, not fine-tuned",
    activeParamsPerToken: activeParams,
    weightBytes: totalParams * FP32_BYTES + L * shape.indexEntries * 8,
    adapterParams: 0,
    adapterBytes: 0,
    // A routed slot's matmuls (2 FLOPs per multiply-add) against the uncompressed expert's; routers likewise.
    extraFlopsPerToken: 2 * (activeParams - activeBase),
    extraFlopsPerForward: 0,
    notes: shape.notes,
  };
}

/** Rank actually stored for a matrix [out, in] at a requested rank (never wider than the matrix). */
export function storedRank(rank: number | undefined, out: number, inF: number): number {
  return Math.min(rank ?? Math.min(out, inF), out, inF);
}

/** Resolves a `calibration.text` path of a raw technique against the suite's folder (Technique.expandInput). */
export function resolveCalibrationText(
  raw: Record<string, unknown>,
  baseDir: string,
): { raw: Record<string, unknown>; issues: string[] } {
  const calibration = raw.calibration;
  if (!calibration || typeof calibration !== "object") return { raw, issues: [] };
  const text = (calibration as { text?: unknown }).text;
  if (typeof text !== "string") return { raw, issues: [] };
  const path = resolve(baseDir, text);
  const issues = existsSync(path) ? [] : [`calibration.text: ${path} does not exist — give a UTF-8 text file`];
  return { raw: { ...raw, calibration: { ...calibration, text: path } }, issues };
}

/** A technique's parameters for the case key: a calibration text by its name and content (Technique.caseKeyParams). */
export function calibrationKeyParams<P extends { calibration: z.output<typeof calibrationSchema> }>(params: P): P {
  const text = params.calibration.text;
  return text ? { ...params, calibration: { ...params.calibration, text: textIdentity(text) } } : params;
}
