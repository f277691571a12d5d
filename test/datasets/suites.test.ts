// The reference suites load, validate and plan. A technique whose file has not landed yet
// is reported as pending, not as a failure; any other problem — a parameter the technique does not
// accept, a model the schema rejects — fails.
import { describe, expect, it } from "vitest";
import { loadSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { fromRoot } from "../../src/paths.js";
import { accountModel } from "../../src/model/accounting.js";
import { modelSchema, type SuiteInput } from "../../src/suite/schema.js";
import { handCount } from "./param-arithmetic.js";

const SUITES = [
  "efficientllm-inference",
  "efficientllm-finetune",
  "efficientllm-moe",
  "moe-lora",
  "gpu-nightly",
] as const;

/** The unknown technique kinds of a suite error, or undefined when the error has any other kind of issue. */
function onlyUnregisteredTechniques(message: string): string[] | undefined {
  const issues = message.split("\n").slice(1);
  const kinds = issues.map((line) => /\.kind: unknown technique "([^"]+)"/.exec(line)?.[1]);
  return kinds.every((kind) => kind !== undefined) ? [...new Set(kinds as string[])] : undefined;
}

describe.each(SUITES)("suites/%s.ts", (name) => {
  it("loads and plans a case for every model × technique × scenario × workload × runner", async () => {
    let loaded;
    try {
      loaded = await loadSuite(fromRoot(`suites/${name}.ts`));
    } catch (error) {
      const pending = onlyUnregisteredTechniques((error as Error).message);
      if (!pending) throw error;
      console.log(`suites/${name}.ts: pending techniques not registered yet: ${pending.join(", ")}`);
      return;
    }
    const { suite } = loaded;
    const cases = planSuite(suite, { codeVersion: "test" });
    expect(cases.length).toBe(
      suite.models.length *
        suite.techniques.length *
        suite.scenarios.length *
        suite.workloads.length *
        suite.runners.length,
    );
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
  });
});

describe("the nightly GPU suite", () => {
  it("runs on CUDA in bf16 with the torch runner and stays near 1B parameters", async () => {
    const { default: suite } = (await import("../../suites/gpu-nightly.js")) as { default: SuiteInput };
    expect(suite.runners).toEqual(["torch"]);
    expect(suite.torch).toMatchObject({ device: "cuda", dtype: "bf16" });
    expect(suite.models).toHaveLength(1);
    const params = accountModel(modelSchema.parse(suite.models[0])).totalParams;
    expect(params).toBeGreaterThan(0.9e9);
    expect(params).toBeLessThan(1.5e9);
  });
});

describe("suite loading reports", () => {
  it("tells a pending technique from another error", () => {
    expect(
      onlyUnregisteredTechniques(
        'x: the suite is not valid —\n  x › techniques[1].kind: unknown technique "lora" — known: base',
      ),
    ).toEqual(["lora"]);
    expect(
      onlyUnregisteredTechniques(
        "x: the suite is not valid —\n  x › techniques[1].rank: expected a positive integer, got 0",
      ),
    ).toBeUndefined();
  });
});

describe("the EfficientLLM MoE suite", () => {
  it("pairs the dense model with MoEs whose active parameters equal it up to the router, and the ×8 upcycled one above it", async () => {
    const { default: suite } = (await import("../../suites/efficientllm-moe.js")) as { default: SuiteInput };
    const models = new Map(suite.models.map((m) => [m.name, modelSchema.parse(m)]));
    const dense = handCount(models.get("qwen2.5-1.5b")!);
    for (const name of ["qwen2.5-1.5b-moe-8x-top2-equal-active", "qwen2.5-1.5b-moe-64x-top6-2shared-equal-active"]) {
      const model = models.get(name)!;
      const routerParams = model.layers * model.hidden * model.moe!.experts;
      expect(handCount(model).activeParams - routerParams, name).toBe(dense.activeParams);
    }
    const upcycled = handCount(models.get("qwen2.5-1.5b-moe-8x-top2")!);
    expect(upcycled.activeParams).toBeGreaterThan(dense.activeParams);
  });
});
