// scripts/gpu-smoke.sh's GPU half without a GPU: the carried bundle (scripts/bundle.mjs: the CLI and runners in one
// ESM file, suites pre-bundled, onnxruntime-node stubbed) is what the lent machine runs with a bare Node. Here the
// bundle lists the GPU smoke suite, and runs a tiny CPU torch suite end to end into SQLite through the real torch
// worker — so a broken bundle is found here, not in the few minutes a GPU is lent.
import { execa } from "execa";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { openStore } from "../../src/store/store.js";
import { venvPython } from "../torch/helpers.js";
import { MICRO_MODEL } from "../support/tiny-suite.js";

describe("scripts/gpu-smoke.sh (the carried bundle, on CPU)", () => {
  it("parses as bash", async () => {
    expect((await execa("bash", ["-n", "scripts/gpu-smoke.sh"], { reject: false })).exitCode).toBe(0);
  });

  it(
    "bundles the CLI and suites; the bundle plans the GPU smoke suite and runs a torch suite into SQLite",
    { timeout: 180_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "effbench-gpu-bundle-"));
      // The bundle resolves its external packages (@vscode/sqlite3) from node_modules beside it, as .gpu/ does.
      symlinkSync(resolve("node_modules"), join(dir, "node_modules"));
      const cpuSuite = join(dir, "cpu-torch.ts");
      writeFileSync(
        cpuSuite,
        `import { defineSuite } from "effbench";
export default defineSuite({
  name: "bundle-cpu-torch",
  models: [${JSON.stringify({ ...MICRO_MODEL, moe: { experts: 4, topK: 2 } })}],
  techniques: [{ kind: "base" }],
  scenarios: ["decode"],
  workloads: [{ batch: 1, promptTokens: 8 }],
  runners: ["torch"],
  protocol: { repeats: 1, minMeasureMs: 1, minIterations: 5, maxIterations: 5, warmupMinIterations: 1, warmupMaxMs: 20 },
});
`,
      );
      const bundled = await execa(
        "node",
        ["scripts/bundle.mjs", join(dir, "bench.mjs"), "suites/gpu-smoke.ts", cpuSuite],
        { reject: false },
      );
      expect(bundled.exitCode, bundled.stderr).toBe(0);

      const env = { ...process.env, EFFBENCH_ROOT: process.cwd() };
      const listed = await execa("node", [join(dir, "bench.mjs"), "list", join(dir, "suites/gpu-smoke.mjs")], {
        env,
        reject: false,
      });
      expect(listed.exitCode, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(/llama-8b · base · decode · latency b1 p512 · torch · cuda-graph/);
      expect(listed.stdout).toMatch(/llama-8b · int4 .* decode/);

      const db = join(dir, "gpu.db");
      const ran = await execa(
        "node",
        [join(dir, "bench.mjs"), "run", join(dir, "suites/cpu-torch.mjs"), "--db", db, "--python", venvPython],
        { env, reject: false },
      );
      expect(ran.exitCode, ran.stdout + ran.stderr).toBe(0);
      const store = await openStore(db, { readonly: true });
      try {
        const [result] = await store.loadResults();
        expect(result).toMatchObject({ status: "completed" });
        expect(result!.metrics.find((m) => m.name === "latency_p50_ms")?.value).toBeGreaterThan(0);
      } finally {
        await store.close();
      }
      rmSync(dir, { recursive: true, force: true }); // kept when the test failed, to look at
    },
  );
});
