// Calibration routing of a MoE model: a seeded forward pass (float64, plain loops; tiny and scaled models) over
// synthetic tokens (or a text, with a checkpoint's tokenizer) that records, per MoE layer, each token's router logits, probabilities, chosen experts and the
// FFN input — what expert pruning and merging decide from (src/techniques/moe-compression.ts), and a routing sequence
// for the locality metrics (src/model/routing-locality.ts). Runs on the base IR (dense linears) only.
import { rotaryTables } from "./architecture.js";
import { irFloatTensor, type LinearOp, type ModelIr } from "./ir.js";
import type { MoeFfn, SwigluFfn } from "./moe.js";
import { seededUniform } from "./sampling.js";
import { tokenizeTextFile } from "./tokenizer.js";
import type { ModelConfig } from "../suite/schema.js";
import { basename } from "node:path";

export interface CalibrationOptions {
  /** Sequences of `sequenceLength` seeded uniform token ids (or consecutive chunks of `text`'s tokens). */
  sequences: number;
  sequenceLength: number;
  seed: number;
  /** A UTF-8 text (absolute path) tokenised by the model checkpoint's tokenizer.json instead of seeded ids. */
  text?: string;
}

export interface LayerCalibration {
  layer: number;
  experts: number;
  topK: number;
  /** Router logits [T, E] (bias included), token-major over the sequences. */
  logits: Float64Array;
  /** Softmax probabilities [T, E]. */
  probs: Float64Array;
  /** Chosen experts per token [T, k], before any capacity drop. */
  chosen: Int32Array;
  /** The MoE FFN's input (post-attention normed hidden states) [T, H], float32. */
  inputs: Float32Array;
}

export interface MoeCalibration {
  options: CalibrationOptions;
  tokens: number;
  layers: LayerCalibration[];
}

export const DEFAULT_CALIBRATION: CalibrationOptions = { sequences: 4, sequenceLength: 64, seed: 0 };

/** Assignments per expert (how often each expert was chosen) of a calibrated layer. */
export function routedFrequency(layer: LayerCalibration): number[] {
  const counts = new Array<number>(layer.experts).fill(0);
  for (const e of layer.chosen) counts[e]! += 1;
  return counts;
}

/** The chosen experts as a routing sequence (per token). */
export function calibrationSequence(layer: LayerCalibration): number[][] {
  const out: number[][] = [];
  for (let t = 0; t < layer.chosen.length / layer.topK; t++)
    out.push(Array.from(layer.chosen.subarray(t * layer.topK, (t + 1) * layer.topK)));
  return out;
}

const cache = new WeakMap<object, Map<string, MoeCalibration>>();

/** The calibration of a base MoE IR (cached per IR tensor store and options). */
export function calibrateMoe(ir: ModelIr, options: CalibrationOptions = DEFAULT_CALIBRATION): MoeCalibration {
  const anchor = irFloatTensor(ir, ir.embedTokens);
  const key = JSON.stringify({ options, layers: ir.layers.map((l) => (l.ffn.kind === "moe" ? l.ffn.router : "")) });
  const cached = cache.get(anchor)?.get(key);
  if (cached) return cached;
  const result = runCalibration(ir, options);
  if (!cache.has(anchor)) cache.set(anchor, new Map());
  cache.get(anchor)!.set(key, result);
  return result;
}

/** The seeded calibration token ids: `sequences` rows of `sequenceLength` uniform ids over the vocabulary. */
export function calibrationTokens(vocab: number, options: CalibrationOptions): number[][] {
  const rng = seededUniform(options.seed, "moe-calibration-tokens");
  return Array.from({ length: options.sequences }, () =>
    Array.from({ length: options.sequenceLength }, () => Math.floor(rng() * vocab)),
  );
}

/**
 * The calibration token ids of a model: the seeded ids, or with `text` the first `sequences` consecutive chunks of
 * `sequenceLength` tokens of the text, tokenised by the model's checkpoint tokenizer (a text too short is an error).
 */
export function calibrationInput(model: ModelConfig, options: CalibrationOptions): number[][] {
  if (!options.text) return calibrationTokens(model.vocab, options);
  const ids = tokenizeTextFile(model, options.text);
  const needed = options.sequences * options.sequenceLength;
  if (ids.length < needed)
    throw new Error(
      `calibration text ${options.text} has ${ids.length} tokens; ${options.sequences} sequences × ${options.sequenceLength} tokens need ${needed} — give a longer text or fewer/shorter sequences`,
    );
  return Array.from({ length: options.sequences }, (_, s) =>
    ids.slice(s * options.sequenceLength, (s + 1) * options.sequenceLength),
  );
}

/** What the calibration tokens were, for the notes a compressed case records. */
export function calibrationSource(options: CalibrationOptions): string {
  return options.text
    ? `the first ${options.sequences} × ${options.sequenceLength} tokens of ${basename(options.text)} (checkpoint tokenizer)`
    : `${options.sequences} × ${options.sequenceLength} seeded tokens (seed ${options.seed})`;
}

function runCalibration(ir: ModelIr, options: CalibrationOptions): MoeCalibration {
  const { dims, config } = ir;
  const H = dims.hidden;
  const D = dims.headDim;
  const seq = options.sequenceLength;
  const tokens = calibrationInput(config, options);
  const T = options.sequences * seq;
  const { cos, sin } = rotaryTables(config, seq);
  const embed = irFloatTensor(ir, ir.embedTokens).data;
  const layers = new Map<number, LayerCalibration>();
  for (const [index, layer] of ir.layers.entries())
    if (layer.ffn.kind === "moe")
      layers.set(index, {
        layer: index,
        experts: layer.ffn.experts,
        topK: layer.ffn.topK,
        logits: new Float64Array(T * layer.ffn.experts),
        probs: new Float64Array(T * layer.ffn.experts),
        chosen: new Int32Array(T * layer.ffn.topK),
        inputs: new Float32Array(T * H),
      });
  const linear = (op: LinearOp, x: Float64Array, rows: number): Float64Array => {
    if (op.kind !== "dense")
      throw new Error(`MoE calibration runs on the base model: a ${op.kind} linear is not supported`);
    const y = matmulT(x, rows, irFloatTensor(ir, op.weight).data, op.outFeatures, op.inFeatures);
    if (op.bias) {
      const b = irFloatTensor(ir, op.bias).data;
      for (let r = 0; r < rows; r++) for (let o = 0; o < op.outFeatures; o++) y[r * op.outFeatures + o] += b[o]!;
    }
    return y;
  };
  for (let b = 0; b < options.sequences; b++) {
    const hidden = new Float64Array(seq * H);
    for (let s = 0; s < seq; s++) for (let i = 0; i < H; i++) hidden[s * H + i] = embed[tokens[b]![s]! * H + i]!;
    for (const [index, layer] of ir.layers.entries()) {
      const normed = rmsNorm(hidden, seq, H, irFloatTensor(ir, layer.inputNorm).data, config.rmsNormEps);
      const q = linear(layer.attention.q, normed, seq);
      const k = linear(layer.attention.k, normed, seq);
      const v = linear(layer.attention.v, normed, seq);
      rope(q, seq, dims.heads, D, cos, sin);
      rope(k, seq, dims.kvHeads, D, cos, sin);
      const context = new Float64Array(seq * dims.qDim);
      const scores = new Float64Array(seq);
      for (let h = 0; h < dims.heads; h++) {
        const kv = Math.floor(h / dims.groupSize);
        for (let s = 0; s < seq; s++) {
          let max = -Infinity;
          for (let t = 0; t <= s; t++) {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += q[(s * dims.heads + h) * D + d]! * k[(t * dims.kvHeads + kv) * D + d]!;
            scores[t] = dot / Math.sqrt(D);
            if (scores[t]! > max) max = scores[t]!;
          }
          let total = 0;
          for (let t = 0; t <= s; t++) total += scores[t] = Math.exp(scores[t]! - max);
          for (let t = 0; t <= s; t++)
            for (let d = 0; d < D; d++)
              context[(s * dims.heads + h) * D + d] += (scores[t]! / total) * v[(t * dims.kvHeads + kv) * D + d]!;
        }
      }
      const attended = linear(layer.attention.o, context, seq);
      for (let i = 0; i < hidden.length; i++) hidden[i] += attended[i]!;
      const x = rmsNorm(hidden, seq, H, irFloatTensor(ir, layer.postAttentionNorm).data, config.rmsNormEps);
      let out: Float64Array;
      if (layer.ffn.kind === "swiglu") out = swiglu(layer.ffn, x, seq, linear);
      else if (layer.ffn.kind === "moe") out = moe(ir, layer.ffn, x, seq, layers.get(index)!, b * seq, linear);
      else throw new Error(`MoE calibration runs on the base model: FFN kind ${layer.ffn.kind} is not supported`);
      for (let i = 0; i < hidden.length; i++) hidden[i] += out[i]!;
    }
  }
  return { options, tokens: T, layers: [...layers.values()] };
}

function swiglu(
  ffn: SwigluFfn,
  x: Float64Array,
  rows: number,
  linear: (op: LinearOp, x: Float64Array, rows: number) => Float64Array,
): Float64Array {
  const gate = linear(ffn.gate, x, rows);
  const up = linear(ffn.up, x, rows);
  for (let i = 0; i < gate.length; i++) gate[i] = (gate[i]! / (1 + Math.exp(-gate[i]!))) * up[i]!;
  return linear(ffn.down, gate, rows);
}

/** The MoE FFN (top-k of the softmax, optionally renormalised; no capacity drops), recording its routing. */
function moe(
  ir: ModelIr,
  ffn: MoeFfn,
  x: Float64Array,
  rows: number,
  record: LayerCalibration,
  offset: number,
  linear: (op: LinearOp, x: Float64Array, rows: number) => Float64Array,
): Float64Array {
  const H = ir.dims.hidden;
  const { experts: E, topK: k, expertFfn: I } = ffn;
  const router = irFloatTensor(ir, ffn.router).data;
  const bias = ffn.routerBias ? irFloatTensor(ir, ffn.routerBias).data : undefined;
  const gateUp = irFloatTensor(ir, ffn.gateUp).data;
  const down = irFloatTensor(ir, ffn.down).data;
  const y = new Float64Array(rows * H);
  const act = new Float64Array(I);
  for (let r = 0; r < rows; r++) {
    const t = offset + r;
    const xr = x.subarray(r * H, (r + 1) * H);
    for (let i = 0; i < H; i++) record.inputs[t * H + i] = xr[i]!;
    const logits = record.logits.subarray(t * E, (t + 1) * E);
    const probs = record.probs.subarray(t * E, (t + 1) * E);
    let max = -Infinity;
    for (let e = 0; e < E; e++) {
      let sum = bias ? bias[e]! : 0;
      for (let i = 0; i < H; i++) sum += xr[i]! * router[e * H + i]!;
      logits[e] = sum;
      max = Math.max(max, sum);
    }
    let total = 0;
    for (let e = 0; e < E; e++) total += probs[e] = Math.exp(logits[e]! - max);
    for (let e = 0; e < E; e++) probs[e]! /= total;
    const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => probs[b]! - probs[a]! || a - b);
    const top = order.slice(0, k);
    top.forEach((e, slot) => (record.chosen[t * k + slot] = e));
    const norm = ffn.normTopK ? top.reduce((s, e) => s + probs[e]!, 0) : 1;
    for (const e of top) {
      const weight = probs[e]! / norm;
      for (let j = 0; j < I; j++) {
        let g = 0;
        let u = 0;
        const gRow = (e * 2 * I + j) * H;
        const uRow = (e * 2 * I + I + j) * H;
        for (let i = 0; i < H; i++) {
          g += xr[i]! * gateUp[gRow + i]!;
          u += xr[i]! * gateUp[uRow + i]!;
        }
        act[j] = (g / (1 + Math.exp(-g))) * u;
      }
      for (let o = 0; o < H; o++) {
        let sum = 0;
        const row = (e * H + o) * I;
        for (let j = 0; j < I; j++) sum += act[j]! * down[row + j]!;
        y[r * H + o] += weight * sum;
      }
    }
  }
  if (ffn.shared) {
    const shared = swiglu(ffn.shared, x, rows, linear);
    for (let i = 0; i < y.length; i++) y[i] += shared[i]!;
  }
  return y;
}

function matmulT(x: Float64Array, rows: number, w: Float32Array, out: number, inF: number): Float64Array {
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < out; o++) {
      let sum = 0;
      for (let i = 0; i < inF; i++) sum += x[r * inF + i]! * w[o * inF + i]!;
      y[r * out + o] = sum;
    }
  return y;
}

function rmsNorm(x: Float64Array, rows: number, width: number, weight: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let i = 0; i < width; i++) sum += x[r * width + i]! ** 2;
    const inv = 1 / Math.sqrt(sum / width + eps);
    for (let i = 0; i < width; i++) y[r * width + i] = x[r * width + i]! * inv * weight[i]!;
  }
  return y;
}

function rope(x: Float64Array, seq: number, heads: number, D: number, cos: Float64Array, sin: Float64Array): void {
  const half = D / 2;
  for (let s = 0; s < seq; s++)
    for (let h = 0; h < heads; h++) {
      const base = (s * heads + h) * D;
      for (let i = 0; i < half; i++) {
        const a = x[base + i]!;
        const b = x[base + half + i]!;
        x[base + i] = a * cos[s * half + i]! - b * sin[s * half + i]!;
        x[base + half + i] = b * cos[s * half + i]! + a * sin[s * half + i]!;
      }
    }
}
