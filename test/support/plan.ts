// Plans cases of a small suite given as an object, through the real suite validation and planner (runner: ort unless
// the input says otherwise): for tests that need a `Case` without a suite file.
import "../../runners/index.js"; // registers the built-in runners (child processes get no vitest setup)
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import type { Case } from "../../src/suite/case.js";
import type { SuiteInput } from "../../src/suite/schema.js";

const MODEL = { name: "tiny", layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, maxPositions: 64 };

export function planTestCases(input: Partial<SuiteInput>): Case[] {
  const { suite } = validateSuite(
    { name: "test", models: [MODEL], scenarios: ["prefill"], workloads: [{ batch: 1, promptTokens: 8 }], ...input },
    "test",
  );
  return planSuite(suite, { codeVersion: "test" });
}

export function planTestCase(input: Partial<SuiteInput>): Case {
  const cases = planTestCases(input);
  if (cases.length !== 1) throw new Error(`expected one case, planned ${cases.length}`);
  return cases[0]!;
}
