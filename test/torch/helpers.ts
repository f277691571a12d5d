// Cases for the torch runner's tests: tiny models through the real suite validation and planner; one runner per test
// file with its own weights cache.
import "../../runners/index.js"; // registers the built-in runners (child processes get no vitest setup)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { TorchRunner } from "../../runners/torch/runner.js";
import type { RepeatOutcome } from "../../src/runner/contract.js";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import type { Case } from "../../src/suite/case.js";
import type { SuiteInput } from "../../src/suite/schema.js";
import { fromRoot } from "../../src/paths.js";

/** The torch tests run the project's .venv (scripts/setup-python.sh, run by `npm run setup` and CI): never skipped. */
export const venvPython = fromRoot(".venv/bin/python");

export const TINY_MODEL = {
  name: "tiny",
  layers: 2,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  ffn: 128,
  vocab: 97,
  maxPositions: 64,
};
export const FAST_PROTOCOL = {
  repeats: 1,
  warmupMinIterations: 2,
  warmupMaxMs: 50,
  minMeasureMs: 30,
  minIterations: 5,
};

export function planCases(input: Partial<SuiteInput>): Case[] {
  const { suite } = validateSuite(
    {
      name: "torch-test",
      runners: ["torch"],
      models: [TINY_MODEL],
      scenarios: ["prefill"],
      workloads: [{ batch: 1, promptTokens: 8 }],
      protocol: FAST_PROTOCOL,
      ...input,
    },
    "torch-test",
  );
  return planSuite(suite, { codeVersion: "test" });
}

export function planCase(input: Partial<SuiteInput>): Case {
  const cases = planCases(input);
  if (cases.length !== 1) throw new Error(`expected one case, planned ${cases.length}`);
  return cases[0]!;
}

export function tokens(batch: number, seq: number, vocab: number, salt = 0): number[][] {
  return Array.from({ length: batch }, (_, b) =>
    Array.from({ length: seq }, (_, s) => (b * 31 + s * 17 + salt * 7 + 3) % vocab),
  );
}

/**
 * One torch runner (one worker per repeat index) for the calling test file, with its own weights cache, closed and
 * removed after the file's tests. Call at the file's top level; the returned function gives the runner inside tests.
 */
export function torchRunnerForFile(label: string): () => TorchRunner {
  const cacheDir = mkdtempSync(join(tmpdir(), `effbench-torch-${label}-`));
  let runner: TorchRunner | undefined;
  beforeAll(() => {
    runner = new TorchRunner({ weightsCacheDir: cacheDir });
  });
  afterAll(async () => {
    await runner?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });
  return () => {
    if (!runner) throw new Error("the torch runner is only there inside tests (beforeAll has not run)");
    return runner;
  };
}

/** The context of repeat 0 with a generous timeout. */
export const repeatContext = () => ({ repeat: 0, signal: new AbortController().signal, timeoutMs: 120_000 });

export function completed(outcome: RepeatOutcome): Extract<RepeatOutcome, { status: "completed" }> {
  if (outcome.status !== "completed") throw new Error(`expected completed, got ${outcome.status}: ${outcome.reason}`);
  return outcome;
}
