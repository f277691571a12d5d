// The torch runner against the real CPU torch of .venv: handshake, sane samples, and every way a worker can go wrong.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TorchWorker, TORCH_PROTOCOL_VERSION } from "../../runners/torch/client.js";
import { TorchRunner } from "../../runners/torch/runner.js";
import { interpreterCandidates } from "../../runners/shared/python.js";
import type { RepeatContext, RepeatOutcome } from "../../src/runner/contract.js";
import { planCase, venvPython } from "./helpers.js";

const cacheDir = mkdtempSync(join(tmpdir(), "effbench-torch-weights-"));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

function context(overrides: Partial<RepeatContext> = {}): RepeatContext & { windows: string[]; pids: number[] } {
  const windows: string[] = [];
  const pids: number[] = [];
  return {
    repeat: 0,
    signal: new AbortController().signal,
    timeoutMs: 60_000,
    onWindow: (p) => windows.push(p),
    onProcess: (pid) => pids.push(pid),
    windows,
    pids,
    ...overrides,
  };
}

function completed(outcome: RepeatOutcome): Extract<RepeatOutcome, { status: "completed" }> {
  if (outcome.status !== "completed") throw new Error(`expected completed, got ${outcome.status}: ${outcome.reason}`);
  return outcome;
}

function latencies(outcome: RepeatOutcome): number[] {
  return completed(outcome).series.find((s) => s.metric === "latency_ms")!.values;
}

describe("the torch worker", () => {
  it("starts with a handshake carrying the protocol version, library versions and its pid", async () => {
    const worker = await TorchWorker.start(venvPython);
    try {
      const hello = worker.hello!;
      expect(hello.protocol).toBe(TORCH_PROTOCOL_VERSION);
      expect(hello.torch).toMatch(/^2\.\d+/);
      expect(hello.transformers).toMatch(/^\d+\.\d+/);
      expect(hello.peft).toMatch(/^0\.\d+/);
      expect(hello.python).toMatch(/^3\.\d+/);
      expect(Array.isArray(hello.cuda)).toBe(true);
      expect(hello.pid).toBe(worker.pid);
    } finally {
      await worker.close();
    }
  });

  it("exits by itself when its stdin closes", async () => {
    const worker = await TorchWorker.start(venvPython);
    const started = Date.now();
    await worker.close(30_000);
    expect(worker.usable).toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("the torch runner", () => {
  let runner: TorchRunner;
  beforeAll(() => {
    runner = new TorchRunner({
      weightsCacheDir: cacheDir,
      // Faults for cases whose names carry these fragments only (worker.py, inject_test_fault).
      env: { EFFBENCH_TEST_FAULT: "exit=crash-me,garbage=garble-me,hang=hang-me,throw=throw-me" },
    });
  });
  afterAll(() => runner.close());

  it("probes the project's .venv and reports the library versions", async () => {
    const probe = await runner.probe();
    expect(probe.available).toBe(true);
    expect(probe.info.pythonSource).toBe(".venv");
    expect(probe.info.torch).toMatch(/^2\./);
  });

  it("runs a prefill case: per-iteration samples, window marks in order, settings and counts", async () => {
    const c = planCase({ scenarios: ["prefill"] });
    const ctx = context();
    const outcome = completed(await runner.runRepeat(c, ctx));
    const values = latencies(outcome);
    expect(values.length).toBeGreaterThanOrEqual(c.protocol.minIterations);
    for (const v of values) expect(v > 0 && v < 10_000).toBe(true);
    expect(outcome.measureWindowMs).toBeGreaterThanOrEqual(c.protocol.minMeasureMs);
    // The window spans the samples: it cannot be shorter than their sum.
    expect(outcome.measureWindowMs! + 1).toBeGreaterThan(values.reduce((a, b) => a + b, 0));
    expect(ctx.windows).toEqual(["measure-start", "measure-end"]);
    expect(ctx.pids).toHaveLength(1);
    expect(outcome.tokensPerIteration).toBe(8);
    expect(outcome.settings).toMatchObject({
      device: "cpu",
      dtype: "fp32",
      attnImplementation: "sdpa",
      architecture: "LlamaForCausalLM",
      timer: "perf_counter",
    });
    const peak = outcome.scalars.find((s) => s.metric === "peak_rss_bytes")!;
    expect(peak.value).toBeGreaterThan(50 * 2 ** 20);
  });

  it("runs a decode case with a KV cache in the same worker", async () => {
    const c = planCase({ scenarios: ["decode"], workloads: [{ batch: 2, promptTokens: 12 }] });
    const ctx = context();
    const outcome = completed(await runner.runRepeat(c, ctx));
    expect(latencies(outcome).length).toBeGreaterThanOrEqual(c.protocol.minIterations);
    expect(outcome.tokensPerIteration).toBe(2);
    expect(outcome.details?.pid).toBe(ctx.pids[0]);
  });

  it("runs generate with TTFT and TPOT per request", async () => {
    const c = planCase({ scenarios: ["generate"], workloads: [{ batch: 1, promptTokens: 8, newTokens: 3 }] });
    const outcome = completed(await runner.runRepeat(c, context()));
    const n = latencies(outcome).length;
    const ttft = outcome.series.find((s) => s.metric === "ttft_ms")!.values;
    const tpot = outcome.series.find((s) => s.metric === "tpot_ms")!.values;
    expect(ttft).toHaveLength(n);
    expect(tpot).toHaveLength(n);
    // A request is its first token plus two more steps.
    for (let i = 0; i < n; i++)
      expect(ttft[i]! + 2 * tpot[i]!).toBeLessThanOrEqual(latencies(outcome)[i]! * 1.001 + 0.01);
    expect(outcome.tokensPerIteration).toBe(3);
  });

  it("times an adapter hot-swap (copy from host memory, set_adapter) followed by a decode step", async () => {
    const c = planCase({
      scenarios: ["adapter-swap"],
      techniques: [{ kind: "dora", rank: 4, targets: "all-linear" }],
      workloads: [{ batch: 1, promptTokens: 8 }],
    });
    const outcome = completed(await runner.runRepeat(c, context()));
    const total = latencies(outcome);
    const swap = outcome.series.find((s) => s.metric === "swap_ms")!.values;
    expect(swap).toHaveLength(total.length);
    for (let i = 0; i < total.length; i++) expect(swap[i]!).toBeLessThan(total[i]!);
    expect(outcome.tokensPerIteration).toBe(1);
  });

  it("times merge_adapter on an unmerged adapter, unmerging untimed between iterations", async () => {
    const c = planCase({ scenarios: ["merge"], techniques: [{ kind: "lora", rank: 4, targets: "all-linear" }] });
    const outcome = completed(await runner.runRepeat(c, context()));
    expect(latencies(outcome).length).toBeGreaterThanOrEqual(c.protocol.minIterations);
    const merged = planCase({ scenarios: ["merge"], techniques: [{ kind: "lora", merged: true }] });
    expect(runner.unsupportedReason(merged, await runner.probe())).toMatch(/unmerged adapter/);
  });

  it("records a case that kills the worker as failed with the exit code, and the next case runs in a new worker", async () => {
    const crash = planCase({ models: [{ name: "crash-me", layers: 1, hidden: 32, heads: 2, ffn: 64, vocab: 50 }] });
    const first = context();
    const outcome = await runner.runRepeat(crash, first);
    expect(outcome.status).toBe("failed");
    expect(outcome.status !== "completed" && outcome.reason).toMatch(/exited with code 3/);
    const next = context();
    completed(await runner.runRepeat(planCase({}), next));
    expect(next.pids[0]).not.toBe(first.pids[0]);
  });

  it("turns a line of garbage on stdout into a clear failure, and the next case proceeds", async () => {
    const garble = planCase({ models: [{ name: "garble-me", layers: 1, hidden: 32, heads: 2, ffn: 64, vocab: 50 }] });
    const outcome = await runner.runRepeat(garble, context());
    expect(outcome.status).toBe("failed");
    expect(outcome.status !== "completed" && outcome.reason).toMatch(/not protocol JSON .*this is not JSON/);
    completed(await runner.runRepeat(planCase({}), context()));
  });

  it("reports a Python exception as failed with its message, keeping the worker", async () => {
    const before = context();
    completed(await runner.runRepeat(planCase({}), before));
    const outcome = await runner.runRepeat(
      planCase({ models: [{ name: "throw-me", layers: 1, hidden: 32, heads: 2, ffn: 64, vocab: 50 }] }),
      context(),
    );
    expect(outcome.status !== "completed" && outcome.reason).toMatch(/RuntimeError: injected fault/);
    const after = context();
    completed(await runner.runRepeat(planCase({}), after));
    expect(after.pids[0]).toBe(before.pids[0]);
  });

  it("kills a worker that exceeds the case timeout and records timed-out", async () => {
    const hang = planCase({ models: [{ name: "hang-me", layers: 1, hidden: 32, heads: 2, ffn: 64, vocab: 50 }] });
    const started = Date.now();
    const outcome = await runner.runRepeat(hang, context({ timeoutMs: 1500 }));
    expect(outcome.status).toBe("timed-out");
    expect(Date.now() - started).toBeLessThan(10_000);
    completed(await runner.runRepeat(planCase({}), context()));
  });

  it("serves each repeat index from its own worker process", async () => {
    const c = planCase({});
    const r0 = context({ repeat: 0 });
    const r1 = context({ repeat: 1 });
    completed(await runner.runRepeat(c, r0));
    completed(await runner.runRepeat(c, r1));
    expect(r0.pids[0]).not.toBe(r1.pids[0]);
  });

  it("says unsupported, with the reason, for what it cannot run here", async () => {
    const probe = await runner.probe();
    expect(runner.unsupportedReason(planCase({ torch: { device: "cuda" } }), probe)).toMatch(/no CUDA device/);
    expect(runner.unsupportedReason(planCase({ scenarios: ["adapter-swap"] }), probe)).toMatch(/adapter-swap/);
    const merged = planCase({ scenarios: ["train-step"], techniques: [{ kind: "lora", merged: true }] });
    expect((await runner.runRepeat(merged, context())).status).toBe("unsupported");
  });
});

describe("finding the interpreter", () => {
  it("tries --python alone when it is given, then BENCH_PYTHON, then .venv and python3", () => {
    expect(interpreterCandidates({ python: "/opt/py" }, { BENCH_PYTHON: "/x" }).map((c) => c.source)).toEqual([
      "--python",
    ]);
    expect(interpreterCandidates({}, { BENCH_PYTHON: "/x" }).map((c) => c.source)).toEqual(["BENCH_PYTHON"]);
    expect(interpreterCandidates({}, {}).map((c) => c.source)).toEqual([".venv", "python3"]);
  });

  it("gives one clear reason when the interpreter is missing, and every case is unsupported with it", async () => {
    const missing = new TorchRunner({ python: "/nonexistent/bin/python" });
    const probe = await missing.probe();
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/\/nonexistent\/bin\/python \(--python\).*ENOENT.*setup-python\.sh/s);
    const outcome = await missing.runRepeat(planCase({}), context());
    expect(outcome).toEqual({ status: "unsupported", reason: probe.reason });
    await missing.close();
  });

  it("explains an interpreter that lacks torch", async () => {
    // A Python without site-packages (-S) cannot import torch, whatever is installed on this machine.
    const wrapper = join(cacheDir, "python-without-site");
    writeFileSync(wrapper, `#!/bin/sh\nexec ${process.env.PYTHON_WITHOUT_TORCH ?? "/usr/bin/python3"} -S "$@"\n`, {
      mode: 0o755,
    });
    const bare = new TorchRunner({ python: wrapper });
    const probe = await bare.probe();
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/ModuleNotFoundError: No module named '(torch|peft|transformers)'/);
  });
});
