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
  if (!existsSync(path))
    throw new Error(
      `${dir} has no ${TOKENIZER_FILE}: perplexity needs the checkpoint's tokenizer (tokenizer.save_pretrained writes it)`,
    );
  let json: object;
  try {
    json = JSON.parse(readFileSync(path, "utf8")) as object;
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const configPath = join(dir, "tokenizer_config.json");
  const config = existsSync(configPath)
    ? (JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>)
    : {};
  // WordLevel has no model class in @huggingface/tokenizers 0.2.0: its fallback reads the unknown token from the
  // tokenizer config, not from tokenizer.json (without it, unknown words get no id).
  const model = (json as { model?: { type?: string; unk_token?: string } }).model;
  if (model?.type === "WordLevel" && config.unk_token === undefined && model.unk_token !== undefined)
    config.unk_token = model.unk_token;
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (error) {
    throw new Error(
      `${path}: this tokenizer is not supported by @huggingface/tokenizers (${(error as Error).message})`,
    );
  }
  fixWhitespacePreTokenizers(tokenizer.pre_tokenizer);
  return { path, encode: (text) => tokenizer.encode(text, { add_special_tokens: true }).ids };
}

/**
 * The Rust library's Whitespace pre-tokenizer splits on \w+|[^\w\s]+ with Unicode \w (letters, marks, digits,
 * connector punctuation); @huggingface/tokenizers 0.2.0 uses JS's ASCII \w, which cuts "wörld" into three
 * pieces. Patched in place (also inside a Sequence) so that ids equal the Python library's.
 */
const UNICODE_WORD = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}";
const WHITESPACE_SPLIT = new RegExp(`[${UNICODE_WORD}]+|[^${UNICODE_WORD}\\s]+`, "gu");

function fixWhitespacePreTokenizers(node: unknown, seen = new Set<unknown>()): void {
  if (!node || (typeof node !== "object" && typeof node !== "function") || seen.has(node)) return; // the library's pre-tokenizers are callable objects
  seen.add(node);
  const candidate = node as { config?: { type?: string }; pre_tokenize_text?: unknown };
  const isWhitespace = candidate.config?.type === "Whitespace" || node.constructor?.name === "Whitespace"; // the class keeps no config
  if (isWhitespace && typeof candidate.pre_tokenize_text === "function")
    candidate.pre_tokenize_text = (text: string) => text.match(WHITESPACE_SPLIT) ?? [];
  for (const value of Object.values(node)) fixWhitespacePreTokenizers(value, seen);
}

/** The token ids of a text file under a checkpoint model's tokenizer, each checked to be < vocab. */
export function tokenizeTextFile(model: ModelConfig, textPath: string): number[] {
  if (!model.checkpoint) throw new Error(`model ${model.name}: perplexity needs a checkpoint with ${TOKENIZER_FILE}`);
  const tokenizer = loadTokenizer(model.checkpoint);
  const ids = tokenizer.encode(readFileSync(textPath, "utf8"));
  const outside = ids.find((id) => !(id >= 0 && id < model.vocab));
  if (outside !== undefined)
    throw new Error(
      `${tokenizer.path} gives token id ${outside}, outside the model's vocabulary (${model.vocab}): the tokenizer does not belong to these weights`,
    );
  return ids;
}
