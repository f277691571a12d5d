// The llamacpp runner's accounting as it stores the model: with `weights: f16` / `bf16` the weight bytes `bench
// inspect` shows and each result stores are the GGUF file's tensor bytes as written (read back from the file's
// header), not the technique's fp32 bytes; quant types keep their own accounting, and other runners are unaffected.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { caseTechniqueAccounting } from "../../src/model/case-accounting.js";
import { inspectCase } from "../../src/inspect.js";
import { accountModel } from "../../src/model/accounting.js";
import { readGgufHeader, ggmlTensorBytes } from "../../src/model/gguf-file.js";
import { baseModelFile } from "../../runners/llamacpp/prepare.js";

const dir = mkdtempSync(join(tmpdir(), "effbench-llamacpp-held-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const plan = (weights: string) =>
  planSuite(
    validateSuite(
      {
        name: "held",
        models: [{ name: "m", layers: 2, hidden: 256, heads: 4, kvHeads: 2, ffn: 512, vocab: 300 }],
        techniques: [{ kind: "base" }, { kind: "lora", rank: 4 }, { kind: "quant", type: "q8_0" }],
        scenarios: ["decode"],
        workloads: [{ promptTokens: 8 }],
        runners: ["llamacpp", "ort"],
        llamacpp: { weights },
      },
      "held.ts",
    ).suite,
    { codeVersion: "test" },
  );

describe("llamacpp weight bytes as the GGUF holds them", () => {
  for (const weights of ["f16", "bf16"] as const)
    it(`weights: ${weights} — the accounting equals the written file's tensor bytes`, () => {
      const cases = plan(weights);
      const base = cases.find((c) => c.runner === "llamacpp" && c.technique.kind === "base")!;
      const file = baseModelFile(base, join(dir, weights), weights);
      const written = readGgufHeader(file.path).tensors.reduce((sum, t) => sum + ggmlTensorBytes(t), 0);
      expect(caseTechniqueAccounting(base).weightBytes).toBe(written);
      expect(inspectCase(base).weightBytes).toBe(written);
      expect(inspectCase(base).notes.join(" ")).toMatch(
        new RegExp(`${weights.toUpperCase()} \\(norms and router F32\\)`),
      );
      // An unmerged adapter adds its own bytes on top of the file's; the ort runner keeps fp32.
      const lora = cases.find((c) => c.runner === "llamacpp" && c.technique.kind === "lora")!;
      const ortLora = cases.find((c) => c.runner === "ort" && c.technique.kind === "lora")!;
      const adapterBytes = caseTechniqueAccounting(ortLora).weightBytes - accountModel(ortLora.model).weightBytes;
      expect(adapterBytes).toBeGreaterThan(0);
      expect(caseTechniqueAccounting(lora).weightBytes).toBe(written + adapterBytes);
      expect(
        caseTechniqueAccounting(cases.find((c) => c.runner === "ort" && c.technique.kind === "base")!),
      ).toMatchObject({
        weightBytes: accountModel(base.model).weightBytes,
      });
      // A quant type is its own file type whatever `weights` says.
      const q8 = cases.find((c) => c.runner === "llamacpp" && (c.technique.kind as string) === "quant")!;
      const q8File = baseModelFile(q8, join(dir, weights), "q8_0");
      expect(caseTechniqueAccounting(q8).weightBytes).toBe(
        readGgufHeader(q8File.path).tensors.reduce((sum, t) => sum + ggmlTensorBytes(t), 0),
      );
    });
});
