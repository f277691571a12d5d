import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { modelSchema } from "../../src/suite/schema.js";
import { buildOnnxModel } from "../../runners/ort/onnx/onnx.js";
import {
  EXTERNAL_DATA_ALIGNMENT_BYTES,
  EXTERNAL_DATA_MIN_TENSOR_BYTES,
  GraphBuilder,
} from "../../runners/ort/onnx/onnx-graph.js";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { prepareOrtCase } from "../../runners/ort/prepare.js";
import { OrtRunner } from "../../runners/ort/runner.js";
import { spawnSync } from "node:child_process";

const model = modelSchema.parse({
  name: "tiny-moe",
  layers: 2,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  ffn: 96,
  vocab: 97,
  maxPositions: 64,
  moe: { experts: 4, topK: 2, expertFfn: 32 },
});
const ids = new ort.Tensor("int64", BigInt64Array.from([5, 17, 3, 88, 41, 9], BigInt), [1, 6]);

async function logits(model: Uint8Array | string): Promise<Float32Array> {
  const session =
    typeof model === "string" ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  const out = await session.run({ input_ids: ids });
  await session.release();
  return out.logits!.data as Float32Array;
}

describe("ONNX external data", () => {
  it("a model over the threshold keeps its weights in an aligned side file, and ORT's logits equal the in-protobuf model's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-external-"));
    try {
      const options = { scenario: "prefill" as const, batch: 1, promptTokens: 6, allLogits: true };
      const inMemory = buildOnnxModel(model, options);
      const dataPath = join(dir, "model.onnx.data");
      const external = GraphBuilder.withExternalData({ dataPath, thresholdBytes: 64 * 1024 }, () =>
        buildOnnxModel(model, options),
      );
      writeFileSync(join(dir, "model.onnx"), external.bytes);

      expect(external.initializerBytes).toBe(inMemory.initializerBytes);
      expect(external.bytes.byteLength).toBeLessThan(inMemory.bytes.byteLength / 10);
      const tensors = onnxProto.onnx.ModelProto.decode(external.bytes).graph!.initializer!;
      const outside = tensors.filter((t) => t.dataLocation === onnxProto.onnx.TensorProto.DataLocation.EXTERNAL);
      expect(outside.length).toBeGreaterThan(0);
      for (const t of tensors)
        if ((t.rawData?.byteLength ?? 0) >= EXTERNAL_DATA_MIN_TENSOR_BYTES)
          throw new Error(`${t.name} stayed in the protobuf`);
      let end = 0;
      for (const t of outside) {
        const entry = Object.fromEntries(t.externalData!.map((e) => [e.key, e.value]));
        expect(entry.location).toBe("model.onnx.data");
        expect(Number(entry.offset) % EXTERNAL_DATA_ALIGNMENT_BYTES).toBe(0);
        end = Math.max(end, Number(entry.offset) + Number(entry.length));
      }
      expect(statSync(dataPath).size).toBe(end);

      expect(await logits(join(dir, "model.onnx"))).toEqual(await logits(inMemory.bytes));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a model under the threshold is one protobuf and writes no data file", () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-external-"));
    const dataPath = join(dir, "model.onnx.data");
    GraphBuilder.withExternalData({ dataPath }, () =>
      buildOnnxModel(model, { scenario: "prefill", batch: 1, promptTokens: 6 }),
    );
    expect(existsSync(dataPath)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it("the ort runner builds a case over the threshold into its cache once, and later repeats load the same files", async () => {
    const { suite } = validateSuite(
      {
        name: "external",
        models: [
          {
            name: "tiny-moe",
            layers: 2,
            hidden: 64,
            heads: 4,
            kvHeads: 2,
            ffn: 96,
            vocab: 97,
            maxPositions: 64,
            moe: { experts: 4, topK: 2, expertFfn: 32 },
          },
        ],
        scenarios: ["decode"],
        workloads: [{ batch: 1, promptTokens: 8 }],
      },
      "external",
    );
    const [c] = planSuite(suite, { codeVersion: "test" });
    const cacheDir = mkdtempSync(join(tmpdir(), "effbench-ort-cache-"));
    try {
      const first = await prepareOrtCase(c!, 0, { cacheDir, externalDataThresholdBytes: 64 * 1024 });
      const second = await prepareOrtCase(c!, 1, { cacheDir, externalDataThresholdBytes: 64 * 1024 });
      const inMemory = await prepareOrtCase(c!, 0);
      const untouched = join(cacheDir, "unused");
      expect((await prepareOrtCase(c!, 0, { cacheDir: untouched })).modelPath).toBeUndefined(); // under the default threshold
      expect(existsSync(untouched)).toBe(false); // a small model leaves no cache folder behind
      expect(first.builtExternalData).toBe(true);
      expect(second.builtExternalData).toBe(false);
      expect(second.modelPath).toBe(first.modelPath);
      expect(existsSync(`${first.modelPath!}.data`)).toBe(true);
      expect(inMemory.modelPath).toBeUndefined();
      expect(second.settings.externalData).toBeDefined();
      const run = async (model: Uint8Array | string) => {
        const session =
          typeof model === "string"
            ? await ort.InferenceSession.create(model)
            : await ort.InferenceSession.create(model);
        const out = await session.run(inMemory.feeds, ["logits"]);
        await session.release();
        return out.logits!.data as Float32Array;
      };
      expect(await run(second.modelPath!)).toEqual(await run(inMemory.modelBytes));
      expect(readFileSync(second.modelPath!).byteLength).toBe(second.modelBytes.byteLength);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it("the ort runner removes the model caches of runs whose process is gone, and leaves a live one's", async () => {
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!; // exited: its pid is free
    const orphan = join(tmpdir(), `effbench-ort-cache-${dead}-deadbeef`);
    const live = join(tmpdir(), `effbench-ort-cache-${process.pid}-0badf00d`);
    for (const dir of [orphan, live]) mkdirSync(join(dir, "model"), { recursive: true });
    const { suite } = validateSuite(
      {
        name: "orphans",
        models: [{ name: "tiny", layers: 1, hidden: 32, heads: 2, ffn: 64, vocab: 50, maxPositions: 32 }],
        scenarios: ["decode"],
        workloads: [{ batch: 1, promptTokens: 4 }],
        protocol: { repeats: 1, minMeasureMs: 10, minIterations: 3, warmupMaxMs: 10 },
      },
      "orphans",
    );
    const runner = new OrtRunner();
    try {
      const outcome = await runner.runRepeat(planSuite(suite, { codeVersion: "test" })[0]!, {
        repeat: 0,
        signal: new AbortController().signal,
        timeoutMs: 60_000,
      });
      expect(outcome.status).toBe("completed");
      expect(existsSync(orphan)).toBe(false);
      expect(existsSync(live)).toBe(true);
    } finally {
      await runner.close();
      rmSync(live, { recursive: true, force: true });
      rmSync(orphan, { recursive: true, force: true });
    }
  });
});
