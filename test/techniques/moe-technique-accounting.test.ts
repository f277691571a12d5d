// Techniques on a MoE model keep the base's active parameters per token plus their own active share; the
// expected numbers are written out by hand here, not derived from the accounting code.
import { describe, expect, it } from "vitest";
import { modelSchema } from "../../src/suite/schema.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { buildModelIr } from "../../src/model/ir.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { isFloatTensor } from "../../src/model/ir.js";
import { baseAccounting } from "../../src/techniques/accounting.js";

// Mixtral-shaped: 4 layers, hidden 256, 8 heads (head dim 32), 2 KV heads, 8 experts of width 512, top-2.
const mixtral = modelSchema.parse({
  name: "mixtral-tiny",
  family: "mistral",
  layers: 4,
  hidden: 256,
  heads: 8,
  kvHeads: 2,
  ffn: 512,
  vocab: 1000,
  moe: { experts: 8, topK: 2 },
});
// Per layer: q 256·256 = 65536, k 16384, v 16384, o 65536 (attention 163840); norms 512; router 8·256 = 2048;
// experts 8·3·256·512 = 3145728. Embeddings 2·1000·256 = 512000, final norm 256.
const mixtralAttention = 4 * 163840;
const mixtralTotal = 4 * (163840 + 512 + 2048 + 3145728) + 512000 + 256; // 13760768
const mixtralActive = mixtralTotal - 4 * 6 * 3 * 256 * 512; // each token skips 6 of 8 experts: 4323584

// DeepSeek-shaped: 3 layers (the first dense), hidden 64, 4 heads, ffn 128, 4 experts of width 32, top-2, two
// shared experts of width 32 (fused width 64).
const deepseek = modelSchema.parse({
  name: "deepseek-tiny",
  layers: 3,
  hidden: 64,
  heads: 4,
  ffn: 128,
  vocab: 100,
  moe: { experts: 4, topK: 2, expertFfn: 32, sharedExperts: 2, sharedFfn: 32, firstDenseLayers: 1 },
});
// Attention 4·64·64 = 16384 per layer, norms 128; layer 0's MLP 3·64·128 = 24576; a MoE layer's router 4·64 = 256,
// experts 4·3·64·32 = 24576, shared 3·64·64 = 12288. Embeddings 2·100·64 = 12800, final norm 64.
const deepseekTotal = 12800 + 64 + (16384 + 128 + 24576) + 2 * (16384 + 128 + 256 + 24576 + 12288); // 161216
const deepseekActive = deepseekTotal - 2 * 2 * 3 * 64 * 32; // 136640

function account(model: typeof mixtral, raw: object) {
  const technique = getTechnique((raw as { kind: string }).kind);
  return technique.account ? technique.account(model, technique.params.parse(raw)) : undefined;
}

describe("techniques on a MoE model: base active + the technique's active share", () => {
  it("base is the MoE's own count", () => {
    expect(mixtralTotal).toBe(13760768);
    expect(mixtralActive).toBe(4323584);
    expect(baseAccounting(mixtral).activeParamsPerToken).toBe(mixtralActive);
  });

  it("LoRA on q,v (Mixtral) adds its adapters to the active count, not the routed experts", () => {
    const lora = 4 * (8 * (256 + 256) + 8 * (256 + 64)); // 26624
    const a = account(mixtral, { kind: "lora", rank: 8 })!;
    expect(a.adapterParams).toBe(lora);
    expect(a.totalParams).toBe(mixtralTotal + lora);
    expect(a.activeParamsPerToken).toBe(mixtralActive + lora);
  });

  it("LoRA all-linear reaches attention, the dense layer's MLP and the shared experts (DeepSeek-shaped)", () => {
    const attention = 3 * 4 * 4 * (64 + 64); // 6144
    const denseMlp = 3 * 4 * (64 + 128); // 2304
    const shared = 2 * 3 * 4 * (64 + 64); // 3072
    const lora = attention + denseMlp + shared;
    const a = account(deepseek, { kind: "lora", rank: 4, targets: "all-linear" })!;
    expect(a.adapterParams).toBe(lora);
    expect(a.activeParamsPerToken).toBe(deepseekActive + lora);
    expect(a.totalParams).toBe(deepseekTotal + lora);
    // The IR's rewrite adds exactly these adapter tensors.
    const base = buildModelIr(deepseek, synthesizeWeights(deepseek));
    const rewritten = getTechnique("lora").rewriteIr!(
      base,
      getTechnique("lora").params.parse({ kind: "lora", rank: 4, targets: "all-linear" }),
    );
    let added = 0;
    for (const [name, tensor] of rewritten.tensors)
      if (name.includes(".lora_") && isFloatTensor(tensor)) added += tensor.data.length;
    expect(added).toBe(lora);
  });

  it("a merged LoRA and DoRA: merged adds nothing active, DoRA adds its magnitudes", () => {
    expect(account(mixtral, { kind: "lora", rank: 8, merged: true })!.activeParamsPerToken).toBe(mixtralActive);
    const dora = 4 * (8 * (256 + 256) + 256 + 8 * (256 + 64) + 64);
    expect(account(mixtral, { kind: "dora", rank: 8 })!.activeParamsPerToken).toBe(mixtralActive + dora);
  });

  it("int4, int8, fp16, bf16 keep the counts and change the bytes of the linears they reach", () => {
    for (const kind of ["int4", "int8", "fp16", "bf16"]) {
      const a = account(mixtral, { kind })!;
      expect([kind, a.totalParams, a.activeParamsPerToken]).toEqual([kind, mixtralTotal, mixtralActive]);
    }
    // Half precision halves the attention linears only; routers and the expert stacks stay fp32.
    expect(account(mixtral, { kind: "bf16" })!.weightBytes).toBe(
      (mixtralTotal - mixtralAttention) * 4 + mixtralAttention * 2,
    );
    expect(account(deepseek, { kind: "fp16" })!.weightBytes).toBe(
      (deepseekTotal - 3 * 16384 - 24576 - 2 * 12288) * 4 + (3 * 16384 + 24576 + 2 * 12288) * 2,
    );
    // int8: one byte per weight plus a 4-byte scale per output row, on the attention linears only.
    const int8 = 4 * (163840 + 4 * (256 + 64 + 64 + 256));
    expect(account(mixtral, { kind: "int8" })!.weightBytes).toBe((mixtralTotal - mixtralAttention) * 4 + int8);
  });

  it("LoRA over an int4 base on a MoE: base active + adapters", () => {
    const lora = 4 * (8 * (256 + 256) + 8 * (256 + 64));
    expect(account(mixtral, { kind: "lora", rank: 8, base: "int4" })!.activeParamsPerToken).toBe(mixtralActive + lora);
  });
});
