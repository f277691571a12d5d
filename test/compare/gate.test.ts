import { describe, expect, it } from "vitest";
import { drawIndices, gateChecks, runGateExperiment, type GatePool } from "../../src/compare/gate.js";
import { createRng, normalDraw } from "../../src/measure/stats.js";

/** `size` processes per arm of 40 iterations around 2 ms; arm B slower by `slowdown`; process levels spread by `betweenCv`. */
function pool(size: number, betweenCv: number, slowdown: number, seed: number): GatePool {
  const rng = createRng(seed);
  const arm = (factor: number) =>
    Array.from({ length: size }, () => {
      const level = 2 * factor * (1 + betweenCv * normalDraw(rng));
      return Array.from({ length: 40 }, () => level * (1 + 0.02 * normalDraw(rng)));
    });
  return { a: arm(1), b: arm(1 + slowdown) };
}

const options = { repeats: 5, comparisons: 60, threshold: 0.05, seed: 1, resamples: 300 };

describe("drawIndices", () => {
  it("draws distinct indices within range and refuses more than there are", () => {
    const drawn = drawIndices(10, 10, createRng(1));
    expect([...drawn].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(drawIndices(40, 10, createRng(2))).size).toBe(10);
    expect(() => drawIndices(3, 4, createRng(1))).toThrow(RangeError);
  });
});

describe("the gate experiment", () => {
  it("passes every check on a quiet pool with a real 10% slowdown", () => {
    const quiet = pool(40, 0.01, 0.1, 11);
    const aa = runGateExperiment(quiet, "A/A", options);
    const ab = runGateExperiment(quiet, "A/B", options);
    expect(aa.counts.regressed + aa.counts.improved + aa.counts.unchanged + aa.counts.inconclusive).toBe(60);
    expect(ab.counts.regressed).toBe(60);
    const checks = gateChecks(aa, ab);
    expect(checks.map((c) => [c.name, c.pass])).toEqual([
      ["A/A false alarms (regressed)", true],
      ["A/B detections of the slowdown", true],
      ["A/A inconclusive", true],
      ["A/B inconclusive", true],
    ]);
  });

  it("fails detection and inconclusive on a pool noisier than the threshold, without raising false alarms", () => {
    const noisy = pool(40, 0.15, 0.1, 12);
    const checks = gateChecks(runGateExperiment(noisy, "A/A", options), runGateExperiment(noisy, "A/B", options));
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName["A/A false alarms (regressed)"]!.pass).toBe(true);
    expect(byName["A/B detections of the slowdown"]!.pass).toBe(false);
    expect(byName["A/A inconclusive"]!.pass).toBe(false);
  });

  it("draws A/A from arm A alone and refuses a pool too small for the A/B draws", () => {
    const skewed = { ...pool(20, 0.01, 0, 13), b: [] };
    expect(runGateExperiment(skewed, "A/A", { ...options, comparisons: 20 }).counts.regressed).toBe(0);
    expect(() => runGateExperiment(skewed, "A/B", options)).toThrow(/too small/);
  });
});
