import { describe, expect, it } from "vitest";
import {
  betweenProcessSpread,
  combineValidity,
  MIN_PROCESSES_FOR_CI,
  validityFlags,
} from "../../src/measure/validity.js";
import { createRng, normalDraw } from "../../src/measure/stats.js";
import { MIN_SAMPLES_PER_REPEAT, UNSTABLE_CV } from "../../src/measure/protocol.js";

const protocol = { minMeasureMs: 100 };
/** n iterations alternating around `center` by ±spread (so the CV is known: ≈ spread/center). */
const steady = (n: number, center = 10, spread = 0.1) =>
  Array.from({ length: n }, (_, i) => center + (i % 2 === 0 ? spread : -spread));

describe("validityFlags", () => {
  it("raises nothing for enough stable iterations over a long enough window", () => {
    expect(validityFlags({ processes: [steady(20), steady(20), steady(20)], protocol })).toEqual([]);
  });

  it("flags too-few-samples and names the repeat that lacks them", () => {
    const flags = validityFlags({
      processes: [steady(20), steady(MIN_SAMPLES_PER_REPEAT - 1)],
      protocol: { minMeasureMs: 10 },
    });
    expect(flags.map((f) => f.flag)).toEqual(["too-few-samples"]);
    expect(flags[0].detail).toContain(`repeat 2/2 has ${MIN_SAMPLES_PER_REPEAT - 1} timed iterations`);
  });

  it("honours a custom minimum per repeat", () => {
    expect(validityFlags({ processes: [steady(20)], protocol, minSamplesPerRepeat: 21 })[0].flag).toBe(
      "too-few-samples",
    );
  });

  it("flags unstable when the robust coefficient of variation exceeds UNSTABLE_CV, not below it", () => {
    // Alternating 10 ± s has median 10 and MAD s, so the robust CV is 1.4826·s/10.
    const justBelow = steady(1000, 10, ((UNSTABLE_CV * 10) / 1.4826) * 0.95);
    const above = steady(1000, 10, ((UNSTABLE_CV * 10) / 1.4826) * 1.2);
    expect(validityFlags({ processes: [justBelow], protocol })).toEqual([]);
    const flags = validityFlags({ processes: [above], protocol });
    expect(flags.map((f) => f.flag)).toEqual(["unstable"]);
    expect(flags[0].detail).toMatch(
      /coefficient of variation \(1\.4826·MAD\/median\) 0\.12\d* over 1000 iterations exceeds 0\.1/,
    );
  });

  it("does not flag a steady case whose few outliers inflate the classic CV", () => {
    const values = steady(1000, 10, 0.1);
    for (let i = 0; i < 10; i++) values[i * 100] = 60; // 1% scheduler hiccups, 6× slower
    expect(validityFlags({ processes: [values], protocol })).toEqual([]);
  });

  it("flags a slow repeat as unstable through the between-process spread, and the few processes", () => {
    const flags = validityFlags({ processes: [steady(20, 10), steady(20, 10), steady(20, 14)], protocol });
    expect(flags.map((f) => f.flag)).toEqual(["unstable", "few-processes"]);
    expect(flags[0].detail).toContain("between repeat medians");
    expect(flags[1].detail).toContain("raise protocol.repeats to 10 or more");
  });

  it("flags few-processes mostly when repeats really differ, rarely by chance", () => {
    const rng = createRng(12);
    const simulate = (processes: number, betweenSd: number) =>
      Array.from({ length: processes }, () => {
        const offset = betweenSd * normalDraw(rng);
        return Array.from({ length: 200 }, () => 10 * Math.exp(offset + 0.1 * normalDraw(rng)));
      });
    const rate = (processes: number, betweenSd: number) => {
      let flagged = 0;
      for (let i = 0; i < 400; i++)
        if (
          validityFlags({ processes: simulate(processes, betweenSd), protocol }).some((f) => f.flag === "few-processes")
        )
          flagged++;
      return flagged / 400;
    };
    // No real difference: the variance ratio is χ²₂/2, above 4 with probability e⁻⁴ ≈ 2%.
    expect(rate(3, 0)).toBeLessThan(0.05);
    // Offsets of σ = 0.03 (where 3-process CIs covered 82%): expected ratio ≈ 12, flagged with probability ≈ 72%.
    expect(rate(3, 0.03)).toBeGreaterThan(0.6);
    // Enough processes: never.
    expect(rate(MIN_PROCESSES_FOR_CI, 0.1)).toBe(0);
  });

  it("measures the between-process spread against iteration noise", () => {
    const rng = createRng(13);
    const same = Array.from({ length: 50 }, () => Array.from({ length: 100 }, () => normalDraw(rng) + 100));
    expect(betweenProcessSpread(same)!.varianceRatio).toBeGreaterThan(0.6);
    expect(betweenProcessSpread(same)!.varianceRatio).toBeLessThan(1.6);
    expect(betweenProcessSpread([[1, 2, 3]])).toBeUndefined();
  });

  it("flags too-short from the reported window, or from the iterations' sum without one", () => {
    const processes = [steady(5, 10), steady(20, 10)]; // sums 50.1 ms and 200 ms
    expect(validityFlags({ processes, protocol }).map((f) => f.flag)).toEqual(["too-short"]);
    expect(validityFlags({ processes, protocol })[0].detail).toContain("repeat 1/2 measured ≈50.1 ms");
    expect(validityFlags({ processes, protocol, measureWindowsMs: [150, 150] })).toEqual([]);
    expect(validityFlags({ processes, protocol, measureWindowsMs: [150, 90] })[0].detail).toContain(
      "repeat 2/2 measured 90.0 ms",
    );
  });

  it("merges sampler flags in, once per flag", () => {
    const flags = validityFlags({
      processes: [steady(20)],
      protocol,
      extra: [
        { flag: "clocks-changed", detail: "repeat 1: SM clock 1980 → 1410 MHz" },
        { flag: "clocks-changed", detail: "repeat 2: SM clock 1980 → 1500 MHz" },
        { flag: "energy-integrated-from-power", detail: "no energy counter" },
      ],
    });
    expect(flags).toEqual([
      { flag: "clocks-changed", detail: "repeat 1: SM clock 1980 → 1410 MHz; repeat 2: SM clock 1980 → 1500 MHz" },
      { flag: "energy-integrated-from-power", detail: "no energy counter" },
    ]);
  });
});

describe("combineValidity", () => {
  it("drops repeated details of the same flag", () => {
    expect(
      combineValidity([
        { flag: "thermal-throttle", detail: "x" },
        { flag: "thermal-throttle", detail: "x" },
      ]),
    ).toEqual([{ flag: "thermal-throttle", detail: "x" }]);
  });
});
