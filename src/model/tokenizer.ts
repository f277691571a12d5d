// Tokenising a text with a checkpoint's own tokenizer.json, in TypeScript (no Python): @huggingface/tokenizers,
// a dependency-free JS implementation of the Rust `tokenizers` pipeline (normalizer → pre-tokenizer → BPE /
// WordPiece / Unigram model → post-processor), which transformers' fast tokenizers also run. Ids are checked
// against the model's vocabulary, since a tokenizer that does not belong to the weights would give nonsense.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import type { ModelConfig } from "../suite/schema.js";
import { TOKENIZER_FILE } from "./checkpoint.js";

export interface TextTokenizer {
  /** Token ids of a text, with the tokenizer's special tokens (its post-processor, e.g. a leading BOS) as `tokenizer(text)` adds them. */
  encode(text: string): number[];
  path: string;
}

/** The tokenizer of a checkpoint directory (tokenizer.json, plus tokenizer_config.json when present). */
export function loadTokenizer(dir: string): TextTokenizer {
  const path = join(dir, TOKENIZER_FILE);
  if (!existsSync(path)) throw new Error(`${dir} has no ${TOKENIZER_FILE}: perplexity needs the checkpoint's tokenizer (tokenizer.save_pretrained writes it)`);
  let json: object;
  try {
    json = JSON.parse(readFileSync(path, "utf8")) as object;
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const configPath = join(dir, "tokenizer_config.json");
  const config = existsSync(configPath) ? (JSON.parse(readFileSync(configPath, "utf8")) as object) : {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (error) {
    throw new Error(`${path}: this tokenizer is not supported by @huggingface/tokenizers (${(error as Error).message})`);
  }
  return { path, encode: (text) => tokenizer.encode(text, { add_special_tokens: true }).ids };
}

/** The token ids of a text file under a checkpoint model's tokenizer, each checked to be < vocab. */
export function tokenizeTextFile(model: ModelConfig, textPath: string): number[] {
  if (!model.checkpoint) throw new Error(`model ${model.name}: perplexity needs a checkpoint with ${TOKENIZER_FILE}`);
  const tokenizer = loadTokenizer(model.checkpoint);
  const ids = tokenizer.encode(readFileSync(textPath, "utf8"));
  const outside = ids.find((id) => !(id >= 0 && id < model.vocab));
  if (outside !== undefined) throw new Error(`${tokenizer.path} gives token id ${outside}, outside the model's vocabulary (${model.vocab}): the tokenizer does not belong to these weights`);
  return ids;
}
