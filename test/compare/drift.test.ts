// The drift-control statistics of `bench compare` on constructed inputs: how a case's ratio is divided by the
// control's with the two intervals combined on the log scale, when the machine counts as changed, and what a
// comparison of databases without a control says.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareSamples, compareStores, decide, type CaseComparison } from "../../src/compare/compare.js";
import {
  applyDriftControl,
  controlMoved,
  DRIFT_TRACKING,
  machineChangeWidening,
  normaliseRatio,
  type SideMachine,
} from "../../src/compare/drift.js";
import { openStore, type ControlRow } from "../../src/store/store.js";
import { completedRecord, plannedCases, runInfo } from "../store/fixtures.js";
import { toText } from "../../src/compare/format.js";

const e = Math.exp;
const interval = (ratio: number, lowHalf: number, highHalf: number) => ({
  ratio,
  low: ratio * e(-lowHalf),
  high: ratio * e(highHalf),
  equivalenceLow: ratio * e(-lowHalf / 2),
  equivalenceHigh: ratio * e(highHalf / 2),
});

describe("normaliseRatio", () => {
  it("divides by an exactly known control and keeps the case's relative widths", () => {
    const n = normaliseRatio(interval(1.21, Math.log(1.1), Math.log(1.1)), interval(1.1, 0, 0));
    expect(n.ratio).toBeCloseTo(1.1, 12);
    expect(n.low).toBeCloseTo(1.0, 12);
    expect(n.high).toBeCloseTo(1.21, 12);
  });

  it("adds the log half-widths in quadrature: 0.03 and 0.04 make 0.05", () => {
    const n = normaliseRatio(interval(1, 0.03, 0.03), interval(1, 0.04, 0.04));
    expect(Math.log(n.high)).toBeCloseTo(0.05, 12);
    expect(Math.log(n.low)).toBeCloseTo(-0.05, 12);
    expect(Math.log(n.equivalenceHigh)).toBeCloseTo(0.025, 12);
  });

  it("pairs the case's lower half-width with the control's upper one (the division flips the control)", () => {
    const n = normaliseRatio(interval(1, 0.03, 0), interval(1, 0, 0.04));
    expect(Math.log(n.low)).toBeCloseTo(-0.05, 12);
    expect(n.high).toBeCloseTo(1, 12);
  });

  it("widens by the extra log half-width of a machine change", () => {
    const n = normaliseRatio(interval(1, 0, 0), interval(1, 0, 0), 0.12);
    expect(Math.log(n.high)).toBeCloseTo(0.12, 12);
    expect(Math.log(n.low)).toBeCloseTo(-0.12, 12);
  });
});

describe("machine change", () => {
  it("the control moved beyond the threshold either way", () => {
    expect(controlMoved(1.06, 0.05)).toBe(true);
    expect(controlMoved(1 / 1.06, 0.05)).toBe(true);
    expect(controlMoved(1.04, 0.05)).toBe(false);
    expect(controlMoved(0.96, 0.05)).toBe(false);
  });

  it("widens by DRIFT_TRACKING of the control's move, at least of the threshold's", () => {
    expect(machineChangeWidening(1.2, 0.05)).toBeCloseTo(DRIFT_TRACKING * Math.log(1.2), 12);
    expect(machineChangeWidening(1.0, 0.05)).toBeCloseTo(DRIFT_TRACKING * Math.log(1.05), 12);
  });
});

/** `count` processes of `iterations` values about `level`, with a small deterministic spread. */
function processes(level: number, count = 6, iterations = 40): number[][] {
  return Array.from({ length: count }, (_, p) =>
    Array.from({ length: iterations }, (_, i) => level * (1 + 0.004 * Math.sin(p * 7 + i) + 0.002 * ((p % 3) - 1))),
  );
}

function controlRows(runId: number, level: number): ControlRow[] {
  return processes(level).map((valuesMs, i) => ({
    id: i + 1,
    runId,
    control: "ort cpu: test control",
    caseKey: "case",
    measuredAt: "2026-01-01T00:00:00.000Z",
    status: "completed",
    valuesMs,
    settings: { executionProvider: "cpu" },
  }));
}

function caseComparison(baseLevel: number, headLevel: number): CaseComparison {
  const cmp = compareSamples(processes(baseLevel), processes(headLevel), { threshold: 0.05 });
  const side = (runId: number) => ({
    resultId: runId,
    runId,
    status: "completed" as const,
    reason: null,
    finishedAt: "",
    processes: 6,
    iterations: 240,
    median: 1,
    flags: [],
  });
  return { caseKey: "case", caseName: "case", ...cmp, base: side(1), head: side(2) };
}

const options = {
  threshold: 0.05,
  resamples: 2000,
  seed: 1,
  confidence: 0.95,
  lowerIsBetter: true,
  smallSampleCorrection: true,
  percentile: 50,
};
const stats = { compareSamples, decide };
const machine = (runId: number, level: number, hostname = "vm"): SideMachine => ({
  controls: controlRows(runId, level),
  hostnames: [hostname],
  cpus: ["AMD EPYC"],
});

describe("applyDriftControl", () => {
  it("a machine 4% slower everywhere: the normalised ratio is 1 and unchanged; the machine did not change", () => {
    const cases = [caseComparison(1, 1.04)];
    applyDriftControl(cases, machine(1, 2), machine(2, 2.08), options, stats);
    expect(cases[0]!.ratio).toBeCloseTo(1, 2);
    expect(cases[0]!.verdict).toBe("unchanged");
    expect(cases[0]!.drift!.machineChanged).toBe(false);
  });

  it("a machine 12% slower everywhere: raw regressed; normalised no regression, and the verdict says the machine changed", () => {
    const cases = [caseComparison(1, 1.12)];
    const summary = applyDriftControl(cases, machine(1, 2), machine(2, 2.24), options, stats);
    const c = cases[0]!;
    expect(c.drift!.raw.verdict).toBe("regressed");
    expect(c.drift!.controlRatio).toBeCloseTo(1.12, 2);
    expect(c.ratio).toBeCloseTo(1, 2);
    // The widening of a 12% machine change (half of ln 1.12) is more than the 5% threshold allows to call it
    // unchanged: the case may have followed the machine anywhere between +6% and +18%.
    expect(c.verdict).toBe("inconclusive");
    expect(c.high!).toBeLessThan(1.1);
    expect(c.drift!.machineChanged).toBe(true);
    expect(c.drift!.machineChangedBecause).toMatch(/control moved \+12\.0%/);
    expect(summary).toMatchObject({ controlled: 1, uncontrolled: 0, machineChanged: 1 });
    expect(toText({ ...report(cases), drift: summary })).toMatch(/inconclusive, machine changed/);
  });

  it("a real 10% slowdown on a machine that also slowed 12% is still caught, on the normalised ratio", () => {
    const cases = [caseComparison(1, 1.12 * 1.1)];
    applyDriftControl(cases, machine(1, 2), machine(2, 2.24), options, stats);
    expect(cases[0]!.ratio).toBeCloseTo(1.1, 2);
    expect(cases[0]!.verdict).toBe("regressed");
  });

  it("a still control on another host: the machine changed, and the interval is wider than without the change", () => {
    const same = [caseComparison(1, 1)];
    applyDriftControl(same, machine(1, 2), machine(2, 2), options, stats);
    const moved = [caseComparison(1, 1)];
    applyDriftControl(moved, machine(1, 2), machine(2, 2, "other-vm"), options, stats);
    expect(same[0]!.drift!.machineChanged).toBe(false);
    expect(moved[0]!.drift!.machineChangedBecause).toMatch(/host changed \(vm → other-vm\)/);
    expect(moved[0]!.high! / moved[0]!.low!).toBeGreaterThan(same[0]!.high! / same[0]!.low!);
  });

  it("without a control on one side the raw verdict stands, with a note that drift is not controlled", () => {
    const cases = [caseComparison(1, 1.12)];
    const summary = applyDriftControl(cases, { ...machine(1, 2), controls: [] }, machine(2, 2), options, stats);
    expect(cases[0]!.verdict).toBe("regressed");
    expect(cases[0]!.drift).toBeUndefined();
    expect(summary.uncontrolled).toBe(1);
    expect(summary.notes.join("\n")).toMatch(/drift is not controlled: the base run has no drift-control measurements/);
  });
});

function report(cases: CaseComparison[]) {
  return {
    base: { path: "a.db", runId: null, runIds: [1] },
    head: { path: "b.db", runId: null, runIds: [2] },
    metric: "latency_ms",
    ...options,
    cases,
    summary: {
      total: 1,
      regressed: 0,
      improved: 0,
      unchanged: 1,
      inconclusive: 0,
      onlyInBase: 0,
      onlyInHead: 0,
      notComparable: 0,
    },
  };
}

describe("compareStores and the drift control", () => {
  it("databases without a control (as every one written before it) still compare, with the note", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-drift-"));
    const paths = [join(dir, "base.db"), join(dir, "head.db")];
    const [c] = plannedCases();
    for (const [i, path] of paths.entries()) {
      const store = await openStore(path);
      const runId = await store.beginRun(runInfo);
      await store.recordResult(runId, completedRecord(c!, 3, 40, i * 0.001));
      await store.finishRun(runId, "completed");
      await store.close();
    }
    const compared = await compareStores({ path: paths[0]! }, { path: paths[1]! }, { threshold: 0.05 });
    expect(compared.cases[0]!.verdict).not.toBe("not-comparable");
    expect(compared.drift!.notes.join("\n")).toMatch(/drift is not controlled/);
    expect(toText(compared)).toMatch(/drift is not controlled/);
  });
});
