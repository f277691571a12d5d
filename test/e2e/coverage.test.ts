// suites/coverage.ts: every technique on tiny models runs through the real CLI, with fidelity vs the fp32 base.
import { execa } from "execa";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { openStore } from "../../src/store/store.js";

describe("suites/coverage.ts", () => {
  it("runs every technique and fills fidelity for each one that changes the model", async () => {
    const db = join(mkdtempSync(join(tmpdir(), "effbench-coverage-")), "cov.db");
    const result = await execa("node", [resolve("bin/bench.js"), "run", "suites/coverage.ts", "--db", db], {
      reject: false,
    });
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    const store = await openStore(db, { readonly: true });
    try {
      const results = await store.loadResults();
      expect(results.length).toBe(38);
      const MOLE = /· (mixlora|loramoe|mola|xlora|smora) /;
      for (const r of results) {
        // Mixtures of LoRA experts adapt dense models: on the MoE model they are unsupported, with the reason.
        if (r.caseName.startsWith("cov-moe") && MOLE.test(r.caseName)) {
          expect(r.status, r.caseName).toBe("unsupported");
          expect(r.reason).toMatch(/adapts a dense model; model cov-moe has a moe block/);
          continue;
        }
        expect(r.status, `${r.caseName}: ${r.reason}`).toBe("completed");
        const rel = r.metrics.find((m) => m.name === "rel_l2_error");
        if (r.technique === "base") expect(rel).toBeUndefined();
        else {
          expect(rel?.value, `${r.caseName}: ${rel?.reason}`).not.toBeNull();
          expect(r.metrics.find((m) => m.name === "top1_agreement")?.value).toBeGreaterThan(0);
        }
      }
      const byName = (name: string) =>
        results
          .find((r) => r.caseName.startsWith(`cov-llama · ${name} ·`))!
          .metrics.find((m) => m.name === "rel_l2_error")!.value!;
      // fp16 weights are a rounding away from fp32; int8 and int4 lose more, int4 the most.
      expect(byName("fp16")).toBeLessThan(0.01);
      expect(byName("int8")).toBeGreaterThan(byName("fp16"));
      expect(byName("int4 b32 sym")).toBeGreaterThan(byName("int8"));
      // Each top-k MoLE design stores its routing load (max/mean ≥ 1); dense soft routing (LoRAMoE, X-LoRA) has none.
      const metric = (name: string, metricName: string) =>
        results.find((r) => r.caseName.startsWith(`cov-llama · ${name}`))!.metrics.find((m) => m.name === metricName);
      for (const name of ["mixlora E4 top2", "mixlora E4 top1", "mola E2/4 top2", "smora r16 top4"])
        expect(metric(name, "routing_max_mean_load")?.value, name).toBeGreaterThanOrEqual(1);
      for (const name of ["loramoe E4 soft", "xlora E4"])
        expect(metric(name, "routing_max_mean_load"), name).toBeUndefined();
      // Merging does not change what an adapter computes.
      expect(byName("lora r8 α16 all-linear merged")).toBeCloseTo(byName("lora r8 α16 all-linear unmerged"), 4);
    } finally {
      await store.close();
    }
  }, 240_000); // 38 cases, each a child process plus a fidelity pass (~95 s on the 2-core development VM)
});
