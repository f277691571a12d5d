// The architecture IR: a llama-family model as layers of named linear operators over a tensor store.
// Techniques (src/techniques/) rewrite it — wrap a linear in an adapter, swap it for a quantised one,
// replace an FFN by a mixture — and the ONNX emitter (onnx.ts), the float64 reference (reference.ts)
// and the accounting read it. Tensors keep Hugging Face names and [out, in] layout; the emitter chooses
// the run-time layout.
import type { ModelConfig } from "../suite/schema.js";
import {
  EMBED_TOKENS,
  FINAL_NORM,
  LM_HEAD,
  type Dimensions,
  type ProjectionName,
  dimensionsOf,
  layerPrefix,
  projectionHasBias,
  projectionModule,
  projectionShape,
} from "./architecture.js";
import type { RawTensor } from "./safetensors.js";
import type { Tensor, WeightMap } from "./weights.js";
import {
  ffnLinears,
  ffnOwnTensorNames,
  isMoeLayer,
  mapFfnLinears,
  moeFfnIr,
  type MoeFfn,
  type SwigluFfn,
} from "./moe.js";
import {
  mapMixloraLinears,
  mixloraLinears,
  mixloraOwnTensorNames,
  moleLinearTensorNames,
  type MixloraFfn,
  type MoleLinear,
  type XloraClassifier,
} from "./mole.js";

/** A float32 tensor, or raw bytes of another dtype (packed int4, int8, fp16…). */
export type IrTensor = Tensor | RawTensor;

export function isFloatTensor(tensor: IrTensor): tensor is Tensor {
  return (tensor as Tensor).data !== undefined;
}

/**
 * y = f(x) for x [..., inFeatures] → y [..., outFeatures]. Kinds beyond `dense` are added by techniques
 * (lora/dora wrap a base linear; quantised kinds replace it); every consumer switches on `kind` and
 * refuses a kind it does not know with a clear error.
 */
export type LinearOp = DenseLinear | LoraLinear | DoraLinear | Int4Linear | Int8Linear | HalfLinear | MoleLinear; // mixtures of LoRA experts (src/model/mole.ts)

export interface LinearShape {
  inFeatures: number;
  outFeatures: number;
}

/** y = x·Wᵀ (+ b); W [out, in]. */
export interface DenseLinear extends LinearShape {
  kind: "dense";
  weight: string;
  bias?: string;
}

/** Unmerged LoRA as peft runs it: y = base(x) + s·((x·Aᵀ)·Bᵀ); A [r, in], B [out, r]. The base may be quantised (QLoRA). */
export interface LoraLinear extends LinearShape {
  kind: "lora";
  base: LinearOp;
  loraA: string;
  loraB: string;
  rank: number;
  scale: number;
}

/**
 * Unmerged DoRA (peft's default): y = (m / ‖W + s·B·A‖_row) ⊙ (x·Wᵀ + s·(x·Aᵀ)·Bᵀ) + b, the norm taken per
 * output feature (peft's `weight_norm` over dim 1 of [out, in]) and recomputed on every forward.
 */
export interface DoraLinear extends LinearShape {
  kind: "dora";
  base: DenseLinear | Int4Linear;
  loraA: string;
  loraB: string;
  magnitude: string;
  rank: number;
  scale: number;
}

/** Block-wise 4-bit weights for com.microsoft MatMulNBits (packed [out, blocks, blockSize/2] uint8). */
export interface Int4Linear extends LinearShape {
  kind: "int4";
  packedWeight: string;
  scales: string;
  /** Packed uint8 zero points (asymmetric); absent ⇒ symmetric (zero point 8). */
  zeroPoints?: string;
  blockSize: number;
  accuracyLevel: number;
  bias?: string;
}

/** int8 weights ([in, out] int8, per-output-channel scale) with dynamically quantised (u8) activations. */
export interface Int8Linear extends LinearShape {
  kind: "int8";
  quantizedWeight: string;
  scales: string;
  /** Weights limited to 7 bits (see quantizeInt8). */
  reduceRange: boolean;
  bias?: string;
}

/**
 * A dense linear whose weight [in, out] is stored in float16 or bfloat16. The ONNX graph casts it to
 * float32 for the MatMul: on the CPU EP that Cast is constant-folded at load, so the file is half the
 * size but the run is fp32 (said in the result's settings, not hidden).
 */
export interface HalfLinear extends LinearShape {
  kind: "half";
  /** Stored transposed, [in, out], as F16 or BF16 raw bytes. */
  weight: string;
  bias?: string;
}

export interface AttentionBlock {
  q: LinearOp;
  k: LinearOp;
  v: LinearOp;
  o: LinearOp;
}

/** The FFN of a layer: dense SwiGLU, a mixture of experts (src/model/moe.ts) or MixLoRA's mixture of LoRA experts (src/model/mole.ts). */
export type FfnBlock = SwigluFfn | MoeFfn | MixloraFfn;

export interface LayerIr {
  inputNorm: string;
  attention: AttentionBlock;
  /** RMSNorm weights [headDim] applied to each query / key head before the rope (Qwen3); absent = none. */
  qNorm?: string;
  kNorm?: string;
  postAttentionNorm: string;
  ffn: FfnBlock;
}

export interface ModelIr {
  config: ModelConfig;
  dims: Dimensions;
  tensors: Map<string, IrTensor>;
  embedTokens: string;
  layers: LayerIr[];
  finalNorm: string;
  /** The output projection: lm_head [vocab, hidden], or the embedding itself when tied. */
  lmHead: string;
  /** int4/int8 `lmHead: true`: the logits come from this quantised linear (hidden → vocab) instead of `lmHead`. */
  outputLinear?: Int4Linear | Int8Linear;
  /** int4/int8 `embeddings: true`: token rows are gathered from this quantised [vocab, hidden] linear and dequantised. */
  embeddingLinear?: Int4Linear | Int8Linear;
  /** What techniques did to the model, for labels and provenance. */
  notes: string[];
  /** X-LoRA (src/model/mole.ts): the classifier of the scaling pass; its presence makes every forward two passes. */
  xloraClassifier?: XloraClassifier;
}

function denseLinear(model: ModelConfig, dims: Dimensions, layer: number, projection: ProjectionName): DenseLinear {
  const [outFeatures, inFeatures] = projectionShape(dims, projection);
  const module = projectionModule(layer, projection);
  return {
    kind: "dense",
    weight: `${module}.weight`,
    bias: projectionHasBias(model, projection) ? `${module}.bias` : undefined,
    inFeatures,
    outFeatures,
  };
}

/** The IR of the unmodified dense model over a weight map (which it shares, not copies). */
export function buildModelIr(model: ModelConfig, weights: WeightMap): ModelIr {
  const dims = dimensionsOf(model);
  const layers: LayerIr[] = [];
  for (let layer = 0; layer < dims.layers; layer++) {
    layers.push({
      inputNorm: `${layerPrefix(layer)}.input_layernorm.weight`,
      attention: {
        q: denseLinear(model, dims, layer, "q_proj"),
        k: denseLinear(model, dims, layer, "k_proj"),
        v: denseLinear(model, dims, layer, "v_proj"),
        o: denseLinear(model, dims, layer, "o_proj"),
      },
      ...(model.qkNorm
        ? {
            qNorm: `${layerPrefix(layer)}.self_attn.q_norm.weight`,
            kNorm: `${layerPrefix(layer)}.self_attn.k_norm.weight`,
          }
        : {}),
      postAttentionNorm: `${layerPrefix(layer)}.post_attention_layernorm.weight`,
      ffn: isMoeLayer(model, layer)
        ? moeFfnIr(model, dims, layer, weights)
        : {
            kind: "swiglu",
            gate: denseLinear(model, dims, layer, "gate_proj"),
            up: denseLinear(model, dims, layer, "up_proj"),
            down: denseLinear(model, dims, layer, "down_proj"),
          },
    });
  }
  const ir: ModelIr = {
    config: model,
    dims,
    tensors: new Map(weights),
    embedTokens: EMBED_TOKENS,
    layers,
    finalNorm: FINAL_NORM,
    lmHead: model.tieEmbeddings ? EMBED_TOKENS : LM_HEAD,
    notes: [],
  };
  for (const name of irTensorNames(ir))
    if (!ir.tensors.has(name)) throw new Error(`model ${model.name}: missing tensor ${name}`);
  return ir;
}

/** Every linear of the IR with its layer and projection name, in layer order. */
export function* linearsOf(ir: ModelIr): Generator<{ layer: number; projection: ProjectionName; linear: LinearOp }> {
  for (let layer = 0; layer < ir.layers.length; layer++) {
    const { attention, ffn } = ir.layers[layer]!;
    yield { layer, projection: "q_proj", linear: attention.q };
    yield { layer, projection: "k_proj", linear: attention.k };
    yield { layer, projection: "v_proj", linear: attention.v };
    yield { layer, projection: "o_proj", linear: attention.o };
    for (const { projection, linear } of ffn.kind === "mixlora" ? mixloraLinears(ffn) : ffnLinears(ffn))
      yield { layer, projection, linear }; // MoE: shared experts only
  }
}

/** Returns a copy of the IR with each linear replaced by `map(linear, layer, projection)` (structure copied, tensors shared). */
export function mapLinears(
  ir: ModelIr,
  map: (linear: LinearOp, layer: number, projection: ProjectionName) => LinearOp,
): ModelIr {
  return {
    ...ir,
    tensors: new Map(ir.tensors),
    notes: [...ir.notes],
    layers: ir.layers.map((layer, index) => ({
      ...layer,
      attention: {
        q: map(layer.attention.q, index, "q_proj"),
        k: map(layer.attention.k, index, "k_proj"),
        v: map(layer.attention.v, index, "v_proj"),
        o: map(layer.attention.o, index, "o_proj"),
      },
      ffn:
        layer.ffn.kind === "mixlora"
          ? mapMixloraLinears(layer.ffn, (linear, projection) => map(linear, index, projection))
          : mapFfnLinears(layer.ffn, (linear, projection) => map(linear, index, projection)),
    })),
  };
}

/** Names of the tensors a linear reads. */
export function linearTensorNames(linear: LinearOp): string[] {
  switch (linear.kind) {
    case "dense":
    case "half":
      return [linear.weight, ...(linear.bias ? [linear.bias] : [])];
    case "lora":
      return [...linearTensorNames(linear.base), linear.loraA, linear.loraB];
    case "dora":
      return [...linearTensorNames(linear.base), linear.loraA, linear.loraB, linear.magnitude];
    case "int4":
      return [
        linear.packedWeight,
        linear.scales,
        ...(linear.zeroPoints ? [linear.zeroPoints] : []),
        ...(linear.bias ? [linear.bias] : []),
      ];
    case "int8":
      return [linear.quantizedWeight, linear.scales, ...(linear.bias ? [linear.bias] : [])];
    case "mole":
      return [...linearTensorNames(linear.base), ...moleLinearTensorNames(linear)];
  }
}

/** Every tensor the IR reads (each once). */
export function irTensorNames(ir: ModelIr): string[] {
  const names = new Set<string>(ir.embeddingLinear ? linearTensorNames(ir.embeddingLinear) : [ir.embedTokens]);
  for (const layer of ir.layers) {
    names.add(layer.inputNorm);
    names.add(layer.postAttentionNorm);
    if (layer.qNorm) names.add(layer.qNorm);
    if (layer.kNorm) names.add(layer.kNorm);
    for (const name of layer.ffn.kind === "mixlora" ? mixloraOwnTensorNames(layer.ffn) : ffnOwnTensorNames(layer.ffn))
      names.add(name);
  }
  for (const { linear } of linearsOf(ir)) for (const name of linearTensorNames(linear)) names.add(name);
  names.add(ir.finalNorm);
  for (const name of ir.outputLinear ? linearTensorNames(ir.outputLinear) : [ir.lmHead]) names.add(name);
  if (ir.xloraClassifier) names.add(ir.xloraClassifier.weight).add(ir.xloraClassifier.bias);
  return [...names];
}

export function irTensor(ir: ModelIr, name: string): IrTensor {
  const tensor = ir.tensors.get(name);
  if (!tensor) throw new Error(`IR of ${ir.config.name}: missing tensor ${name}`);
  return tensor;
}

export function irFloatTensor(ir: ModelIr, name: string): Tensor {
  const tensor = irTensor(ir, name);
  if (!isFloatTensor(tensor))
    throw new Error(`IR of ${ir.config.name}: tensor ${name} is ${tensor.dtype}, expected float32`);
  return tensor;
}

export function irRawTensor(ir: ModelIr, name: string): RawTensor {
  const tensor = irTensor(ir, name);
  if (isFloatTensor(tensor)) throw new Error(`IR of ${ir.config.name}: tensor ${name} is float32, expected raw bytes`);
  return tensor;
}
