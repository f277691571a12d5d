// Case identity: settings that change what is measured (torch dtype and execution mode, ort threads…) join the case
// key, defaults left out so that the ids of every case planned at default settings stay as they were; `bench compare`
// lists apart cases that differ only in such settings instead of pairing them. (The shipped suites' ids and config
// hashes are pinned by pinned-ids.test.ts.)
import { execa } from "execa";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { writeTinySuite, MICRO_MODEL } from "../support/tiny-suite.js";

const bench = resolve("bin/bench.js");
const plan = (suite: Record<string, unknown>) =>
  planSuite(
    validateSuite(
      { name: "s", scenarios: ["decode"], workloads: [{ promptTokens: 8 }], models: [MICRO_MODEL], ...suite },
      "s.ts",
      ".",
    ).suite,
    {
      codeVersion: "test",
    },
  );

describe("case identity", () => {
  it("gives two suites that differ only in torch dtype different case ids; default values leave the key as it was", () => {
    const fp32 = plan({ runners: ["torch"] })[0]!;
    const explicitFp32 = plan({ runners: ["torch"], torch: { dtype: "fp32", mode: "eager" } })[0]!;
    const bf16 = plan({ runners: ["torch"], torch: { dtype: "bf16" } })[0]!;
    expect(explicitFp32.id).toBe(fp32.id);
    expect(bf16.id).not.toBe(fp32.id);
    expect(JSON.parse(bf16.caseKey).settings).toEqual({ dtype: "bf16" });
    expect(JSON.parse(fp32.caseKey).settings).toBeUndefined();
  });

  it("makes ort threads, spinning and optimisation level part of the key when not the defaults", () => {
    const base = plan({})[0]!;
    const threads = plan({ ort: { intraOpThreads: 2 } })[0]!;
    expect(threads.id).not.toBe(base.id);
    expect(JSON.parse(threads.caseKey).settings).toEqual({ intraOpThreads: 2 });
    expect(plan({ ort: { intraOpThreads: 1, graphOptimizationLevel: "all" } })[0]!.id).toBe(base.id);
  });

  it("plans one case per torch execution mode; only non-default modes are in the key and the name", () => {
    const cases = plan({ runners: ["torch"], torch: { mode: ["eager", "cuda-graph", "compile"] } });
    expect(cases.map((c) => c.settings.mode)).toEqual(["eager", "cuda-graph", "compile"]);
    expect(cases[0]!.id).toBe(plan({ runners: ["torch"] })[0]!.id);
    expect(JSON.parse(cases[1]!.caseKey).settings).toEqual({ mode: "cuda-graph" });
    expect(cases.map((c) => c.name.split(" · ").at(-1))).toEqual(["torch", "cuda-graph", "compile"]);
    expect(new Set(cases.map((c) => c.id)).size).toBe(3);
  });

  it("bench compare does not pair an fp32 run with a bf16 run of the same case, and says why", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-identity-"));
    const protocol = {
      repeats: 1,
      minMeasureMs: 1,
      minIterations: 5,
      maxIterations: 5,
      warmupMinIterations: 1,
      warmupMaxMs: 10,
    };
    const common = { scenarios: ["prefill"], protocol, extra: 'runners: ["torch"]' };
    const bf16 = writeTinySuite(dir, {
      ...common,
      file: "bf16.ts",
      extra: 'runners: ["torch"], torch: { device: "cpu", dtype: "bf16" }',
    });
    const fp32Cpu = writeTinySuite(dir, {
      ...common,
      file: "fp32cpu.ts",
      extra: 'runners: ["torch"], torch: { device: "cpu" }',
    });
    for (const [suite, db] of [
      [fp32Cpu, "base.db"],
      [bf16, "head.db"],
    ])
      expect((await execa("node", [bench, "run", suite!, "--db", join(dir, db!)], { reject: false })).exitCode).toBe(0);
    const compared = await execa("node", [bench, "compare", join(dir, "base.db"), join(dir, "head.db"), "--json"], {
      reject: false,
    });
    expect(compared.exitCode, compared.stderr).toBe(0);
    const report = JSON.parse(compared.stdout);
    expect(report.cases.map((c: { verdict: string }) => c.verdict).sort()).toEqual(["only-in-base", "only-in-head"]);
    const head = report.cases.find((c: { verdict: string }) => c.verdict === "only-in-head");
    expect(head.reason).toMatch(/only in head with dtype bf16; the base ran this case with default settings/);
  }, 180_000);
});
