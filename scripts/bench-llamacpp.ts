// npm run bench:llamacpp — batch-1 decode at context CONTEXT on a 4096/11008 llama stack (LAYERS layers, default 2),
// four ways side by side in one process, interleaved in blocks so that machine load hits all alike: fp32 and int4
// (MatMulNBits, block 32) on onnxruntime, Q4_0 and Q4_K_M GGUF (the project's quantiser) on llama.cpp. One thread
// each. Prints each arm's median and the ratios of medians with 95% bootstrap CIs. BLOCKS, ITERATIONS override.
import "../runners/index.js"; // registers the built-in runners, as the CLI does
import * as ort from "onnxruntime-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Token } from "node-llama-cpp";
import { modelSchema } from "../src/suite/schema.js";
import { buildModelIr } from "../src/model/ir.js";
import { synthesizeWeights } from "../src/model/model-weights.js";
import { buildOnnxModel } from "../runners/ort/onnx/onnx.js";
import { int4Technique } from "../src/techniques/int4.js";
import { median } from "../src/measure/stats.js";
import { SESSION_OPTIONS, feedsFor, ratioLine } from "./technique-timing.js";
import { modelGguf, writePlannedGguf } from "../runners/llamacpp/gguf/model-gguf.js";
import { llamacppSettingsSchema } from "../runners/llamacpp/settings.js";
import { createContext, loadLlama, loadModel } from "../runners/llamacpp/session.js";

const layers = Number(process.env.LAYERS ?? 2);
const context = Number(process.env.CONTEXT ?? 128);
const blocks = Number(process.env.BLOCKS ?? 6);
const iterations = Number(process.env.ITERATIONS ?? 10);
// A small vocabulary keeps the output projection out of the comparison: the stack of layers is what is measured
// (512: the GGUF's synthetic tokenizer needs 259 tokens at least).
const model = modelSchema.parse({
  name: "llama-4096-stack",
  layers,
  hidden: 4096,
  heads: 32,
  kvHeads: 32,
  ffn: 11008,
  vocab: 512,
  maxPositions: 2048,
});
const dir = mkdtempSync(join(tmpdir(), "effbench-bench-llamacpp-"));
process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
const log = (text: string) => process.stderr.write(`${text}\n`);

interface Arm {
  label: string;
  run: () => Promise<unknown>;
}

const arms: Arm[] = [];
{
  let t0 = performance.now();
  const base = buildModelIr(model, synthesizeWeights(model));
  const quantized = int4Technique.rewriteIr!(base, int4Technique.params.parse({ kind: "int4" }));
  log(`weights and int4 quantisation: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const [label, ir] of [
    ["ort fp32", base],
    ["ort int4", quantized],
  ] as const) {
    const built = buildOnnxModel(model, {
      scenario: "decode",
      ir,
      batch: 1,
      promptTokens: context,
      presentOutputs: false,
    });
    const session = await ort.InferenceSession.create(built.bytes, SESSION_OPTIONS);
    const feeds = feedsFor(built.inputSpecs, model.vocab);
    arms.push({ label, run: () => session.run(feeds) });
  }
  for (const type of ["q4_0", "q4_k_m"] as const) {
    t0 = performance.now();
    writePlannedGguf(join(dir, `${type}.gguf`), modelGguf(base, type));
    log(`GGUF ${type}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}
(globalThis as { gc?: () => void }).gc?.();

const settings = llamacppSettingsSchema.parse({ threads: 1 });
const llama = await loadLlama(settings);
for (const type of ["q4_0", "q4_k_m"] as const) {
  const gguf = await loadModel(llama, join(dir, `${type}.gguf`), settings);
  const ctx = await createContext(gguf, settings, { contextSize: context + 1, sequences: 1 });
  const sequence = ctx.getSequence();
  const prompt = Array.from({ length: context }, (_, i) => ((i * 31 + 7) % model.vocab) as Token);
  await sequence.controlledEvaluate(prompt); // the cached prefix
  const step: [Token, { generateNext: { token: true; options: { temperature: 0 } } }] = [
    5 as Token,
    { generateNext: { token: true, options: { temperature: 0 } } },
  ];
  arms.push({
    label: `llama.cpp ${type.toUpperCase()}`,
    run: async () => {
      await sequence.controlledEvaluate([step]);
      await sequence.eraseContextTokenRanges([{ start: context, end: context + 1 }]);
    },
  });
}

for (const arm of arms) for (let i = 0; i < 3; i++) await arm.run();
const samples = arms.map(() => [] as number[][]);
for (let block = 0; block < blocks; block++)
  for (const [index, arm] of arms.entries()) {
    const values: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const start = performance.now();
      await arm.run();
      values.push(performance.now() - start);
    }
    samples[index]!.push(values);
  }

console.log(
  `model: ${layers} layers, hidden 4096, ffn 11008, 32 heads, vocab ${model.vocab}; batch-1 decode at context ${context}; 1 thread each (host CPU, fp32 activations; llama.cpp quantises activations to 8 bits for its Q4 kernels); ${blocks} interleaved blocks × ${iterations} steps; ORT ${ort.env.versions.common}, llama.cpp ${llama.llamaCppRelease.release} (node-llama-cpp prebuilt CPU)`,
);
for (const [index, arm] of arms.entries())
  console.log(`${arm.label.padEnd(18)} median ${median(samples[index]!.flat()).toFixed(3)} ms per step`);
const [fp32, int4, q40, q4km] = samples as [number[][], number[][], number[][], number[][]];
console.log(ratioLine("ort fp32 / ort int4        ", fp32, int4));
console.log(ratioLine("ort fp32 / llama.cpp Q4_0  ", fp32, q40));
console.log(ratioLine("ort fp32 / llama.cpp Q4_K_M", fp32, q4km));
console.log(ratioLine("ort int4 / llama.cpp Q4_0  ", int4, q40));
console.log(ratioLine("ort int4 / llama.cpp Q4_K_M", int4, q4km));
console.log(ratioLine("llama.cpp Q4_K_M / Q4_0    ", q4km, q40));
await llama.dispose();
