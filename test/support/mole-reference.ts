// The float64 reference of the mixtures of LoRA experts (docs/mole.md): every expert computed on every token, then
// masked and weighted. The experts used are the reference's own top-k, or — for comparing with ORT, so that
// near-ties cannot flip a test — the experts ORT chose (its `router_indices.*` outputs), weighted with the
// reference's own probabilities at those experts.
import { irFloatTensor, type LinearOp, type ModelIr } from "../../src/model/ir.js";
import { dynmoleMask, dynmoleMaskOutput } from "../../src/model/dynmole.js";
import { moleRoutingOutput, type MixloraFfn, type MoleLinear, type XloraClassifier } from "../../src/model/mole.js";

export interface MoleReferenceOptions {
  /** By routing output name (`router_indices.{layer}[.{projection}]`): chosen experts [batch·seq, k], token-major, as ORT output them. */
  forcedRouting?: Map<string, ArrayLike<number | bigint>>;
  /** Filled by routing output name with the reference's own top-k and the margin p_k − p_{k+1} per token. */
  trace?: Map<string, { k: number; indices: number[]; margins: number[] }>;
  /** DynMoLE: kept-expert masks [batch·seq, E] by output name (`router_mask.{layer}.{projection}`), as ORT output them. */
  forcedMasks?: Map<string, ArrayLike<number>>;
  /** DynMoLE: filled with the reference's own masks by output name. */
  maskTrace?: Map<string, number[]>;
}

/** Where one reference call sits in the run (the reference runs one sequence at a time). */
export interface MoleReferenceCall {
  /** Index of the call's first token in the flattened [batch·seq] order. */
  tokenOffset: number;
  options: MoleReferenceOptions;
  /** X-LoRA: scalings [rows, L, E] of this call's tokens, from the base pass. */
  xloraScalings?: Float64Array;
}

export type LinearFn = (linear: LinearOp, x: Float64Array, rows: number) => Float64Array;

function softmaxInPlace(values: Float64Array): void {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i] = Math.exp(values[i]! - max);
  for (let i = 0; i < values.length; i++) values[i] /= total;
}

/** Router probabilities [rows, E] = softmax(x·Rᵀ + b). */
function routerProbs(
  ir: ModelIr,
  router: string,
  routerBias: string | undefined,
  x: Float64Array,
  rows: number,
  inFeatures: number,
): Float64Array {
  const weight = irFloatTensor(ir, router).data;
  const bias = routerBias ? irFloatTensor(ir, routerBias).data : undefined;
  const experts = weight.length / inFeatures;
  const probs = new Float64Array(rows * experts);
  for (let r = 0; r < rows; r++) {
    const row = probs.subarray(r * experts, (r + 1) * experts);
    for (let e = 0; e < experts; e++) {
      let sum = bias ? bias[e]! : 0;
      for (let i = 0; i < inFeatures; i++) sum += x[r * inFeatures + i]! * weight[e * inFeatures + i]!;
      row[e] = sum;
    }
    softmaxInPlace(row);
  }
  return probs;
}

/**
 * Top-k gates [rows, E] from probabilities: p_K / Σ_K p × gain on the chosen experts (ORT's choice when forced),
 * zero elsewhere; the reference's own choice and margin go to the trace.
 */
function topKGates(
  probs: Float64Array,
  rows: number,
  experts: number,
  k: number,
  gain: number,
  outputName: string,
  call: MoleReferenceCall,
): Float64Array {
  const gates = new Float64Array(rows * experts);
  const forced = call.options.forcedRouting?.get(outputName);
  for (let r = 0; r < rows; r++) {
    const p = probs.subarray(r * experts, (r + 1) * experts);
    const order = Array.from({ length: experts }, (_, e) => e).sort((a, b) => p[b]! - p[a]! || a - b);
    const own = order.slice(0, k);
    if (call.options.trace) {
      const entry = call.options.trace.get(outputName) ?? { k, indices: [], margins: [] };
      entry.indices.push(...own);
      entry.margins.push(k < experts ? p[order[k - 1]!]! - p[order[k]!]! : Infinity);
      call.options.trace.set(outputName, entry);
    }
    const chosen = forced ? Array.from({ length: k }, (_, j) => Number(forced[(call.tokenOffset + r) * k + j]!)) : own;
    const sum = chosen.reduce((a, e) => a + p[e]!, 0);
    for (const e of chosen) gates[r * experts + e] += (gain * p[e]!) / sum;
  }
  return gates;
}

/** X-LoRA scalings [rows, L, E] = softmax_E((z·Cᵀ + c) reshaped), z [rows, H] the base pass's final normed hidden state. */
export function referenceXloraScalings(
  ir: ModelIr,
  classifier: XloraClassifier,
  z: Float64Array,
  rows: number,
): Float64Array {
  const H = ir.dims.hidden;
  const { layers: L, experts: E } = classifier;
  const weight = irFloatTensor(ir, classifier.weight).data;
  const bias = irFloatTensor(ir, classifier.bias).data;
  const scalings = new Float64Array(rows * L * E);
  for (let r = 0; r < rows; r++)
    for (let l = 0; l < L; l++) {
      const row = scalings.subarray((r * L + l) * E, (r * L + l + 1) * E);
      for (let e = 0; e < E; e++) {
        let sum = bias[l * E + e]!;
        for (let i = 0; i < H; i++) sum += z[r * H + i]! * weight[(l * E + e) * H + i]!;
        row[e] = sum;
      }
      softmaxInPlace(row);
    }
  return scalings;
}

/** The gate [rows, E] of a linear-level mixture. */
function linearGates(
  ir: ModelIr,
  linear: MoleLinear,
  x: Float64Array,
  rows: number,
  call: MoleReferenceCall,
): Float64Array {
  const E = linear.experts;
  const gating = linear.gating;
  switch (gating.kind) {
    case "soft":
      return routerProbs(ir, gating.router, gating.routerBias, x, rows, linear.inFeatures);
    case "top-k":
      return topKGates(
        routerProbs(ir, gating.router, gating.routerBias, x, rows, linear.inFeatures),
        rows,
        E,
        gating.topK,
        gating.gain,
        moleRoutingOutput(linear.layer, linear.projection),
        call,
      );
    case "dynmole": {
      // src/model/dynmole.ts; the mask ORT output (options.forcedMasks) where given, so near-ties at topP or at the
      // entropy threshold cannot flip a test, with the reference's own probabilities.
      const probs = routerProbs(ir, gating.router, gating.routerBias, x, rows, linear.inFeatures);
      const forced = call.options.forcedMasks?.get(dynmoleMaskOutput(linear.layer, linear.projection));
      const trace = call.options.maskTrace;
      for (let r = 0; r < rows; r++) {
        const p = probs.subarray(r * E, (r + 1) * E);
        const own = dynmoleMask(p, { ...gating, kind: "dynmole" });
        if (trace) {
          const name = dynmoleMaskOutput(linear.layer, linear.projection);
          trace.set(name, [...(trace.get(name) ?? []), ...own.mask]);
        }
        const t = call.tokenOffset + r;
        for (let e = 0; e < E; e++) p[e]! *= forced ? forced[t * E + e]! : own.mask[e]!;
      }
      return probs;
    }
    case "xlora": {
      const scalings = call.xloraScalings;
      if (!scalings) throw new Error("an X-LoRA linear needs the scaling pass: the IR has no xloraClassifier");
      const layers = scalings.length / (rows * E);
      const gates = new Float64Array(rows * E);
      for (let r = 0; r < rows; r++)
        gates.set(scalings.subarray((r * layers + linear.layer) * E, (r * layers + linear.layer + 1) * E), r * E);
      if (gating.topK === undefined || gating.topK >= E) return gates;
      // Only the layer's first linear traces its routing (they all share it).
      const quiet: MoleReferenceCall =
        linear.projection === firstXloraProjection(ir, linear.layer)
          ? call
          : { ...call, options: { forcedRouting: call.options.forcedRouting } };
      return topKGates(gates, rows, E, gating.topK, 1, moleRoutingOutput(linear.layer), quiet);
    }
  }
}

function firstXloraProjection(ir: ModelIr, layer: number): string | undefined {
  const { attention, ffn } = ir.layers[layer]!;
  const linears = [
    attention.q,
    attention.k,
    attention.v,
    attention.o,
    ...(ffn.kind === "swiglu" ? [ffn.gate, ffn.up, ffn.down] : []),
  ];
  return linears.find((l): l is MoleLinear => l.kind === "mole")?.projection;
}

/** Every expert's s·B_e·(A_e·x) on every row: [E, rows, out]. */
function allExpertDeltas(
  ir: ModelIr,
  loraA: string,
  loraB: string,
  scale: number,
  x: Float64Array,
  rows: number,
): { deltas: Float64Array; experts: number; out: number } {
  const a = irFloatTensor(ir, loraA);
  const b = irFloatTensor(ir, loraB);
  const [E, rank, inFeatures] = a.shape as [number, number, number];
  const out = b.shape[1]!;
  const deltas = new Float64Array(E * rows * out);
  const down = new Float64Array(rank);
  for (let e = 0; e < E; e++)
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < rank; i++) {
        let sum = 0;
        for (let c = 0; c < inFeatures; c++) sum += x[r * inFeatures + c]! * a.data[(e * rank + i) * inFeatures + c]!;
        down[i] = sum;
      }
      for (let o = 0; o < out; o++) {
        let sum = 0;
        for (let i = 0; i < rank; i++) sum += b.data[(e * out + o) * rank + i]! * down[i]!;
        deltas[(e * rows + r) * out + o] = scale * sum;
      }
    }
  return { deltas, experts: E, out };
}

/** y [rows, out] of a linear-level mixture: base(x) + Σ_e gate_e · s·B_e·A_e·x, every expert computed. */
export function referenceMoleLinear(
  ir: ModelIr,
  linear: MoleLinear,
  x: Float64Array,
  rows: number,
  call: MoleReferenceCall,
  linearFn: LinearFn,
): Float64Array {
  const y = linearFn(linear.base, x, rows);
  const gates = linearGates(ir, linear, x, rows, call);
  const { deltas, experts: E, out } = allExpertDeltas(ir, linear.loraA, linear.loraB, linear.scale, x, rows);
  for (let e = 0; e < E; e++)
    for (let r = 0; r < rows; r++) {
      const gate = gates[r * E + e]!;
      for (let o = 0; o < out; o++) y[r * out + o] += gate * deltas[(e * rows + r) * out + o]!;
    }
  return y;
}

/** y [rows, H] of MixLoRA's FFN: every expert's SwiGLU on every row, weighted by the (renormalised) top-k. */
export function referenceMixloraFfn(
  ir: ModelIr,
  ffn: MixloraFfn,
  x: Float64Array,
  rows: number,
  call: MoleReferenceCall,
  linearFn: LinearFn,
): Float64Array {
  const H = ir.dims.hidden;
  const { experts: E } = ffn;
  const gates = topKGates(
    routerProbs(ir, ffn.router, ffn.routerBias, x, rows, H),
    rows,
    E,
    ffn.topK,
    1,
    moleRoutingOutput(ffn.layer),
    call,
  );
  const baseGate = linearFn(ffn.base.gate, x, rows);
  const baseUp = linearFn(ffn.base.up, x, rows);
  const I = baseGate.length / rows;
  const delta = (projection: "gate_proj" | "up_proj" | "down_proj", input: Float64Array, inputRows: number) => {
    const adapters = ffn.adapters[projection];
    return adapters
      ? allExpertDeltas(ir, adapters.loraA, adapters.loraB, ffn.scale, input, inputRows).deltas
      : undefined;
  };
  const gateDeltas = delta("gate_proj", x, rows); // [E, rows, I]
  const upDeltas = delta("up_proj", x, rows);
  // h_e for every expert and row: [E·rows, I].
  const hidden = new Float64Array(E * rows * I);
  for (let e = 0; e < E; e++)
    for (let i = 0; i < rows * I; i++) {
      const g = baseGate[i]! + (gateDeltas ? gateDeltas[e * rows * I + i]! : 0);
      const u = baseUp[i]! + (upDeltas ? upDeltas[e * rows * I + i]! : 0);
      hidden[e * rows * I + i] = (g / (1 + Math.exp(-g))) * u;
    }
  const outputs = linearFn(ffn.base.down, hidden, E * rows); // the base down on every expert's h: [E·rows, H]
  const downDeltas = delta("down_proj", hidden, E * rows); // [E, E·rows, H]: expert e's adapter on expert e's rows only is used
  const y = new Float64Array(rows * H);
  for (let e = 0; e < E; e++)
    for (let r = 0; r < rows; r++) {
      const gate = gates[r * E + e]!;
      if (gate === 0) continue; // the mask: every expert was computed above
      for (let h = 0; h < H; h++) {
        const row = e * rows + r;
        y[r * H + h] += gate * (outputs[row * H + h]! + (downDeltas ? downDeltas[(e * E * rows + row) * H + h]! : 0));
      }
    }
  return y;
}
