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
    const result = await execa("node", [resolve("bin/bench.js"), "run", "suites/coverage.ts", "--db", db], { reject: false });
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    const store = await openStore(db, { readonly: true });
    try {
      const results = await store.loadResults();
      expect(results.length).toBe(26);
      for (const r of results) {
        expect(r.status, `${r.caseName}: ${r.reason}`).toBe("completed");
        const rel = r.metrics.find((m) => m.name === "rel_l2_error");
        if (r.technique === "base") expect(rel).toBeUndefined();
        else {
          expect(rel?.value, `${r.caseName}: ${rel?.reason}`).not.toBeNull();
          expect(r.metrics.find((m) => m.name === "top1_agreement")?.value).toBeGreaterThan(0);
        }
      }
      const byName = (name: string) => results.find((r) => r.caseName.startsWith(`cov-llama · ${name} ·`))!.metrics.find((m) => m.name === "rel_l2_error")!.value!;
      // fp16 weights are a rounding away from fp32; int8 and int4 lose more, int4 the most.
      expect(byName("fp16")).toBeLessThan(0.01);
      expect(byName("int8")).toBeGreaterThan(byName("fp16"));
      expect(byName("int4 b32 sym")).toBeGreaterThan(byName("int8"));
      // Merging does not change what an adapter computes.
      expect(byName("lora r8 α16 all-linear merged")).toBeCloseTo(byName("lora r8 α16 all-linear unmerged"), 4);
    } finally {
      await store.close();
    }
  });
});
