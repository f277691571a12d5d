import { describe, expect, it } from "vitest";
import {
  counterUpdatePeriodMs,
  energyFromCounter,
  energyFromPower,
  integrate,
  MIN_ENERGY_WINDOW_UPDATES,
  timeAverage,
  unwrapCounter,
  valueAt,
} from "../../src/measure/energy.js";

describe("energy and time-averages from samples", () => {
  it("integrates a piecewise-linear series by the trapezoid rule, clipped to the window", () => {
    const t = [0, 10, 20, 30];
    const v = [0, 10, 10, 40];
    expect(integrate(t, v, { startMs: 0, endMs: 30 })).toEqual({ integral: 50 + 100 + 250, coveredMs: 30 });
    // From 5 to 25: 5..10 rises 5→10 (37.5), 10..20 flat (100), 20..25 rises 10→25 (87.5).
    expect(integrate(t, v, { startMs: 5, endMs: 25 }).integral).toBeCloseTo(225, 12);
    expect(timeAverage(t, v, { startMs: 5, endMs: 25 })).toBeCloseTo(225 / 20, 12);
  });

  it("joins the finite samples across rows where a source was not read (NaN), never treating them as zero", () => {
    const t = [0, 10, 20, 30];
    const v = [100, NaN, 200, NaN];
    expect(integrate(t, v, { startMs: 0, endMs: 30 })).toEqual({ integral: 3000, coveredMs: 20 });
    expect(timeAverage(t, v, { startMs: 0, endMs: 30 })).toBe(150);
  });

  it("interpolates a counter linearly between samples and refuses times outside them", () => {
    expect(valueAt([0, 10], [100, 200], 2.5)).toBe(125);
    expect(valueAt([0, 10], [100, 200], 10)).toBe(200);
    expect(valueAt([0, 10], [100, 200], 11)).toBeNull();
  });

  it("unwraps a RAPL-style counter that wraps after max_energy_range_uj", () => {
    const max = 1000;
    expect(Array.from(unwrapCounter([900, 990, 40, 100], max))).toEqual([0, 90, 140, 200]);
  });

  it("measures how often a counter updates from the gaps between its changes", () => {
    const t = Array.from({ length: 20 }, (_, i) => i * 10);
    const stepped = t.map((ms) => Math.floor(ms / 50) * 7);
    expect(counterUpdatePeriodMs(t, stepped)).toBe(50);
    expect(counterUpdatePeriodMs([0, 10, 20], [5, 5, 5])).toBeNull();
  });

  it("flags a counter difference over fewer than the minimum number of counter updates", () => {
    const t = Array.from({ length: 101 }, (_, i) => i * 10);
    const counter = t.map((ms) => Math.floor(ms / 20) * 1000); // updates every 20 ms, 1 J each
    const long = energyFromCounter(t, counter, { startMs: 0, endMs: 1000 }, 1e-3);
    expect(long).toMatchObject({ energyJ: 50, tooShort: false, updatePeriodMs: 20 });
    const short = energyFromCounter(
      t,
      counter,
      { startMs: 100, endMs: 100 + (MIN_ENERGY_WINDOW_UPDATES * 20) / 2 },
      1e-3,
    );
    expect(short).toMatchObject({ tooShort: true });
  });

  it("gives null with a reason, not 0, when the counter did not move in the window", () => {
    const result = energyFromCounter([0, 10, 20, 30, 40], [0, 0, 0, 5, 10], { startMs: 0, endMs: 20 }, 1e-3);
    expect(result.energyJ).toBeNull();
    expect(result).toMatchObject({ reason: expect.stringContaining("did not advance") });
  });

  it("integrates constant power into energy and flags windows shorter than the power averaging", () => {
    const t = Array.from({ length: 11 }, (_, i) => i * 100);
    const watts = t.map(() => 300);
    const result = energyFromPower(t, watts, { startMs: 0, endMs: 1000 });
    expect(result).toMatchObject({ energyJ: 300, source: "integrated-power", tooShort: true });
  });
});
