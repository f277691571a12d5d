// The GGUF writer against llama.cpp's own Python reader (`gguf` 0.19, in .venv): every tensor the project writes
// has the intended ggml type and shape in gguf's reader, and gguf's dequantisation of its bytes equals the
// project's dequantiser bit for bit; the project's Q8_0 / Q4_0 bytes equal gguf's (ggml-reference) quantisers'.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { modelSchema, type ModelInput } from "../../src/suite/schema.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { buildModelIr } from "../../src/model/ir.js";
import { applyAdapter } from "../../src/techniques/adapters.js";
import { fromRoot } from "../../src/paths.js";
import { loraGguf, modelGguf, writePlannedGguf, ggufModelRefusal } from "../../runners/llamacpp/gguf/model-gguf.js";
import { dequantize, quantize } from "../../runners/llamacpp/gguf/quants.js";
import type { GgufFileType } from "../../runners/llamacpp/gguf/file-types.js";

const python = fromRoot(".venv/bin/python");
const dump = fromRoot("test/llamacpp/gguf_dump.py");
const dir = mkdtempSync(join(tmpdir(), "effbench-gguf-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** K-quant compatible widths (rows of 256 and 512), two layers so that Q4_K_M's use_more_bits picks layer 1. */
const TINY: ModelInput = { name: "tiny-k", layers: 2, hidden: 256, heads: 4, kvHeads: 2, ffn: 512, vocab: 300 };
const TINY_MOE: ModelInput = { ...TINY, name: "tiny-moe", ffn: 256, moe: { experts: 4, topK: 2 } };

interface Dumped {
  tensors: { name: string; type: string; shape: number[]; file: string }[];
  fields: Record<string, unknown>;
  requantized: Record<string, string[]>;
}

function readBack(path: string, out: string, f32Path?: string): Dumped {
  execFileSync(python, [dump, path, out, ...(f32Path ? [f32Path] : [])], { stdio: ["ignore", "pipe", "pipe"] });
  return JSON.parse(readFileSync(join(out, "index.json"), "utf8")) as Dumped;
}

function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

function checkFile(input: ModelInput, fileType: GgufFileType, f32Path?: string) {
  const model = modelSchema.parse(input);
  const ir = buildModelIr(model, synthesizeWeights(model));
  const plan = modelGguf(ir, fileType);
  const path = join(dir, `${model.name}-${fileType}.gguf`);
  const written = writePlannedGguf(path, plan);
  const out = mkdtempSync(join(dir, "dump-"));
  const dumped = readBack(path, out, f32Path);
  expect(dumped.tensors.map((t) => t.name)).toEqual(plan.tensors.map((t) => t.name));
  let compared = 0;
  plan.tensors.forEach((tensor, i) => {
    const theirs = dumped.tensors[i]!;
    expect(theirs.type, tensor.name).toBe(tensor.type);
    expect(theirs.shape, tensor.name).toEqual(tensor.ne);
    const count = tensor.ne.reduce((a, b) => a * b, 1);
    const ours = dequantize(tensor.type, tensor.data(), count);
    const raw = readFileSync(join(out, theirs.file));
    const gguf = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    expect(gguf.length).toBe(count);
    const mismatches = bits(ours).reduce((n, b, k) => n + (b !== bits(gguf)[k] ? 1 : 0), 0);
    expect(mismatches, `${tensor.name} (${tensor.type}): values whose float32 bits differ`).toBe(0);
    compared += count;
  });
  return { plan, dumped, written, compared, path, out };
}

describe("GGUF writer vs the gguf Python package", () => {
  it("F32 file: types, shapes, metadata and values as written; the basis for the quantiser comparison", () => {
    const { dumped, compared } = checkFile(TINY, "f32");
    expect(compared).toBeGreaterThan(1_000_000);
    expect(dumped.fields["general.architecture"]).toBe("llama");
    expect(dumped.fields["llama.attention.head_count_kv"]).toBe(2);
    expect(dumped.fields["tokenizer.ggml.model"]).toBe("llama");
    expect(dumped.fields["tokenizer.ggml.tokens"]).toBe(300);
  });

  for (const fileType of ["f16", "bf16", "q8_0", "q4_0", "q6_k"] as const)
    it(`${fileType}: every tensor dequantises bit-exactly as gguf does, with the intended type`, () => {
      const { plan } = checkFile(TINY, fileType);
      const types = new Set(plan.tensors.map((t) => t.type));
      expect(types).toContain(fileType.toUpperCase());
    });

  it("q4_k_m: Q4_K, with Q6_K for the output and for attn_v / ffn_down of the layer use_more_bits picks", () => {
    const { plan } = checkFile(TINY, "q4_k_m");
    const type = (name: string) => plan.tensors.find((t) => t.name === name)!.type;
    expect(type("output.weight")).toBe("Q6_K");
    expect(type("token_embd.weight")).toBe("Q4_K");
    expect(type("blk.0.attn_v.weight")).toBe("Q4_K");
    expect(type("blk.1.attn_v.weight")).toBe("Q6_K");
    expect(type("blk.1.ffn_down.weight")).toBe("Q6_K");
    expect(type("blk.0.attn_q.weight")).toBe("Q4_K");
    expect(type("blk.0.attn_norm.weight")).toBe("F32");
  });

  it("MoE (Mixtral-style) as q4_k_m: 3-D expert tensors in ggml order, router F32", () => {
    const { plan, dumped } = checkFile(TINY_MOE, "q4_k_m");
    const exps = plan.tensors.find((t) => t.name === "blk.0.ffn_gate_exps.weight")!;
    expect(exps.ne).toEqual([256, 256, 4]);
    expect(plan.tensors.find((t) => t.name === "blk.0.ffn_gate_inp.weight")!.type).toBe("F32");
    expect(dumped.fields["llama.expert_count"]).toBe(4);
    expect(dumped.fields["llama.expert_used_count"]).toBe(2);
  });

  it("the project's Q8_0 and Q4_0 bytes equal gguf's quantisers' (ggml's reference algorithm)", () => {
    const { path } = checkFile(TINY, "f32");
    const model = modelSchema.parse(TINY);
    const ir = buildModelIr(model, synthesizeWeights(model));
    const plan = modelGguf(ir, "f32");
    const out = mkdtempSync(join(dir, "requant-"));
    const dumped = readBack(path, out, path);
    let tensors = 0;
    for (const tensor of plan.tensors) {
      if (!dumped.requantized[tensor.name]) continue;
      const values = new Float32Array(tensor.data().slice().buffer);
      for (const type of ["Q8_0", "Q4_0"] as const) {
        const ours = quantize(type, values, tensor.ne[0]!);
        const theirs = readFileSync(join(out, `${tensor.name}.${type}.bin`));
        expect(Buffer.compare(Buffer.from(ours), theirs), `${tensor.name} ${type}`).toBe(0);
      }
      tensors++;
    }
    expect(tensors).toBeGreaterThan(10);
  });

  it("a LoRA adapter: lora_a [in, r] and lora_b [r, out] F32, alpha = scale × rank in the metadata", () => {
    const model = modelSchema.parse(TINY);
    const base = buildModelIr(model, synthesizeWeights(model));
    const ir = applyAdapter(base, "rslora", {
      kind: "rslora",
      rank: 4,
      alpha: 8,
      targets: ["q_proj", "k_proj", "v_proj"],
      merged: false,
      base: "fp32",
    });
    const plan = loraGguf(ir)!;
    const path = join(dir, "adapter.gguf");
    writePlannedGguf(path, plan);
    const out = mkdtempSync(join(dir, "dump-"));
    const dumped = readBack(path, out);
    expect(dumped.fields["general.type"]).toBe("adapter");
    expect(dumped.fields["adapter.type"]).toBe("lora");
    expect(dumped.fields["adapter.lora.alpha"] as number).toBeCloseTo((8 / Math.sqrt(4)) * 4, 5);
    const a = dumped.tensors.find((t) => t.name === "blk.0.attn_q.weight.lora_a")!;
    const b = dumped.tensors.find((t) => t.name === "blk.0.attn_k.weight.lora_b")!;
    expect([a.type, a.shape]).toEqual(["F32", [256, 4]]);
    expect([b.type, b.shape]).toEqual(["F32", [4, 128]]);
    expect(dumped.tensors).toHaveLength(2 * 3 * 2);
  });

  it("refuses what llama.cpp cannot express, with the reason", () => {
    const quick = modelSchema.parse({ ...TINY, ffn: 704 });
    expect(ggufModelRefusal(quick, "q4_k_m")).toMatch(/multiple of 256.*rows of 704/);
    expect(ggufModelRefusal(quick, "q8_0")).toBeUndefined();
    const shared = modelSchema.parse({ ...TINY_MOE, moe: { experts: 4, topK: 2, sharedExperts: 1 } });
    expect(ggufModelRefusal(shared, "f16")).toMatch(/shared experts/);
    const capacity = modelSchema.parse({ ...TINY_MOE, moe: { experts: 4, topK: 2, capacityFactor: 1.25 } });
    expect(ggufModelRefusal(capacity, "f16")).toMatch(/capacity factor/);
    expect(ggufModelRefusal(modelSchema.parse(TINY_MOE), "f16", 1.2)).toMatch(/router has no bias/);
    expect(ggufModelRefusal(modelSchema.parse({ ...TINY, vocab: 256 }), "f32")).toMatch(/at least 259/);
  });
});
