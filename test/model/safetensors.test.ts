import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import {
  bfloat16BitsToFloat32,
  decodeToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  readSafetensors,
  writeSafetensors,
} from "../../src/model/safetensors.js";
import { modelSchema } from "../../src/suite/schema.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";

const python = join(process.cwd(), ".venv/bin/python");

describe("safetensors", () => {
  const dir = mkdtempSync(join(tmpdir(), "effbench-st-"));

  it("round-trips float32, float16, bfloat16 and int8 tensors with metadata", () => {
    const path = join(dir, "mixed.safetensors");
    const data = Float32Array.from([0, 1, -2.5, 65504, 1e-7, 3.14159]);
    writeSafetensors(
      path,
      new Map<string, any>([
        ["a.f32", { shape: [2, 3], data }],
        ["b.f16", { shape: [6], data, dtype: "F16" }],
        ["c.bf16", { shape: [3, 2], data, dtype: "BF16" }],
        ["d.i8", { dtype: "I8", shape: [3], bytes: new Uint8Array(Int8Array.from([-128, 0, 127]).buffer) }],
      ]),
      { format: "pt" },
    );
    const bytes = readFileSync(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    const file = readSafetensors(path);
    expect(file.metadata).toEqual({ format: "pt" });
    expect([...decodeToFloat32(file.tensors.get("a.f32")!)]).toEqual([...data]);
    expect(file.tensors.get("a.f32")!.shape).toEqual([2, 3]);
    const f16 = decodeToFloat32(file.tensors.get("b.f16")!);
    expect(f16[3]).toBe(65504);
    expect(f16[5]).toBeCloseTo(3.140625, 6);
    expect(decodeToFloat32(file.tensors.get("c.bf16")!)[2]).toBe(-2.5);
    expect([...decodeToFloat32(file.tensors.get("d.i8")!)]).toEqual([-128, 0, 127]);
  });

  it("converts to half precision with round-to-nearest-even, overflow to infinity and subnormals", () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(float32ToFloat16Bits(70000)).toBe(0x7c00);
    expect(float16BitsToFloat32(float32ToFloat16Bits(2 ** -24))).toBe(2 ** -24);
    expect(float16BitsToFloat32(0xc000)).toBe(-2);
    expect(bfloat16BitsToFloat32(float32ToBfloat16Bits(1.00390625))).toBe(1); // 1 + 2^-8 ties to even
    expect(Number.isNaN(bfloat16BitsToFloat32(float32ToBfloat16Bits(NaN)))).toBe(true);
  });

  it.skipIf(!existsSync(python))("writes files that Python's safetensors loads with the same values", () => {
    const model = modelSchema.parse({ name: "tiny", layers: 1, hidden: 32, heads: 2, ffn: 64, vocab: 50 });
    const weights = synthesizeWeights(model);
    const path = join(dir, "model.safetensors");
    writeSafetensors(path, weights, { format: "pt" });
    const script = `
import json, sys
from safetensors.numpy import load_file
t = load_file(sys.argv[1])
print(json.dumps({k: [list(v.shape), float(v.astype('float64').sum())] for k, v in t.items()}))`;
    const loaded = JSON.parse(execFileSync(python, ["-c", script, path], { encoding: "utf8" })) as Record<
      string,
      [number[], number]
    >;
    expect(Object.keys(loaded).sort()).toEqual([...weights.keys()].sort());
    for (const [name, tensor] of weights) {
      expect(loaded[name]![0]).toEqual(tensor.shape);
      expect(loaded[name]![1]).toBeCloseTo(
        tensor.data.reduce((a, b) => a + b, 0),
        3,
      );
    }
  });
});
