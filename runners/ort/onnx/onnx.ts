// ONNX emission of the model IR for the CPU (and CUDA) execution providers of onnxruntime.
//
// Layout choices, for speed on ORT's CPU EP:
// - Linear weights are stored transposed, [in, out], so that MatMul needs no run-time Transpose; the
//   output projection is a Gemm with transB=1 over lm_head [vocab, hidden] so tied embeddings share one
//   initialiser with the Gather.
// - RMSNorm is Pow → ReduceMean → Add → Sqrt → Div → Mul, the pattern ORT fuses into
//   SimplifiedLayerNormalization.
// - GQA without copying the KV cache: q [B, heads, S, D] is reshaped to [B, kvHeads, group·S, D] (heads
//   are kv-major), so one MatMul per kv head serves its whole group.
// - RoPE: cos/sin tables [maxPositions, D/2] are initialisers, gathered once per run by position and
//   shared by all layers; rotate_half as Split/Mul/Sub/Add/Concat (HF Llama, non-interleaved).
// - prefill outputs only the last position's logits [B, vocab] (large outputs cost copies)
//   unless `allLogits`; decode takes the KV cache as inputs and derives the position from its length.
import type { ModelConfig, Scenario } from "../../../src/suite/schema.js";
import { rotaryTables } from "../../../src/model/architecture.js";
import {
  buildModelIr,
  irFloatTensor,
  irTensor,
  isFloatTensor,
  type LinearOp,
  type ModelIr,
} from "../../../src/model/ir.js";
import { ELEMENT_TYPE, GraphBuilder, MS_DOMAIN, transpose2d, type Dim, type ElementType } from "./onnx-graph.js";
import { type WeightMap } from "../../../src/model/weights.js";
import { synthesizeWeights } from "../../../src/model/model-weights.js";
import { emitMoeFfn, type MoeCompute, type MoeEmitContext } from "./moe-onnx.js";
import { emitDoraInt4 } from "./dora-int4-onnx.js";
import { loadCheckpointWeights } from "../../../src/model/checkpoint.js";
import { emitQuantizedEmbedding } from "./quantized-embedding-onnx.js";
import { emitMixloraFfn, emitMoleLinear, emitXloraScalings, type MoleEmitContext } from "./mole-onnx.js";
import { xloraBaseIr } from "../../../src/model/mole.js";

/** X-LoRA's base (scaling) pass keeps its own KV cache in decode: inputs `xlora_base.past_key.{i}`, outputs `xlora_base.present_key.{i}`. */
export const XLORA_BASE_CACHE_PREFIX = "xlora_base.";

/** A graph input with symbolic dims (batch, sequence, past_sequence). */
export interface GraphInput {
  name: string;
  type: ElementType;
  dims: Dim[];
}

export interface EmitOptions {
  scenario: "prefill" | "decode";
  /** prefill: output logits [B, S, vocab] for every position (fidelity checks) instead of [B, vocab]. */
  allLogits?: boolean;
  /** decode: also output present_key.{i}/present_value.{i} (the concatenated cache); default true. */
  presentOutputs?: boolean;
  /** MoE (docs/moe.md): also output each MoE layer's chosen experts `router_indices.{layer}` [tokens, k]. */
  routingOutputs?: boolean;
  /** MoE: how routed experts run; default sparse (per-expert branches) for decode and prefill (runners/ort/onnx/moe-onnx.ts). */
  moeCompute?: MoeCompute;
}

export interface EmittedGraph {
  bytes: Uint8Array;
  inputs: GraphInput[];
  outputs: string[];
  /** Bytes of the initialisers in the model (what ORT loads). */
  initializerBytes: number;
}

const ATTENTION_MASK_VALUE = -Infinity;

/** Emits the ONNX model of an IR for one scenario. */
export function emitOnnx(ir: ModelIr, options: EmitOptions): EmittedGraph {
  const g = new GraphBuilder();
  const { dims, config } = ir;
  const decode = options.scenario === "decode";
  const presentOutputs = decode && (options.presentOutputs ?? true);
  const inputs: GraphInput[] = [];
  const addInput = (name: string, type: ElementType, shape: Dim[]) => {
    inputs.push({ name, type, dims: shape });
    return g.input(name, type, shape);
  };

  const inputIds = addInput("input_ids", "int64", ["batch", decode ? 1 : "sequence"]);
  // One KV cache per pass: X-LoRA's base pass has its own (prefixed) cache beside the adapted pass's.
  const cacheInputs = (prefix: string) => {
    const keys: string[] = [];
    const values: string[] = [];
    if (decode)
      for (let layer = 0; layer < dims.layers; layer++) {
        keys.push(
          addInput(`${prefix}past_key.${layer}`, "float32", ["batch", dims.kvHeads, "past_sequence", dims.headDim]),
        );
        values.push(
          addInput(`${prefix}past_value.${layer}`, "float32", ["batch", dims.kvHeads, "past_sequence", dims.headDim]),
        );
      }
    return { prefix, keys, values };
  };
  const mainCache = cacheInputs("");
  const xloraCache = ir.xloraClassifier ? cacheInputs(XLORA_BASE_CACHE_PREFIX) : undefined;
  const pastKeys = mainCache.keys;

  const emitter = new LinearEmitter(g, ir);
  const outputs: string[] = [];
  emitter.mole = {
    routingOutputs: options.routingOutputs ?? false,
    addOutput: (name, type, shape) => (g.output(name, type, shape), outputs.push(name)),
    xloraGates: new Map(),
  };

  // Positions: pastLength … pastLength + S − 1, where pastLength is the cache length (0 in prefill).
  const zero = decode ? "" : g.int64([0], []);
  const one = g.int64([1], []);
  const idsShape = g.op("Shape", [inputIds]);
  const seqLen = g.op("Gather", [idsShape, one], { axis: 0 });
  const pastLen = decode ? g.op("Gather", [g.op("Shape", [pastKeys[0]!]), g.int64([2], [])], { axis: 0 }) : zero;
  const totalLen = decode ? g.op("Add", [pastLen, seqLen]) : seqLen;
  const positions = g.op("Range", [pastLen, totalLen, one]);

  const { cos, sin, half } = rotaryTables(config, config.maxPositions);
  g.float("rope.cos", [config.maxPositions, half], Float32Array.from(cos));
  g.float("rope.sin", [config.maxPositions, half], Float32Array.from(sin));
  const ropeShape = g.int64([-1, 1, half]); // [S, 1, D/2]: broadcasts over [B, S, heads, D/2]
  const cosAt = g.op("Reshape", [g.op("Gather", ["rope.cos", positions], { axis: 0 }), ropeShape]);
  const sinAt = g.op("Reshape", [g.op("Gather", ["rope.sin", positions], { axis: 0 }), ropeShape]);
  const splitHalves = g.int64([half, half]);

  // Causal mask over the group-expanded query rows [group·S, T] (prefill only: a single decode token sees all).
  let mask: string | undefined;
  if (!decode) {
    const queryPositions = g.op("Unsqueeze", [g.op("Tile", [positions, g.int64([dims.groupSize])]), g.int64([1])]);
    const keyPositions = g.op("Unsqueeze", [g.op("Range", [zero, totalLen, one]), g.int64([0])]);
    const future = g.op("Greater", [keyPositions, queryPositions]);
    mask = g.op("Where", [future, g.scalar(ATTENTION_MASK_VALUE), g.scalar(0)]);
  }

  const eps = g.scalar(config.rmsNormEps, "rms_norm_eps");
  const two = g.scalar(2, "two");
  const rmsNorm = (x: string, weight: string): string => {
    g.hasInitializer(weight) || g.float(weight, irFloatTensor(ir, weight).shape, irFloatTensor(ir, weight).data);
    const variance = g.op("ReduceMean", [g.op("Pow", [x, two])], { axes: [-1], keepdims: 1 });
    const normed = g.op("Div", [x, g.op("Sqrt", [g.op("Add", [variance, eps])])]);
    return g.op("Mul", [normed, weight]);
  };
  const rope = (x: string): string => {
    const [x1, x2] = g.node("Split", [x, splitHalves], 2, { axis: -1 }) as [string, string];
    const r1 = g.op("Sub", [g.op("Mul", [x1, cosAt]), g.op("Mul", [x2, sinAt])]);
    const r2 = g.op("Add", [g.op("Mul", [x2, cosAt]), g.op("Mul", [x1, sinAt])]);
    return g.op("Concat", [r1, r2], { axis: -1 });
  };

  const embedFloat = () =>
    g.float(ir.embedTokens, irFloatTensor(ir, ir.embedTokens).shape, irFloatTensor(ir, ir.embedTokens).data);
  // [B, S, H]; int4/int8 `embeddings`: rows dequantised per token (quantized-embedding-onnx.ts).
  const embedded = ir.embeddingLinear
    ? emitQuantizedEmbedding(emitter, ir.embeddingLinear, inputIds)
    : g.op("Gather", [embedFloat(), inputIds], { axis: 0 });

  const qShape = g.int64([0, 0, dims.heads, dims.headDim]);
  const kvShape = g.int64([0, 0, dims.kvHeads, dims.headDim]);
  const groupedShape = g.int64([0, dims.kvHeads, -1, dims.headDim]);
  const headsShape = g.int64([0, dims.heads, -1, dims.headDim]);
  const mergedShape = g.int64([0, 0, dims.qDim]);
  const queryScale = g.scalar(1 / Math.sqrt(dims.headDim), "attention_scale");
  const presents: { name: string; value: string }[] = [];

  const decoderStack = (layers: ModelIr["layers"], start: string, cache: typeof mainCache): string => {
    let hidden = start;
    layers.forEach((layer, index) => {
      const normed = rmsNorm(hidden, layer.inputNorm);
      const q = g.op("Reshape", [emitter.emit(layer.attention.q, normed), qShape]);
      const k = g.op("Reshape", [emitter.emit(layer.attention.k, normed), kvShape]);
      const v = g.op("Reshape", [emitter.emit(layer.attention.v, normed), kvShape]);
      // Qwen3: each head's query and key RMS-normalised over the head dimension before the rope.
      const qNormed = layer.qNorm ? rmsNorm(q, layer.qNorm) : q;
      const kNormed = layer.kNorm ? rmsNorm(k, layer.kNorm) : k;
      const qHeads = g.op("Mul", [g.op("Transpose", [rope(qNormed)], { perm: [0, 2, 1, 3] }), queryScale]); // [B, h, S, D]
      let keys = g.op("Transpose", [rope(kNormed)], { perm: [0, 2, 1, 3] }); // [B, kv, S, D]
      let values = g.op("Transpose", [v], { perm: [0, 2, 1, 3] });
      if (decode) {
        const [presentKey, presentValue] = [
          `${cache.prefix}present_key.${index}`,
          `${cache.prefix}present_value.${index}`,
        ];
        keys = g.op("Concat", [cache.keys[index]!, keys], { axis: 2 }, presentOutputs ? { name: presentKey } : {});
        values = g.op(
          "Concat",
          [cache.values[index]!, values],
          { axis: 2 },
          presentOutputs ? { name: presentValue } : {},
        );
        if (presentOutputs) presents.push({ name: presentKey, value: keys }, { name: presentValue, value: values });
      }
      const grouped = g.op("Reshape", [qHeads, groupedShape]); // [B, kv, group·S, D]
      let scores = g.op("MatMul", [grouped, g.op("Transpose", [keys], { perm: [0, 1, 3, 2] })]); // [B, kv, group·S, T]
      if (mask) scores = g.op("Add", [scores, mask]);
      const probs = g.op("Softmax", [scores], { axis: -1 });
      const context = g.op("Reshape", [g.op("MatMul", [probs, values]), headsShape]); // [B, h, S, D]
      const merged = g.op("Reshape", [g.op("Transpose", [context], { perm: [0, 2, 1, 3] }), mergedShape]);
      hidden = g.op("Add", [hidden, emitter.emit(layer.attention.o, merged)]);

      const normed2 = rmsNorm(hidden, layer.postAttentionNorm);
      const moeContext: MoeEmitContext = {
        layer: index,
        compute: options.moeCompute ?? "sparse",
        routingOutputs: options.routingOutputs ?? false,
        addOutput: (name, type, shape) => (g.output(name, type, shape), outputs.push(name)),
      };
      hidden = g.op("Add", [hidden, emitFfn(g, emitter, layer.ffn, normed2, moeContext)]);
    });
    return hidden;
  };
  // X-LoRA (runners/ort/onnx/mole-onnx.ts): the base pass over the same tokens gives the classifier's scalings, then the adapted pass.
  if (ir.xloraClassifier && xloraCache) {
    const baseHidden = decoderStack(xloraBaseIr(ir).layers, embedded, xloraCache);
    emitter.mole.xloraScalings = emitXloraScalings(g, emitter, ir.xloraClassifier, rmsNorm(baseHidden, ir.finalNorm));
  }
  const hidden = decoderStack(ir.layers, embedded, mainCache);

  // The output projection: a Gemm over lm_head (or the tied embedding), or a quantised linear (int4/int8 `lmHead`).
  const project = (x: string, name?: string): string => {
    if (ir.outputLinear) return g.op("Identity", [emitter.emit(ir.outputLinear, x)], {}, name ? { name } : {});
    if (!g.hasInitializer(ir.lmHead))
      g.float(ir.lmHead, irFloatTensor(ir, ir.lmHead).shape, irFloatTensor(ir, ir.lmHead).data);
    return g.op("Gemm", [x, ir.lmHead], { transB: 1 }, name ? { name } : {});
  };
  let logits: string;
  if (options.allLogits && !decode) {
    const flat = g.op("Reshape", [rmsNorm(hidden, ir.finalNorm), g.int64([-1, dims.hidden])]);
    const logits2d = project(flat);
    const shape = g.op("Concat", [idsShape, g.int64([dims.vocab])], { axis: 0 });
    logits = g.op("Reshape", [logits2d, shape], {}, { name: "logits" });
    g.output(logits, "float32", ["batch", "sequence", dims.vocab]);
  } else {
    // The final norm is per position, so normalising only the last one is exact and cheaper.
    const last = decode
      ? g.op("Reshape", [hidden, g.int64([-1, dims.hidden])])
      : g.op("Gather", [hidden, g.int64([-1], [])], { axis: 1 }); // [B, H]
    logits = project(rmsNorm(last, ir.finalNorm), "logits");
    g.output(logits, "float32", ["batch", dims.vocab]);
  }
  outputs.push("logits");
  for (const present of presents) {
    g.output(present.name, "float32", ["batch", dims.kvHeads, "total_sequence", dims.headDim]);
    outputs.push(present.name);
  }
  const bytes = g.toBytes(
    `${config.name}-${options.scenario}`,
    `effbench ${config.name} ${options.scenario}; ${ir.notes.join("; ")}`,
  );
  return { bytes, inputs, outputs, initializerBytes: g.initializerBytes };
}

function emitFfn(
  g: GraphBuilder,
  emitter: LinearEmitter,
  ffn: ModelIr["layers"][number]["ffn"],
  x: string,
  moeContext: MoeEmitContext,
): string {
  switch (ffn.kind) {
    case "swiglu": {
      const gate = emitter.emit(ffn.gate, x);
      const activated = g.op("Mul", [gate, g.op("Sigmoid", [gate])]); // SiLU
      return emitter.emit(ffn.down, g.op("Mul", [activated, emitter.emit(ffn.up, x)]));
    }
    case "moe":
      return emitMoeFfn(g, emitter, ffn, x, moeContext);
    case "mixlora":
      return emitMixloraFfn(g, emitter, ffn, x);
    default:
      throw new Error(`the ONNX emitter does not know the FFN kind "${(ffn as { kind: string }).kind}"`);
  }
}

/** Emits linear operators; each weight initialiser is added once even when two ops read it. */
export class LinearEmitter {
  private one?: string;
  /** Mixtures of LoRA experts (runners/ort/onnx/mole-onnx.ts): routing outputs and X-LoRA's scalings. */
  mole: MoleEmitContext = { routingOutputs: false, addOutput: () => undefined, xloraGates: new Map() };

  constructor(
    readonly g: GraphBuilder,
    readonly ir: ModelIr,
  ) {}

  /** A float weight [out, in] as a MatMul operand [in, out]. */
  transposedWeight(name: string): string {
    const initName = `${name}.T`;
    if (this.g.hasInitializer(initName)) return initName;
    const tensor = irFloatTensor(this.ir, name);
    const [rows, cols] = tensor.shape as [number, number];
    return this.g.float(initName, [cols, rows], transpose2d(tensor.data, rows, cols));
  }

  /** A tensor as is (float32, or its raw dtype). */
  tensor(name: string): string {
    if (this.g.hasInitializer(name)) return name;
    const tensor = irTensor(this.ir, name);
    if (isFloatTensor(tensor)) return this.g.float(name, tensor.shape, tensor.data);
    const rawType = RAW_ELEMENT_TYPE[tensor.dtype];
    if (!rawType) throw new Error(`tensor ${name}: dtype ${tensor.dtype} cannot be an initialiser`);
    return this.g.initializer(name, rawType, tensor.shape, tensor.bytes);
  }

  /**
   * A float 1 that ORT cannot constant-fold: the sign of the batch size read from the input's shape at run
   * time. Multiplying a weights-only subgraph by it keeps that subgraph in the run (unmerged DoRA's norm).
   */
  runtimeOne(): string {
    if (!this.one) {
      const batch = this.g.op("Gather", [this.g.op("Shape", ["input_ids"]), this.g.int64([0], [])], { axis: 0 });
      this.one = this.g.op("Sign", [this.g.op("Cast", [batch], { to: ELEMENT_TYPE.float32 })]);
    }
    return this.one;
  }

  private addBias(y: string, bias?: string): string {
    return bias ? this.g.op("Add", [y, this.tensor(bias)]) : y;
  }

  emit(linear: LinearOp, x: string): string {
    const g = this.g;
    switch (linear.kind) {
      case "dense":
        return this.addBias(g.op("MatMul", [x, this.transposedWeight(linear.weight)]), linear.bias);
      case "lora": {
        // (x·Aᵀ)·Bᵀ·s on activations: never B·A, which ORT would constant-fold into a merged weight.
        const down = g.op("MatMul", [x, this.transposedWeight(linear.loraA)]);
        const up = g.op("MatMul", [down, this.transposedWeight(linear.loraB)]);
        const scaled = g.op("Mul", [up, g.scalar(linear.scale)]);
        return g.op("Add", [this.emit(linear.base, x), scaled]);
      }
      case "dora": {
        if (linear.base.kind === "int4") return emitDoraInt4(this, { ...linear, base: linear.base }, x); // dora-int4-onnx.ts
        if (linear.base.kind !== "dense") throw new Error("unmerged DoRA over a quantised base is not emitted yet");
        // peft's DoRA: the column norm ‖W + s·B·A‖ (per output feature) recomputed on every forward; the
        // runtime 1 keeps ORT from folding it into a constant (which would silently merge the adapter).
        const weightT = this.transposedWeight(linear.base.weight); // [in, out]
        const loraAT = this.transposedWeight(linear.loraA); // [in, r]
        const loraBT = this.transposedWeight(linear.loraB); // [r, out]
        const delta = g.op("MatMul", [g.op("Mul", [loraAT, this.runtimeOne()]), loraBT]); // [in, out]
        const combined = g.op("Add", [weightT, g.op("Mul", [delta, g.scalar(linear.scale)])]);
        const norm = g.op("ReduceL2", [combined], { axes: [0], keepdims: 0 }); // [out]
        const magnitudeScale = g.op("Div", [this.tensor(linear.magnitude), norm]);
        const baseOut = g.op("MatMul", [x, weightT]);
        const loraOut = g.op("Mul", [g.op("MatMul", [g.op("MatMul", [x, loraAT]), loraBT]), g.scalar(linear.scale)]);
        return this.addBias(g.op("Mul", [g.op("Add", [baseOut, loraOut]), magnitudeScale]), linear.base.bias);
      }
      case "int4": {
        const inputs = [x, this.tensor(linear.packedWeight), this.tensor(linear.scales)];
        if (linear.zeroPoints) inputs.push(this.tensor(linear.zeroPoints));
        const y = g.op(
          "MatMulNBits",
          inputs,
          {
            K: linear.inFeatures,
            N: linear.outFeatures,
            bits: 4,
            block_size: linear.blockSize,
            accuracy_level: linear.accuracyLevel,
          },
          { domain: MS_DOMAIN },
        );
        return this.addBias(y, linear.bias);
      }
      case "int8": {
        // Activations quantised per run to u8 (DynamicQuantizeLinear), int8 weights, int32 accumulation,
        // then rescaled; ORT fuses this into DynamicQuantizeMatMul.
        const [quantized, scale, zeroPoint] = g.node("DynamicQuantizeLinear", [x], 3) as [string, string, string];
        const accumulated = g.op("MatMulInteger", [quantized, this.tensor(linear.quantizedWeight), zeroPoint]);
        const y = g.op("Mul", [
          g.op("Cast", [accumulated], { to: ELEMENT_TYPE.float32 }),
          g.op("Mul", [scale, this.tensor(linear.scales)]),
        ]);
        return this.addBias(y, linear.bias);
      }
      case "half": {
        const weight = g.op("Cast", [this.tensor(linear.weight)], { to: ELEMENT_TYPE.float32 });
        return this.addBias(g.op("MatMul", [x, weight]), linear.bias);
      }
      case "mole":
        return emitMoleLinear(this, linear, x);
    }
  }
}

const RAW_ELEMENT_TYPE: Partial<Record<string, ElementType>> = {
  U8: "uint8",
  I8: "int8",
  F16: "float16",
  BF16: "bfloat16",
  I64: "int64",
  I32: "int32",
};

/** What the runner pre-allocates for one input: its concrete dims and how to fill it. */
export interface InputSpec {
  name: string;
  type: "int64" | "float32";
  dims: number[];
  /** tokens: uniform token ids < vocab; normal: N(0,1) floats (a KV cache); value: constant `value`; range: value + index along the last axis. */
  fill: "tokens" | "normal" | "value" | "range";
  value?: number;
}

export interface BuildOptions {
  scenario: Extract<Scenario, "prefill" | "decode">;
  /** Synthesised from `model.weights` when absent. */
  weights?: WeightMap;
  /** An IR already rewritten by a technique; built from the weights when absent. */
  ir?: ModelIr;
  batch: number;
  /** Prompt length (prefill) or context length of the KV cache (decode). */
  promptTokens: number;
  allLogits?: boolean;
  presentOutputs?: boolean;
  routingOutputs?: boolean;
  moeCompute?: MoeCompute;
}

export interface BuiltModel extends EmittedGraph {
  /** The inputs with concrete dims for this batch and length. */
  inputSpecs: InputSpec[];
}

/** Builds the ONNX model of a (possibly rewritten) model for a scenario, with concrete input specs. */
export function buildOnnxModel(model: ModelConfig, options: BuildOptions): BuiltModel {
  const needed = options.scenario === "decode" ? options.promptTokens + 1 : options.promptTokens;
  if (needed > model.maxPositions)
    throw new Error(
      `model ${model.name}: ${options.scenario} at ${options.promptTokens} tokens needs ${needed} positions, maxPositions is ${model.maxPositions}`,
    );
  const ir =
    options.ir ??
    buildModelIr(
      model,
      options.weights ?? (model.checkpoint ? loadCheckpointWeights(model) : synthesizeWeights(model)),
    );
  const emitted = emitOnnx(ir, {
    scenario: options.scenario,
    allLogits: options.allLogits,
    presentOutputs: options.presentOutputs,
    routingOutputs: options.routingOutputs,
    moeCompute: options.moeCompute,
  });
  const concrete = (dims: Dim[]): number[] =>
    dims.map((d) =>
      typeof d === "number"
        ? d
        : d === "batch"
          ? options.batch
          : d === "sequence" || d === "past_sequence"
            ? options.promptTokens
            : NaN,
    );
  const inputSpecs: InputSpec[] = emitted.inputs.map((input) => ({
    name: input.name,
    type: input.type === "int64" ? "int64" : "float32",
    dims: concrete(input.dims),
    fill: input.name === "input_ids" ? "tokens" : "normal",
  }));
  return { ...emitted, inputSpecs };
}
