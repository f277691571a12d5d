// ONNX emission of the mixtures of LoRA experts (docs/mole.md), from standard ops. Adapters always run on
// activations, (x·Aᵀ)·Bᵀ, never as a B·A product ORT would constant-fold into a merged weight.
//
// Linear-level mixtures (LoRAMoE, MoLA, SMoRA, X-LoRA): every expert's down-projection x·A_eᵀ is computed at once
// as one MatMul over the stacked [in, E·r] (E·r ranks: cheap next to the base linear), multiplied by a per-token
// gate [T, E·r] (the expert's weight on its r ranks, 0 off the top-k), then one MatMul by the stacked [E·r, out].
// That is dense-masked over ranks: the unchosen experts' A·x and B-products are computed and zeroed, which the
// result's notes say; the routing (softmax → TopK → renormalise) is exact.
//
// MixLoRA: the base gate/up products run once and are shared; each of the k routing slots j gets the delta of its
// expert through the same rank mask (slot-major [k, T, ·] tensors), its own SwiGLU, and the base down projection
// runs once per slot (k times, MixLoRA's real cost), then the slots are weighted by the renormalised top-k and
// summed. No per-token gathers of weights: the only wide products are the base's.
import type { GraphBuilder } from "./onnx-graph.js";
import { ELEMENT_TYPE, transpose2d } from "./onnx-graph.js";
import { TSALLIS_EPS, dynmoleMaskOutput } from "../../../src/model/dynmole.js";
import { irFloatTensor } from "../../../src/model/ir.js";
import type { LinearEmitter } from "./onnx.js";
import { moleRoutingOutput, type MixloraFfn, type MoleLinear, type XloraClassifier } from "../../../src/model/mole.js";

export interface MoleEmitContext {
  /** Output the chosen experts of each top-k router (`router_indices.{layer}[.{projection}]`, [tokens, k] int64). */
  routingOutputs: boolean;
  addOutput(name: string, type: "int64" | "float32", dims: (number | string)[]): void;
  /** X-LoRA: the classifier's scalings [T, L, E] from the base pass. */
  xloraScalings?: string;
  /** X-LoRA: each layer's gate [T, E], computed once and shared by the layer's linears. */
  xloraGates: Map<number, string>;
}

/** Stacked A [E, r, in] as a MatMul operand [in, E·r] (the [E·r, in] matrix transposed). */
function stackedA(emitter: LinearEmitter, name: string): string {
  const initName = `${name}.T`;
  if (emitter.g.hasInitializer(initName)) return initName;
  const tensor = irFloatTensor(emitter.ir, name);
  const [experts, rank, inFeatures] = tensor.shape as [number, number, number];
  return emitter.g.float(initName, [inFeatures, experts * rank], transpose2d(tensor.data, experts * rank, inFeatures));
}

/** Stacked B [E, out, r] as a MatMul operand [E·r, out] (row e·r + i is expert e's rank i). */
function stackedB(emitter: LinearEmitter, name: string): string {
  const initName = `${name}.T`;
  if (emitter.g.hasInitializer(initName)) return initName;
  const tensor = irFloatTensor(emitter.ir, name);
  const [experts, outFeatures, rank] = tensor.shape as [number, number, number];
  const out = new Float32Array(tensor.data.length);
  for (let e = 0; e < experts; e++)
    out.set(
      transpose2d(tensor.data.subarray(e * outFeatures * rank, (e + 1) * outFeatures * rank), outFeatures, rank),
      e * outFeatures * rank,
    );
  return emitter.g.float(initName, [experts * rank, outFeatures], out);
}

/** [..., E] → [..., E·r]: each expert's weight repeated over its r ranks. */
function perRank(g: GraphBuilder, gates: string, experts: number, rank: number, leading: number[]): string {
  if (rank === 1) return gates;
  const expanded = g.op("Expand", [
    g.op("Unsqueeze", [gates, g.int64([-1])]),
    g.int64([...leading.map(() => 1), 1, rank]),
  ]);
  return g.op("Reshape", [expanded, g.int64([...leading.map(() => 0), experts * rank])]);
}

interface TopK {
  indices: string;
  /** p_K / Σ_K p (× gain), [T, k]. */
  weights: string;
}

/**
 * softmax → TopK(k, sorted, ties to the lower index as ORT's TopK does) → renormalised weights; the indices as a
 * routing output when asked and when there is a choice (k < E: a router that takes every expert chooses nothing,
 * and its flat histogram would only dilute the routing metrics, as dense soft routing would).
 */
function emitTopK(
  g: GraphBuilder,
  ctx: MoleEmitContext,
  probs: string,
  k: number,
  experts: number,
  gain: number,
  outputName: string,
): TopK {
  const [values, indices] = g.node("TopK", [probs, g.int64([k])], 2, { axis: -1, largest: 1, sorted: 1 }) as [
    string,
    string,
  ];
  let weights = g.op("Div", [values, g.op("ReduceSum", [values, g.int64([-1])], { keepdims: 1 })]);
  if (gain !== 1) weights = g.op("Mul", [weights, g.scalar(gain)]);
  if (ctx.routingOutputs && k < experts) {
    g.op("Identity", [indices], {}, { name: outputName });
    ctx.addOutput(outputName, "int64", ["tokens", k]);
  }
  return { indices, weights };
}

/** Router probabilities [T, E] = softmax(x·Rᵀ + b). */
function emitRouterProbs(emitter: LinearEmitter, flat: string, router: string, routerBias: string | undefined): string {
  const g = emitter.g;
  let logits = g.op("MatMul", [flat, emitter.transposedWeight(router)]);
  if (routerBias) logits = g.op("Add", [logits, emitter.tensor(routerBias)]);
  return g.op("Softmax", [logits], { axis: -1 });
}

/** A dense [T, E] gate from top-k indices and weights (zero off the top-k). */
function scatterGates(g: GraphBuilder, probs: string, topK: TopK): string {
  return g.op("ScatterElements", [g.op("ConstantOfShape", [g.op("Shape", [probs])]), topK.indices, topK.weights], {
    axis: 1,
  });
}

/** X-LoRA: scalings [T, L, E] = softmax_E((z·Cᵀ + c) reshaped), z [B, S, H] the base pass's final normed hidden state. */
export function emitXloraScalings(
  g: GraphBuilder,
  emitter: LinearEmitter,
  classifier: XloraClassifier,
  z: string,
): string {
  const flat = g.op("Reshape", [z, g.int64([-1, emitter.ir.dims.hidden])]);
  const logits = g.op("Add", [
    g.op("MatMul", [flat, emitter.transposedWeight(classifier.weight)]),
    emitter.tensor(classifier.bias),
  ]);
  return g.op("Softmax", [g.op("Reshape", [logits, g.int64([-1, classifier.layers, classifier.experts])])], {
    axis: -1,
  });
}

/** The per-token expert gate [T, E] of a linear-level mixture. */
function emitLinearGates(emitter: LinearEmitter, linear: MoleLinear, flat: string): string {
  const g = emitter.g;
  const ctx = emitter.mole;
  const gating = linear.gating;
  switch (gating.kind) {
    case "soft":
      return emitRouterProbs(emitter, flat, gating.router, gating.routerBias);
    case "top-k": {
      const probs = emitRouterProbs(emitter, flat, gating.router, gating.routerBias);
      return scatterGates(
        g,
        probs,
        emitTopK(
          g,
          ctx,
          probs,
          gating.topK,
          linear.experts,
          gating.gain,
          moleRoutingOutput(linear.layer, linear.projection),
        ),
      );
    }
    case "dynmole":
      return emitDynmoleGates(
        emitter,
        linear,
        emitRouterProbs(emitter, flat, gating.router, gating.routerBias),
        gating,
      );
    case "xlora": {
      const cached = ctx.xloraGates.get(linear.layer);
      if (cached) return cached;
      if (!ctx.xloraScalings) throw new Error("an X-LoRA linear needs the scaling pass: the IR has no xloraClassifier");
      let gates = g.op("Gather", [ctx.xloraScalings, g.int64([linear.layer], [])], { axis: 1 }); // [T, E]
      if (gating.topK !== undefined && gating.topK < linear.experts)
        gates = scatterGates(
          g,
          gates,
          emitTopK(g, ctx, gates, gating.topK, linear.experts, 1, moleRoutingOutput(linear.layer)),
        );
      ctx.xloraGates.set(linear.layer, gates);
      return gates;
    }
  }
}

/**
 * DynMoLE's gate [T, E] (src/model/dynmole.ts): p ⊙ mask, the mask keeping the sorted experts whose cumulative
 * probability is ≤ topP and the topK first, or every expert where the normalised Tsallis entropy exceeds the threshold.
 * With routing outputs, the mask is output as `router_mask.{layer}.{projection}` [T, E].
 */
function emitDynmoleGates(
  emitter: LinearEmitter,
  linear: MoleLinear,
  probs: string,
  router: Extract<MoleLinear["gating"], { kind: "dynmole" }>,
): string {
  const g = emitter.g;
  const E = linear.experts;
  const [sorted, order] = g.node("TopK", [probs, g.int64([E])], 2, { axis: -1, largest: 1, sorted: 1 }) as [
    string,
    string,
  ];
  const withinP = g.op(
    "Cast",
    [g.op("LessOrEqual", [g.op("CumSum", [sorted, g.int64([1], [])]), g.scalar(router.topP)])],
    {
      to: ELEMENT_TYPE.float32,
    },
  );
  const firstK = g.float(
    g.fresh("dynmole_first_k"),
    [E],
    Float32Array.from({ length: E }, (_, i) => (i < router.topK ? 1 : 0)),
  );
  const keptSorted = g.op("Max", [withinP, firstK]); // [T, E] in sorted order
  const kept = g.op("ScatterElements", [g.op("ConstantOfShape", [g.op("Shape", [probs])]), order, keptSorted], {
    axis: 1,
  });
  // Normalised Tsallis entropy of p (+ ε, as the reference code): (1 − Σ (p+ε)^q) / (q − 1), over its uniform maximum.
  const q = router.tsallisQ;
  const shifted = g.op("Add", [probs, g.scalar(TSALLIS_EPS)]);
  const entropy =
    q === 1
      ? g.op("Div", [
          g.op("Neg", [
            g.op("ReduceSum", [g.op("Mul", [shifted, g.op("Log", [shifted])]), g.int64([-1])], { keepdims: 1 }),
          ]),
          g.scalar(Math.log(E)),
        ])
      : g.op("Div", [
          g.op("Sub", [
            g.scalar(1),
            g.op("ReduceSum", [g.op("Pow", [shifted, g.scalar(q)]), g.int64([-1])], { keepdims: 1 }),
          ]),
          g.scalar(1 - E ** (1 - q)),
        ]); // [T, 1]; the (q − 1) factors cancel
  const mask = g.op("Where", [g.op("Greater", [entropy, g.scalar(router.entropyThreshold)]), g.scalar(1), kept]);
  const ctx = emitter.mole;
  if (ctx.routingOutputs) {
    const name = dynmoleMaskOutput(linear.layer, linear.projection);
    g.op("Identity", [mask], {}, { name });
    ctx.addOutput(name, "float32", ["tokens", E]);
  }
  return g.op("Mul", [probs, mask]);
}

/** y = base(x) + s · ((x·A_allᵀ ⊙ gate) · B_allᵀ): a linear-level mixture, dense over the E·r ranks. */
export function emitMoleLinear(emitter: LinearEmitter, linear: MoleLinear, x: string): string {
  const g = emitter.g;
  const baseOut = emitter.emit(linear.base, x);
  const flat = g.op("Reshape", [x, g.int64([-1, linear.inFeatures])]); // [T, in]
  const gates = perRank(g, emitLinearGates(emitter, linear, flat), linear.experts, linear.rank, [0]); // [T, E·r]
  const ranks = g.op("MatMul", [flat, stackedA(emitter, linear.loraA)]); // [T, E·r]
  const delta = g.op("MatMul", [g.op("Mul", [ranks, gates]), stackedB(emitter, linear.loraB)]); // [T, out]
  const scaled = g.op("Mul", [delta, g.scalar(linear.scale)]);
  return g.op("Add", [baseOut, g.op("Reshape", [scaled, g.op("Shape", [baseOut])])]);
}

/** MixLoRA's FFN: shared base gate/up, per-slot expert deltas through a rank mask, base down once per chosen expert. */
export function emitMixloraFfn(g: GraphBuilder, emitter: LinearEmitter, ffn: MixloraFfn, x: string): string {
  const { experts: E, topK: k, rank: r } = ffn;
  const H = emitter.ir.dims.hidden;
  const flat = g.op("Reshape", [x, g.int64([-1, H])]); // [T, H]
  const probs = emitRouterProbs(emitter, flat, ffn.router, ffn.routerBias);
  const topK = emitTopK(g, emitter.mole, probs, k, E, 1, moleRoutingOutput(ffn.layer));
  // Slot j's mask [k, T, E·r]: 1 on the r ranks of the expert chosen in slot j, 0 elsewhere.
  const oneHot = g.op(
    "OneHot",
    [topK.indices, g.int64([E], []), g.float(g.fresh("onehot_values"), [2], Float32Array.of(0, 1))],
    { axis: -1 },
  ); // [T, k, E]
  const masks = perRank(g, g.op("Transpose", [oneHot], { perm: [1, 0, 2] }), E, r, [0, 0]); // [k, T, E·r]
  const scale = g.scalar(ffn.scale);
  const expertDelta = (projection: "gate_proj" | "up_proj" | "down_proj", input: string): string | undefined => {
    const adapters = ffn.adapters[projection];
    if (!adapters) return undefined;
    const ranks = g.op("MatMul", [input, stackedA(emitter, adapters.loraA)]); // [T or k·T, E·r]
    return g.op("Mul", [g.op("MatMul", [g.op("Mul", [ranks, masks]), stackedB(emitter, adapters.loraB)]), scale]); // [k, T, out]
  };
  const withDelta = (base: string, delta: string | undefined) => (delta ? g.op("Add", [base, delta]) : base);
  const gate = withDelta(emitter.emit(ffn.base.gate, flat), expertDelta("gate_proj", flat)); // [k, T, I] or shared [T, I]
  const up = withDelta(emitter.emit(ffn.base.up, flat), expertDelta("up_proj", flat));
  let hidden = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up]);
  if (!ffn.adapters.gate_proj && !ffn.adapters.up_proj)
    hidden = g.op("Expand", [g.op("Unsqueeze", [hidden, g.int64([0])]), g.int64([k, 1, 1])]); // one copy per slot
  const out = withDelta(emitter.emit(ffn.base.down, hidden), expertDelta("down_proj", hidden)); // [k, T, H]: the base down k times
  const slotWeights = g.op("Unsqueeze", [g.op("Transpose", [topK.weights], { perm: [1, 0] }), g.int64([2])]); // [k, T, 1]
  const routed = g.op("ReduceSum", [g.op("Mul", [out, slotWeights]), g.int64([0])], { keepdims: 0 }); // [T, H]
  return g.op("Reshape", [routed, g.op("Shape", [x])]);
}
