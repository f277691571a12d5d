// Shared by the store tests and the concurrent-writer child: real planned cases and a result record for them.
import "../../runners/index.js"; // registers the built-in runners (child processes get no vitest setup)
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import type { Case } from "../../src/suite/case.js";
import type { ResultRecord, RunInfo } from "../../src/store/store.js";

export function plannedCases(): Case[] {
  const { suite } = validateSuite(
    {
      name: "store-test",
      models: [{ name: "tiny", layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97 }],
      scenarios: ["prefill", "decode"],
      workloads: [{ promptTokens: 8 }],
    },
    "store-test.ts",
  );
  return planSuite(suite, { codeVersion: "0.1.0+test" });
}

export const runInfo: RunInfo = {
  suiteName: "store-test",
  suitePath: "suites/store-test.ts",
  suiteHash: "abc123",
  resolvedSuite: { name: "store-test", protocol: { repeats: 2 } },
  gitCommit: "0123456789abcdef",
  codeVersion: "0.1.0+test",
  argv: ["run", "suites/store-test.ts", "--db", "x.db"],
};

/** A completed result with `perRepeat` latency samples in each of `repeats` repeats (values depend on `salt`). */
export function completedRecord(c: Case, repeats = 2, perRepeat = 50, salt = 0): ResultRecord {
  return {
    case: c,
    status: "completed",
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:05.000Z",
    repeats,
    settings: { intraOpThreads: 1, allowSpinning: false },
    details: { note: "from the test" },
    samples: Array.from({ length: repeats }, (_, repeat) => ({
      repeat,
      metric: "latency_ms",
      values: Array.from({ length: perRepeat }, (_, i) => 1 + repeat * 0.01 + i * 1e-4 + salt),
    })),
    samplerSeries: [{ repeat: 0, metric: "sampler.rss_bytes", tMs: [0, 10, 20], values: [1e8, 1.1e8, null] }],
    metrics: [
      { name: "latency_p50_ms", value: 1.0025, unit: "ms", ciLow: 1.001, ciHigh: 1.004 },
      { name: "energy_j", value: null, unit: "J", reason: "no RAPL on this machine" },
      { name: "pcu_percent", value: 40, unit: "%", label: "a duty cycle" },
    ],
    validity: [{ flag: "unstable", detail: "coefficient of variation 0.2 exceeds 0.1" }],
  };
}
