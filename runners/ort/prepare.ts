// Builds what one ort case-repeat runs: the ONNX graph of the case and pre-allocated, seeded input tensors.
import * as ort from "onnxruntime-node";
import type { Case } from "../../src/suite/case.js";
import { createRng } from "../../src/measure/stats.js";
import { buildCaseOnnx, type InputSpec } from "../../src/model/case-model.js";

export interface PreparedOrtCase {
  modelBytes: Uint8Array;
  feeds: Record<string, ort.Tensor>;
  tokensPerIteration: number;
  settings: Record<string, unknown>;
  details?: Record<string, unknown>;
  /** Outputs the timed runs fetch (MoE: logits only; the routing outputs are read once after timing). */
  fetches?: string[];
}

export async function prepareOrtCase(c: Case, repeat: number): Promise<PreparedOrtCase> {
  const built = buildCaseOnnx(c);
  // Inputs are seeded by the case and protocol seed, not the repeat: every repeat times the same work.
  const rng = createRng(c.protocol.seed);
  const feeds: Record<string, ort.Tensor> = {};
  for (const spec of built.inputs) feeds[spec.name] = makeTensor(spec, rng, c.model.vocab);
  const tokensPerIteration = c.scenario === "decode" ? c.workload.batch : c.workload.batch * c.workload.promptTokens;
  const fetches = built.outputs.some((name) => name.startsWith("router_indices.")) ? built.outputs.filter((name) => !name.startsWith("router_indices.")) : undefined;
  return { modelBytes: built.bytes, feeds, tokensPerIteration, settings: built.settings ?? {}, details: { ...built.details, repeat }, fetches };
}

function makeTensor(spec: InputSpec, rng: () => number, vocab: number): ort.Tensor {
  const size = spec.dims.reduce((a, b) => a * b, 1);
  if (spec.type === "int64") {
    const data = new BigInt64Array(size);
    if (spec.fill === "tokens") for (let i = 0; i < size; i++) data[i] = BigInt(Math.floor(rng() * vocab));
    else if (spec.fill === "value") data.fill(BigInt(spec.value ?? 0));
    else if (spec.fill === "range") for (let i = 0; i < size; i++) data[i] = BigInt((spec.value ?? 0) + (i % spec.dims[spec.dims.length - 1]!));
    return new ort.Tensor("int64", data, spec.dims);
  }
  const data = new Float32Array(size);
  if (spec.fill === "normal") for (let i = 0; i < size; i++) data[i] = gaussian(rng);
  else if (spec.fill === "value") data.fill(spec.value ?? 0);
  return new ort.Tensor("float32", data, spec.dims);
}

function gaussian(rng: () => number): number {
  const u = Math.max(rng(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}
