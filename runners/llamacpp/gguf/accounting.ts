// Bytes of a model's GGUF file by arithmetic (no weights): each tensor at the ggml type the file type gives it
// (runners/llamacpp/gguf/file-types.ts), norms and the MoE router in F32. What `bench inspect` and the stored
// weight_bytes read for the quant technique.
import type { ModelConfig } from "../../../src/suite/schema.js";
import { dimensionsOf } from "../../../src/model/architecture.js";
import { rowBytes } from "./ggml-types.js";
import { weightType, type GgufFileType, type WeightRole } from "./file-types.js";

/** Bytes of the weights of a llama-architecture GGUF of this model (throws with the reason when a width does not fit). */
export function ggufWeightBytes(model: ModelConfig, fileType: GgufFileType): number {
  const dims = dimensionsOf(model);
  const layers = model.layers;
  const experts = model.moe?.experts ?? 0;
  let bytes = 0;
  const matrix = (role: WeightRole, rowLength: number, rows: number, layer: number) => {
    const verdict = weightType(fileType, role, rowLength, layer, layers);
    if ("reason" in verdict) throw new Error(verdict.reason);
    bytes += rows * rowBytes(verdict.type, rowLength);
  };
  matrix(model.tieEmbeddings ? "output" : "token_embd", dims.hidden, dims.vocab, -1);
  if (!model.tieEmbeddings) matrix("output", dims.hidden, dims.vocab, -1);
  bytes += 4 * dims.hidden * (2 * layers + 1); // norms
  for (let layer = 0; layer < layers; layer++) {
    matrix("other", dims.hidden, dims.qDim + dims.kvDim, layer); // q, k
    matrix("attn_v", dims.hidden, dims.kvDim, layer);
    matrix("other", dims.qDim, dims.hidden, layer); // o
    const copies = Math.max(1, experts);
    matrix("other", dims.hidden, 2 * model.ffn * copies, layer); // gate, up
    matrix("ffn_down", model.ffn, dims.hidden * copies, layer);
    if (experts) bytes += 4 * experts * dims.hidden; // router
  }
  return bytes;
}
