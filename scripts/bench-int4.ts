// npm run bench:int4 — decode latency of fp32 over int4 (MatMulNBits, block 32, accuracy_level 4) on a stack of
// 4096-wide llama layers, at batch 1 (memory-bound: int4 moves ~1/6 of the bytes) and batch 64 (compute-bound:
// expected near 1×). docs/quantized-stacks.md. LAYERS, CONTEXT, BLOCKS override the defaults.
import "../runners/index.js"; // registers the built-in runners, as the CLI does
import * as ort from "onnxruntime-node";
import { modelSchema } from "../src/suite/schema.js";
import { buildModelIr } from "../src/model/ir.js";
import { synthesizeWeights } from "../src/model/model-weights.js";
import { buildOnnxModel } from "../runners/ort/onnx/onnx.js";
import { int4Technique } from "../src/techniques/int4.js";
import { SESSION_OPTIONS, feedsFor, ratioLine, timeInterleaved } from "./technique-timing.js";

const layers = Number(process.env.LAYERS ?? 2);
const context = Number(process.env.CONTEXT ?? 128);
const blocks = Number(process.env.BLOCKS ?? 6);
// A small vocabulary keeps the (fp32) lm_head out of the comparison: the stack of layers is what is measured.
const model = modelSchema.parse({
  name: "llama-4096-stack",
  layers,
  hidden: 4096,
  heads: 32,
  kvHeads: 32,
  ffn: 11008,
  vocab: 256,
  maxPositions: 2048,
});
const t0 = performance.now();
const base = buildModelIr(model, synthesizeWeights(model));
const quantized = int4Technique.rewriteIr!(base, int4Technique.params.parse({ kind: "int4" }));
process.stderr.write(`weights and int4 quantisation: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

console.log(
  `model: ${layers} layers, hidden 4096, ffn 11008, 32 heads; decode at context ${context}; 1 intra-op thread; ORT ${ort.env.versions.common}`,
);
for (const batch of [1, 64]) {
  const arms = [];
  for (const [label, ir] of [
    ["fp32", base],
    ["int4", quantized],
  ] as const) {
    const built = buildOnnxModel(model, {
      scenario: "decode",
      ir,
      batch,
      promptTokens: context,
      presentOutputs: false,
    });
    const session = await ort.InferenceSession.create(built.bytes, SESSION_OPTIONS);
    arms.push({ label, session, feeds: feedsFor(built.inputSpecs, model.vocab) });
  }
  const iterations = batch === 1 ? 10 : 3;
  const [fp32, int4] = await timeInterleaved(arms, blocks, iterations, 2);
  console.log(ratioLine(`batch ${batch}: decode latency fp32/int4`, fp32!, int4!));
  for (const arm of arms) await arm.session.release();
}
