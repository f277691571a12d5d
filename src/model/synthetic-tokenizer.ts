// A synthetic fast tokenizer (tokenizer.json) for a seeded model, so that servers that need one (transformers serve,
// llama.cpp) can run it: a WordLevel vocabulary of one word per id ("t0", "t1", …) split on whitespace with no
// special tokens at all, so a prompt of exactly N tokens is N words — built here as a string, seeded — and every
// generated id decodes to a word (a special unknown token would be skipped in the stream: one token, no text).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRng } from "../measure/stats.js";

/** WordLevel needs an unknown token: id 0's word, never marked special (prompts never use it). */
export const SYNTHETIC_UNK = "t0";

/** The word of token id `id`. */
export const syntheticWord = (id: number): string => `t${id}`;

/** tokenizer.json of a vocabulary of `vocab` ids: WordLevel, Whitespace pre-tokenizer, no post-processor. */
export function syntheticTokenizerJson(vocab: number): object {
  if (!(Number.isInteger(vocab) && vocab >= 2))
    throw new Error(`a synthetic tokenizer needs a vocabulary of at least 2 (got ${vocab})`);
  const words: Record<string, number> = {};
  for (let id = 0; id < vocab; id++) words[syntheticWord(id)] = id;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: "WhitespaceSplit" },
    post_processor: null,
    decoder: null,
    model: { type: "WordLevel", vocab: words, unk_token: SYNTHETIC_UNK },
  };
}

/** Writes tokenizer.json and tokenizer_config.json (a PreTrainedTokenizerFast) into a model directory. */
export function writeSyntheticTokenizer(dir: string, vocab: number, maxPositions: number): void {
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(syntheticTokenizerJson(vocab)));
  writeFileSync(
    join(dir, "tokenizer_config.json"),
    JSON.stringify({ tokenizer_class: "PreTrainedTokenizerFast", model_max_length: maxPositions }, null, 2),
  );
}

/** A prompt of exactly `tokens` tokens under the synthetic tokenizer: seeded words, never id 0. */
export function syntheticPrompt(tokens: number, vocab: number, seed: number): string {
  const rng = createRng(seed);
  return Array.from({ length: tokens }, () => syntheticWord(1 + Math.floor(rng() * (vocab - 1)))).join(" ");
}
