// ONNX emission of a MoE FFN from standard ops (docs/moe.md). The com.microsoft MoE op is not used: its 1.30 CPU
// kernel computes Mixtral's SwiGLU only when told to (swiglu_fusion=1 with gate/up interleaved, activation_alpha 1,
// activation_beta 0, a huge swiglu_limit; then rel L2 5e-7 against float64), it routes by itself (no capacity
// factor; router_indices would need a second TopK), and it was slower: 11.1 ms vs 8.9 ms per layer for the same two
// experts run as plain MatMul chains (E=8, FFN 2816, decode, 1 thread; docs/moe.md).
//   router MatMul → Softmax → TopK(k) → (renormalise) → (capacity: drop assignments over an expert's capacity)
//   sparse (default, decode and prefill): each expert has its own initialisers ([H, 2I] and [I, H]) and its own
//                 branch (emitRoutedExperts): the tokens routed to it are found with NonZero and gathered (tokens,
//                 never weights), its SwiGLU runs on those rows, and the weighted result is added back with
//                 ScatterND. Each branch sits in an If on "expert e has tokens" (grouped two-level from 16 experts
//                 on), so a step reads only the chosen experts' weights, in place, and runs nothing for the others.
//   gathered:     the older sparse path: Gather the k chosen experts' slices of stacked [E, H, 2I] / [E, I, H]
//                 initialisers per token, then batched MatMuls. The Gather COPIES the chosen weights every step (as
//                 much memory traffic as the MatMul itself, plus the allocation): 2.3× slower at decode.
//   dense-masked: every expert on every token ([E, T, ·] batched MatMuls), weighted by a scattered [T, E] routing
//                 matrix that is zero off the top-k: E/k × the FLOPs. Kept as an option (a baseline).
// Measured on ORT 1.30 CPU, 1 thread, 4 layers, hidden 1024, fp32 (docs/moe.md has the numbers with CIs): decode
// batch 1, E=8 top-2 FFN 2816: sparse 27.8 ms, gathered 65.1 ms, vs a dense FFN 5632 stack 28.6 ms; E=64 FFN 512:
// sparse 10.9 ms vs E=8 9.6 ms; prefill 128 tokens E=8 FFN 2816: sparse 356 ms, dense-masked 1180 ms.
// Capacity (GShard/Switch style): an assignment is kept while its expert has had fewer than
// C = ceil(capacityFactor · T · k / E) earlier assignments, counted in token-major order over the T = batch ·
// sequence tokens of the run (dropped assignments contribute nothing; the residual carries the token).
import type { GraphBuilder } from "./onnx-graph.js";
import { ELEMENT_TYPE, transpose2d } from "./onnx-graph.js";
import { irFloatTensor } from "../../../src/model/ir.js";
import type { LinearEmitter } from "./onnx.js";
import type { MoeFfn, SwigluFfn } from "../../../src/model/moe.js";
import { storedExpertOf, type FactorizedStack } from "../../../src/model/moe-compressed.js";

/** How routed experts run (see the file header): "sparse" (default), or the older "gathered" and "dense-masked". */
export type MoeCompute = "sparse" | "gathered" | "dense-masked";

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
  for (let e = 0; e < experts; e++)
    out.set(transpose2d(tensor.data.subarray(e * rows * cols, (e + 1) * rows * cols), rows, cols), e * rows * cols);
  return g.float(initName, [experts, cols, rows], out);
}

/** Expert e of a stacked [E, out, in] tensor as its own MatMul operand [in, out] (initialiser `${name}.T.${e}`). */
function expertTransposed(g: GraphBuilder, emitter: LinearEmitter, name: string, expert: number): string {
  const initName = `${name}.T.${expert}`;
  if (g.hasInitializer(initName)) return initName;
  const tensor = irFloatTensor(emitter.ir, name);
  const [, rows, cols] = tensor.shape as [number, number, number];
  return g.float(
    initName,
    [cols, rows],
    transpose2d(tensor.data.subarray(expert * rows * cols, (expert + 1) * rows * cols), rows, cols),
  );
}

export interface RoutedExpertsOptions {
  /**
   * Wrap each expert's branch in an `If` on "expert e has tokens" (default true): an idle expert then costs one If
   * node instead of its ~15 (mostly empty) nodes, which is what keeps a step's cost flat in E at decode.
   */
  skipIdleExperts?: boolean;
  /** Experts per group of the two-level If (default: √E from GROUP_EXPERTS_FROM experts on, else no grouping). */
  groupSize?: number;
}

/** From this many experts on, the per-expert Ifs are grouped under per-group Ifs (measured: see docs/moe.md). */
export const GROUP_EXPERTS_FROM = 16;

/**
 * Routed experts that read only the chosen experts' weights, in place (reusable: MoE, mixtures of LoRA experts).
 * For each expert e: the tokens routed to it are found with NonZero over `topIndices` and gathered (tokens, never
 * weights), `expertFn(e, rows)` maps those rows [n_e, H] to [n_e, H_out], the result is weighted by each token's
 * routing weight for e and added back at its rows (ScatterND, reduction add). With `skipIdleExperts` (default),
 * nothing of an expert without tokens runs.
 *
 * @param tokens     [T, H] float
 * @param topIndices [T, k] int64, the chosen experts (distinct per token, as TopK gives them)
 * @param weights    [T, k] float, each assignment's weight (0 for a dropped one)
 * @param expertFn   emits expert e on `rows` [n, H] and returns its output [n, H_out]; whatever it emits runs inside
 *                   the expert's branch, and initialisers it adds go to the main graph
 * @param outputShape a value holding the output's shape [T, H_out] (default: the shape of `tokens`)
 * @returns [T, H_out] float: Σ over each token's chosen experts of weight · expertFn(e, token)
 */
export function emitRoutedExperts(
  g: GraphBuilder,
  tokens: string,
  topIndices: string,
  weights: string,
  experts: number,
  expertFn: (expert: number, rows: string) => string,
  options: RoutedExpertsOptions & { outputShape?: string } = {},
): string {
  const skipIdle = options.skipIdleExperts ?? true;
  let accumulated = g.op("ConstantOfShape", [options.outputShape ?? g.op("Shape", [tokens])]); // float zeros [T, H_out]
  const branch = (expert: number, into: string): string => {
    const nonZero = g.op("NonZero", [g.op("Equal", [topIndices, g.int64([expert], [])])]); // [2, n]: (token, slot)
    const tokenIndex = g.op("Gather", [nonZero, g.int64([0], [])], { axis: 0 }); // [n]
    const rows = g.op("Gather", [tokens, tokenIndex], { axis: 0 }); // [n, H]
    const weight = g.op("GatherND", [weights, g.op("Transpose", [nonZero], { perm: [1, 0] })]); // [n]
    const out = g.op("Mul", [expertFn(expert, rows), g.op("Unsqueeze", [weight, g.int64([1])])]);
    return g.op("ScatterND", [into, g.op("Unsqueeze", [tokenIndex, g.int64([1])]), out], { reduction: "add" });
  };
  if (!skipIdle) {
    for (let e = 0; e < experts; e++) accumulated = branch(e, accumulated);
    return accumulated;
  }
  // Which experts have at least one token, computed once for all E: [T, k] → one-hot [T, k, E] → any → E flags [1].
  const oneHot = g.op(
    "OneHot",
    [topIndices, g.int64([experts], []), g.float(g.fresh("onehot_values"), [2], Float32Array.of(0, 1))],
    { axis: -1 },
  );
  const anyToken = g.op("ReduceMax", [oneHot], { axes: [0, 1], keepdims: 0 }); // [E] float 1/0
  const busy = g.op("Greater", [anyToken, g.scalar(0)]); // [E] bool
  const flags = g.node("Split", [busy, g.int64(new Array<number>(experts).fill(1))], experts, { axis: 0 });
  // An If on "expert e has tokens" around each expert's branch; with many experts, the experts are also grouped
  // under an If on "some expert of the group has tokens", so that a decode step runs about √E + k·√E Ifs, not E.
  const chain = (from: number, to: number, input: string): string => {
    let value = input;
    for (let e = from; e < to; e++) {
      const into = value;
      const thenBranch = g.subgraph(g.fresh(`expert_${e}`), () => [
        { name: g.op("Identity", [branch(e, into)]), type: "float32" },
      ]);
      const elseBranch = g.subgraph(g.fresh(`idle_${e}`), () => [{ name: g.op("Identity", [into]), type: "float32" }]);
      value = g.op("If", [flags[e]!], { then_branch: { graph: thenBranch }, else_branch: { graph: elseBranch } });
    }
    return value;
  };
  const groupSize = options.groupSize ?? (experts >= GROUP_EXPERTS_FROM ? Math.ceil(Math.sqrt(experts)) : experts);
  if (groupSize >= experts) return chain(0, experts, accumulated);
  const groups = Math.ceil(experts / groupSize);
  const padded = groups * groupSize;
  const anyPadded = padded === experts ? anyToken : g.op("Pad", [anyToken, g.int64([0, padded - experts])]); // zero pads
  const groupBusy = g.op("ReduceMax", [g.op("Reshape", [anyPadded, g.int64([groups, groupSize])])], {
    axes: [1],
    keepdims: 0,
  });
  const groupFlags = g.node(
    "Split",
    [g.op("Greater", [groupBusy, g.scalar(0)]), g.int64(new Array<number>(groups).fill(1))],
    groups,
    { axis: 0 },
  );
  for (let group = 0; group < groups; group++) {
    const into = accumulated;
    const from = group * groupSize;
    const to = Math.min(experts, from + groupSize);
    const thenBranch = g.subgraph(g.fresh(`experts_${from}_${to - 1}`), () => [
      { name: g.op("Identity", [chain(from, to, into)]), type: "float32" },
    ]);
    const elseBranch = g.subgraph(g.fresh(`idle_${from}_${to - 1}`), () => [
      { name: g.op("Identity", [into]), type: "float32" },
    ]);
    accumulated = g.op("If", [groupFlags[group]!], {
      then_branch: { graph: thenBranch },
      else_branch: { graph: elseBranch },
    });
  }
  return accumulated;
}

export function emitMoeFfn(
  g: GraphBuilder,
  emitter: LinearEmitter,
  ffn: MoeFfn,
  x: string,
  ctx: MoeEmitContext,
): string {
  const { experts: E, topK: k, expertFfn: I } = ffn;
  const H = emitter.ir.dims.hidden;
  const flat = g.op("Reshape", [x, g.int64([-1, H])]); // [T, H]
  let logits = g.op("MatMul", [flat, emitter.transposedWeight(ffn.router)]); // [T, E]
  if (ffn.routerBias) logits = g.op("Add", [logits, emitter.tensor(ffn.routerBias)]);
  const probs = g.op("Softmax", [logits], { axis: -1 });
  const [topValues, topIndices] = g.node("TopK", [probs, g.int64([k])], 2, { axis: -1, largest: 1, sorted: 1 }) as [
    string,
    string,
  ];
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
  const halves = g.int64([I, I]);
  const swiglu = (hidden: string): string => {
    const [gate, up] = g.node("Split", [hidden, halves], 2, { axis: -1 }) as [string, string];
    return g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up]);
  };
  let routed: string;
  if (ctx.compute === "sparse") {
    // Compressed experts (src/model/moe-compressed.ts): slot e runs its stored expert (merged slots share the
    // initialisers), as U·(V·x) (+ a residual on some input channels) when factorised.
    const factors = ffn.compressed?.factors;
    const apply = (kind: "gateUp" | "down", s: number, rows: string): string =>
      factors
        ? emitFactorized(g, emitter, factors[kind], s, rows)
        : g.op("MatMul", [rows, expertTransposed(g, emitter, kind === "gateUp" ? ffn.gateUp : ffn.down, s)]);
    routed = emitRoutedExperts(g, flat, topIndices, weights, E, (e, rows) => {
      const s = storedExpertOf(ffn, e);
      return apply("down", s, swiglu(apply("gateUp", s, rows))); // [n, 2I] → [n, H]
    });
  } else if (ffn.compressed) {
    throw new Error(`compressed experts run with moeCompute "sparse" only, not "${ctx.compute}"`);
  } else if (ctx.compute === "gathered") {
    const gateUpT = stackedTransposed(g, emitter, ffn.gateUp); // [E, H, 2I]
    const downT = stackedTransposed(g, emitter, ffn.down); // [E, I, H]
    const tokens = g.op("Reshape", [flat, g.int64([-1, 1, 1, H])]); // [T, 1, 1, H]
    const hidden = g.op("MatMul", [tokens, g.op("Gather", [gateUpT, topIndices], { axis: 0 })]); // [T, k, 1, 2I]
    const out = g.op("MatMul", [swiglu(hidden), g.op("Gather", [downT, topIndices], { axis: 0 })]); // [T, k, 1, H]
    const weighted = g.op("Mul", [
      g.op("Reshape", [out, g.int64([-1, k, H])]),
      g.op("Unsqueeze", [weights, g.int64([2])]),
    ]);
    routed = g.op("ReduceSum", [weighted, g.int64([1])], { keepdims: 0 }); // [T, H]
  } else {
    const gateUpT = stackedTransposed(g, emitter, ffn.gateUp); // [E, H, 2I]
    const downT = stackedTransposed(g, emitter, ffn.down); // [E, I, H]
    const out = g.op("MatMul", [swiglu(g.op("MatMul", [flat, gateUpT])), downT]); // [E, T, H]
    const dense = g.op("ScatterElements", [g.op("ConstantOfShape", [g.op("Shape", [probs])]), topIndices, weights], {
      axis: 1,
    }); // [T, E]
    const perExpert = g.op("Unsqueeze", [g.op("Transpose", [dense], { perm: [1, 0] }), g.int64([2])]); // [E, T, 1]
    routed = g.op("ReduceSum", [g.op("Mul", [out, perExpert]), g.int64([0])], { keepdims: 0 }); // [T, H]
  }
  if (ffn.shared) routed = g.op("Add", [routed, emitSwiglu(g, emitter, ffn.shared, flat)]);
  return g.op("Reshape", [routed, g.op("Shape", [x])]);
}

/** y [n, out] = rows [n, in] · (U·V + residual)ᵀ of stored expert s, as (rows·Vᵀ)·Uᵀ: the factors are never multiplied out. */
function emitFactorized(g: GraphBuilder, emitter: LinearEmitter, f: FactorizedStack, s: number, rows: string): string {
  const factorT = (name: string, index: number): string => {
    const initName = `${name}.T.${index}`;
    if (g.hasInitializer(initName)) return initName;
    const tensor = irFloatTensor(emitter.ir, name);
    const [, a, b] = tensor.shape as [number, number, number];
    return g.float(initName, [b, a], transpose2d(tensor.data.subarray(index * a * b, (index + 1) * a * b), a, b));
  };
  let y = g.op("MatMul", [g.op("MatMul", [rows, factorT(f.v, s)]), factorT(f.u, f.uOf[s]!)]); // [n, r] → [n, out]
  if (f.residual) {
    const m = f.residual.width;
    const columns = irFloatTensor(emitter.ir, f.residual.columns).data.subarray(s * m, (s + 1) * m);
    const picked = g.op("Gather", [rows, g.int64(Array.from(columns))], { axis: 1 }); // [n, m]
    y = g.op("Add", [y, g.op("MatMul", [picked, factorT(f.residual.weight, s)])]);
  }
  return y;
}

/** [T, k] float 1/0: whether each assignment fits its expert's capacity (token-major order). */
function emitCapacityKeep(g: GraphBuilder, topIndices: string, E: number, k: number, capacityFactor: number): string {
  const assignments = g.op("Reshape", [topIndices, g.int64([-1])]); // [T·k]
  const oneHot = g.op(
    "OneHot",
    [assignments, g.int64([E], []), g.float(g.fresh("onehot_values"), [2], Float32Array.of(0, 1))],
    { axis: -1 },
  ); // [T·k, E]
  const position = g.op(
    "ReduceSum",
    [g.op("Mul", [g.op("CumSum", [oneHot, g.int64([0], [])]), oneHot]), g.int64([1])],
    { keepdims: 0 },
  ); // 1-based
  const count = g.op("Cast", [g.op("Shape", [assignments])], { to: ELEMENT_TYPE.float32 }); // [1] = T·k
  const capacity = g.op("Ceil", [g.op("Mul", [count, g.scalar(capacityFactor / E)])]);
  const keep = g.op("Cast", [g.op("LessOrEqual", [position, capacity])], { to: ELEMENT_TYPE.float32 });
  return g.op("Reshape", [keep, g.int64([-1, k])]);
}
