// Mixture-of-experts FFNs (docs/moe.md): Mixtral-style top-k softmax routing over SwiGLU experts, DeepSeekMoE-style
// always-on shared experts and fine-grained experts, dense first layers, optional capacity factor.
//
// Tensor names and layouts are those of transformers 5 (installed in .venv, 5.18), which fuses a layer's routed
// experts into 3-D parameters, so that the torch runner loads the very same safetensors:
//   model.layers.{i}.mlp.gate.weight               [E, H]      router (MixtralTopKRouter / Qwen2MoeTopKRouter)
//   model.layers.{i}.mlp.experts.gate_up_proj      [E, 2I, H]  rows 0..I-1 gate, I..2I-1 up (`.chunk(2, dim=-1)`)
//   model.layers.{i}.mlp.experts.down_proj         [E, H, I]
//   model.layers.{i}.mlp.shared_experts.{gate,up,down}_proj.weight   DeepSeek-V2/V3: the shared experts fused into
//                                                  one SwiGLU MLP of width sharedExperts × sharedFfn
// Qwen2-MoE's sigmoid `shared_expert_gate` has no field in ModelConfig.moe and is not modelled (see
// datasets/architectures/qwen1.5-moe-a2.7b.json, `unmodelled`).
import type { ModelConfig, MoeConfig } from "../suite/schema.js";
import { dimensionsOf, layerPrefix, type Dimensions, type ProjectionName } from "./architecture.js";
import type { DenseLinear, LinearOp } from "./ir.js";
import { synthesizeTensor, type SynthesisOptions, type Tensor, type WeightMap } from "./weights.js";
import type { CompressedExperts } from "./moe-compressed.js";

/** A dense SwiGLU FFN: down(silu(gate(x)) · up(x)). */
export interface SwigluFfn {
  kind: "swiglu";
  gate: LinearOp;
  up: LinearOp;
  down: LinearOp;
}

/** A routed mixture of SwiGLU experts (plus optional shared experts). */
export interface MoeFfn {
  kind: "moe";
  experts: number;
  topK: number;
  /** Intermediate width of one routed expert. */
  expertFfn: number;
  normTopK: boolean;
  capacityFactor?: number;
  /** Router weight [E, H]. */
  router: string;
  /** Router logit bias [E]: the workload's routing skew (see routerSkewBias); absent = none. */
  routerBias?: string;
  /** Stacked gate and up projections [E, 2I, H]. */
  gateUp: string;
  /** Stacked down projections [E, H, I]. */
  down: string;
  /** The shared experts fused into one SwiGLU (DeepSeek), always on. */
  shared?: SwigluFfn;
  /**
   * Compressed experts (src/model/moe-compressed.ts: expert merging, factorisation). Absent: `experts` dense
   * experts in `gateUp` / `down`, router slot e runs expert e.
   */
  compressed?: CompressedExperts;
}

/** A layer's MoE block prefix, e.g. `model.layers.3.mlp`. */
export function moePrefix(layer: number): string {
  return `${layerPrefix(layer)}.mlp`;
}

export interface MoeShape {
  experts: number;
  topK: number;
  expertFfn: number;
  /** Width of the fused shared MLP (sharedExperts × sharedFfn); 0 = none. */
  sharedWidth: number;
  firstDenseLayers: number;
}

export function moeShapeOf(model: ModelConfig): MoeShape {
  const moe = model.moe;
  if (!moe) throw new Error(`model ${model.name} has no moe block`);
  const expertFfn = moe.expertFfn ?? model.ffn;
  return {
    experts: moe.experts,
    topK: moe.topK,
    expertFfn,
    sharedWidth: moe.sharedExperts * (moe.sharedFfn ?? expertFfn),
    firstDenseLayers: moe.firstDenseLayers,
  };
}

/** Whether a layer of a MoE model is a MoE layer (DeepSeek's first_k_dense_replace keeps the first ones dense). */
export function isMoeLayer(model: ModelConfig, layer: number): boolean {
  return model.moe !== undefined && layer >= model.moe.firstDenseLayers;
}

/** Shapes of the MoE tensors of one layer (HF names, transformers 5 layout). */
export function moeLayerTensorShapes(model: ModelConfig, layer: number): Map<string, number[]> {
  const { hidden } = dimensionsOf(model);
  const s = moeShapeOf(model);
  const p = moePrefix(layer);
  const shapes = new Map<string, number[]>([
    [`${p}.gate.weight`, [s.experts, hidden]],
    [`${p}.experts.gate_up_proj`, [s.experts, 2 * s.expertFfn, hidden]],
    [`${p}.experts.down_proj`, [s.experts, hidden, s.expertFfn]],
  ]);
  if (s.sharedWidth > 0) {
    shapes.set(`${p}.shared_experts.gate_proj.weight`, [s.sharedWidth, hidden]);
    shapes.set(`${p}.shared_experts.up_proj.weight`, [s.sharedWidth, hidden]);
    shapes.set(`${p}.shared_experts.down_proj.weight`, [hidden, s.sharedWidth]);
  }
  return shapes;
}

/**
 * Every tensor of a MoE model with its shape: the dense model's, with the `mlp.*` of MoE layers replaced by the
 * router, the stacked experts and the shared experts.
 */
export function moeModelTensorShapes(model: ModelConfig, denseShapes: Map<string, number[]>): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const dims = dimensionsOf(model);
  for (const [name, shape] of denseShapes) {
    const match = /^model\.layers\.(\d+)\.mlp\./.exec(name);
    if (match && isMoeLayer(model, Number(match[1]))) continue;
    shapes.set(name, shape);
  }
  for (let layer = 0; layer < dims.layers; layer++)
    if (isMoeLayer(model, layer)) for (const [n, s] of moeLayerTensorShapes(model, layer)) shapes.set(n, s);
  return shapes;
}

/**
 * One tensor of a MoE model. A 3-D expert stack [E, out, in] is drawn as the 2-D [E·out, in] (same fan-in, same
 * outlier input channels as every linear reading that stream), so each expert is a linear like the dense ones.
 */
export function synthesizeMoeTensor(name: string, shape: number[], options: SynthesisOptions): Tensor {
  // Routers are small trained classifiers: no heavy tails or outlier channels, whose few huge weights would
  // otherwise decide every token's routing (near-constant routing even without skew).
  if (name.endsWith(".mlp.gate.weight")) return synthesizeTensor(name, shape, { ...options, distribution: "gaussian" });
  if (shape.length !== 3) return synthesizeTensor(name, shape, options);
  const [experts, out, inFeatures] = shape as [number, number, number];
  return { shape, data: synthesizeTensor(name, [experts * out, inFeatures], options).data };
}

// ── Routing skew (the workload's routingSkew) ──────────────────────────────────────────────────────────────────

/**
 * The router bias that makes routing skew a workload parameter: logit offsets b_e = −s · ln(rank_e), rank_e the
 * 1-based rank of expert e in a seeded shuffle per layer. Softmax then multiplies each expert's odds by
 * rank^(−s): a Zipf(s) prior over experts on top of the token-dependent logits (s = 0: no bias). Random router
 * weights alone give near-uniform routing, which flatters load balance; trained routers are skewed.
 * Stored as `model.layers.{i}.mlp.gate.bias` [E]: the HF Mixtral/Qwen2-MoE routers have no bias, so a runner
 * loading these weights into them must add it to the router logits (the torch runner's MoE path).
 */
export function routerSkewBias(experts: number, skew: number, seed: number, name: string): Tensor {
  const rank = seededPermutation(experts, seed, `routing-skew:${name}`);
  return { shape: [experts], data: Float32Array.from(rank, (r) => -skew * Math.log(r + 1)) };
}

/** Rank (0-based) of each expert in a seeded shuffle, so the favoured expert differs per layer. */
function seededPermutation(n: number, seed: number, name: string): number[] {
  const rng = mulberry(hashString(`${seed}:${name}`));
  const items = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  const rank = new Array<number>(n);
  items.forEach((expert, r) => (rank[expert] = r));
  return rank;
}

function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

function mulberry(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The weights with a Zipf(skew) router bias on every MoE layer (a new map sharing the other tensors); skew 0: as is. */
export function withRoutingSkew(model: ModelConfig, weights: WeightMap, skew: number): WeightMap {
  if (!model.moe || skew === 0) return weights;
  const skewed: WeightMap = new Map(weights);
  for (let layer = 0; layer < model.layers; layer++) {
    if (!isMoeLayer(model, layer)) continue;
    const name = `${moePrefix(layer)}.gate.bias`;
    skewed.set(name, routerSkewBias(model.moe.experts, skew, model.weights.seed, name));
  }
  return skewed;
}

// ── IR ─────────────────────────────────────────────────────────────────────────────────────────────────────────

function dense(weight: string, outFeatures: number, inFeatures: number): DenseLinear {
  return { kind: "dense", weight, inFeatures, outFeatures };
}

/** The MoE FFN of one layer of a model with a `moe` block. */
export function moeFfnIr(model: ModelConfig, dims: Dimensions, layer: number, weights?: WeightMap): MoeFfn {
  const s = moeShapeOf(model);
  const p = moePrefix(layer);
  const moe = model.moe as MoeConfig;
  return {
    kind: "moe",
    experts: s.experts,
    topK: s.topK,
    expertFfn: s.expertFfn,
    normTopK: moe.normTopK,
    capacityFactor: moe.capacityFactor,
    router: `${p}.gate.weight`,
    routerBias: weights?.has(`${p}.gate.bias`) ? `${p}.gate.bias` : undefined,
    gateUp: `${p}.experts.gate_up_proj`,
    down: `${p}.experts.down_proj`,
    shared:
      s.sharedWidth > 0
        ? {
            kind: "swiglu",
            gate: dense(`${p}.shared_experts.gate_proj.weight`, s.sharedWidth, dims.hidden),
            up: dense(`${p}.shared_experts.up_proj.weight`, s.sharedWidth, dims.hidden),
            down: dense(`${p}.shared_experts.down_proj.weight`, dims.hidden, s.sharedWidth),
          }
        : undefined,
  };
}

/** The plain linears of an FFN (what LoRA, int4… can wrap): a dense FFN's three, a MoE's shared experts'. */
export function ffnLinears(ffn: SwigluFfn | MoeFfn): { projection: ProjectionName; linear: LinearOp }[] {
  const swiglu = ffn.kind === "swiglu" ? ffn : ffn.shared;
  if (!swiglu) return [];
  return [
    { projection: "gate_proj", linear: swiglu.gate },
    { projection: "up_proj", linear: swiglu.up },
    { projection: "down_proj", linear: swiglu.down },
  ];
}

/** The FFN with its plain linears mapped (structure copied). */
export function mapFfnLinears<F extends SwigluFfn | MoeFfn>(
  ffn: F,
  map: (linear: LinearOp, projection: ProjectionName) => LinearOp,
): F {
  const mapSwiglu = (s: SwigluFfn): SwigluFfn => ({
    ...s,
    gate: map(s.gate, "gate_proj"),
    up: map(s.up, "up_proj"),
    down: map(s.down, "down_proj"),
  });
  if (ffn.kind === "swiglu") return mapSwiglu(ffn) as F;
  return { ...ffn, shared: ffn.shared ? mapSwiglu(ffn.shared) : undefined };
}

/** Tensors an FFN reads beyond its plain linears (router, expert stacks). */
export function ffnOwnTensorNames(ffn: SwigluFfn | MoeFfn): string[] {
  if (ffn.kind !== "moe") return [];
  const experts = compressedTensorNames(ffn);
  return [ffn.router, ...(ffn.routerBias ? [ffn.routerBias] : []), ...experts];
}

/** Tensors a MoE FFN's experts read (dense stacks, or the factors). */
export function compressedTensorNames(ffn: MoeFfn): string[] {
  const f = ffn.compressed?.factors;
  if (!f) return [ffn.gateUp, ffn.down];
  return [f.gateUp, f.down].flatMap((s) => [s.u, s.v, ...(s.residual ? [s.residual.weight, s.residual.columns] : [])]);
}
