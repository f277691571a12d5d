// int4 / int8 with `lmHead` and `embeddings`: the vocabulary matrices quantised too, run exactly as their stored
// integers mean, with the bytes the accounting says (tied models store the matrix once when both are quantised).
import { planTestCase as planCase } from "../support/plan.js";
import { staticUnsupportedReason } from "../../src/runner/support.js";
import { describe, expect, it } from "vitest";
import { int4Technique } from "../../src/techniques/int4.js";
import { int8Technique } from "../../src/techniques/int8.js";
import { irTensor, irTensorNames, isFloatTensor, linearsOf, mapLinears, type ModelIr } from "../../src/model/ir.js";
import { referenceForwardIr } from "../support/reference.js";
import { relativeL2 } from "../../src/model/fidelity.js";
import { TOKENS, baseIr, opTypes, runPrefill, tinyModel } from "./helpers.js";

const int4 = (extra: object) => int4Technique.params.parse({ kind: "int4", accuracyLevel: 0, ...extra });
const int8 = (extra: object) => int8Technique.params.parse({ kind: "int8", ...extra });

/** Bytes of every tensor the IR reads (float32 at 4 bytes, raw tensors as stored). */
function storedBytes(ir: ModelIr): number {
  let bytes = 0;
  for (const name of irTensorNames(ir)) {
    const tensor = irTensor(ir, name);
    bytes += isFloatTensor(tensor) ? tensor.data.length * 4 : tensor.bytes.byteLength;
  }
  return bytes;
}

/** The IR with its decoder linears put back to the fp32 base's, so only the vocabulary matrices are quantised. */
function onlyVocabularyQuantised(quantised: ModelIr, base: ModelIr): ModelIr {
  const linears = new Map(
    [...linearsOf(base)].map(({ layer, projection, linear }) => [`${layer}.${projection}`, linear]),
  );
  const ir = mapLinears(quantised, (_linear, layer, projection) => linears.get(`${layer}.${projection}`)!);
  for (const [name, tensor] of base.tensors) if (name.includes(".layers.")) ir.tensors.set(name, tensor);
  return ir;
}

describe("quantised embeddings and lm_head", () => {
  for (const tie of [false, true])
    for (const [label, options] of [
      ["lm_head", { lmHead: true }],
      ["embeddings", { embeddings: true }],
      ["both", { lmHead: true, embeddings: true }],
    ] as const)
      for (const symmetric of [true, false])
        it(`int4 ${symmetric ? "sym" : "asym"} ${label}${tie ? " (tied)" : ""}: ORT runs what the stored integers mean, and the bytes are the accounting's`, async () => {
          const model = tinyModel({ tieEmbeddings: tie, ffn: 80, hidden: 80, heads: 4, kvHeads: 2 }); // hidden 80: padded blocks of 32
          const params = int4({ symmetric, ...options });
          const ir = int4Technique.rewriteIr!(baseIr(model), params);
          const { logits, optimized } = await runPrefill(ir);
          expect(relativeL2(logits, referenceForwardIr(ir, TOKENS))).toBeLessThan(1e-5);
          expect(opTypes(optimized).get("MatMulNBits")).toBe(14 + ("lmHead" in options ? 1 : 0));
          expect(storedBytes(ir)).toBe(int4Technique.account!(model, params).weightBytes);
          const floatVocabulary = (optimized.graph!.initializer ?? []).filter(
            (t) => t.dataType === 1 && /embed_tokens\.weight|lm_head\.weight/.test(t.name!),
          );
          expect(floatVocabulary.length).toBe(
            tie
              ? "lmHead" in options && "embeddings" in options
                ? 0
                : 1
              : "lmHead" in options && "embeddings" in options
                ? 0
                : 1,
          );
        });

  it("quantising both vocabulary matrices shrinks a tiny model's whole-model bytes well below the decoder-only int4", () => {
    const model = tinyModel({ vocab: 4096 });
    const fp32 = int4Technique.account!(model, int4({})).weightBytes;
    const both = int4Technique.account!(model, int4({ lmHead: true, embeddings: true })).weightBytes;
    expect(both / fp32).toBeLessThan(0.3);
    expect(int4Technique.account!(model, int4({ lmHead: true, embeddings: true })).notes[0]).toMatch(
      /embeddings quantised.*lm_head quantised/,
    );
    expect(int4Technique.account!(tinyModel({ tieEmbeddings: true }), int4({ lmHead: true })).notes[0]).toMatch(
      /tied: the quantised copy is stored beside the fp32 matrix/,
    );
  });

  it("int8 embeddings gather exact dequantised rows; int8 lm_head runs fused dynamic quantisation", async () => {
    const model = tinyModel();
    const base = baseIr(model);
    const embeddingsOnly = onlyVocabularyQuantised(
      int8Technique.rewriteIr!(base, int8({ embeddings: true, reduceRange: false })),
      base,
    );
    expect(embeddingsOnly.embeddingLinear?.kind).toBe("int8");
    expect(
      relativeL2((await runPrefill(embeddingsOnly)).logits, referenceForwardIr(embeddingsOnly, TOKENS)),
    ).toBeLessThan(1e-5);

    const params = int8({ lmHead: true, embeddings: true, reduceRange: false });
    const ir = int8Technique.rewriteIr!(base, params);
    const { logits, optimized } = await runPrefill(ir);
    const ops = opTypes(optimized);
    expect((ops.get("DynamicQuantizeMatMul") ?? 0) + (ops.get("MatMulIntegerToFloat") ?? 0)).toBe(15);
    expect(relativeL2(logits, referenceForwardIr(ir, TOKENS))).toBeLessThan(0.1); // activations rounded to u8 per run
    expect(storedBytes(ir)).toBe(int8Technique.account!(model, params).weightBytes);
  });

  it("labels say what is quantised, and the torch runner refuses the option with the reason", () => {
    expect(int4Technique.label(int4({ lmHead: true, embeddings: true }))).toBe("int4 b32 sym +embed +lm_head");
    expect(int8Technique.label(int8({ lmHead: true }))).toBe("int8 +lm_head");
    const planned = (runner: string) =>
      planCase({ techniques: [{ kind: "int4", lmHead: true }], runners: [runner], scenarios: ["prefill"] });
    expect(staticUnsupportedReason(planned("torch"))).toMatch(/ort runner only/);
    expect(staticUnsupportedReason(planned("ort"))).toBeUndefined();
  });
});
