// The float64 reference of a MoE FFN: every expert computed on every token, then masked and weighted. The experts
// used are the reference's own top-k, or — for comparing with ORT, so that near-ties cannot flip a test — the
// experts ORT chose (read from the graph's `router_indices.{layer}` outputs), with the reference's own softmax
// probabilities at those experts.
import { irFloatTensor, type ModelIr } from "../../src/model/ir.js";
import type { MoeFfn, SwigluFfn } from "../../src/model/moe.js";
import { storedExpertOf, storedExpertWeights } from "../../src/model/moe-compressed.js";

export interface MoeReferenceOptions {
  /** Per layer: chosen experts [batch·seq, k] (token-major), as ORT output them. */
  forcedRouting?: Map<number, ArrayLike<number | bigint>>;
  /** Filled per layer with the reference's own routing: top-k indices and the margin p_k − p_{k+1} per token. */
  trace?: Map<number, { indices: number[]; margins: number[] }>;
  /** Total tokens of the run (batch · seq): capacity is counted over all of them, in token-major order. */
  totalTokens?: number;
}

/** Per-call position of a layer within the batch (the reference runs one sequence at a time). */
export interface MoeReferenceCall {
  layer: number;
  /** Index of the first token of this call in the flattened [batch·seq] order. */
  tokenOffset: number;
  /** Assignments per expert so far in this run (capacity), shared across the calls of one layer. */
  counts?: Int32Array;
}

function swiglu(gate: number, up: number): number {
  return (gate / (1 + Math.exp(-gate))) * up;
}

/** y [rows, H] of a MoE FFN, in float64. `sharedFfn` runs the (possibly adapted) shared experts. */
export function referenceMoeFfn(
  ir: ModelIr,
  ffn: MoeFfn,
  x: Float64Array,
  rows: number,
  call: MoeReferenceCall,
  options: MoeReferenceOptions,
  sharedFfn: (shared: SwigluFfn, x: Float64Array, rows: number) => Float64Array,
): Float64Array {
  const H = ir.dims.hidden;
  const { experts: E, topK: k, expertFfn: I } = ffn;
  const router = irFloatTensor(ir, ffn.router).data;
  const routerBias = ffn.routerBias ? irFloatTensor(ir, ffn.routerBias).data : undefined;
  // Each router slot's expert as dense float64 [2I, H] / [H, I] (compressed experts: the stored expert its slot
  // runs, factors multiplied out; src/model/moe-compressed.ts).
  const slotWeights = Array.from({ length: E }, (_, e) => storedExpertWeights(ir, ffn, storedExpertOf(ffn, e)));
  const y = new Float64Array(rows * H);
  const hidden = new Float64Array(I);
  const probs = new Float64Array(E);
  const expertOut = new Float64Array(E * H);
  const totalTokens = options.totalTokens ?? rows;
  const capacity = ffn.capacityFactor === undefined ? Infinity : Math.ceil((ffn.capacityFactor * totalTokens * k) / E);
  for (let r = 0; r < rows; r++) {
    const xr = x.subarray(r * H, (r + 1) * H);
    // Router softmax.
    let max = -Infinity;
    for (let e = 0; e < E; e++) {
      let sum = routerBias ? routerBias[e]! : 0;
      for (let i = 0; i < H; i++) sum += xr[i]! * router[e * H + i]!;
      probs[e] = sum;
      if (sum > max) max = sum;
    }
    let total = 0;
    for (let e = 0; e < E; e++) total += probs[e] = Math.exp(probs[e]! - max);
    for (let e = 0; e < E; e++) probs[e] /= total;
    const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => probs[b]! - probs[a]! || a - b);
    const own = order.slice(0, k);
    if (options.trace) {
      const entry = options.trace.get(call.layer) ?? { indices: [], margins: [] };
      entry.indices.push(...own);
      entry.margins.push(k < E ? probs[order[k - 1]!]! - probs[order[k]!]! : Infinity);
      options.trace.set(call.layer, entry);
    }
    const forced = options.forcedRouting?.get(call.layer);
    const chosen = forced ? Array.from({ length: k }, (_, j) => Number(forced[(call.tokenOffset + r) * k + j]!)) : own;
    const weights = chosen.map((e) => probs[e]!);
    if (ffn.normTopK) {
      const sum = weights.reduce((a, b) => a + b, 0);
      for (let j = 0; j < k; j++) weights[j] /= sum;
    }
    if (call.counts)
      for (let j = 0; j < k; j++) {
        call.counts[chosen[j]!]! += 1;
        if (call.counts[chosen[j]!]! > capacity) weights[j] = 0;
      }
    // Every expert on this token (the dense reference), then the mask and weights.
    const mask = new Float64Array(E);
    chosen.forEach((e, j) => (mask[e] += weights[j]!));
    for (let e = 0; e < E; e++) {
      const gateUp = slotWeights[e]!.gateUp;
      const down = slotWeights[e]!.down;
      const gu = 0;
      for (let o = 0; o < I; o++) {
        let g = 0;
        let u = 0;
        for (let i = 0; i < H; i++) {
          g += xr[i]! * gateUp[gu + o * H + i]!;
          u += xr[i]! * gateUp[gu + (I + o) * H + i]!;
        }
        hidden[o] = swiglu(g, u);
      }
      for (let h = 0; h < H; h++) {
        let sum = 0;
        for (let o = 0; o < I; o++) sum += hidden[o]! * down[h * I + o]!;
        expertOut[e * H + h] = sum;
      }
    }
    for (let e = 0; e < E; e++)
      if (mask[e] !== 0) for (let h = 0; h < H; h++) y[r * H + h] += mask[e]! * expertOut[e * H + h]!;
  }
  if (ffn.shared) {
    const shared = sharedFfn(ffn.shared, x, rows);
    for (let i = 0; i < y.length; i++) y[i] += shared[i]!;
  }
  return y;
}
