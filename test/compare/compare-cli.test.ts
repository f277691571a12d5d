// `bench compare` end to end: two real runs of one case, the head run slowed by real extra work in the ort child
// (EFFBENCH_TEST_EXTRA_WORK, test-only), compared through the CLI.
import { execa } from "execa";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { writeTinySuite } from "../support/tiny-suite.js";
import { openStore } from "../../src/store/store.js";

const bench = resolve("bin/bench.js");

describe("bench compare (CLI)", () => {
  it("exits 1 and calls a case regressed when the head run does 4× the work per iteration", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-compare-cli-"));
    const suite = writeTinySuite(dir, {
      file: "one.ts",
      name: "compare-cli",
      model: { hidden: 128, ffn: 256 },
      scenarios: ["prefill"],
      workloads: [{ batch: 1, promptTokens: 32 }],
      protocol: { repeats: 4, minMeasureMs: 60, minIterations: 20, warmupMaxMs: 30 },
    });
    const base = join(dir, "base.db");
    const head = join(dir, "head.db");
    // Both runs measure the drift control (off elsewhere in the tests): the comparison normalises by it.
    const control = { EFFBENCH_DRIFT_CONTROL: "on" };
    expect((await execa("node", [bench, "run", suite, "--db", base], { reject: false, env: control })).exitCode).toBe(
      0,
    );
    // A large slowdown, so that the verdict holds on a machine busy with other work.
    expect(
      (
        await execa("node", [bench, "run", suite, "--db", head], {
          reject: false,
          env: { ...control, EFFBENCH_TEST_EXTRA_WORK: "3" },
        })
      ).exitCode,
    ).toBe(0);

    const store = await openStore(head, { readonly: true });
    const [result] = await store.loadResults();
    await store.close();
    expect(result!.settings).toMatchObject({ testExtraWork: 3 }); // the slowdown is on record, not hidden

    const compared = await execa("node", [bench, "compare", base, head, "--json"], { reject: false });
    expect(compared.exitCode, compared.stderr).toBe(1);
    const report = JSON.parse(compared.stdout);
    expect(report.cases).toHaveLength(1);
    expect(report.cases[0].verdict).toBe("regressed");
    expect(report.cases[0].ratio).toBeGreaterThan(2);
    expect(report.cases[0].base.processes).toBe(4);
    expect(report.cases[0].drift.controlProcesses).toEqual([4, 4]); // normalised by the runs' control

    // The other way round it is an improvement, and nothing regressed: exit 0.
    const reverse = await execa("node", [bench, "compare", head, base, "--markdown"], { reject: false });
    expect(reverse.exitCode, reverse.stderr).toBe(0);
    // On a busy machine the drift control may also have moved between the runs: the verdict then says so.
    expect(reverse.stdout).toMatch(/\| improved(, machine changed)? \|/);
  }, 90_000);
});
