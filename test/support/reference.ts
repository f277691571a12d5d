// A float64 forward pass of the IR with plain loops: the numerical ground truth the ONNX graphs are
// checked against. For tiny models only (no blocking, no threads).
import type { ModelConfig } from "../../src/suite/schema.js";
import { rotaryTables } from "../../src/model/architecture.js";
import {
  buildModelIr,
  irFloatTensor,
  irRawTensor,
  type Int4Linear,
  type Int8Linear,
  type LinearOp,
  type ModelIr,
} from "../../src/model/ir.js";
import { dequantizeInt4, dequantizeInt8, fromHalf } from "../../src/model/quantize.js";
import type { Tensor, WeightMap } from "../../src/model/weights.js";
import { referenceMoeFfn, type MoeReferenceOptions } from "./moe-reference.js";
import {
  referenceMixloraFfn,
  referenceMoleLinear,
  referenceXloraScalings,
  type MoleReferenceCall,
  type MoleReferenceOptions,
} from "./mole-reference.js";
import { xloraBaseIr } from "../../src/model/mole.js";

/** Logits [batch, seq, vocab] (row-major) of the unmodified model, in float64. */
export function referenceForward(model: ModelConfig, weights: WeightMap, inputIds: number[][]): Float64Array {
  return referenceForwardIr(buildModelIr(model, weights), inputIds);
}

/** y [rows, out] = x [rows, in] · Wᵀ for W [out, in] given as float32. */
export function matmulTransposed(
  x: Float64Array,
  rows: number,
  weight: Float32Array | Float64Array,
  outFeatures: number,
  inFeatures: number,
): Float64Array {
  const y = new Float64Array(rows * outFeatures);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outFeatures; o++) {
      let sum = 0;
      const wo = o * inFeatures;
      const xr = r * inFeatures;
      for (let i = 0; i < inFeatures; i++) sum += x[xr + i]! * weight[wo + i]!;
      y[r * outFeatures + o] = sum;
    }
  return y;
}

/** A linear of the IR applied to rows of x, in float64. `call` places the rows in the run (mixtures of LoRA experts). */
export function referenceLinear(
  ir: ModelIr,
  linear: LinearOp,
  x: Float64Array,
  rows: number,
  call: MoleReferenceCall = { tokenOffset: 0, options: {} },
): Float64Array {
  switch (linear.kind) {
    case "dense": {
      const y = matmulTransposed(x, rows, irFloatTensor(ir, linear.weight).data, linear.outFeatures, linear.inFeatures);
      if (linear.bias) addRowVector(y, irFloatTensor(ir, linear.bias).data, rows);
      return y;
    }
    case "lora": {
      const y = referenceLinear(ir, linear.base, x, rows);
      const down = matmulTransposed(x, rows, irFloatTensor(ir, linear.loraA).data, linear.rank, linear.inFeatures);
      const up = matmulTransposed(down, rows, irFloatTensor(ir, linear.loraB).data, linear.outFeatures, linear.rank);
      for (let i = 0; i < y.length; i++) y[i] += linear.scale * up[i]!;
      return y;
    }
    case "dora": {
      const base =
        linear.base.kind === "dense" ? irFloatTensor(ir, linear.base.weight) : dequantizedInt4(ir, linear.base);
      const { outFeatures: out, inFeatures: inF, rank } = linear;
      const a = irFloatTensor(ir, linear.loraA).data;
      const bMatrix = irFloatTensor(ir, linear.loraB).data;
      const magnitude = irFloatTensor(ir, linear.magnitude).data;
      // W' = m/‖W + s·B·A‖_row ⊙ (W + s·B·A), then y = x·W'ᵀ + b: what the unmerged graph computes.
      const merged = new Float64Array(out * inF);
      for (let o = 0; o < out; o++) {
        let sumSquares = 0;
        for (let i = 0; i < inF; i++) {
          let delta = 0;
          for (let r = 0; r < rank; r++) delta += bMatrix[o * rank + r]! * a[r * inF + i]!;
          const w = base.data[o * inF + i]! + linear.scale * delta;
          merged[o * inF + i] = w;
          sumSquares += w * w;
        }
        const factor = magnitude[o]! / Math.sqrt(sumSquares);
        for (let i = 0; i < inF; i++) merged[o * inF + i] *= factor;
      }
      const y = matmulTransposed(x, rows, merged, out, inF);
      if (linear.base.bias) addRowVector(y, irFloatTensor(ir, linear.base.bias).data, rows);
      return y;
    }
    case "int4": {
      const y = matmulTransposed(x, rows, dequantizedInt4(ir, linear).data, linear.outFeatures, linear.inFeatures);
      if (linear.bias) addRowVector(y, irFloatTensor(ir, linear.bias).data, rows);
      return y;
    }
    case "int8": {
      const weight = dequantizeInt8({
        weight: irRawTensor(ir, linear.quantizedWeight),
        scales: irFloatTensor(ir, linear.scales),
      });
      const y = matmulTransposed(x, rows, weight.data, linear.outFeatures, linear.inFeatures);
      if (linear.bias) addRowVector(y, irFloatTensor(ir, linear.bias).data, rows);
      return y;
    }
    case "mole": // test/support/mole-reference.ts
      return referenceMoleLinear(ir, linear, x, rows, call, (base, input, inputRows) =>
        referenceLinear(ir, base, input, inputRows, call),
      );
    case "half": {
      const weightT = fromHalf(irRawTensor(ir, linear.weight)); // [in, out]
      const weight = new Float64Array(linear.outFeatures * linear.inFeatures);
      for (let i = 0; i < linear.inFeatures; i++)
        for (let o = 0; o < linear.outFeatures; o++)
          weight[o * linear.inFeatures + i] = weightT.data[i * linear.outFeatures + o]!;
      const y = matmulTransposed(x, rows, weight, linear.outFeatures, linear.inFeatures);
      if (linear.bias) addRowVector(y, irFloatTensor(ir, linear.bias).data, rows);
      return y;
    }
  }
}

/** W [out, in] that a quantised linear's stored integers mean (int4/int8 embeddings: the rows). */
function dequantizedLinearWeight(ir: ModelIr, linear: Int4Linear | Int8Linear): Tensor {
  return linear.kind === "int4"
    ? dequantizedInt4(ir, linear)
    : dequantizeInt8({ weight: irRawTensor(ir, linear.quantizedWeight), scales: irFloatTensor(ir, linear.scales) });
}

function dequantizedInt4(ir: ModelIr, linear: Int4Linear): Tensor {
  return dequantizeInt4(
    {
      packed: irRawTensor(ir, linear.packedWeight),
      scales: irFloatTensor(ir, linear.scales),
      zeroPoints: linear.zeroPoints ? irRawTensor(ir, linear.zeroPoints) : undefined,
    },
    linear.inFeatures,
    linear.blockSize,
  );
}

function addRowVector(y: Float64Array, v: Float32Array, rows: number): void {
  const n = v.length;
  for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) y[r * n + i] += v[i]!;
}

function rmsNorm(x: Float64Array, rows: number, width: number, weight: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let sumSquares = 0;
    for (let i = 0; i < width; i++) sumSquares += x[r * width + i]! ** 2;
    const inverse = 1 / Math.sqrt(sumSquares / width + eps);
    for (let i = 0; i < width; i++) y[r * width + i] = x[r * width + i]! * inverse * weight[i]!;
  }
  return y;
}

/** Rotates pairs (i, i + D/2) of each head in place (HF rotate_half). x: [seq, heads, D] for one sequence. */
function applyRope(
  x: Float64Array,
  seq: number,
  heads: number,
  headDim: number,
  cos: Float64Array,
  sin: Float64Array,
  startPosition: number,
): void {
  const half = headDim / 2;
  for (let s = 0; s < seq; s++) {
    const p = (startPosition + s) * half;
    for (let h = 0; h < heads; h++) {
      const base = (s * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const a = x[base + i]!;
        const b = x[base + half + i]!;
        x[base + i] = a * cos[p + i]! - b * sin[p + i]!;
        x[base + half + i] = b * cos[p + i]! + a * sin[p + i]!;
      }
    }
  }
}

/** Logits [batch, seq, vocab] of any IR (techniques included), in float64. */
export function referenceForwardIr(
  ir: ModelIr,
  inputIds: number[][],
  moe: MoeReferenceOptions = {},
  mole: MoleReferenceOptions = {},
): Float64Array {
  const hidden = referenceFinalHidden(ir, inputIds, moe, mole);
  const { vocab, hidden: H } = ir.dims;
  const rows = hidden.length / H;
  const logits = new Float64Array(rows * vocab);
  logits.set(
    ir.outputLinear
      ? referenceLinear(ir, ir.outputLinear, hidden, rows)
      : matmulTransposed(hidden, rows, irFloatTensor(ir, ir.lmHead).data, vocab, H),
  );
  return logits;
}

/** The final normed hidden states [batch, seq, H] of an IR, in float64 (X-LoRA: its base pass first, for the scalings). */
function referenceFinalHidden(
  ir: ModelIr,
  inputIds: number[][],
  moe: MoeReferenceOptions,
  mole: MoleReferenceOptions,
): Float64Array {
  const { dims, config } = ir;
  const batch = inputIds.length;
  const seq = inputIds[0]?.length ?? 0;
  if (seq === 0 || inputIds.some((row) => row.length !== seq))
    throw new Error("referenceForward needs a non-empty rectangular [batch][seq] of token ids");
  const { cos, sin } = rotaryTables(config, seq);
  const classifier = ir.xloraClassifier;
  const scalings = classifier
    ? referenceXloraScalings(ir, classifier, referenceFinalHidden(xloraBaseIr(ir), inputIds, moe, {}), batch * seq)
    : undefined;
  const finalHidden = new Float64Array(batch * seq * dims.hidden);
  const embed = ir.embeddingLinear
    ? dequantizedLinearWeight(ir, ir.embeddingLinear).data
    : irFloatTensor(ir, ir.embedTokens).data; // [vocab, H]
  const H = dims.hidden;
  const D = dims.headDim;
  const moeCounts = ir.layers.map((layer) =>
    layer.ffn.kind === "moe" ? new Int32Array(layer.ffn.experts) : undefined,
  ); // capacity, per layer
  for (let b = 0; b < batch; b++) {
    const perTokenScalings = classifier ? classifier.layers * classifier.experts : 0;
    const call: MoleReferenceCall = {
      tokenOffset: b * seq,
      options: mole,
      xloraScalings: scalings?.subarray(b * seq * perTokenScalings, (b + 1) * seq * perTokenScalings),
    };
    const linear = (op: LinearOp, x: Float64Array, rows: number) => referenceLinear(ir, op, x, rows, call);
    const hidden: Float64Array = new Float64Array(seq * H);
    for (let s = 0; s < seq; s++) {
      const token = inputIds[b]![s]!;
      if (!(token >= 0 && token < dims.vocab))
        throw new Error(`token id ${token} is outside the vocabulary (${dims.vocab})`);
      for (let i = 0; i < H; i++) hidden[s * H + i] = embed[token * H + i]!;
    }
    for (const [layerIndex, layer] of ir.layers.entries()) {
      const normed = rmsNorm(hidden, seq, H, irFloatTensor(ir, layer.inputNorm).data, config.rmsNormEps);
      const q = linear(layer.attention.q, normed, seq); // [seq, heads, D]
      const k = linear(layer.attention.k, normed, seq); // [seq, kvHeads, D]
      const v = linear(layer.attention.v, normed, seq);
      if (layer.qNorm) q.set(rmsNorm(q, seq * dims.heads, D, irFloatTensor(ir, layer.qNorm).data, config.rmsNormEps));
      if (layer.kNorm) k.set(rmsNorm(k, seq * dims.kvHeads, D, irFloatTensor(ir, layer.kNorm).data, config.rmsNormEps));
      applyRope(q, seq, dims.heads, D, cos, sin, 0);
      applyRope(k, seq, dims.kvHeads, D, cos, sin, 0);
      const context = new Float64Array(seq * dims.qDim);
      const scale = 1 / Math.sqrt(D);
      const scores = new Float64Array(seq);
      for (let h = 0; h < dims.heads; h++) {
        const kv = Math.floor(h / dims.groupSize);
        for (let s = 0; s < seq; s++) {
          let max = -Infinity;
          for (let t = 0; t <= s; t++) {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += q[(s * dims.heads + h) * D + d]! * k[(t * dims.kvHeads + kv) * D + d]!;
            scores[t] = dot * scale;
            if (scores[t]! > max) max = scores[t]!;
          }
          let total = 0;
          for (let t = 0; t <= s; t++) total += scores[t] = Math.exp(scores[t]! - max);
          for (let t = 0; t <= s; t++) {
            const p = scores[t]! / total;
            for (let d = 0; d < D; d++)
              context[(s * dims.heads + h) * D + d] += p * v[(t * dims.kvHeads + kv) * D + d]!;
          }
        }
      }
      const attended = linear(layer.attention.o, context, seq);
      for (let i = 0; i < hidden.length; i++) hidden[i] += attended[i]!;
      const normed2 = rmsNorm(hidden, seq, H, irFloatTensor(ir, layer.postAttentionNorm).data, config.rmsNormEps);
      const ffnOut =
        layer.ffn.kind === "moe" // test/support/moe-reference.ts
          ? referenceMoeFfn(
              ir,
              layer.ffn,
              normed2,
              seq,
              { layer: layerIndex, tokenOffset: b * seq, counts: moeCounts[layerIndex] },
              { totalTokens: batch * seq, ...moe },
              (f, x, rows) => referenceFfn(ir, f, x, rows, call),
            )
          : referenceFfn(ir, layer.ffn, normed2, seq, call);
      for (let i = 0; i < hidden.length; i++) hidden[i] += ffnOut[i]!;
    }
    finalHidden.set(rmsNorm(hidden, seq, H, irFloatTensor(ir, ir.finalNorm).data, config.rmsNormEps), b * seq * H);
  }
  return finalHidden;
}

function referenceFfn(
  ir: ModelIr,
  ffn: ModelIr["layers"][number]["ffn"],
  x: Float64Array,
  rows: number,
  call: MoleReferenceCall,
): Float64Array {
  const linear = (op: LinearOp, input: Float64Array, inputRows: number) =>
    referenceLinear(ir, op, input, inputRows, call);
  switch (ffn.kind) {
    case "swiglu": {
      const gate = linear(ffn.gate, x, rows);
      const up = linear(ffn.up, x, rows);
      for (let i = 0; i < gate.length; i++) gate[i] = (gate[i]! / (1 + Math.exp(-gate[i]!))) * up[i]!;
      return linear(ffn.down, gate, rows);
    }
    case "mixlora": // test/support/mole-reference.ts
      return referenceMixloraFfn(ir, ffn, x, rows, call, linear);
    default:
      throw new Error(`the float64 reference does not know the FFN kind "${(ffn as { kind: string }).kind}"`);
  }
}
