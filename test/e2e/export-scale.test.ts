// `bench export --scale`: a scaled-down suite's case exports at the scaled size, under the id `bench list --scale` printed.
import { execa } from "execa";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

const bench = resolve("bin/bench.js");
const suite = resolve("suites/moe-lora.ts");

async function listIds(scale?: string): Promise<Array<{ id: string; name: string }>> {
  const result = await execa("node", [bench, "list", suite, "--json", ...(scale ? ["--scale", scale] : [])]);
  return JSON.parse(result.stdout) as Array<{ id: string; name: string }>;
}

describe("bench export --scale", () => {
  it("writes the scaled-down graph of the case id that bench list --scale printed", async () => {
    const cases = await listIds("tiny");
    const c = cases.find((x) => /mixlora/i.test(x.name) && x.name.includes("decode") && x.name.endsWith("· ort"));
    expect(c, "moe-lora.ts plans an ort MixLoRA decode case").toBeDefined();
    const out = join(mkdtempSync(join(tmpdir(), "effbench-export-")), "model.onnx");
    const result = await execa("node", [bench, "export", suite, "--case", c!.id, "--scale", "tiny", "-o", out], {
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain("@tiny");
    const model = onnx.ModelProto.decode(readFileSync(out));
    // llama-2-7b@tiny: hidden 4096/16 = 256, 2 layers — the embedding table is [vocab, 256], not [32000, 4096].
    const embedding = model.graph!.initializer!.find((t) => t.dims!.length === 2 && /embed/.test(t.name ?? ""));
    expect(embedding, "the graph has an embedding table").toBeDefined();
    expect(Number(embedding!.dims![1])).toBe(256);
  }, 120_000);

  it("does not find a scaled case id without --scale, and rejects a bad scale with a usage error", async () => {
    const [scaled] = await listIds("tiny");
    const unscaled = await listIds();
    expect(unscaled.some((x) => x.id === scaled!.id)).toBe(false);
    const out = join(mkdtempSync(join(tmpdir(), "effbench-export-")), "model.onnx");
    const missing = await execa("node", [bench, "export", suite, "--case", scaled!.id, "-o", out], { reject: false });
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain(`--case ${scaled!.id}`);
    const bad = await execa("node", [bench, "export", suite, "--case", scaled!.id, "--scale", "huge", "-o", out], {
      reject: false,
    });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/scale/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it("refuses, as a usage error without a stack trace, a case that has no ONNX graph (a train-step case)", async () => {
    const train = (await listIds("tiny")).find((x) => x.name.includes("train-step") && x.name.includes("· ort"))!;
    const out = join(mkdtempSync(join(tmpdir(), "effbench-export-")), "model.onnx");
    const result = await execa("node", [bench, "export", suite, "--case", train.id, "--scale", "tiny", "-o", out], {
      reject: false,
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/the train-step scenario has no ONNX graph/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
