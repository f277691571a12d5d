// Memory per case: on a GPU each case gets a fresh torch worker, so its device memory is its own whatever ran before.
// Proved here on the CPU against the fake NVML library, which lists this process's children with their host RSS as
// their device memory: a small case's "device" memory is the same (within 5%) with or without a large case before it.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunnerPool } from "../../src/runner/registry.js";
import { executeCases } from "../../src/run/execute.js";
import { openStore } from "../../src/store/store.js";
import type { Case } from "../../src/suite/case.js";
import { buildNative, FAKE_NVML } from "../native/native-build.js";
import { planCases, venvPython } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "effbench-memory-per-case-"));
const saved = { ...process.env };

beforeAll(() => {
  buildNative();
  const script = join(dir, "nvml.txt");
  writeFileSync(
    script,
    [
      "0.uuid GPU-memory-per-case",
      "0.name Fake H200",
      `0.processes_children_of ${process.pid}`,
      "0.memory_used 1000000000",
    ].join("\n"),
  );
  process.env.EFFBENCH_NVML_LIB = FAKE_NVML;
  process.env.EFFBENCH_FAKE_NVML_SCRIPT = script;
});
afterAll(() => {
  for (const key of ["EFFBENCH_NVML_LIB", "EFFBENCH_FAKE_NVML_SCRIPT", "EFFBENCH_TORCH_WORKER_PER_CASE"])
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
});

// device "auto" resolves to the CPU here while the harness samples NVML as for a GPU case.
const protocol = {
  repeats: 1,
  warmupMinIterations: 2,
  warmupMaxMs: 50,
  minMeasureMs: 300,
  minIterations: 5,
  minEnergyWindowMs: 300,
};
const small = planCases({
  models: [{ name: "small", layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, maxPositions: 64 }],
  scenarios: ["decode"],
  workloads: [{ batch: 1, promptTokens: 16 }],
  torch: { device: "auto" },
  protocol,
})[0]!;
const large = planCases({
  models: [{ name: "large", layers: 4, hidden: 512, heads: 8, ffn: 2048, vocab: 32000, maxPositions: 256 }],
  scenarios: ["decode"],
  workloads: [{ batch: 4, promptTokens: 128 }],
  torch: { device: "auto" },
  protocol,
})[0]!;

/** Runs the cases in order through the harness and returns the last one's process memory (avg) from NVML. */
async function processMemoryOfLast(cases: Case[], label: string): Promise<number> {
  const store = await openStore(join(dir, `${label}.db`));
  const runners = new RunnerPool({ python: venvPython });
  try {
    const runId = await store.beginRun({
      suiteName: label,
      suitePath: label,
      suiteHash: label,
      resolvedSuite: {},
      gitCommit: null,
      codeVersion: "test",
      argv: [],
    });
    const summaries = await executeCases(cases, { store, runId, runners });
    expect(summaries.map((s) => s.status)).toEqual(cases.map(() => "completed"));
    const results = await store.loadResults({ runId });
    const last = results.find((r) => r.caseId === cases.at(-1)!.id)!;
    const metric = last.metrics.find((m) => m.name === "gpu_process_memory_avg_bytes")!;
    expect(metric.value, metric.reason ?? "").not.toBeNull();
    expect(last.settings).toMatchObject({ worker: expect.any(String) });
    return metric.value!;
  } finally {
    await runners.close();
    await store.close();
  }
}

describe("memory per case (fake NVML: host RSS stands in for device memory)", () => {
  it("a small case's memory is the same whether a large case ran before it or not, with a worker per case", async () => {
    // Forced on the CPU (on a GPU it is the default). Measured with the worker kept across cases instead (the CPU
    // default), the small case after the large one read 401 MiB against 362 MiB alone: what the large case left.
    process.env.EFFBENCH_TORCH_WORKER_PER_CASE = "1";
    const alone = await processMemoryOfLast([small], "alone");
    const after = await processMemoryOfLast([large, small], "after-large");
    console.log(
      `small case, fresh worker per case: alone ${(alone / 2 ** 20).toFixed(1)} MiB, after the large case ${(after / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(Math.abs(after / alone - 1)).toBeLessThan(0.05);
  }, 600_000);
});
