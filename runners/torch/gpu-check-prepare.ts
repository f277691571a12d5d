// Prepares runners/torch/gpu_check.py for a GPU machine without Node: plans a short CUDA suite (bf16 base, LoRA
// unmerged, DoRA, int4, generate, train-steps full vs LoRA vs DoRA), writes each case's weights and the CPU torch
// logits the CUDA fp32 logits must match. Usage: node --import tsx runners/torch/gpu-check-prepare.ts [dir]
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { fromRoot } from "../../src/paths.js";
import type { Case } from "../../src/suite/case.js";
import type { SuiteInput } from "../../src/suite/schema.js";
import { TorchRunner } from "./runner.js";
import { registerRunner } from "../../src/runner/registry.js";
import { torchRunnerDefinition } from "./index.js";
import { ensureWeightsFile } from "./weights-file.js";

registerRunner(torchRunnerDefinition);

const dir = process.argv[2] ?? fromRoot(".cache/torch-gpu");
mkdirSync(dir, { recursive: true });
const model = {
  name: "gpu-small",
  layers: 2,
  hidden: 256,
  heads: 4,
  kvHeads: 2,
  ffn: 512,
  vocab: 1024,
  maxPositions: 1024,
};
const protocol = { repeats: 1, warmupMinIterations: 3, warmupMaxMs: 300, minMeasureMs: 300, minIterations: 10 };
const plan = (input: Partial<SuiteInput>): Case[] =>
  planSuite(
    validateSuite(
      {
        name: "torch-gpu-check",
        runners: ["torch"],
        models: [model],
        protocol,
        scenarios: ["prefill"],
        workloads: [{ batch: 1, promptTokens: 128, newTokens: 8 }],
        ...input,
      },
      "gpu-check",
    ).suite,
    { codeVersion: "gpu-check" },
  );
const cuda = { device: "cuda", dtype: "bf16" } as const;
const cases = [
  ...plan({ torch: cuda, scenarios: ["prefill", "decode", "generate"] }),
  ...plan({
    torch: cuda,
    techniques: [
      { kind: "lora", rank: 16, targets: "all-linear" },
      { kind: "dora", rank: 16, targets: "all-linear" },
      { kind: "int4", blockSize: 32 },
    ],
    scenarios: ["prefill", "decode"],
  }),
  ...plan({
    torch: cuda,
    techniques: [
      { kind: "base" },
      { kind: "lora", rank: 16, targets: "all-linear" },
      { kind: "dora", rank: 16, targets: "all-linear" },
      { kind: "lora", rank: 16, targets: "all-linear", base: "int4" },
    ],
    scenarios: ["train-step"],
    workloads: [{ batch: 4, promptTokens: 256 }],
  }),
];
const weightsOf = (c: Case) => basename(ensureWeightsFile(c, dir));
const ids = [Array.from({ length: 16 }, (_, i) => (i * 37 + 5) % model.vocab)];
const runner = new TorchRunner();
const logits = [];
for (const technique of [{ kind: "base" }, { kind: "dora", rank: 8, targets: "all-linear" }] as NonNullable<
  SuiteInput["techniques"]
>) {
  const [gpuCase] = plan({ torch: { device: "cuda", dtype: "fp32" }, techniques: [technique] });
  const cpu = await runner.forwardLogits({ ...gpuCase!, settings: { ...gpuCase!.settings, device: "cpu" } }, ids);
  logits.push({ case: gpuCase, weights: weightsOf(gpuCase!), inputIds: ids, cpuLogits: Array.from(cpu.data) });
}
await runner.close();
writeFileSync(
  join(dir, "plan.json"),
  JSON.stringify({ cases: cases.map((c) => ({ case: c, weights: weightsOf(c) })), logits }),
);
console.log(`${cases.length} cases, ${logits.length} logits checks in ${dir}`);
