// Prints the identity and float64 checks of the MoE compression techniques (the numbers docs/moe.md quotes), on the
// tiny MoE of test/techniques/moe-compression.test.ts: ORT logits of each rewrite against the uncompressed model's.
//   node --import tsx scripts/moe-compression-checks.ts
import * as ort from "onnxruntime-node";
import { modelSchema } from "../src/suite/schema.js";
import { buildModelIr, type ModelIr } from "../src/model/ir.js";
import { synthesizeWeights } from "../src/model/model-weights.js";
import { withRoutingSkew } from "../src/model/moe.js";
import { emitOnnx } from "../runners/ort/onnx/onnx.js";
import { maxAbsError, relativeL2 } from "../src/model/fidelity.js";
import { getTechnique, techniqueSchema } from "../src/techniques/registry.js";

const model = modelSchema.parse({
  name: "tiny-moe-compress",
  layers: 2,
  hidden: 32,
  heads: 4,
  kvHeads: 2,
  ffn: 48,
  vocab: 61,
  maxPositions: 64,
  moe: { experts: 5, topK: 2, expertFfn: 6 },
});
const ids = [
  [5, 17, 3, 58, 41, 9, 60, 2, 33, 11],
  [11, 14, 14, 30, 6, 55, 23, 50, 1, 44],
];
const calibration = { sequences: 2, sequenceLength: 24, seed: 3 };

async function logits(ir: ModelIr): Promise<Float32Array> {
  const { bytes } = emitOnnx(ir, { scenario: "prefill", allLogits: true, presentOutputs: false });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const out = await session.run({
    input_ids: new ort.Tensor("int64", BigInt64Array.from(ids.flat(), BigInt), [2, 10]),
  });
  await session.release();
  return out.logits!.data as Float32Array;
}

const base = buildModelIr(model, withRoutingSkew(model, synthesizeWeights(model), 1));
const reference = await logits(base);
for (const technique of [
  { kind: "expert-prune", keep: 5 },
  { kind: "mc-smoe", groups: 5 },
  { kind: "sub-moe", clusters: 2, mergeV: false },
  { kind: "sub-moe", clusters: 5 },
  { kind: "expert-prune", keep: 3 },
  { kind: "mc-smoe", groups: 2 },
  { kind: "sub-moe", clusters: 2, rank: 3 },
]) {
  const p = techniqueSchema().parse({ calibration, ...technique });
  const out = await logits(getTechnique(p.kind).rewriteIr!(base, p));
  console.log(
    `${getTechnique(p.kind).label(p).padEnd(28)} max |Δlogit| ${maxAbsError(out, reference).toExponential(2)}  rel L2 ${relativeL2(out, reference).toExponential(2)}`,
  );
}
