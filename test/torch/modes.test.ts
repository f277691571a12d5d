// Execution modes on the CPU torch runner: `compile` (torch.compile of the forward, decode over a static cache whose
// counters are reset in place every step, as the cuda-graph path does) runs and computes eager's logits; compile time
// is its own metric; `cuda-graph` is unsupported on the CPU with the reason.
import { describe, expect, it } from "vitest";
import { relativeL2 } from "../../src/model/fidelity.js";
import { completed, planCases, repeatContext, torchRunnerForFile } from "./helpers.js";

const torchRunner = torchRunnerForFile("modes");
const model = { name: "tiny-m", layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, maxPositions: 64 };

const decodeCases = (scenario: string) =>
  planCases({
    models: [model],
    scenarios: [scenario as never],
    workloads: [{ batch: 2, promptTokens: 12 }],
    torch: { device: "cpu", mode: ["eager", "compile", "cuda-graph"] },
    protocol: { repeats: 1, warmupMinIterations: 2, warmupMaxMs: 50, minMeasureMs: 30, minIterations: 5 },
  });

describe("torch execution modes (CPU)", () => {
  // Decode only: prefill runs the same compiled forward (measured: prefill 2.2e-7, decode 3.3e-7 relative L2).
  it("compile: decode logits equal eager's (relative L2 ≤ 1e-4)", async () => {
    for (const scenario of ["decode"]) {
      const [eager, compiled] = decodeCases(scenario);
      const a = await torchRunner().stepLogits(eager!);
      const b = await torchRunner().stepLogits(compiled!);
      expect(b.shape).toEqual([2, model.vocab]);
      const rel = relativeL2(b.data, a.data);
      console.log(`${scenario}: compile vs eager logits, relative L2 ${rel.toExponential(2)}`);
      expect(rel).toBeLessThan(1e-4);
    }
  }, 600_000);

  it("compile: a timed decode case records its compile time apart from warm-up and timing", async () => {
    const [eager, compiled] = decodeCases("decode");
    const outcome = completed(await torchRunner().runRepeat(compiled!, repeatContext()));
    expect(outcome.settings).toMatchObject({ mode: "compile", compile: expect.stringMatching(/cold inductor cache/) });
    const compileMs = outcome.scalars.find((s) => s.metric === "compile_ms")!.value!;
    const latency = outcome.series.find((s) => s.metric === "latency_ms")!.values;
    const median = [...latency].sort((x, y) => x - y)[Math.floor(latency.length / 2)]!;
    console.log(`compile decode: compile_ms ${compileMs.toFixed(0)}, step median ${median.toFixed(3)} ms`);
    // The compile is not among the timed iterations: every one is far below it.
    expect(Math.max(...latency)).toBeLessThan(compileMs / 10);
    const eagerOutcome = completed(await torchRunner().runRepeat(eager!, repeatContext()));
    expect(eagerOutcome.settings).toMatchObject({ mode: "eager" });
    expect(eagerOutcome.scalars.find((s) => s.metric === "compile_ms")).toBeUndefined();
  }, 600_000);

  it("cuda-graph: unsupported on the CPU, with the reason", async () => {
    const graph = decodeCases("decode")[2]!;
    expect(graph.name).toMatch(/ · cuda-graph$/);
    const outcome = await torchRunner().runRepeat(graph, repeatContext());
    expect(outcome).toMatchObject({ status: "unsupported", reason: expect.stringMatching(/need a CUDA device/) });
  }, 120_000);

  it("a train step in compile mode is unsupported with the reason, never silently eager", async () => {
    const c = planCases({
      models: [model],
      scenarios: ["train-step"],
      torch: { device: "cpu", mode: "compile" },
    })[0]!;
    const outcome = await torchRunner().runRepeat(c, repeatContext());
    expect(outcome).toMatchObject({ status: "unsupported", reason: expect.stringMatching(/not compiled/) });
  }, 120_000);
});
