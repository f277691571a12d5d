// `bench compare --interleave` and the drift control of `bench run`, on a micro suite: two checkouts (this one,
// twice) run alternately process by process in ABBA order; a git ref is checked out into a temporary worktree and
// removed; a checkout that cannot take turns is refused; a plain run stores one control process per case process.
import { execa } from "execa";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { compareStores, CompareError } from "../../src/compare/compare.js";
import { parseCompareArgs } from "../../src/compare/command.js";
import { resolveCheckout, roundOrder, runInterleavedSitting } from "../../src/compare/interleave.js";
import { parseControlInterval } from "../../src/run/run-hooks.js";
import { openStore } from "../../src/store/store.js";
import { writeTinySuite } from "../support/tiny-suite.js";

const root = resolve(".");
const protocol = {
  repeats: 2,
  minMeasureMs: 1,
  minIterations: 8,
  maxIterations: 8,
  warmupMinIterations: 2,
  warmupMaxMs: 20,
};

describe("bench compare --interleave", () => {
  it("orders rounds ABBA: forwards, then backwards", () => {
    expect([0, 1, 2, 3].map((r) => roundOrder(2, r))).toEqual([
      [0, 1],
      [1, 0],
      [0, 1],
      [1, 0],
    ]);
    expect(roundOrder(3, 1)).toEqual([2, 1, 0]);
  });

  it("runs two checkouts' processes alternately, one at a time, and compares them as interleaved", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-interleave-test-"));
    const suite = writeTinySuite(dir, { name: "interleave", scenarios: ["prefill"], protocol });
    const log: string[] = [];
    const sitting = await runInterleavedSitting(
      [
        { name: "base", checkout: root },
        { name: "head", checkout: root },
      ],
      suite,
      dir,
      { log: (line) => log.push(line) },
    );
    expect(log).toEqual(["base process 1 done", "head process 1 done", "head process 2 done", "base process 2 done"]);
    expect(sitting.processes).toEqual([2, 2]);
    expect(sitting.exitCodes).toEqual([0, 0]);
    for (const path of sitting.databases) {
      const store = await openStore(path, { readonly: true });
      const [result] = await store.loadResults();
      expect(result).toMatchObject({ status: "completed", repeats: 2 });
      expect(await store.loadControls()).toEqual([]); // no drift control inside a sitting
      await store.close();
    }
    const report = await compareStores(
      { path: sitting.databases[0]! },
      { path: sitting.databases[1]! },
      { threshold: 0.05, interleaved: true },
    );
    expect(report.cases[0]!.base!.processes).toBe(2);
    expect(report.drift!.notes.join()).toMatch(/interleaved/);
  }, 180_000);

  it("checks a git ref out into a temporary worktree with this checkout's dependencies, and removes it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-interleave-ref-"));
    const { checkout, cleanup } = await resolveCheckout("HEAD", "base", dir);
    expect(existsSync(join(checkout, "bin/bench.js"))).toBe(true);
    expect(existsSync(join(checkout, "node_modules/execa"))).toBe(true);
    await cleanup();
    expect(existsSync(checkout)).toBe(false);
    const worktrees = await execa("git", ["-C", root, "worktree", "list"]);
    expect(worktrees.stdout).not.toContain(checkout);
  }, 60_000);

  it("refuses an unknown ref, a directory that is no checkout, and a checkout that cannot take turns", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-interleave-bad-"));
    await expect(resolveCheckout("no-such-ref-xyz", "base", dir)).rejects.toThrow(/neither a directory nor a git ref/);
    await expect(resolveCheckout(dir, "base", dir)).rejects.toThrow(/not an effbench checkout/);
    const old = join(dir, "old");
    mkdirSync(join(old, "bin"), { recursive: true });
    writeFileSync(join(old, "bin/bench.js"), "");
    await expect(runInterleavedSitting([{ name: "base", checkout: old }], "x.ts", dir)).rejects.toThrow(
      /predates interleaved runs/,
    );
    expect(() => parseCompareArgs({ interleave: true }, ["main", "HEAD"])).toThrow(CompareError);
    expect(parseCompareArgs({ interleave: true }, ["main", "HEAD", "s.ts"]).interleaveSuite).toBe("s.ts");
  });
});

describe("bench run's drift control", () => {
  it("measures the case's control after each of its processes and stores it with the run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-control-run-"));
    const suite = writeTinySuite(dir, { name: "control", scenarios: ["prefill"], protocol });
    const db = join(dir, "r.db");
    const run = await execa("node", [join(root, "bin/bench.js"), "run", suite, "--db", db], {
      reject: false,
      env: { EFFBENCH_DRIFT_CONTROL: "on" }, // off by default in the tests (vitest.config.ts)
    });
    expect(run.exitCode, run.stderr).toBe(0);
    const store = await openStore(db, { readonly: true });
    const controls = await store.loadControls();
    const [result] = await store.loadResults();
    await store.close();
    expect(controls).toHaveLength(2);
    for (const c of controls) {
      expect(c).toMatchObject({ status: "completed", caseKey: result!.caseKey });
      expect(c.control).toMatch(/^ort cpu: FFN MatMul .* 1 intra-op thread/);
      expect(c.valuesMs.length).toBeGreaterThanOrEqual(30);
      expect(c.valuesMs.every((v) => v > 0)).toBe(true);
    }
  }, 120_000);

  it("--control-interval: off, a duration, or after every process; EFFBENCH_DRIFT_CONTROL=off turns it off", () => {
    expect(parseControlInterval(undefined, {})).toBe(0);
    expect(parseControlInterval("30s", {})).toBe(30_000);
    expect(parseControlInterval("off", {})).toBeNull();
    expect(parseControlInterval(undefined, { EFFBENCH_DRIFT_CONTROL: "off" })).toBeNull();
    expect(() => parseControlInterval("soon", {})).toThrow(/--control-interval/);
  });
});
