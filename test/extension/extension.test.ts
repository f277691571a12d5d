// A runner and a technique registered in one line each from test code plan, run and store through the real CLI path
// (`bench run` on a suite file, then `bench report`), as a new runner or technique would: nothing in the core names
// them. The runner measures real work (a matrix-vector product in this process), timed by the shared measure loop.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { registerRunner } from "../../src/runner/registry.js";
import { registerTechnique } from "../../src/techniques/registry.js";
import type { RunnerDefinition } from "../../src/runner/contract.js";
import type { Technique } from "../../src/techniques/technique.js";
import { main } from "../../src/cli/main.js";
import { openStore } from "../../src/store/store.js";
import { measureLoop } from "../../runners/shared/measure-loop.js";
import { writeTinySuite } from "../support/tiny-suite.js";

const scaledParams = z.object({ kind: z.literal("test-scaled"), factor: z.number().positive().default(2) }).strict();

/** Scales the work of a matrix-vector product: a technique only the test runner implements. */
const scaledTechnique: Technique<typeof scaledParams> = {
  kind: "test-scaled",
  family: "test-scaling",
  params: scaledParams,
  label: (p) => `scaled ×${p.factor}`,
  unsupportedReason: (_p, scenario) => (scenario === "decode" ? undefined : "test-scaled times decode only"),
};

const settingsSchema = z.object({ rows: z.number().int().positive().default(64) }).strict();
type Settings = z.output<typeof settingsSchema>;

const matvecRunner: RunnerDefinition<Settings> = {
  name: "test-matvec",
  description: "a matrix-vector product in the test process (test only)",
  settingsSchema,
  deviceClass: () => "cpu",
  onHost: () => true,
  unsupportedReason: (c) => (c.technique.kind === "lora" ? "test-matvec has no adapters" : undefined),
  estimate: { startS: 0, device: () => "cpu" },
  async load() {
    return {
      name: "test-matvec",
      probe: async () => ({ available: true, info: { engine: "javascript" } }),
      unsupportedReason: () => undefined,
      close: async () => {},
      async runRepeat(c, ctx) {
        const s = c.settings as Settings;
        const factor =
          (c.technique.kind as string) === "test-scaled" ? (c.technique as unknown as { factor: number }).factor : 1;
        const cols = c.model.hidden * factor;
        const matrix = Float64Array.from({ length: s.rows * cols }, (_, i) => Math.sin(i));
        const vector = Float64Array.from({ length: cols }, (_, i) => Math.cos(i));
        const out = new Float64Array(s.rows);
        ctx.onProcess?.(process.pid);
        const { latencyMs, windowMs } = await measureLoop(async () => {
          for (let r = 0; r < s.rows; r++) {
            let sum = 0;
            for (let k = 0; k < cols; k++) sum += matrix[r * cols + k]! * vector[k]!;
            out[r] = sum;
          }
        }, c.protocol);
        return {
          status: "completed",
          series: [{ metric: "latency_ms", unit: "ms", values: latencyMs }],
          scalars: [],
          tokensPerIteration: c.workload.batch,
          measureWindowMs: windowMs,
          settings: { rows: s.rows, cols },
        };
      },
    };
  },
};

registerRunner(matvecRunner);
registerTechnique(scaledTechnique);

const dir = mkdtempSync(join(tmpdir(), "effbench-extension-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a runner and a technique registered from outside the core", () => {
  it("plan, run, store and report through `bench run` and `bench report`", async () => {
    const suite = writeTinySuite(dir, {
      scenarios: ["decode"],
      extra: `runners: ["test-matvec"], "test-matvec": { rows: 32 }, techniques: [{ kind: "base" }, { kind: "test-scaled", factor: 4 }, { kind: "lora", rank: 4 }]`,
    });
    const db = join(dir, "results.db");
    expect(await main(["run", suite, "--db", db])).toBe(0);
    const store = await openStore(db);
    try {
      const results = await store.loadResults();
      const byTechnique = new Map(results.map((r) => [r.technique, r]));
      expect([...byTechnique.keys()].sort()).toEqual(["base", "lora", "test-scaled"]);
      expect(byTechnique.get("lora")!.status).toBe("unsupported");
      expect(byTechnique.get("lora")!.reason).toBe("test-matvec has no adapters");
      const base = byTechnique.get("base")!;
      const scaled = byTechnique.get("test-scaled")!;
      for (const r of [base, scaled]) {
        expect(r.status).toBe("completed");
        expect(r.runner).toBe("test-matvec");
        expect(r.config).toEqual({ protocol: expect.any(Object), "test-matvec": { rows: 32 } });
        expect(JSON.parse(r.caseKey).deviceClass).toBe("cpu");
      }
      expect(scaled.settings).toEqual({ rows: 32, cols: 64 * 4 });
      const p50 = (r: typeof base) => r.metrics.find((m) => m.name === "latency_p50_ms")!.value!;
      expect(p50(base)).toBeGreaterThan(0);
      expect(p50(scaled)).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
    expect(await main(["report", db, "-o", join(dir, "site")])).toBe(0);
  });

  it("validates the registered runner's settings like the built-in ones", async () => {
    const suite = writeTinySuite(dir, {
      file: "bad.ts",
      extra: `runners: ["test-matvec"], "test-matvec": { rows: -1 }`,
    });
    expect(await main(["list", suite])).toBe(2);
  });
});
