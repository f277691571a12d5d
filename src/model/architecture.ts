// Derived dimensions and Hugging Face tensor names of a llama-family model (Llama, Mistral, Qwen2).
// Names are Hugging Face's so that the torch worker can load the very same tensors from safetensors.
import type { ModelConfig } from "../suite/schema.js";

export interface Dimensions {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** heads × headDim: width of q_proj's output and o_proj's input. */
  qDim: number;
  /** kvHeads × headDim: width of k_proj's and v_proj's output. */
  kvDim: number;
  /** Query heads sharing one key/value head (GQA group size). */
  groupSize: number;
  ffn: number;
  vocab: number;
  layers: number;
}

export function dimensionsOf(model: ModelConfig): Dimensions {
  const kvHeads = model.kvHeads ?? model.heads;
  const headDim = model.headDim ?? model.hidden / model.heads;
  if (!Number.isInteger(headDim))
    throw new Error(`hidden (${model.hidden}) is not divisible by heads (${model.heads}); set headDim`);
  if (headDim % 2 !== 0) throw new Error(`headDim (${headDim}) must be even for rotary embeddings`);
  return {
    hidden: model.hidden,
    heads: model.heads,
    kvHeads,
    headDim,
    qDim: model.heads * headDim,
    kvDim: kvHeads * headDim,
    groupSize: model.heads / kvHeads,
    ffn: model.ffn,
    vocab: model.vocab,
    layers: model.layers,
  };
}

/** The projections of one decoder layer, in Hugging Face's module naming. */
export const ATTENTION_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj"] as const;
export const MLP_PROJECTIONS = ["gate_proj", "up_proj", "down_proj"] as const;
export type ProjectionName = (typeof ATTENTION_PROJECTIONS)[number] | (typeof MLP_PROJECTIONS)[number];
export const PROJECTIONS: readonly ProjectionName[] = [...ATTENTION_PROJECTIONS, ...MLP_PROJECTIONS];

export const EMBED_TOKENS = "model.embed_tokens.weight";
export const FINAL_NORM = "model.norm.weight";
export const LM_HEAD = "lm_head.weight";

export function layerPrefix(layer: number): string {
  return `model.layers.${layer}`;
}

/** Module path of a projection, e.g. `model.layers.0.self_attn.q_proj` (append `.weight` / `.bias`). */
export function projectionModule(layer: number, projection: ProjectionName): string {
  const block = (ATTENTION_PROJECTIONS as readonly string[]).includes(projection) ? "self_attn" : "mlp";
  return `${layerPrefix(layer)}.${block}.${projection}`;
}

/** [out, in] of a projection's weight (PyTorch nn.Linear layout). */
export function projectionShape(dims: Dimensions, projection: ProjectionName): [number, number] {
  switch (projection) {
    case "q_proj":
      return [dims.qDim, dims.hidden];
    case "k_proj":
    case "v_proj":
      return [dims.kvDim, dims.hidden];
    case "o_proj":
      return [dims.hidden, dims.qDim];
    case "gate_proj":
    case "up_proj":
      return [dims.ffn, dims.hidden];
    case "down_proj":
      return [dims.hidden, dims.ffn];
  }
}

/** Whether a projection carries a bias (Qwen2's q/k/v when `attentionBias`). */
export function projectionHasBias(model: ModelConfig, projection: ProjectionName): boolean {
  return model.attentionBias && (projection === "q_proj" || projection === "k_proj" || projection === "v_proj");
}

/**
 * Every tensor of the dense model with its shape, in a stable order. MoE layers replace the
 * `mlp.*` entries of their layers; until then a model with `moe` is refused by the callers that build it.
 */
export function denseTensorShapes(model: ModelConfig): Map<string, number[]> {
  const dims = dimensionsOf(model);
  const shapes = new Map<string, number[]>();
  shapes.set(EMBED_TOKENS, [dims.vocab, dims.hidden]);
  for (let layer = 0; layer < dims.layers; layer++) {
    shapes.set(`${layerPrefix(layer)}.input_layernorm.weight`, [dims.hidden]);
    for (const projection of PROJECTIONS) {
      if (projection === "gate_proj")
        shapes.set(`${layerPrefix(layer)}.post_attention_layernorm.weight`, [dims.hidden]);
      const shape = projectionShape(dims, projection);
      shapes.set(`${projectionModule(layer, projection)}.weight`, shape);
      if (model.qkNorm && (projection === "q_proj" || projection === "k_proj"))
        shapes.set(`${layerPrefix(layer)}.self_attn.${projection[0]}_norm.weight`, [dims.headDim]);
      if (projectionHasBias(model, projection)) shapes.set(`${projectionModule(layer, projection)}.bias`, [shape[0]]);
    }
  }
  shapes.set(FINAL_NORM, [dims.hidden]);
  if (!model.tieEmbeddings) shapes.set(LM_HEAD, [dims.vocab, dims.hidden]);
  return shapes;
}

/**
 * One inverse frequency after the model's rope scaling, in float32 as transformers' modeling_rope_utils computes it
 * (`linear`: inv / factor; `llama3`: wavelengths 2π/inv above originalMaxPositions/lowFreqFactor divided by factor,
 * below originalMaxPositions/highFreqFactor kept, the band between interpolated by the smooth factor). torch's
 * `scalar / tensor` is `reciprocal(tensor) · scalar`, hence the two roundings there.
 */
export function scaledInvFreq(model: ModelConfig, inv: number): number {
  const scaling = model.ropeScaling;
  if (!scaling) return inv;
  const f = Math.fround;
  const factor = f(scaling.factor);
  if (scaling.type === "linear") return f(inv / factor);
  const old = scaling.originalMaxPositions;
  const lowWavelen = f(old / scaling.lowFreqFactor);
  const highWavelen = f(old / scaling.highFreqFactor);
  const wavelen = f(f(1 / inv) * f(2 * Math.PI));
  const llama = wavelen > lowWavelen ? f(inv / factor) : inv;
  if (wavelen < highWavelen || wavelen > lowWavelen) return llama;
  const smooth = f(
    f(f(f(1 / wavelen) * f(old)) - f(scaling.lowFreqFactor)) / f(scaling.highFreqFactor - scaling.lowFreqFactor),
  );
  return f(f(f(f(1 - smooth) * llama) / factor) + f(smooth * llama));
}

/**
 * Rotary tables cos/sin [positions, headDim/2], computed as Hugging Face's Llama "default" rope does, in
 * float32: inv_freq = 1 / θ^(2i/d), angle = position · inv_freq (one float32 product), so that ORT,
 * the reference and torch see the same angles. Values are returned in float64 holding float32 numbers.
 */
export function rotaryTables(
  model: ModelConfig,
  positions: number,
): { cos: Float64Array; sin: Float64Array; half: number } {
  const { headDim } = dimensionsOf(model);
  const half = headDim / 2;
  const f = Math.fround;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++)
    invFreq[i] = scaledInvFreq(model, f(1 / f(Math.pow(model.ropeTheta, f((2 * i) / headDim)))));
  const cos = new Float64Array(positions * half);
  const sin = new Float64Array(positions * half);
  for (let p = 0; p < positions; p++)
    for (let i = 0; i < half; i++) {
      const angle = f(p * invFreq[i]!);
      cos[p * half + i] = f(Math.cos(angle));
      sin[p * half + i] = f(Math.sin(angle));
    }
  return { cos, sin, half };
}
