// ONNX emission of a MoE FFN from standard ops (DESIGN.md §4: TopK + gather/scatter matched com.microsoft MoE on
// ORT CPU; QMoE was slow):
//   router MatMul → Softmax → TopK(k) → (renormalise) → (capacity: drop assignments over an expert's capacity)
//   sparse:       Gather the k chosen experts' slices of the stacked [E, H, 2I] / [E, I, H] initialisers per token
//                 and run batched MatMuls: a decode step of batch 1 reads and runs k experts, not E.
//   dense-masked: run every expert on every token ([E, T, ·] batched MatMuls) and weight by a scattered [T, E]
//                 routing matrix that is zero off the top-k. Used for prefill, where gathering per token would
//                 materialise [T, k, H, 2I] weights (memory heavy); it costs E/k × the sparse FLOPs and the
//                 result's settings say so.
// Capacity (GShard/Switch style): an assignment is kept while its expert has had fewer than
// C = ceil(capacityFactor · T · k / E) earlier assignments, counted in token-major order over the T = batch ·
// sequence tokens of the run (dropped assignments contribute nothing; the residual carries the token).
import type { GraphBuilder } from "./onnx-graph.js";
import { ELEMENT_TYPE, transpose2d } from "./onnx-graph.js";
import { irFloatTensor } from "./ir.js";
import type { LinearEmitter } from "./onnx.js";
import type { MoeFfn, SwigluFfn } from "./moe.js";

export type MoeCompute = "sparse" | "dense-masked";

export interface MoeEmitContext {
  layer: number;
  compute: MoeCompute;
  /** Also output the chosen experts `router_indices.{layer}` [T, k] int64 (and `router_keep.{layer}` with capacity). */
  routingOutputs: boolean;
  addOutput(name: string, type: "int64" | "float32", dims: (number | string)[]): void;
}

/** Name of the chosen-experts debug output of a layer. */
export const routerIndicesOutput = (layer: number) => `router_indices.${layer}`;

/** A dense SwiGLU FFN through the emitter (its linears may be adapted or quantised). */
export function emitSwiglu(g: GraphBuilder, emitter: LinearEmitter, ffn: SwigluFfn, x: string): string {
  const gate = emitter.emit(ffn.gate, x);
  const activated = g.op("Mul", [gate, g.op("Sigmoid", [gate])]); // SiLU
  return emitter.emit(ffn.down, g.op("Mul", [activated, emitter.emit(ffn.up, x)]));
}

/** A stacked [E, out, in] expert tensor as MatMul operands [E, in, out] (initialiser `${name}.T`). */
function stackedTransposed(g: GraphBuilder, emitter: LinearEmitter, name: string): string {
  const initName = `${name}.T`;
  if (g.hasInitializer(initName)) return initName;
  const tensor = irFloatTensor(emitter.ir, name);
  const [experts, rows, cols] = tensor.shape as [number, number, number];
  const out = new Float32Array(tensor.data.length);
  for (let e = 0; e < experts; e++) out.set(transpose2d(tensor.data.subarray(e * rows * cols, (e + 1) * rows * cols), rows, cols), e * rows * cols);
  return g.float(initName, [experts, cols, rows], out);
}

export function emitMoeFfn(g: GraphBuilder, emitter: LinearEmitter, ffn: MoeFfn, x: string, ctx: MoeEmitContext): string {
  const { experts: E, topK: k, expertFfn: I } = ffn;
  const H = emitter.ir.dims.hidden;
  const flat = g.op("Reshape", [x, g.int64([-1, H])]); // [T, H]
  let logits = g.op("MatMul", [flat, emitter.transposedWeight(ffn.router)]); // [T, E]
  if (ffn.routerBias) logits = g.op("Add", [logits, emitter.tensor(ffn.routerBias)]);
  const probs = g.op("Softmax", [logits], { axis: -1 });
  const [topValues, topIndices] = g.node("TopK", [probs, g.int64([k])], 2, { axis: -1, largest: 1, sorted: 1 }) as [string, string];
  let weights = topValues; // [T, k]
  if (ffn.normTopK) weights = g.op("Div", [weights, g.op("ReduceSum", [weights, g.int64([-1])], { keepdims: 1 })]);
  if (ffn.capacityFactor !== undefined) {
    const keep = emitCapacityKeep(g, topIndices, E, k, ffn.capacityFactor);
    weights = g.op("Mul", [weights, keep]);
  }
  if (ctx.routingOutputs) {
    g.op("Identity", [topIndices], {}, { name: routerIndicesOutput(ctx.layer) });
    ctx.addOutput(routerIndicesOutput(ctx.layer), "int64", ["tokens", k]);
  }
  const gateUpT = stackedTransposed(g, emitter, ffn.gateUp); // [E, H, 2I]
  const downT = stackedTransposed(g, emitter, ffn.down); // [E, I, H]
  const halves = g.int64([I, I]);
  const swiglu = (hidden: string): string => {
    const [gate, up] = g.node("Split", [hidden, halves], 2, { axis: -1 }) as [string, string];
    return g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up]);
  };
  let routed: string;
  if (ctx.compute === "sparse") {
    const tokens = g.op("Reshape", [flat, g.int64([-1, 1, 1, H])]); // [T, 1, 1, H]
    const hidden = g.op("MatMul", [tokens, g.op("Gather", [gateUpT, topIndices], { axis: 0 })]); // [T, k, 1, 2I]
    const out = g.op("MatMul", [swiglu(hidden), g.op("Gather", [downT, topIndices], { axis: 0 })]); // [T, k, 1, H]
    const weighted = g.op("Mul", [g.op("Reshape", [out, g.int64([-1, k, H])]), g.op("Unsqueeze", [weights, g.int64([2])])]);
    routed = g.op("ReduceSum", [weighted, g.int64([1])], { keepdims: 0 }); // [T, H]
  } else {
    const out = g.op("MatMul", [swiglu(g.op("MatMul", [flat, gateUpT])), downT]); // [E, T, H]
    const dense = g.op("ScatterElements", [g.op("ConstantOfShape", [g.op("Shape", [probs])]), topIndices, weights], { axis: 1 }); // [T, E]
    const perExpert = g.op("Unsqueeze", [g.op("Transpose", [dense], { perm: [1, 0] }), g.int64([2])]); // [E, T, 1]
    routed = g.op("ReduceSum", [g.op("Mul", [out, perExpert]), g.int64([0])], { keepdims: 0 }); // [T, H]
  }
  if (ffn.shared) routed = g.op("Add", [routed, emitSwiglu(g, emitter, ffn.shared, flat)]);
  return g.op("Reshape", [routed, g.op("Shape", [x])]);
}

/** [T, k] float 1/0: whether each assignment fits its expert's capacity (token-major order). */
function emitCapacityKeep(g: GraphBuilder, topIndices: string, E: number, k: number, capacityFactor: number): string {
  const assignments = g.op("Reshape", [topIndices, g.int64([-1])]); // [T·k]
  const oneHot = g.op("OneHot", [assignments, g.int64([E], []), g.float(g.fresh("onehot_values"), [2], Float32Array.of(0, 1))], { axis: -1 }); // [T·k, E]
  const position = g.op("ReduceSum", [g.op("Mul", [g.op("CumSum", [oneHot, g.int64([0], [])]), oneHot]), g.int64([1])], { keepdims: 0 }); // 1-based
  const count = g.op("Cast", [g.op("Shape", [assignments])], { to: ELEMENT_TYPE.float32 }); // [1] = T·k
  const capacity = g.op("Ceil", [g.op("Mul", [count, g.scalar(capacityFactor / E)])]);
  const keep = g.op("Cast", [g.op("LessOrEqual", [position, capacity])], { to: ELEMENT_TYPE.float32 });
  return g.op("Reshape", [keep, g.int64([-1, k])]);
}
