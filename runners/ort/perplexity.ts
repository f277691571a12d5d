// Perplexity of a model on a tokenised text (docs/checkpoints.md, with a real checkpoint), through the same ORT graph
// the harness times. Method: non-overlapping chunks of `chunkTokens` tokens (the model's context, capped at
// PERPLEXITY_MAX_CHUNK_TOKENS), each run from scratch; within a chunk every token after the first is predicted
// from its prefix in that chunk. perplexity = exp(Σ NLL ÷ predicted tokens) — what summing transformers'
// `model(chunk, labels=chunk).loss × (len − 1)` over the chunks gives. Chunks rather than a sliding window:
// each token is predicted once, at the cost of short contexts at chunk starts (a sliding window with stride
// s < context gives lower, more context-rich numbers at context/s times the compute).
import * as ort from "onnxruntime-node";
import type { ModelIr } from "../../src/model/ir.js";
import { buildOnnxModel } from "./onnx/onnx.js";

/** Longest chunk: all-position logits are [chunk, vocab] floats (512 × 152k vocab = 311 MB), fetched per chunk. */
export const PERPLEXITY_MAX_CHUNK_TOKENS = 512;

export interface PerplexityResult {
  perplexity: number;
  /** Mean negative log-likelihood per predicted token, nats. */
  meanNll: number;
  predictedTokens: number;
  textTokens: number;
  chunks: number;
  chunkTokens: number;
}

/** Non-overlapping chunks of at most `chunkTokens` ids; a last chunk of one token predicts nothing and is dropped. */
export function perplexityChunks(ids: readonly number[], chunkTokens: number): number[][] {
  if (!(chunkTokens >= 2)) throw new Error(`perplexity chunks need at least 2 tokens, got ${chunkTokens}`);
  const chunks: number[][] = [];
  for (let start = 0; start < ids.length; start += chunkTokens) {
    const chunk = ids.slice(start, start + chunkTokens);
    if (chunk.length >= 2) chunks.push(chunk);
  }
  return chunks;
}

/** Σ −log p(ids[t+1] | logits row t) over the rows of one chunk's logits [ids.length, vocab] (float64 log-softmax). */
export function chunkNll(logits: ArrayLike<number>, ids: readonly number[], vocab: number): number {
  if (logits.length !== ids.length * vocab)
    throw new Error(`logits of ${logits.length} values do not match ${ids.length} tokens × vocab ${vocab}`);
  let total = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const offset = t * vocab;
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]!);
    let sum = 0;
    for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i]! - max);
    total += max + Math.log(sum) - logits[offset + ids[t + 1]!]!;
  }
  return total;
}

/** The chunk length for a model: its context, capped. */
export function perplexityChunkTokens(maxPositions: number): number {
  return Math.min(maxPositions, PERPLEXITY_MAX_CHUNK_TOKENS);
}

/** Perplexity of an IR on token ids, run through ORT one chunk at a time. */
export async function perplexityOfIr(
  ir: ModelIr,
  ids: readonly number[],
  sessionOptions: ort.InferenceSession.SessionOptions = {},
  chunkTokens = perplexityChunkTokens(ir.config.maxPositions),
): Promise<PerplexityResult> {
  const chunks = perplexityChunks(ids, chunkTokens);
  if (chunks.length === 0) throw new Error(`the text has ${ids.length} token(s): perplexity needs at least 2`);
  const built = buildOnnxModel(ir.config, {
    scenario: "prefill",
    ir,
    batch: 1,
    promptTokens: chunkTokens,
    allLogits: true,
  });
  const session = await ort.InferenceSession.create(built.bytes, sessionOptions);
  let nll = 0;
  let predicted = 0;
  try {
    for (const chunk of chunks) {
      const out = await session.run({
        input_ids: new ort.Tensor("int64", BigInt64Array.from(chunk, BigInt), [1, chunk.length]),
      });
      nll += chunkNll(out.logits!.data as Float32Array, chunk, ir.dims.vocab);
      predicted += chunk.length - 1;
    }
  } finally {
    await session.release();
  }
  return {
    perplexity: Math.exp(nll / predicted),
    meanNll: nll / predicted,
    predictedTokens: predicted,
    textTokens: ids.length,
    chunks: chunks.length,
    chunkTokens,
  };
}
