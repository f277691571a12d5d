// A real Hugging Face checkpoint on the torch runner: the architecture from its config.json (AutoConfig), the weights
// the harness read from its safetensors (the weights file), and the logits equal what transformers itself computes
// loading the checkpoint with from_pretrained — dense llama (sharded, bf16 on disk) and Mixtral (fused experts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { relativeL2 } from "../../src/model/fidelity.js";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { FIXTURE_IDS, writeCheckpoints, type CheckpointFixture } from "../model/checkpoint-fixtures.js";
import { torchRunnerForFile } from "./helpers.js";

let fixtures: CheckpointFixture[] = [];
let root = "";
const torchRunner = torchRunnerForFile("checkpoint");

beforeAll(() => {
  ({ root, fixtures } = writeCheckpoints([
    { name: "llama-bf16", arch: "llama", dtype: "bfloat16", tie: false, maxShardBytes: 60_000, tokenizer: false },
    { name: "mixtral-fp32", arch: "mixtral", dtype: "float32", tie: false, maxShardBytes: 200_000, tokenizer: false },
    { name: "llama3-rope", arch: "llama3", dtype: "float32", tie: false, maxShardBytes: 10_000_000, tokenizer: false },
    { name: "qwen3", arch: "qwen3", dtype: "float32", tie: true, maxShardBytes: 10_000_000, tokenizer: false },
  ]));
}, 120_000);
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("a Hugging Face checkpoint on the torch runner", () => {
  for (const name of ["llama-bf16", "mixtral-fp32", "llama3-rope", "qwen3"])
    it(`gives transformers' own logits (fp32, relative L2 ≤ 1e-4): ${name}`, { timeout: 120_000 }, async () => {
      const fixture = fixtures.find((f) => f.spec.name === name)!;
      const { suite } = validateSuite(
        {
          name: "torch-checkpoint",
          models: [{ name, checkpoint: fixture.dir }],
          scenarios: ["prefill"],
          workloads: [{ batch: 1, promptTokens: 8 }],
          runners: ["torch"],
        },
        "torch-checkpoint",
        root,
      );
      const [c] = planSuite(suite, { codeVersion: "test" });
      expect(torchRunner().unsupportedReason(c!, await torchRunner().probe())).toBeUndefined();
      const logits = await torchRunner().forwardLogits(c!, FIXTURE_IDS);
      expect(logits.shape.slice(0, 2)).toEqual([FIXTURE_IDS.length, FIXTURE_IDS[0]!.length]);
      expect(relativeL2(logits.data, Float32Array.from(fixture.logits))).toBeLessThan(1e-4);
    });
});
