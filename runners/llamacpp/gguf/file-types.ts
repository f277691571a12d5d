// GGUF file types (llama.cpp's `llama_ftype`) the writer produces, and which ggml type each tensor gets in them —
// llama-quantize's rules (llama-quant.cpp, llama_tensor_get_type) for the types offered here: norms and the MoE
// router stay F32; the output projection gets Q6_K in every quantised file but Q8_0; Q4_K_M gives Q6_K to attn_v
// and ffn_down in the layers `useMoreBits` picks (the first and last eighth and every third between) and Q4_K to
// the rest. Model-specific promotions llama-quantize adds for large expert counts or GQA are not replicated.
import { fitsRow, type GgmlType } from "./ggml-types.js";

export const GGUF_FILE_TYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q6_k", "q4_k_m"] as const;
export type GgufFileType = (typeof GGUF_FILE_TYPES)[number];

/** `general.file_type` values (llama.h's enum llama_ftype). */
export const LLAMA_FTYPE: Record<GgufFileType, number> = {
  f32: 0,
  f16: 1,
  q4_0: 2,
  q8_0: 7,
  q4_k_m: 15,
  q6_k: 18,
  bf16: 32,
};

/** The role of a 2-D weight in the file, which decides its type. */
export type WeightRole = "token_embd" | "output" | "attn_v" | "ffn_down" | "other";

const BASE_TYPE: Record<GgufFileType, GgmlType> = {
  f32: "F32",
  f16: "F16",
  bf16: "BF16",
  q8_0: "Q8_0",
  q4_0: "Q4_0",
  q6_k: "Q6_K",
  q4_k_m: "Q4_K",
};

/** llama-quantize's use_more_bits: the layers that Q4_K_M gives more bits. */
export function useMoreBits(layer: number, layers: number): boolean {
  const eighth = Math.floor(layers / 8);
  return layer < eighth || layer >= Math.floor((7 * layers) / 8) || (layer - eighth) % 3 === 2;
}

/**
 * The ggml type of a weight whose rows hold `rowLength` values, or a reason it cannot be stored in this file type
 * (K-quant rows must be whole 256-value super-blocks, Q4_0/Q8_0 rows whole 32-value blocks).
 */
export function weightType(
  fileType: GgufFileType,
  role: WeightRole,
  rowLength: number,
  layer: number,
  layers: number,
): { type: GgmlType; note?: string } | { reason: string } {
  let type = BASE_TYPE[fileType];
  if (role === "output" && fileType !== "q8_0" && !["F32", "F16", "BF16"].includes(type)) type = "Q6_K";
  if (fileType === "q4_k_m" && (role === "attn_v" || role === "ffn_down") && useMoreBits(layer, layers)) type = "Q6_K";
  if (fitsRow(type, rowLength)) return { type };
  if (type === "Q6_K" && role === "output" && fileType === "q4_0" && fitsRow("Q8_0", rowLength))
    return {
      type: "Q8_0",
      note: `output rows of ${rowLength} are not a multiple of 256: Q8_0 instead of Q6_K, as llama-quantize falls back`,
    };
  return {
    reason: `${type} needs rows that are a multiple of ${type.endsWith("_K") ? 256 : 32} values, but this model's ${role === "other" ? "weights have" : `${role} has`} rows of ${rowLength}${type.endsWith("_K") ? " (K-quants pack 256-value super-blocks: use hidden, ffn and head widths that are multiples of 256, e.g. ffn 768 instead of 704)" : ""}`,
  };
}
