// Local GGUF files as models (`{ gguf: "./file.gguf" }`): a tiny Q4_K_M llama written by the project's writer, read
// back by the loader from its header alone (checked against llama.cpp's `gguf` Python reader), run through `bench run`
// on the llamacpp runner (base prefill and decode, an unmerged seeded adapter) with the accounting from the header;
// ort and torch unsupported with the reason, fidelity null with the reason; and the loader's errors for bad files.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "../../runners/index.js"; // registers the built-in runners (the suite schema is built from them)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchema } from "../../src/suite/schema.js";
import { synthesizeWeights } from "../../src/model/model-weights.js";
import { buildModelIr } from "../../src/model/ir.js";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { staticUnsupportedReason } from "../../src/runner/support.js";
import { main } from "../../src/cli/main.js";
import { openStore } from "../../src/store/store.js";
import { fromRoot } from "../../src/paths.js";
import { GGML_TYPE_TABLE } from "../../src/model/gguf-file.js";
import { modelGguf, writePlannedGguf } from "../../runners/llamacpp/gguf/model-gguf.js";
import { tensorBytes, writeGguf } from "../../runners/llamacpp/gguf/writer.js";

const dir = mkdtempSync(join(tmpdir(), "effbench-local-gguf-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** K-quant compatible widths (rows of 256 and 512); a vocabulary ≥ 259 for the synthetic tokenizer. */
const TINY = { name: "tiny-k", layers: 2, hidden: 256, heads: 4, kvHeads: 2, ffn: 512, vocab: 300 };
const FILE = "tiny-q4km.gguf";
let expected: { params: number; bytes: number; types: Record<string, number> };

beforeAll(() => {
  const model = modelSchema.parse(TINY);
  const plan = modelGguf(buildModelIr(model, synthesizeWeights(model)), "q4_k_m");
  writePlannedGguf(join(dir, FILE), plan);
  const types: Record<string, number> = {};
  for (const t of plan.tensors) types[t.type] = (types[t.type] ?? 0) + 1;
  expected = {
    params: plan.tensors.reduce((sum, t) => sum + t.ne.reduce((a, b) => a * b, 1), 0),
    bytes: plan.tensors.reduce((sum, t) => sum + tensorBytes(t), 0),
    types,
  };
});

const suiteOf = (models: unknown[]) => ({
  name: "local-gguf",
  models,
  scenarios: ["decode"],
  workloads: [{ batch: 1, promptTokens: 16 }],
  runners: ["llamacpp"],
});

/** The message validateSuite throws for these models (the file's suite named `suite.ts`). */
function loaderError(models: unknown[]): string {
  try {
    validateSuite(suiteOf(models), "suite.ts", dir);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("the suite was accepted");
}

describe("the loader reads a local GGUF's header", () => {
  it("fills the architecture and the file's facts; gguf's own reader agrees on parameters and bytes", () => {
    const { suite } = validateSuite(suiteOf([{ gguf: `./${FILE}` }]), "suite.ts", dir);
    const model = suite.models[0]!;
    expect(model).toMatchObject({ ...TINY, name: "tiny-q4km", family: "llama", tieEmbeddings: false, headDim: 64 });
    expect(model.gguf).toMatchObject({
      path: join(dir, FILE),
      architecture: "llama",
      fileType: "Q4_K_M",
      tensorTypes: expected.types,
      params: expected.params,
      activeParams: expected.params,
      tensorBytes: expected.bytes,
    });
    expect(model.gguf!.identity).toMatch(/^tiny-q4km\.gguf#[0-9a-f]{16}$/);
    // llama.cpp's Python reader (gguf 0.19) counts the same file independently.
    const python = fromRoot(".venv/bin/python");
    const theirs = JSON.parse(
      execFileSync(python, [
        "-c",
        "import sys, json, gguf; r = gguf.GGUFReader(sys.argv[1]); print(json.dumps({'params': sum(int(t.n_elements) for t in r.tensors), 'bytes': sum(int(t.n_bytes) for t in r.tensors)}))",
        join(dir, FILE),
      ]).toString(),
    ) as { params: number; bytes: number };
    expect(theirs).toEqual({ params: model.gguf!.params, bytes: model.gguf!.tensorBytes });
    // The case key names the file by its identity, not by where it sits.
    const [c] = planSuite(suite, { codeVersion: "test" });
    expect(c!.caseKey).toContain(model.gguf!.identity);
    expect(c!.caseKey).not.toContain(dir);
  });

  it("the ggml type table (ids, block sizes) is gguf's GGML_QUANT_SIZES", () => {
    const theirs = JSON.parse(
      execFileSync(fromRoot(".venv/bin/python"), [
        "-c",
        "import json, gguf; print(json.dumps({int(t): [t.name, *gguf.GGML_QUANT_SIZES[t]] for t in gguf.GGMLQuantizationType}))",
      ]).toString(),
    ) as Record<string, [string, number, number]>;
    const ours = Object.fromEntries(
      Object.entries(GGML_TYPE_TABLE).map(([id, t]) => [id, [t.name, t.blockElements, t.blockBytes]]),
    );
    expect(ours).toEqual(theirs);
  });

  it("a Mixtral-style MoE: experts and top-k from the header, active parameters leave out the experts a token skips", () => {
    const moe = modelSchema.parse({ ...TINY, name: "tiny-moe", ffn: 256, moe: { experts: 4, topK: 2 } });
    const plan = modelGguf(buildModelIr(moe, synthesizeWeights(moe)), "q8_0");
    writePlannedGguf(join(dir, "moe.gguf"), plan);
    const model = validateSuite(suiteOf([{ gguf: "./moe.gguf" }]), "suite.ts", dir).suite.models[0]!;
    expect(model.moe).toMatchObject({ experts: 4, topK: 2, expertFfn: 256, sharedExperts: 0, normTopK: true });
    const count = (t: { ne: number[] }) => t.ne.reduce((a, b) => a * b, 1);
    const experts = plan.tensors.filter((t) => t.name.endsWith("_exps.weight")).reduce((sum, t) => sum + count(t), 0);
    expect(experts).toBeGreaterThan(0);
    expect(model.gguf!.params).toBe(plan.tensors.reduce((sum, t) => sum + count(t), 0));
    expect(model.gguf!.activeParams).toBe(model.gguf!.params - experts / 2); // top-2 of 4: half the experts idle
    // A routing skew is a router logit bias, which llama.cpp's MoE router has no place for: refused, not ignored.
    const skewed = validateSuite(
      { ...suiteOf([{ gguf: "./moe.gguf" }]), workloads: [{ promptTokens: 16, routingSkew: 1 }] },
      "suite.ts",
      dir,
    ).suite;
    const [c] = planSuite(skewed, { codeVersion: "test" });
    expect(staticUnsupportedReason(c!)).toMatch(/router has no bias: a workload routingSkew > 0/);
  });

  it("a qwen2 file: q/k/v biases, tied embeddings (no output.weight), the tokenizer's size as the vocabulary", () => {
    const f32 = (name: string, ne: number[]) => ({
      name,
      ne,
      type: "F32" as const,
      data: () => new Uint8Array(4 * ne.reduce((a, b) => a * b, 1)),
    });
    const u32 = (value: number) => ({ type: "u32" as const, value });
    writeGguf(
      join(dir, "qwen2.gguf"),
      [
        ["general.architecture", { type: "string", value: "qwen2" }],
        ["qwen2.block_count", u32(1)],
        ["qwen2.embedding_length", u32(64)],
        ["qwen2.attention.head_count", u32(4)],
        ["qwen2.attention.head_count_kv", u32(2)],
        ["qwen2.feed_forward_length", u32(128)],
        ["qwen2.context_length", u32(512)],
        ["qwen2.rope.freq_base", { type: "f32", value: 1000000 }],
        ["tokenizer.ggml.tokens", { type: "string[]", value: Array.from({ length: 90 }, (_, i) => `t${i}`) }],
      ],
      [f32("token_embd.weight", [64, 96]), f32("blk.0.attn_q.bias", [64])],
    );
    const model = validateSuite(suiteOf([{ gguf: "./qwen2.gguf" }]), "suite.ts", dir).suite.models[0]!;
    expect(model).toMatchObject({
      name: "qwen2",
      family: "qwen2",
      layers: 1,
      hidden: 64,
      heads: 4,
      kvHeads: 2,
      headDim: 16,
      ffn: 128,
      vocab: 90, // 96 embedding rows, 90 tokens: ids stay below both
      maxPositions: 512,
      ropeTheta: 1000000,
      tieEmbeddings: true,
      attentionBias: true,
    });
    expect(model.gguf).toMatchObject({ architecture: "qwen2", fileType: null, tensorTypes: { F32: 2 } });
  });

  it("a rewritten file is a new case", () => {
    const other = join(dir, "changing.gguf");
    const model = modelSchema.parse(TINY);
    const ir = buildModelIr(model, synthesizeWeights(model));
    writePlannedGguf(other, modelGguf(ir, "q8_0"));
    const first = validateSuite(suiteOf([{ gguf: other }]), "suite.ts", dir).suite;
    writePlannedGguf(other, modelGguf(ir, "q4_0"));
    const second = validateSuite(suiteOf([{ gguf: other }]), "suite.ts", dir).suite;
    expect(first.models[0]!.gguf!.identity).not.toBe(second.models[0]!.gguf!.identity);
    const id = (s: typeof first) => planSuite(s, { codeVersion: "test" })[0]!.id;
    expect(id(first)).not.toBe(id(second));
  });

  it("says what is wrong with a missing file, a file that is not a GGUF, a truncated one, an unsupported architecture", () => {
    expect(loaderError([{ gguf: "./missing.gguf" }])).toMatch(
      /suite\.ts › models\[0\]\.gguf: .*missing\.gguf does not exist — give the path of a local \.gguf model file/,
    );
    writeFileSync(join(dir, "not.gguf"), "this is a text file, not a model ".repeat(4));
    expect(loaderError([{ gguf: "./not.gguf" }])).toMatch(/models\[0\]\.gguf: .*not a GGUF file: .*magic bytes/);
    const whole = readFileSync(join(dir, FILE));
    writeFileSync(join(dir, "half.gguf"), whole.subarray(0, whole.length >> 1));
    expect(loaderError([{ gguf: "./half.gguf" }])).toMatch(/models\[0\]\.gguf: .*past the end of the file .*truncated/);
    writeGguf(join(dir, "gpt2.gguf"), [["general.architecture", { type: "string", value: "gpt2" }]], []);
    expect(loaderError([{ gguf: "./gpt2.gguf" }])).toMatch(
      /models\[0\]\.gguf: .*architecture "gpt2" is not supported: local GGUFs of llama, qwen2, qwen3/,
    );
    expect(loaderError([{ gguf: `./${FILE}`, hidden: 128 }])).toMatch(
      /models\[0\]\.hidden: the GGUF header says 256, the suite says 128/,
    );
  });

  it("bench list exits 2 on a bad file (a user's mistake, no stack trace)", async () => {
    const path = join(dir, "bad-suite.ts");
    writeFileSync(path, `export default ${JSON.stringify(suiteOf([{ gguf: "./not-there.gguf" }]))};\n`);
    expect(await main(["list", path])).toBe(2);
  });
});

describe("a local GGUF through `bench run`", () => {
  it("runs on llamacpp as it is, with the header's accounting; other runners and techniques say why not", async () => {
    const path = join(dir, "local.ts");
    const suite = {
      name: "local-gguf-run",
      models: [{ gguf: `./${FILE}` }],
      techniques: [
        { kind: "base" },
        { kind: "lora", name: "lora-unmerged", rank: 4, merged: false },
        { kind: "lora", name: "lora-merged", rank: 4, merged: true },
        { kind: "quant", name: "q8_0", type: "q8_0" },
      ],
      scenarios: ["prefill", "decode"],
      workloads: [{ batch: 1, promptTokens: 16 }],
      runners: ["llamacpp", "ort"], // torch's refusal is checked below without starting its Python worker
      exclude: [{ technique: ["lora-unmerged"], scenario: "prefill" }],
      protocol: { repeats: 1, warmupMinIterations: 2, warmupMaxMs: 50, minMeasureMs: 30, minIterations: 5 },
    };
    writeFileSync(path, `export default ${JSON.stringify(suite)};\n`);
    const db = join(dir, "results.db");
    expect(await main(["run", path, "--db", db])).toBe(0);
    const store = await openStore(db);
    try {
      const results = await store.loadResults();
      // The store keeps the technique's kind; the case name tells merged from unmerged.
      const find = (technique: string, scenario: string, runner: string, nameHas = "") => {
        const r = results.find(
          (x) =>
            x.technique === technique && x.scenario === scenario && x.runner === runner && x.caseName.includes(nameHas),
        );
        if (!r)
          throw new Error(`no result ${technique} ${scenario} ${runner}: ${results.map((x) => x.caseName).join("; ")}`);
        return r;
      };
      const metric = (r: (typeof results)[number], name: string) => r.metrics.find((m) => m.name === name);
      for (const scenario of ["prefill", "decode"]) {
        const r = find("base", scenario, "llamacpp");
        expect(r.status, r.reason ?? "").toBe("completed");
        expect(metric(r, "latency_p50_ms")!.value).toBeGreaterThan(0);
        expect(metric(r, "params_total")!.value).toBe(expected.params);
        expect(metric(r, "weight_bytes")!.value).toBe(expected.bytes);
        expect(metric(r, "params_trainable")).toMatchObject({ value: null, reason: expect.stringMatching(/as it is/) });
        for (const name of ["kl_base_technique", "top1_agreement"])
          expect(metric(r, name)).toMatchObject({
            value: null,
            reason: expect.stringMatching(/no reference for a local GGUF file/),
          });
        expect(r.settings).toMatchObject({
          backend: "cpu",
          ggufFileType: "Q4_K_M",
          ggufFile: join(dir, FILE),
          ggufTensorTypes: expected.types,
          // 2 layers: Q6_K for the output and, in layer 1 (use_more_bits), attn_v and ffn_down; norms F32.
          ggufTensorMix: "Q4_K_M-like mix: Q4_K 13, F32 5, Q6_K 3",
        });
        expect(JSON.parse(r.caseKey).model.gguf).toMatch(/^tiny-q4km\.gguf#/);
      }
      const adapter = find("lora", "decode", "llamacpp", "unmerged");
      expect(adapter.status, adapter.reason ?? "").toBe("completed");
      expect(String(adapter.settings!.adapter)).toMatch(/attached at context creation .*rank 4/);
      expect(metric(adapter, "params_total")!.value).toBeGreaterThan(expected.params);
      expect(find("quant", "decode", "llamacpp")).toMatchObject({
        status: "unsupported",
        reason: expect.stringMatching(/already a Q4_K_M file: the quant technique quantises the harness's own/),
      });
      expect(find("lora", "decode", "llamacpp", " merged")).toMatchObject({
        status: "unsupported",
        reason: expect.stringMatching(/merging an adapter rewrites the weights/),
      });
      expect(find("base", "decode", "ort")).toMatchObject({
        status: "unsupported",
        reason: expect.stringMatching(
          /^a local GGUF runs on the llamacpp runner; the ort runner .*checkpoint directory/,
        ),
      });
    } finally {
      await store.close();
    }
  }, 120_000);

  it("torch and a managed transformers serve refuse it with the reason, before any worker starts", () => {
    const { suite } = validateSuite(
      { ...suiteOf([{ gguf: `./${FILE}` }]), runners: ["torch", "serve"], scenarios: ["decode", "serving"] },
      "suite.ts",
      dir,
    );
    const reasons = planSuite(suite, { codeVersion: "test" })
      .filter((c) => (c.runner === "torch") === (c.scenario === "decode"))
      .map((c) => [c.runner, staticUnsupportedReason(c)]);
    expect(reasons).toEqual([
      [
        "torch",
        expect.stringMatching(/^a local GGUF runs on the llamacpp runner; the torch runner .*checkpoint directory/),
      ],
      ["serve", expect.stringMatching(/^a local GGUF runs on the llamacpp runner; a managed transformers serve/)],
    ]);
  });
});
