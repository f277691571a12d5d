// Shared by the technique tests: a tiny model, seeded token ids, and ORT runs of an IR.
import * as ort from "onnxruntime-node";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { modelSchema, type ModelConfig } from "../../src/suite/schema.js";
import { buildModelIr, type ModelIr } from "../../src/model/ir.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { emitOnnx } from "../../runners/ort/onnx/onnx.js";

export function tinyModel(extra: object = {}): ModelConfig {
  return modelSchema.parse({
    name: "tiny",
    layers: 2,
    hidden: 64,
    heads: 4,
    kvHeads: 2,
    ffn: 128,
    vocab: 97,
    maxPositions: 64,
    ...extra,
  });
}

export function baseIr(model: ModelConfig): ModelIr {
  return buildModelIr(model, synthesizeWeights(model));
}

export const TOKENS: number[][] = [
  [5, 17, 3, 88, 41, 9, 60, 2],
  [71, 14, 14, 30, 6, 95, 23, 50],
];

/** All-position logits [batch, seq, vocab] of an IR's prefill graph, and the optimised model ORT wrote. */
export async function runPrefill(
  ir: ModelIr,
  ids: number[][] = TOKENS,
): Promise<{ logits: Float32Array; optimized: onnxProto.onnx.ModelProto }> {
  const { bytes } = emitOnnx(ir, { scenario: "prefill", allLogits: true });
  const optimizedModelFilePath = join(mkdtempSync(join(tmpdir(), "effbench-opt-")), "optimized.onnx");
  const session = await ort.InferenceSession.create(bytes, {
    optimizedModelFilePath,
    graphOptimizationLevel: "all",
    intraOpNumThreads: 1,
  });
  const input = new ort.Tensor(
    "int64",
    BigInt64Array.from(ids.flat(), (v) => BigInt(v)),
    [ids.length, ids[0]!.length],
  );
  const out = await session.run({ input_ids: input });
  await session.release();
  const optimized = onnxProto.onnx.ModelProto.decode(readFileSync(optimizedModelFilePath));
  return { logits: out.logits!.data as Float32Array, optimized };
}

/** Nodes of the optimised graph that read the given initialiser together with a non-initialiser (an activation). */
export function nodesOnActivations(
  model: onnxProto.onnx.ModelProto,
  initializerPart: string,
): { opType: string; inputs: string[] }[] {
  const initializers = new Set((model.graph!.initializer ?? []).map((t) => t.name!));
  return (model.graph!.node ?? [])
    .filter(
      (n) =>
        (n.input ?? []).some((i) => i.includes(initializerPart)) &&
        (n.input ?? []).some((i) => i !== "" && !initializers.has(i)),
    )
    .map((n) => ({ opType: n.opType!, inputs: [...(n.input ?? [])] }));
}

export function opTypes(model: onnxProto.onnx.ModelProto): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of model.graph!.node ?? []) counts.set(n.opType!, (counts.get(n.opType!) ?? 0) + 1);
  return counts;
}
