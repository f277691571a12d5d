// Seeded, deterministic synthetic weights in Hugging Face naming and layout ([out, in] for linears).
//
// Each tensor has its own generator seeded from hash(seed, name), so adding or removing a tensor never
// shifts the values of the others, and any one tensor can be regenerated alone.
//
// Distributions:
// - "gaussian": N(0, σ²) with σ = 1/√fan_in for linears (variance-preserving init).
// - "llm-like" (default): the same scale, but Student-t draws with ν = 4 (heavy tails, kurtosis ≫ 3) and
//   about 0.5% of input channels scaled ×10–20 in every linear. Real LLM weights and activations have such
//   emergent outlier feature dimensions (Dettmers et al. 2022, "LLM.int8(): 8-bit Matrix Multiplication
//   for Transformers at Scale", §3; Xiao et al. 2022, "SmoothQuant", §3), and they are what makes
//   per-tensor or coarse-block quantisation lose accuracy; Gaussian weights hide that. The outlier channels
//   are chosen per input width (shared by every linear that reads the same stream, as outlier dimensions of
//   the residual stream are in real models), seeded from the model seed.
import type { ModelConfig } from "../suite/schema.js";
import { EMBED_TOKENS, LM_HEAD } from "./architecture.js";
import { Sfc32, fillRandom, seededUniform } from "./sampling.js";

export type Dtype = "F32" | "F16" | "BF16" | "F64" | "I8" | "U8" | "I32" | "I64";

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export type WeightMap = Map<string, Tensor>;

/** Share of input channels made outliers in "llm-like" weights. */
export const OUTLIER_CHANNEL_FRACTION = 0.005;
/** Outlier channels are scaled by a factor drawn uniformly from this range. */
export const OUTLIER_SCALE_RANGE: readonly [number, number] = [10, 20];
/** Student-t degrees of freedom of "llm-like" weights (ν = 4: finite variance, heavy tails). */
export const STUDENT_T_DOF = 4;
/** Standard deviation of the noise around 1 of RMSNorm weights. */
export const NORM_WEIGHT_NOISE = 0.05;
/** Standard deviation of q/k/v biases (Qwen2). */
export const BIAS_STD = 0.02;

/** The outlier input channels (and their scale factors) of every linear whose input has width `inFeatures`. */
export function outlierChannels(seed: number, inFeatures: number): { channel: number; scale: number }[] {
  const rng = seededUniform(seed, `outlier-channels:${inFeatures}`);
  const count = Math.max(1, Math.round(OUTLIER_CHANNEL_FRACTION * inFeatures));
  const chosen = new Map<number, number>();
  while (chosen.size < Math.min(count, inFeatures)) {
    const channel = Math.floor(rng() * inFeatures);
    if (!chosen.has(channel))
      chosen.set(channel, OUTLIER_SCALE_RANGE[0] + (OUTLIER_SCALE_RANGE[1] - OUTLIER_SCALE_RANGE[0]) * rng());
  }
  return [...chosen].map(([channel, scale]) => ({ channel, scale })).sort((x, y) => x.channel - y.channel);
}

export interface SynthesisOptions {
  seed: number;
  distribution: "llm-like" | "gaussian";
}

/**
 * One tensor, by name and shape: norms ≈ 1, biases small, embeddings and linears at σ = 1/√fan_in
 * (embeddings and lm_head use 1/√hidden so that logits have unit scale whether or not they are tied).
 */
export function synthesizeTensor(name: string, shape: number[], options: SynthesisOptions): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  const generator = new Sfc32(options.seed, name);
  if (name.endsWith("norm.weight") || name.endsWith("layernorm.weight")) {
    fillRandom(data, generator, "normal", NORM_WEIGHT_NOISE);
    for (let i = 0; i < size; i++) data[i] += 1;
    return { shape, data };
  }
  if (name.endsWith(".bias")) {
    fillRandom(data, generator, "normal", BIAS_STD);
    return { shape, data };
  }
  if (shape.length !== 2)
    throw new Error(`cannot synthesise ${name}: expected a 2-D weight, got shape [${shape.join(", ")}]`);
  const inFeatures = shape[1]!;
  const std = 1 / Math.sqrt(inFeatures);
  if (options.distribution === "gaussian") {
    fillRandom(data, generator, "normal", std);
    return { shape, data };
  }
  fillRandom(data, generator, "student-t4", std);
  // Embedding rows are looked up, not multiplied: outlier channels belong to linears that read a stream.
  if (name !== EMBED_TOKENS && name !== LM_HEAD) {
    const rows = shape[0]!;
    for (const { channel, scale } of outlierChannels(options.seed, inFeatures))
      for (let row = 0; row < rows; row++) data[row * inFeatures + channel] *= scale;
  }
  return { shape, data };
}

/** The output projection of a model: lm_head, or the embedding when tied. */
export function lmHeadOf(model: ModelConfig, weights: WeightMap): Tensor {
  const tensor = weights.get(model.tieEmbeddings ? EMBED_TOKENS : LM_HEAD);
  if (!tensor) throw new Error(`model ${model.name}: missing ${model.tieEmbeddings ? EMBED_TOKENS : LM_HEAD}`);
  return tensor;
}

export function requireTensor(weights: WeightMap, name: string): Tensor {
  const tensor = weights.get(name);
  if (!tensor) throw new Error(`missing tensor ${name}`);
  return tensor;
}

/** A tensor of `std` × unit-variance draws, seeded by (seed, name) like every synthesised weight. */
export function randomTensor(
  seed: number,
  name: string,
  shape: number[],
  std: number,
  distribution: "normal" | "student-t4" = "normal",
): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fillRandom(data, new Sfc32(seed, name), distribution, std);
  return { shape, data };
}
