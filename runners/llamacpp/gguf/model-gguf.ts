// The IR as llama.cpp's GGUF files: the model (llama architecture; Mixtral-style MoE as llama with experts) and,
// for unmerged LoRA / RSLoRA, a GGUF LoRA adapter. Layout rules of llama.cpp's convert_hf_to_gguf.py: tensor names
// blk.N.attn_q…, dimensions reversed (ggml order), and the rows of q_proj and k_proj (and of LoRA B on them)
// permuted per head from Hugging Face's rotate-half rotary layout to the interleaved pairs llama.cpp's llama rope
// uses. What llama.cpp's llama architecture cannot express is refused with the reason (ggufModelRefusal).
import type { ModelConfig } from "../../../src/suite/schema.js";
import { irFloatTensor, type LinearOp, type ModelIr } from "../../../src/model/ir.js";
import { dimensionsOf, type ProjectionName } from "../../../src/model/architecture.js";
import type { MoeFfn } from "../../../src/model/moe.js";
import { GGUF_FILE_TYPES, LLAMA_FTYPE, weightType, type GgufFileType, type WeightRole } from "./file-types.js";
import { quantize } from "./quants.js";
import { syntheticTokenizerMetadata, syntheticTokenizerRefusal } from "./tokenizer.js";
import { writeGguf, type GgufTensor, type GgufValue } from "./writer.js";
import type { GgmlType } from "./ggml-types.js";

/** llama.cpp's tensor name of each projection. */
export const GGUF_NAME: Record<ProjectionName, string> = {
  q_proj: "attn_q",
  k_proj: "attn_k",
  v_proj: "attn_v",
  o_proj: "attn_output",
  gate_proj: "ffn_gate",
  up_proj: "ffn_up",
  down_proj: "ffn_down",
};

const ROLE: Partial<Record<ProjectionName, WeightRole>> = { v_proj: "attn_v", down_proj: "ffn_down" };

/**
 * Why this model cannot be written as a llama-architecture GGUF of this file type (undefined: it can). Known from
 * the config alone, so the runner refuses the case before building anything.
 */
export function ggufModelRefusal(model: ModelConfig, fileType: GgufFileType, routingSkew = 0): string | undefined {
  if (model.family === "qwen2" || model.attentionBias)
    return "the GGUF writer emits llama-architecture files: q/k/v biases (Qwen2) are not written (llama.cpp's qwen2 architecture would be needed)";
  const tokenizer = syntheticTokenizerRefusal(model.vocab);
  if (tokenizer) return tokenizer;
  const moe = model.moe;
  if (moe) {
    if (moe.sharedExperts > 0)
      return "llama.cpp's llama/Mixtral MoE has no shared experts (DeepSeek-style sharedExperts > 0)";
    if (moe.capacityFactor !== undefined)
      return "llama.cpp's MoE never drops tokens: a capacity factor cannot be expressed";
    if (!moe.normTopK)
      return "llama.cpp's Mixtral routing renormalises the top-k weights (normTopK: false cannot be expressed)";
    if (moe.firstDenseLayers > 0)
      return "llama.cpp's llama architecture has experts in every layer (firstDenseLayers > 0)";
    if (moe.expertFfn !== undefined && moe.expertFfn !== model.ffn)
      return "llama.cpp's llama architecture sizes experts by the model's ffn: expertFfn must equal ffn";
    if (routingSkew > 0)
      return "llama.cpp's Mixtral router has no bias: a workload routingSkew > 0 (a router logit bias) cannot be expressed; its routing is also not observable through node-llama-cpp";
  }
  const dims = dimensionsOf(model);
  const layers = model.layers;
  const rows: [WeightRole, number, number][] = [
    ["token_embd", dims.hidden, -1],
    ["output", dims.hidden, -1],
  ];
  for (let layer = 0; layer < layers; layer++)
    rows.push(
      ["other", dims.hidden, layer],
      ["other", dims.qDim, layer],
      ["attn_v", dims.hidden, layer],
      ["ffn_down", model.ffn, layer],
    );
  for (const [role, rowLength, layer] of rows) {
    const verdict = weightType(
      fileType,
      model.tieEmbeddings && role === "token_embd" ? "output" : role,
      rowLength,
      layer,
      layers,
    );
    if ("reason" in verdict) return verdict.reason;
  }
  return undefined;
}

/** Rows of a [rows, cols] matrix reordered per head from rotate-half to interleaved pairs (convert_hf_to_gguf's permute). */
export function permuteHeads(data: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const half = rows / heads / 2;
  if (!Number.isInteger(half)) throw new Error(`cannot permute ${rows} rows into ${heads} heads of pairs`);
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++)
    for (let j = 0; j < half; j++)
      for (let s = 0; s < 2; s++) {
        const from = h * 2 * half + s * half + j;
        const to = h * 2 * half + j * 2 + s;
        out.set(data.subarray(from * cols, (from + 1) * cols), to * cols);
      }
  return out;
}

/** One plan entry: the tensor and, for the report, the type it was given. */
interface PlannedTensor extends GgufTensor {
  note?: string;
}

function typed(
  name: string,
  ne: number[],
  values: () => Float32Array,
  fileType: GgufFileType,
  role: WeightRole,
  layer: number,
  layers: number,
): PlannedTensor {
  const verdict = weightType(fileType, role, ne[0]!, layer, layers);
  if ("reason" in verdict) throw new Error(`${name}: ${verdict.reason}`);
  return { name, ne, type: verdict.type, note: verdict.note, data: () => quantize(verdict.type, values(), ne[0]!) };
}

function f32(name: string, ne: number[], values: () => Float32Array): PlannedTensor {
  return { name, ne, type: "F32", data: () => quantize("F32", values(), ne[0]!) };
}

/** The dense weight [out, in] a linear of the model file stands for (an unmerged LoRA's base). */
function baseWeightOf(ir: ModelIr, linear: LinearOp, where: string): Float32Array {
  if (linear.kind === "dense") return irFloatTensor(ir, linear.weight).data;
  if (linear.kind === "lora" && linear.base.kind === "dense") return irFloatTensor(ir, linear.base.weight).data;
  throw new Error(
    `${where}: a ${linear.kind} linear has no GGUF form (dense weights and unmerged LoRA over them only)`,
  );
}

function hasBias(linear: LinearOp): boolean {
  return (
    (linear.kind === "dense" && !!linear.bias) ||
    (linear.kind === "lora" && linear.base.kind === "dense" && !!linear.base.bias)
  );
}

export interface ModelGguf {
  metadata: [string, GgufValue][];
  tensors: PlannedTensor[];
}

/** The model file of an IR in a file type (unmerged LoRA linears contribute their base weights). */
export function modelGguf(ir: ModelIr, fileType: GgufFileType, name = ir.config.name): ModelGguf {
  const model = ir.config;
  const dims = ir.dims;
  const layers = ir.layers.length;
  const refusal = ggufModelRefusal(model, fileType);
  if (refusal) throw new Error(refusal);
  if (ir.outputLinear || ir.embeddingLinear || ir.xloraClassifier)
    throw new Error("the GGUF writer takes dense embeddings and output (no quantised outputs, no X-LoRA classifier)");
  const moeLayer = ir.layers.find((layer) => layer.ffn.kind === "moe")?.ffn as MoeFfn | undefined;
  const metadata: [string, GgufValue][] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: name }],
    ["general.file_type", { type: "u32", value: LLAMA_FTYPE[fileType] }],
    ["general.quantized_by", { type: "string", value: "effbench (runners/llamacpp/gguf)" }],
    ["llama.vocab_size", { type: "u32", value: dims.vocab }],
    ["llama.context_length", { type: "u32", value: model.maxPositions }],
    ["llama.embedding_length", { type: "u32", value: dims.hidden }],
    ["llama.block_count", { type: "u32", value: layers }],
    ["llama.feed_forward_length", { type: "u32", value: moeLayer ? moeLayer.expertFfn : dims.ffn }],
    ["llama.rope.dimension_count", { type: "u32", value: dims.headDim }],
    ["llama.rope.freq_base", { type: "f32", value: model.ropeTheta }],
    ["llama.attention.head_count", { type: "u32", value: dims.heads }],
    ["llama.attention.head_count_kv", { type: "u32", value: dims.kvHeads }],
    ["llama.attention.key_length", { type: "u32", value: dims.headDim }],
    ["llama.attention.value_length", { type: "u32", value: dims.headDim }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: model.rmsNormEps }],
    ...(moeLayer
      ? ([
          ["llama.expert_count", { type: "u32", value: moeLayer.experts }],
          ["llama.expert_used_count", { type: "u32", value: moeLayer.topK }],
        ] as [string, GgufValue][])
      : []),
    ...syntheticTokenizerMetadata(dims.vocab),
  ];
  const { hidden, vocab } = dims;
  const tensors: PlannedTensor[] = [
    typed(
      "token_embd.weight",
      [hidden, vocab],
      () => irFloatTensor(ir, ir.embedTokens).data,
      fileType,
      model.tieEmbeddings ? "output" : "token_embd",
      -1,
      layers,
    ),
  ];
  ir.layers.forEach((layer, i) => {
    const blk = `blk.${i}`;
    const linear = (projection: ProjectionName, op: LinearOp) => {
      if (hasBias(op)) throw new Error(`${blk}.${GGUF_NAME[projection]}: biases are not written`);
      const where = `${blk}.${GGUF_NAME[projection]}.weight`;
      const permuteHeadsOf = projection === "q_proj" ? dims.heads : projection === "k_proj" ? dims.kvHeads : 0;
      const values = () => {
        const w = baseWeightOf(ir, op, where);
        return permuteHeadsOf ? permuteHeads(w, op.outFeatures, op.inFeatures, permuteHeadsOf) : w;
      };
      tensors.push(
        typed(where, [op.inFeatures, op.outFeatures], values, fileType, ROLE[projection] ?? "other", i, layers),
      );
    };
    tensors.push(f32(`${blk}.attn_norm.weight`, [hidden], () => irFloatTensor(ir, layer.inputNorm).data));
    linear("q_proj", layer.attention.q);
    linear("k_proj", layer.attention.k);
    linear("v_proj", layer.attention.v);
    linear("o_proj", layer.attention.o);
    tensors.push(f32(`${blk}.ffn_norm.weight`, [hidden], () => irFloatTensor(ir, layer.postAttentionNorm).data));
    const ffn = layer.ffn;
    if (ffn.kind === "swiglu") {
      linear("gate_proj", ffn.gate);
      linear("up_proj", ffn.up);
      linear("down_proj", ffn.down);
    } else if (ffn.kind === "moe") {
      if (ffn.shared || ffn.routerBias || ffn.capacityFactor !== undefined || !ffn.normTopK)
        throw new Error(`${blk}: this MoE block has features llama.cpp's Mixtral routing cannot express`);
      const { experts, expertFfn: I } = ffn;
      const gateUp = () => irFloatTensor(ir, ffn.gateUp).data; // [E, 2I, H]
      const half = (offset: number) => () => {
        const all = gateUp();
        const out = new Float32Array(experts * I * hidden);
        for (let e = 0; e < experts; e++)
          out.set(all.subarray((e * 2 * I + offset) * hidden, (e * 2 * I + offset + I) * hidden), e * I * hidden);
        return out;
      };
      tensors.push(f32(`${blk}.ffn_gate_inp.weight`, [hidden, experts], () => irFloatTensor(ir, ffn.router).data));
      tensors.push(typed(`${blk}.ffn_gate_exps.weight`, [hidden, I, experts], half(0), fileType, "other", i, layers));
      tensors.push(typed(`${blk}.ffn_up_exps.weight`, [hidden, I, experts], half(I), fileType, "other", i, layers));
      tensors.push(
        typed(
          `${blk}.ffn_down_exps.weight`,
          [I, hidden, experts],
          () => irFloatTensor(ir, ffn.down).data,
          fileType,
          "ffn_down",
          i,
          layers,
        ),
      );
    } else throw new Error(`${blk}: a ${ffn.kind} FFN has no GGUF form`);
  });
  tensors.push(f32("output_norm.weight", [hidden], () => irFloatTensor(ir, ir.finalNorm).data));
  if (!model.tieEmbeddings)
    tensors.push(
      typed("output.weight", [hidden, vocab], () => irFloatTensor(ir, ir.lmHead).data, fileType, "output", -1, layers),
    );
  return { metadata, tensors };
}

/** The unmerged LoRA linears of an IR as a GGUF LoRA adapter (undefined: the IR has none). */
export function loraGguf(ir: ModelIr): ModelGguf | undefined {
  const dims = ir.dims;
  const tensors: PlannedTensor[] = [];
  const scales = new Set<number>();
  const ranks = new Set<number>();
  ir.layers.forEach((layer, i) => {
    const entries: [ProjectionName, LinearOp][] = [
      ["q_proj", layer.attention.q],
      ["k_proj", layer.attention.k],
      ["v_proj", layer.attention.v],
      ["o_proj", layer.attention.o],
      ...(layer.ffn.kind === "swiglu"
        ? ([
            ["gate_proj", layer.ffn.gate],
            ["up_proj", layer.ffn.up],
            ["down_proj", layer.ffn.down],
          ] as [ProjectionName, LinearOp][])
        : []),
    ];
    for (const [projection, op] of entries) {
      if (op.kind !== "lora") continue;
      scales.add(op.scale);
      ranks.add(op.rank);
      const base = `blk.${i}.${GGUF_NAME[projection]}.weight`;
      const heads = projection === "q_proj" ? dims.heads : projection === "k_proj" ? dims.kvHeads : 0;
      tensors.push(f32(`${base}.lora_a`, [op.inFeatures, op.rank], () => irFloatTensor(ir, op.loraA).data));
      tensors.push(
        f32(`${base}.lora_b`, [op.rank, op.outFeatures], () => {
          const b = irFloatTensor(ir, op.loraB).data; // [out, r]
          return heads ? permuteHeads(b, op.outFeatures, op.rank, heads) : b;
        }),
      );
    }
  });
  if (tensors.length === 0) return undefined;
  if (scales.size !== 1 || ranks.size !== 1)
    throw new Error("a GGUF LoRA adapter has one alpha: every adapted linear must share its rank and scale");
  const [scale] = scales;
  const [rank] = ranks;
  // llama.cpp scales each adapter by alpha / rank (rank read from lora_b): alpha = scale·rank gives LoRA's α/r and
  // RSLoRA's α/√r alike.
  return {
    metadata: [
      ["general.architecture", { type: "string", value: "llama" }],
      ["general.type", { type: "string", value: "adapter" }],
      ["general.name", { type: "string", value: `${ir.config.name} adapter` }],
      ["adapter.type", { type: "string", value: "lora" }],
      ["adapter.lora.alpha", { type: "f32", value: scale! * rank! }],
    ],
    tensors,
  };
}

/** Writes a planned file; returns its size in bytes and the type each tensor got. */
export function writePlannedGguf(
  path: string,
  plan: ModelGguf,
): { bytes: number; tensorTypes: Record<string, GgmlType>; notes: string[] } {
  const bytes = writeGguf(path, plan.metadata, plan.tensors);
  const tensorTypes = Object.fromEntries(plan.tensors.map((t) => [t.name, t.type]));
  const notes = [...new Set(plan.tensors.flatMap((t) => (t.note ? [t.note] : [])))];
  return { bytes, tensorTypes, notes };
}

export function isGgufFileType(value: string): value is GgufFileType {
  return (GGUF_FILE_TYPES as readonly string[]).includes(value);
}
