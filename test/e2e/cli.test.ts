// End to end: the real CLI on a small suite, then the DB read back.
import { execa } from "execa";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { openStore } from "../../src/store/store.js";
import { writeTinySuite } from "../support/tiny-suite.js";

const bench = resolve("bin/bench.js");

function tinySuite(dir: string, extra = ""): string {
  return writeTinySuite(dir, {
    name: "e2e-tiny",
    workloads: [{ batch: 1, promptTokens: 16 }],
    protocol: { repeats: 2, minMeasureMs: 50, minIterations: 10, warmupMaxMs: 50 },
    extra,
  });
}

describe("bench run", () => {
  it(
    "runs a suite from a folder that has no node_modules (the ort children find tsx by path)",
    { timeout: 120_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "effbench-cwd-"));
      const suite = writeTinySuite(dir, { name: "elsewhere", scenarios: ["decode"] });
      const result = await execa("node", [bench, "run", suite, "--db", "r.db"], { cwd: dir, reject: false });
      expect(result.exitCode, result.stdout + result.stderr).toBe(0);
      const store = await openStore(join(dir, "r.db"), { readonly: true });
      expect((await store.loadResults()).map((r) => r.status)).toEqual(["completed"]);
      await store.close();
    },
  );

  it("runs a small suite end to end and stores results, samples and metrics", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-e2e-"));
    const db = join(dir, "r.db");
    const result = await execa("node", [bench, "run", tinySuite(dir), "--db", db, "--json"], { reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as Array<{ status: string; p50Ms: number }>;
    expect(summary).toHaveLength(2);
    for (const s of summary) {
      expect(s.status).toBe("completed");
      expect(s.p50Ms).toBeGreaterThan(0);
    }
    const store = await openStore(db, { readonly: true });
    try {
      const results = await store.loadResults();
      expect(results).toHaveLength(2);
      for (const r of results) {
        const names = r.metrics.map((m) => m.name);
        for (const required of [
          "latency_p50_ms",
          "latency_p90_ms",
          "latency_p99_ms",
          "tokens_per_s",
          "peak_rss_bytes",
          "params_total",
        ])
          expect(names, `${r.caseName} lacks ${required}`).toContain(required);
        const p50 = r.metrics.find((m) => m.name === "latency_p50_ms")!;
        expect(p50.ciLow!).toBeLessThanOrEqual(p50.value!);
        expect(p50.ciHigh!).toBeGreaterThanOrEqual(p50.value!);
        const samples = await store.loadSamples(r.resultId, "latency_ms");
        expect(samples.length).toBeGreaterThanOrEqual(20);
      }
    } finally {
      await store.close();
    }
  });

  it("exits 2 with file, path and fix for a wrong field, without a stack trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-e2e-"));
    const path = join(dir, "bad.ts");
    writeFileSync(
      path,
      `import { defineSuite } from "effbench";
export default defineSuite({ name: "bad", models: [{ name: "m", layers: 1, hidden: 64, heads: 0, ffn: 128, vocab: 97 }], scenarios: ["prefill"], workloads: [{ promptTokens: 8 }] });`,
    );
    const result = await execa("node", [bench, "run", path, "--db", join(dir, "r.db")], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/bad\.ts › models\[0\]\.heads: .*got 0/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("records a case that throws inside the runner as failed and completes the others", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-e2e-"));
    const db = join(dir, "r.db");
    const result = await execa("node", [bench, "run", tinySuite(dir), "--db", db, "--json"], {
      reject: false,
      env: { EFFBENCH_TEST_FAULT: "throw", EFFBENCH_TEST_FAULT_FILTER: "decode" },
    });
    expect(result.exitCode).toBe(1);
    const summary = JSON.parse(result.stdout) as Array<{ name: string; status: string; reason?: string }>;
    expect(summary.find((s) => s.name.includes("decode"))).toMatchObject({
      status: "failed",
      reason: expect.stringContaining("injected fault"),
    });
    expect(summary.find((s) => s.name.includes("prefill"))?.status).toBe("completed");
    const store = await openStore(db, { readonly: true });
    try {
      expect((await store.loadResults()).map((r) => r.status).sort()).toEqual(["completed", "failed"]);
    } finally {
      await store.close();
    }
  });
});

describe("bench run with cases refused before any runner loads", () => {
  it("records a runner's statically refused cases without starting it (torch's Python is never looked for)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-static-"));
    const suite = join(dir, "static.ts");
    writeFileSync(
      suite,
      `import { defineSuite } from "effbench";
export default defineSuite({
  name: "static",
  models: [{ name: "m", layers: 1, hidden: 64, heads: 4, ffn: 128, vocab: 300 }],
  techniques: [{ kind: "quant", type: "q8_0" }],
  scenarios: ["decode"],
  workloads: [{ promptTokens: 8 }],
  runners: ["torch"],
});
`,
    );
    const db = join(dir, "r.db");
    // A Python that does not exist: loading the torch runner would record its probe failure instead of the reason.
    const result = await execa("node", [bench, "run", suite, "--db", db, "--python", join(dir, "no-python")], {
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const store = await openStore(db, { readonly: true });
    const [row] = await store.loadResults();
    expect(row).toMatchObject({ status: "unsupported", reason: expect.stringMatching(/family gguf/) });
    expect((await store.loadEnv(1)).runners).toEqual({});
    await store.close();
  });
});
