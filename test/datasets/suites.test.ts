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
import { workerSeeded } from "../../runners/torch/seeded.js";

const SUITES = [
  "efficientllm-inference",
  "efficientllm-finetune",
  "efficientllm-moe",
  "moe-lora",
  "gpu-nightly",
  "gpu-smoke",
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
    const torch = suite.torch as { mode?: unknown } | undefined;
    const modes = suite.runners.includes("torch") && Array.isArray(torch?.mode) ? torch.mode.length : 1;
    const product =
      suite.models.length *
      suite.techniques.length *
      suite.scenarios.length *
      suite.workloads.length *
      suite.runners.length *
      modes;
    if (suite.exclude.length === 0) expect(cases.length).toBe(product);
    else expect(cases.length).toBeLessThan(product);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
  });
});

describe("the GPU suites", () => {
  it("nightly: 8B, 7B and Mixtral-8x7B shapes in bf16 on CUDA, eager and cuda-graph, worker-seeded", async () => {
    const { suite } = await loadSuite(fromRoot("suites/gpu-nightly.ts"));
    expect(suite.runners).toEqual(["torch"]);
    expect(suite.torch).toMatchObject({ device: "cuda", dtype: "bf16", mode: ["eager", "cuda-graph"] });
    const params = suite.models.map((m) => accountModel(m).totalParams / 1e9);
    expect(params[0]).toBeCloseTo(8.0, 0);
    expect(params[1]).toBeCloseTo(7.6, 0);
    expect(params[2]).toBeGreaterThan(46);
    const cases = planSuite(suite, { codeVersion: "test" });
    expect(cases.every((c) => workerSeeded(c))).toBe(true);
    // Decode at batch 1 and 16, prefill at 1 × 2048 only.
    expect(cases.filter((c) => c.scenario === "prefill").every((c) => c.workload.batch === 1)).toBe(true);
    expect(new Set(cases.filter((c) => c.scenario === "decode").map((c) => c.workload.batch))).toEqual(
      new Set([1, 16]),
    );
  });

  it("smoke: the 8B shape at batch 1, base/LoRA/DoRA/int4 decode in both modes, then the small memory probe", async () => {
    const { suite } = await loadSuite(fromRoot("suites/gpu-smoke.ts"));
    const cases = planSuite(suite, { codeVersion: "test" });
    expect(cases.map((c) => c.name)).toEqual([
      "llama-8b · base · decode · latency b1 p512 · torch",
      "llama-8b · base · decode · latency b1 p512 · torch · cuda-graph",
      "llama-8b · lora r16 α32 qkvogateupdown unmerged · decode · latency b1 p512 · torch",
      "llama-8b · lora r16 α32 qkvogateupdown unmerged · decode · latency b1 p512 · torch · cuda-graph",
      "llama-8b · dora r16 α32 qkvogateupdown unmerged · decode · latency b1 p512 · torch",
      "llama-8b · dora r16 α32 qkvogateupdown unmerged · decode · latency b1 p512 · torch · cuda-graph",
      "llama-8b · int4 b32 sym · decode · latency b1 p512 · torch",
      "llama-8b · int4 b32 sym · decode · latency b1 p512 · torch · cuda-graph",
      "llama-0.2b · base · decode · latency b1 p512 · torch",
      "llama-0.2b · base · decode · latency b1 p512 · torch · cuda-graph",
    ]);
    expect(cases.every((c) => workerSeeded(c))).toBe(true);
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
