import { describe, expect, it } from "vitest";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { inspectCase } from "../../src/inspect.js";
import { doesNotFit } from "../../src/run/execute.js";

const llama2_7b = { name: "llama-2-7b", layers: 32, hidden: 4096, heads: 32, ffn: 11008, vocab: 32000 };

function plan(models: unknown[], techniques: unknown[] = [{ kind: "base" }]) {
  const { suite } = validateSuite(
    { name: "x", models, techniques, scenarios: ["decode"], workloads: [{ promptTokens: 128 }] },
    "x.ts",
  );
  return planSuite(suite, { codeVersion: "t" });
}

describe("bench inspect", () => {
  it("counts Llama-2-7B as transformers does, without allocating weights", () => {
    const started = performance.now();
    const [c] = plan([llama2_7b]);
    const inspection = inspectCase(c!);
    expect(inspection.totalParams).toBe(6_738_415_616);
    expect(inspection.trainableParams).toBe(6_738_415_616);
    expect(inspection.weightBytes).toBe(6_738_415_616 * 4);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("counts LoRA's trainable parameters as the adapters only", () => {
    const [c] = plan([llama2_7b], [{ kind: "lora", rank: 8, alpha: 16, targets: ["q_proj", "v_proj"] }]);
    // q and v: r·(in + out) per module = 8·(4096+4096) each, 2 modules × 32 layers.
    expect(inspectCase(c!).trainableParams).toBe(2 * 32 * 8 * (4096 + 4096));
  });

  it("refuses up front, with the numbers, a CPU case that cannot fit in memory", () => {
    const [c] = plan([
      { ...llama2_7b, name: "llama-2-70b-ish", layers: 80, hidden: 8192, heads: 64, kvHeads: 8, ffn: 28672 },
    ]);
    const reason = doesNotFit(c!, 24 * 2 ** 30);
    expect(reason).toMatch(/does not fit in memory: needs about \d+\.\d GiB .* this machine has 24\.0 GiB/);
    expect(
      doesNotFit(plan([{ name: "tiny", layers: 1, hidden: 64, heads: 4, ffn: 128, vocab: 97 }])[0]!, 24 * 2 ** 30),
    ).toBeUndefined();
  });

  it("counts an ort model over the external-data threshold once (its weights stream to a mapped file), torch on CPU three times", () => {
    // E=64 experts of 2816 over hidden 1024, 4 layers: ~8.9 GB of fp32 weights (bench:moe's largest model).
    const moe = {
      name: "moe-e64",
      layers: 4,
      hidden: 1024,
      heads: 16,
      kvHeads: 4,
      ffn: 2816,
      vocab: 4096,
      maxPositions: 512,
      moe: { experts: 64, topK: 2 },
    };
    const [ort] = plan([moe]);
    expect(doesNotFit(ort!, 16 * 2 ** 30)).toBeUndefined();
    expect(doesNotFit(ort!, 8 * 2 ** 30)).toMatch(/of weights plus up to 1\.8 GiB in the graph while building/);
    const [torchCpu] = planSuite(
      validateSuite(
        {
          name: "s",
          models: [moe],
          scenarios: ["decode"],
          workloads: [{ promptTokens: 8 }],
          runners: ["torch"],
          torch: { device: "cpu" },
        },
        "s",
      ).suite,
      { codeVersion: "t" },
    );
    expect(doesNotFit(torchCpu!, 16 * 2 ** 30)).toMatch(/3 × 8\.\d GiB of weights while building/);
  });
});

describe("bench list --estimate", () => {
  it("sizes the GPU suites: gpu-smoke within 5 minutes, gpu-nightly within 15 minutes per shard of the nightly's 4", async () => {
    const { loadSuite } = await import("../../src/suite/loader.js");
    const { estimateCases } = await import("../../src/suite/estimate.js");
    const minutes = async (path: string) =>
      estimateCases(planSuite((await loadSuite(path)).suite, { codeVersion: "t" })).reduce((s, e) => s + e.totalS, 0) /
      60;
    const smoke = await minutes("suites/gpu-smoke.ts");
    expect(smoke).toBeLessThan(5);
    expect(smoke).toBeGreaterThan(0.5);
    expect((await minutes("suites/gpu-nightly.ts")) / 4).toBeLessThan(15);
  });
});
