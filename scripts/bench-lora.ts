// npm run bench:lora — overhead of unmerged over merged LoRA ((x·A)·B·s on activations vs folded into W), all
// linear layers adapted, at r = 8, 64, 256, for prefill and decode.
import "../runners/index.js"; // registers the built-in runners, as the CLI does
import * as ort from "onnxruntime-node";
import { modelSchema } from "../src/suite/schema.js";
import { buildModelIr } from "../src/model/ir.js";
import { synthesizeWeights } from "../src/model/model-weights.js";
import { buildOnnxModel } from "../runners/ort/onnx/onnx.js";
import { loraTechnique } from "../src/techniques/lora.js";
import { SESSION_OPTIONS, feedsFor, ratioLine, timeInterleaved } from "./technique-timing.js";

const blocks = Number(process.env.BLOCKS ?? 6);
const model = modelSchema.parse({
  name: "lora-bench",
  layers: 4,
  hidden: 1024,
  heads: 16,
  kvHeads: 4,
  ffn: 2816,
  vocab: 1024,
});
const base = buildModelIr(model, synthesizeWeights(model));
const workloads = [
  { scenario: "prefill" as const, batch: 1, promptTokens: 128, iterations: 5 },
  { scenario: "decode" as const, batch: 1, promptTokens: 128, iterations: 20 },
];
console.log(
  `model: 4 layers, hidden 1024, ffn 2816, GQA 16/4; LoRA on all 7 linears, α = 2r; 1 intra-op thread; ORT ${ort.env.versions.common}`,
);
for (const rank of [8, 64, 256]) {
  const variants = [false, true].map((merged) =>
    loraTechnique.rewriteIr!(
      base,
      loraTechnique.params.parse({ kind: "lora", rank, alpha: 2 * rank, targets: "all-linear", merged }),
    ),
  );
  for (const w of workloads) {
    const arms = [];
    for (const [index, ir] of variants.entries()) {
      const built = buildOnnxModel(model, {
        scenario: w.scenario,
        ir,
        batch: w.batch,
        promptTokens: w.promptTokens,
        presentOutputs: false,
      });
      const session = await ort.InferenceSession.create(built.bytes, SESSION_OPTIONS);
      arms.push({
        label: index === 0 ? "unmerged" : "merged",
        session,
        feeds: feedsFor(built.inputSpecs, model.vocab),
      });
    }
    const [unmerged, merged] = await timeInterleaved(arms, blocks, w.iterations);
    console.log(
      ratioLine(`r ${rank} ${w.scenario} b${w.batch} p${w.promptTokens}: unmerged/merged`, unmerged!, merged!),
    );
    for (const arm of arms) await arm.session.release();
  }
}
