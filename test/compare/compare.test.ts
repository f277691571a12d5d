import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  compareSamples,
  compareStores,
  decide,
  equivalenceConfidence,
  expandInterval,
  latestPerCase,
  lowerIsBetterFor,
  smallSampleExpansion,
} from "../../src/compare/compare.js";
import { clopperPearson } from "../../src/compare/distributions.js";
import { compareCommand, exitCodeOf, parseCompareArgs, parseThreshold } from "../../src/compare/command.js";
import { toJson, toMarkdown, toText } from "../../src/compare/format.js";
import { createRng, normalDraw } from "../../src/measure/stats.js";
import { openStore, type ResultRecord } from "../../src/store/store.js";
import type { Case } from "../../src/suite/case.js";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";

/** `count` processes of `iterations` samples around `medianMs`: 2% noise within a process, 1% between processes. */
function processes(
  medianMs: number,
  seed: number,
  count = 5,
  iterations = 60,
  withinCv = 0.02,
  betweenCv = 0.01,
): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => {
    const level = medianMs * (1 + betweenCv * normalDraw(rng));
    return Array.from({ length: iterations }, () => level * (1 + withinCv * normalDraw(rng)));
  });
}

const options = { threshold: 0.05, resamples: 1000, seed: 3 };

describe("decide", () => {
  it("calls a significant change beyond the threshold regressed or improved", () => {
    expect(decide(1.12, 1.08, 1.16, options)).toBe("regressed");
    expect(decide(0.88, 0.85, 0.91, options)).toBe("improved");
  });

  it("calls a CI inside the threshold band unchanged, even when it excludes 1", () => {
    expect(decide(1.0, 0.98, 1.02, options)).toBe("unchanged");
    expect(decide(1.02, 1.01, 1.03, options)).toBe("unchanged");
  });

  it("calls a significant change below the threshold, or a CI straddling it, inconclusive", () => {
    expect(decide(1.04, 1.01, 1.07, options)).toBe("inconclusive"); // significant, but not shown to exceed 5%
    expect(decide(1.08, 0.97, 1.2, options)).toBe("inconclusive"); // large but noisy
    expect(decide(Number.NaN, 0.9, 1.1, options)).toBe("inconclusive");
  });

  it("shows equivalence with the 90% interval (two one-sided tests at 5%), not the 95% CI", () => {
    expect(decide(1.0, 0.94, 1.06, options)).toBe("inconclusive");
    expect(decide(1.0, 0.94, 1.06, options, { low: 0.955, high: 1.045 })).toBe("unchanged");
    expect(decide(1.0, 0.94, 1.06, options, { low: 0.94, high: 1.051 })).toBe("inconclusive");
    expect(decide(1.0, 0.94, 1.06, { ...options, lowerIsBetter: false }, { low: 0.955, high: 1.045 })).toBe(
      "unchanged",
    );
    expect(equivalenceConfidence(0.95)).toBeCloseTo(0.9, 12);
  });

  it("mirrors the rule for higher-is-better metrics", () => {
    expect(decide(0.88, 0.85, 0.91, { ...options, lowerIsBetter: false })).toBe("regressed");
    expect(decide(1.12, 1.08, 1.16, { ...options, lowerIsBetter: false })).toBe("improved");
    expect(lowerIsBetterFor("tokens_per_s")).toBe(false);
    expect(lowerIsBetterFor("latency_ms")).toBe(true);
  });
});

describe("compareSamples", () => {
  it("finds a 20% slowdown regressed, a 20% speed-up improved and the same level unchanged", () => {
    const base = processes(2, 1);
    expect(compareSamples(base, processes(2.4, 2), options).verdict).toBe("regressed");
    expect(compareSamples(base, processes(1.6, 3), options).verdict).toBe("improved");
    const same = compareSamples(base, processes(2, 4), options);
    expect(same.verdict).toBe("unchanged");
    expect(same.low!).toBeLessThan(same.equivalenceLow!);
    expect(same.equivalenceLow!).toBeLessThan(same.ratio!);
    expect(same.equivalenceHigh!).toBeGreaterThan(same.ratio!);
    expect(same.high!).toBeGreaterThan(same.equivalenceHigh!);
  });

  it("says inconclusive when processes differ more than the threshold from one another", () => {
    const noisy = (seed: number) => processes(2, seed, 4, 60, 0.02, 0.15);
    expect(compareSamples(noisy(5), noisy(6), options).verdict).toBe("inconclusive");
  });

  it("does not decide from one process per side, however many iterations it has, and says why", () => {
    const result = compareSamples(processes(2, 7, 1, 500), processes(3, 8, 1, 500), options);
    expect(result.verdict).toBe("inconclusive");
    expect(result.ratio!).toBeGreaterThan(1.4);
    expect(result.reason).toMatch(/1 base \/ 1 head process.*repeats ≥ 2/);
  });
});

describe("the small-sample correction", () => {
  it("widens most for the fewest processes and tends to none", () => {
    expect(smallSampleExpansion(3, 3)).toBeCloseTo(1.735, 3);
    expect(smallSampleExpansion(5, 5)).toBeCloseTo(1.315, 3);
    expect(smallSampleExpansion(30, 30)).toBeLessThan(1.05);
    expect(smallSampleExpansion(5, 40)).toBeGreaterThan(smallSampleExpansion(40, 40)); // the smaller side counts
  });

  it("widens on the log scale about the estimate", () => {
    const wide = expandInterval(1.1, 1.0, 1.21, 2);
    expect(wide.low).toBeCloseTo(1.1 / (1.1 / 1.0) ** 2, 12);
    expect(wide.high).toBeCloseTo(1.1 * 1.1 ** 2, 12);
  });

  it("brings the A/A miss rate of the CI at 3 processes per side from far above 5% to about 5%", () => {
    // Same-distribution sides: a process level drawn with 3% spread, 2% noise within a process.
    const trials = 300;
    const misses = { plain: 0, corrected: 0 };
    const rng = createRng(9);
    const side = () =>
      Array.from({ length: 3 }, () => {
        const level = 1 + 0.03 * normalDraw(rng);
        return Array.from({ length: 50 }, () => level * (1 + 0.02 * normalDraw(rng)));
      });
    for (let k = 0; k < trials; k++) {
      const [a, b] = [side(), side()];
      for (const kind of ["plain", "corrected"] as const) {
        const r = compareSamples(a, b, {
          threshold: 0.05,
          resamples: 500,
          seed: k + 1,
          smallSampleCorrection: kind === "corrected",
        });
        if (r.low! > 1 || r.high! < 1) misses[kind]++;
      }
    }
    expect(clopperPearson(misses.plain, trials).low).toBeGreaterThan(0.05);
    const corrected = clopperPearson(misses.corrected, trials);
    expect(corrected.low).toBeLessThan(0.05);
    expect(corrected.high).toBeGreaterThan(0.05);
  });
});

function cases(): Case[] {
  const { suite } = validateSuite(
    {
      name: "compare-test",
      models: [{ name: "tiny", layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97 }],
      scenarios: ["prefill", "decode"],
      workloads: [{ promptTokens: 8 }, { promptTokens: 16 }],
    },
    "compare-test.ts",
  );
  return planSuite(suite, { codeVersion: "0.1.0+test" });
}

function record(c: Case, samples: number[][], finishedAt = "2026-01-01T00:00:05.000Z"): ResultRecord {
  return {
    case: c,
    status: "completed",
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt,
    repeats: samples.length,
    samples: samples.map((values, repeat) => ({ repeat, metric: "latency_ms", values })),
    metrics: [],
    validity: [],
  };
}

async function writeRun(path: string, results: ResultRecord[]): Promise<number> {
  const store = await openStore(path);
  const runId = await store.beginRun({
    suiteName: "compare-test",
    suitePath: "compare-test.ts",
    suiteHash: "h",
    resolvedSuite: null,
    gitCommit: null,
    codeVersion: "test",
    argv: [],
  });
  for (const r of results) await store.recordResult(runId, r);
  await store.finishRun(runId, "completed");
  await store.close();
  return runId;
}

describe("compareStores", () => {
  it("matches cases by caseKey and lists regressed, unchanged, one-sided and failed cases", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-compare-"));
    const [prefill8, decode8, prefill16, decode16] = (() => {
      const all = cases();
      const find = (scenario: string, tokens: number) =>
        all.find((c) => c.scenario === scenario && c.workload.promptTokens === tokens)!;
      return [find("prefill", 8), find("decode", 8), find("prefill", 16), find("decode", 16)];
    })();
    const base = join(dir, "base.db");
    const head = join(dir, "head.db");
    await writeRun(base, [
      record(prefill8, processes(2, 11)),
      record(decode8, processes(1, 12)),
      record(prefill16, processes(3, 13)),
    ]);
    await writeRun(head, [
      record(prefill8, processes(2.4, 21)),
      record(decode8, processes(1, 22)),
      {
        case: prefill16,
        status: "failed",
        reason: "the ort child process was killed by SIGKILL",
        startedAt: "x",
        finishedAt: "x",
        repeats: 0,
        samples: [],
        metrics: [],
        validity: [],
      },
      record(decode16, processes(1, 24)),
    ]);
    const report = await compareStores({ path: base }, { path: head }, options);
    const verdictOf = (c: Case) => report.cases.find((x) => x.caseKey === c.caseKey)!;
    expect(verdictOf(prefill8).verdict).toBe("regressed");
    expect(verdictOf(prefill8).ratio!).toBeCloseTo(1.2, 1);
    expect(verdictOf(decode8).verdict).toBe("unchanged");
    expect(verdictOf(prefill16).verdict).toBe("not-comparable");
    expect(verdictOf(prefill16).reason).toMatch(/head result is failed: .*SIGKILL/);
    expect(verdictOf(decode16).verdict).toBe("only-in-head");
    expect(report.summary).toMatchObject({ total: 4, regressed: 1, unchanged: 1, notComparable: 1, onlyInHead: 1 });
    expect(exitCodeOf(report, false)).toBe(1);

    const reverse = await compareStores({ path: head }, { path: base }, options);
    expect(reverse.cases.find((x) => x.caseKey === prefill8.caseKey)!.verdict).toBe("improved");
    expect(reverse.cases.find((x) => x.caseKey === decode16.caseKey)!.verdict).toBe("only-in-base");
  });

  it("takes the latest completed result of a case when a file holds several runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-compare-"));
    const [c] = cases();
    const base = join(dir, "base.db");
    const head = join(dir, "head.db");
    await writeRun(base, [record(c!, processes(2, 31))]);
    await writeRun(head, [record(c!, processes(3, 32), "2026-01-01T00:00:05.000Z")]);
    await writeRun(head, [record(c!, processes(2, 33), "2026-01-02T00:00:05.000Z")]);
    await writeRun(head, [
      {
        case: c!,
        status: "timed-out",
        reason: "no result within 1 ms",
        startedAt: "x",
        finishedAt: "2026-01-03T00:00:00.000Z",
        repeats: 0,
        samples: [],
        metrics: [],
        validity: [],
      },
    ]);
    const report = await compareStores({ path: base }, { path: head }, options);
    expect(report.cases).toHaveLength(1);
    expect(report.cases[0]!.verdict).toBe("unchanged");
    expect(report.cases[0]!.head!.runId).toBe(2);
    const older = await compareStores({ path: base }, { path: head, runId: 1 }, options);
    expect(older.cases[0]!.verdict).toBe("regressed");
  });

  it("names the sample metrics a result has when the asked-for one is missing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-compare-"));
    const [c] = cases();
    const path = join(dir, "r.db");
    await writeRun(path, [record(c!, processes(2, 41))]);
    await writeRun(path, [record(c!, processes(2, 42))]);
    const report = await compareStores({ path, runId: 1 }, { path, runId: 2 }, { ...options, metric: "ttft_ms" });
    expect(report.cases[0]!.verdict).toBe("not-comparable");
    expect(report.cases[0]!.reason).toContain('no "ttft_ms" samples (it has: latency_ms)');
  });

  it("refuses a run id the file does not have", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-compare-"));
    const path = join(dir, "r.db");
    await writeRun(path, [record(cases()[0]!, processes(2, 51))]);
    await expect(compareStores({ path, runId: 1 }, { path, runId: 9 }, options)).rejects.toThrow(/no run with id 9/);
  });
});

describe("latestPerCase", () => {
  it("prefers a completed result over a later failed one", async () => {
    const rows = [
      { caseKey: "k", status: "completed", finishedAt: "2026-01-01", resultId: 1 },
      { caseKey: "k", status: "failed", finishedAt: "2026-01-02", resultId: 2 },
      { caseKey: "j", status: "failed", finishedAt: "2026-01-02", resultId: 3 },
    ] as Parameters<typeof latestPerCase>[0];
    const latest = latestPerCase(rows);
    expect(latest.get("k")!.resultId).toBe(1);
    expect(latest.get("j")!.resultId).toBe(3);
  });
});

describe("bench compare (command)", () => {
  async function twoRunFile(slowdown: number): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), "effbench-compare-"));
    const path = join(dir, "r.db");
    const all = cases();
    await writeRun(
      path,
      all.map((c, i) => record(c, processes(1 + i, 60 + i))),
    );
    await writeRun(
      path,
      all.map((c, i) => record(c, processes((1 + i) * (i === 0 ? slowdown : 1), 70 + i))),
    );
    return path;
  }

  it("compares the two newest runs of one file by default and exits 1 on a regression", async () => {
    const path = await twoRunFile(1.3);
    let out = "";
    const code = await compareCommand(parseCompareArgs({ markdown: true }, [path]), (t) => (out += t));
    expect(code).toBe(1);
    expect(out).toMatch(/^### effbench compare: 1 regressed, 0 improved, 3 unchanged, 0 inconclusive of 4 case\(s\)/);
    const rows = out.split("\n").filter((l) => l.startsWith("| tiny"));
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(/\| \*\*regressed\*\* \|.*\| \+3\d\.\d% \| 1\.3\d\d \|/); // regressions come first
    expect(out).toContain(`base: ${path} (run 1)`);
  });

  it("exits 0 when nothing regressed, and prints JSON with null for what was not computed", async () => {
    const path = await twoRunFile(1);
    let out = "";
    const code = await compareCommand(
      parseCompareArgs({ json: true, "base-run": "1", "head-run": "2", threshold: "5%" }, [path]),
      (t) => (out += t),
    );
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.summary.unchanged).toBe(4);
    expect(report.threshold).toBe(0.05);
    expect(report.cases[0].reason).toBeUndefined();
  });

  it("fails under --strict when a base case has no completed result in head", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-compare-"));
    const path = join(dir, "r.db");
    const all = cases();
    await writeRun(
      path,
      all.map((c, i) => record(c, processes(1 + i, 80 + i))),
    );
    await writeRun(
      path,
      all.slice(1).map((c, i) => record(c, processes(2 + i, 90 + i))),
    );
    const report = await compareStores({ path, runId: 1 }, { path, runId: 2 }, options);
    expect(report.summary.onlyInBase).toBe(1);
    expect(exitCodeOf(report, false)).toBe(0);
    expect(exitCodeOf(report, true)).toBe(1);
    expect(toText(report)).toMatch(/only-in-base/);
    expect(toMarkdown(report)).toContain("1 only in base");
    expect(
      JSON.parse(toJson(report)).cases.find((c: { verdict: string }) => c.verdict === "only-in-base").head,
    ).toBeNull();
  });

  it("folds many unchanged cases into a details block and escapes pipes in case names", () => {
    const side = {
      resultId: 1,
      runId: 1,
      status: "completed" as const,
      reason: null,
      finishedAt: "",
      processes: 5,
      iterations: 100,
      median: 1,
      flags: [],
    };
    const caseOf = (i: number, verdict: "unchanged" | "regressed") => ({
      caseKey: `k${i}`,
      caseName: `m | ${i}`,
      verdict,
      ratio: verdict === "regressed" ? 1.2 : 1,
      low: 0.99,
      high: verdict === "regressed" ? 1.3 : 1.01,
      equivalenceLow: 0.995,
      equivalenceHigh: 1.005,
      base: side,
      head: side,
    });
    const cases = [caseOf(0, "regressed"), ...Array.from({ length: 12 }, (_, i) => caseOf(i + 1, "unchanged"))];
    const report = {
      base: { path: "a.db", runId: null, runIds: [1] },
      head: { path: "b.db", runId: null, runIds: [1] },
      metric: "latency_ms",
      threshold: 0.05,
      lowerIsBetter: true,
      smallSampleCorrection: true,
      confidence: 0.95,
      resamples: 100,
      seed: 1,
      cases,
      summary: {
        total: 13,
        regressed: 1,
        improved: 0,
        unchanged: 12,
        inconclusive: 0,
        onlyInBase: 0,
        onlyInHead: 0,
        notComparable: 0,
      },
    };
    const markdown = toMarkdown(report);
    const beforeDetails = markdown.slice(0, markdown.indexOf("<details>"));
    expect(beforeDetails).toContain("| m \\| 0 | **regressed** |");
    expect(beforeDetails).not.toContain("| unchanged |");
    expect(markdown).toContain("<details><summary>12 unchanged case(s)</summary>");
    expect(markdown.match(/\| unchanged \|/g)).toHaveLength(12);
  });

  it("reads thresholds as percent or fraction and refuses a bare number", () => {
    expect(parseThreshold("5%")).toBeCloseTo(0.05, 12);
    expect(parseThreshold("2.5%")).toBeCloseTo(0.025, 12);
    expect(parseThreshold("0.1")).toBeCloseTo(0.1, 12);
    expect(() => parseThreshold("5")).toThrow(/5% or 0\.05/);
    expect(() => parseThreshold("-5%")).toThrow();
  });

  it("refuses usage errors with exit code 2 and a fix", async () => {
    expect(() => parseCompareArgs({}, [])).toThrow(/bench compare <base.db> <head.db>/);
    expect(() => parseCompareArgs({ json: true, markdown: true }, ["a.db", "b.db"])).toThrow(/exclusive/);
    expect(() => parseCompareArgs({ "base-run": "x" }, ["a.db"])).toThrow(/--base-run: expected a positive integer/);
    const dir = mkdtempSync(join(tmpdir(), "effbench-compare-"));
    const path = join(dir, "one.db");
    await writeRun(path, [record(cases()[0]!, processes(1, 99))]);
    const error = await compareCommand(parseCompareArgs({}, [path]), () => {}).catch((e: unknown) => e);
    expect((error as { exitCode: number }).exitCode).toBe(2);
    expect((error as Error).message).toMatch(/needs two runs to compare, and it has 1 with results \(1\)/);
  });
});
