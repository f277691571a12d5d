// A synthetic tokenizer for seeded models, as GGUF metadata llama.cpp loads: a SentencePiece-style ("llama")
// vocabulary of exactly the model's size — <unk>, <s>, </s>, the 256 byte tokens <0x00>…<0xFF> (llama.cpp's byte
// fallback needs them), then plain pieces "t259", "t260"… The benchmark feeds token ids, never text, so the pieces only have to be unique; llama.cpp's other accepted `tokenizer.ggml.model` values
// (gpt2, bert, t5, rwkv, plamo2, no_vocab) would need merges or other tables for nothing.
import type { GgufValue } from "./writer.js";

const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

/** Smallest vocabulary the synthetic tokenizer fits in: <unk>, <s>, </s> and the 256 byte tokens. */
export const MIN_SYNTHETIC_VOCAB = 3 + 256;

export function syntheticTokenizerRefusal(vocab: number): string | undefined {
  if (vocab >= MIN_SYNTHETIC_VOCAB) return undefined;
  return `the GGUF's synthetic tokenizer needs a vocabulary of at least ${MIN_SYNTHETIC_VOCAB} (3 special and 256 byte tokens: llama.cpp's byte fallback aborts without them when node-llama-cpp tokenizes its probe text at load), this model has ${vocab}`;
}

export function syntheticTokenizerMetadata(vocab: number): [string, GgufValue][] {
  const reason = syntheticTokenizerRefusal(vocab);
  if (reason) throw new Error(reason);
  const tokens: string[] = ["<unk>", "<s>", "</s>"];
  const types: number[] = [TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(TOKEN_TYPE.byte);
  }
  for (let id = tokens.length; id < vocab; id++) {
    tokens.push(`t${id}`);
    types.push(TOKEN_TYPE.normal);
  }
  return [
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "string[]", value: tokens }],
    ["tokenizer.ggml.scores", { type: "f32[]", value: tokens.map((_, id) => -id) }],
    ["tokenizer.ggml.token_type", { type: "i32[]", value: types }],
    ["tokenizer.ggml.unknown_token_id", { type: "u32", value: 0 }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", value: 1 }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: 2 }],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: false }],
  ];
}
