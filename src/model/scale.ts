// Scaling a real architecture down so that a full-size suite runs on a small CPU (`--scale`).
// The rule (datasets/architectures/README.md): keep the per-layer *shape* — head_dim, the query-per-KV-head
// group size, the number of experts and top-k, the dense-first-layer pattern — and shrink the count of layers
// and of KV heads; every other width (hidden, ffn, expert/shared ffn, vocabulary) follows the realised
// width factor, which is the KV-head ratio after rounding to whole heads.
import type { ModelConfig } from "../suite/schema.js";

export type ScaleName = "tiny" | "small";
export type Scale = ScaleName | number;

/** The named presets: a requested width factor and a layer count. */
export const SCALE_PRESETS: Readonly<Record<ScaleName, { widthFactor: number; layers: number }>> = {
  // ~1/16 of the width and 2 layers: a 7B–32B model becomes a few tens of MB, seconds per case on 2 cores.
  tiny: { widthFactor: 1 / 16, layers: 2 },
  // ~1/4 of the width and 4 layers: a few hundred MB for 7B-class models; per-layer costs closer to real.
  small: { widthFactor: 1 / 4, layers: 4 },
};

/** Numeric scales keep at least this many layers, so that a layer-to-layer effect (KV cache, MoLA) exists. */
export const MIN_SCALED_LAYERS = 2;

export interface ScaledModel {
  model: ModelConfig;
  /** What was asked for. */
  requested: Scale;
  /** The width factor asked for (preset's or the number). */
  requestedWidthFactor: number;
  /** The width factor applied: scaled KV heads ÷ original KV heads (≥ the requested factor, because heads are whole). */
  widthFactor: number;
  layers: { from: number; to: number };
}

/** Scales a model down; returns the model together with the factors that were actually applied. */
export function scaleModelDetailed(model: ModelConfig, scale: Scale): ScaledModel {
  const { widthFactor: requestedWidthFactor, layers: requestedLayers } = resolveScale(model, scale);
  const kvHeads = model.kvHeads ?? model.heads;
  const headDim = model.headDim ?? model.hidden / model.heads;
  const groupSize = model.heads / kvHeads;
  const scaledKvHeads = Math.min(kvHeads, Math.max(1, Math.round(kvHeads * requestedWidthFactor)));
  const widthFactor = scaledKvHeads / kvHeads;
  const width = (n: number): number => Math.max(1, Math.round(n * widthFactor));
  const layers = Math.min(model.layers, requestedLayers);

  const scaled: ModelConfig = {
    ...model,
    name: `${model.name}@${scaleLabel(scale)}`,
    layers,
    hidden: width(model.hidden),
    heads: scaledKvHeads * groupSize,
    kvHeads: scaledKvHeads,
    headDim,
    ffn: width(model.ffn),
    vocab: width(model.vocab),
  };
  // A scaled checkpoint keeps its architecture's shape but not its weights (they do not fit the smaller shape):
  // it runs seeded weights like any synthesised model, and has no perplexity text.
  delete scaled.checkpoint;
  delete scaled.gguf; // a local GGUF likewise: its tensors do not fit the smaller shape
  delete scaled.perplexityText;
  if (model.moe) {
    scaled.moe = {
      ...model.moe,
      expertFfn: model.moe.expertFfn === undefined ? undefined : width(model.moe.expertFfn),
      sharedFfn: model.moe.sharedFfn === undefined ? undefined : width(model.moe.sharedFfn),
      // Keep at least one MoE layer: a scaled MoE model that lost all its experts would measure a dense model.
      firstDenseLayers: Math.min(model.moe.firstDenseLayers, layers - 1),
    };
    if (scaled.moe.expertFfn === undefined) delete scaled.moe.expertFfn;
    if (scaled.moe.sharedFfn === undefined) delete scaled.moe.sharedFfn;
  }
  return {
    model: scaled,
    requested: scale,
    requestedWidthFactor,
    widthFactor,
    layers: { from: model.layers, to: layers },
  };
}

/** The scaled model alone (see scaleModelDetailed for the factors applied). */
export function scaleModel(model: ModelConfig, scale: Scale): ModelConfig {
  return scaleModelDetailed(model, scale).model;
}

/** "tiny", "small", or the number as written ("0.25"): the suffix scaled model names carry. */
export function scaleLabel(scale: Scale): string {
  return typeof scale === "number" ? String(scale) : scale;
}

/** Parses a `--scale` argument: a preset name or a factor in (0, 1]. */
export function parseScale(text: string): Scale {
  if (text === "tiny" || text === "small") return text;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value <= 0 || value > 1)
    throw new Error(`--scale: expected tiny, small or a factor in (0, 1], got "${text}"`);
  return value;
}

function resolveScale(model: ModelConfig, scale: Scale): { widthFactor: number; layers: number } {
  if (typeof scale === "string") {
    const preset = SCALE_PRESETS[scale];
    if (!preset) throw new Error(`unknown scale "${String(scale)}"; expected tiny, small or a factor in (0, 1]`);
    return preset;
  }
  if (!Number.isFinite(scale) || scale <= 0 || scale > 1)
    throw new Error(`scale factor must be in (0, 1], got ${scale}`);
  // A number scales width and depth by the same factor.
  return { widthFactor: scale, layers: Math.max(MIN_SCALED_LAYERS, Math.round(model.layers * scale)) };
}
