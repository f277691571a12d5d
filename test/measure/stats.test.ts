import { describe, expect, it } from "vitest";
import {
  createRng,
  cv,
  hierarchicalBootstrap,
  hierarchicalBootstrapAll,
  mean,
  median,
  medianCI,
  medianStatistic,
  normalDraw,
  percentile,
  percentileStatistic,
  ratioOfMediansCI,
  stddev,
  summarizeLatency,
} from "../../src/measure/stats.js";

describe("percentile", () => {
  // Expected values by hand with numpy's default (type 7): h = (n − 1)·p/100, x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]).
  it("interpolates linearly between closest ranks like numpy's default", () => {
    const xs = [35, 15, 50, 40, 20]; // sorted: 15 20 35 40 50
    expect(percentile(xs, 0)).toBe(15);
    expect(percentile(xs, 5)).toBeCloseTo(16, 12); // h = 0.2
    expect(percentile(xs, 30)).toBeCloseTo(23, 12); // h = 1.2
    expect(percentile(xs, 40)).toBeCloseTo(29, 12); // h = 1.6
    expect(percentile(xs, 50)).toBe(35);
    expect(percentile(xs, 100)).toBe(50);
    expect(percentile([1, 2, 3, 4], 25)).toBeCloseTo(1.75, 12); // h = 0.75
  });

  it("gives p90 and p99 of 1..10 as 9.1 and 9.91", () => {
    const xs = Array.from({ length: 10 }, (_, i) => 10 - i);
    expect(percentile(xs, 90)).toBeCloseTo(9.1, 12);
    expect(percentile(xs, 99)).toBeCloseTo(9.91, 12);
  });

  it("takes the mean of the two middle values as the median of an even count", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it("handles ties and sorted input", () => {
    expect(median([5, 5, 5, 5, 5, 1])).toBe(5);
    const sorted = Array.from({ length: 1001 }, (_, i) => i);
    expect(median(sorted)).toBe(500);
    expect(percentile(sorted, 99.9)).toBeCloseTo(999, 9);
  });

  it("matches a full sort on random data", () => {
    const rng = createRng(3);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + Math.floor(rng() * 200);
      const xs = Array.from({ length: n }, () => Math.round(rng() * 20)); // many ties
      const sorted = [...xs].sort((a, b) => a - b);
      const p = rng() * 100;
      const h = ((n - 1) * p) / 100;
      const lo = Math.floor(h);
      const expected = lo + 1 < n ? sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
      expect(percentile(xs, p)).toBeCloseTo(expected, 9);
    }
  });

  it("does not reorder its input", () => {
    const xs = [3, 1, 2];
    percentile(xs, 50);
    expect(xs).toEqual([3, 1, 2]);
  });

  it("gives NaN for no data and refuses p outside 0..100", () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentileStatistic(-1)).toThrow(RangeError);
  });
});

describe("mean, stddev and cv", () => {
  it("use the sample standard deviation (n − 1)", () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9]; // mean 5, Σ(x − 5)² = 32
    expect(mean(xs)).toBe(5);
    expect(stddev(xs)).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(cv(xs)).toBeCloseTo(Math.sqrt(32 / 7) / 5, 12);
  });

  it("give NaN where they are undefined", () => {
    expect(mean([])).toBeNaN();
    expect(stddev([1])).toBeNaN();
    expect(cv([0, 0])).toBeNaN();
  });
});

describe("createRng", () => {
  it("repeats the same stream for the same seed and differs between seeds", () => {
    const a = createRng(7);
    const b = createRng(7);
    const c = createRng(8);
    const streamA = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(streamA);
    expect(Array.from({ length: 5 }, c)).not.toEqual(streamA);
  });

  it("draws uniformly on [0, 1)", () => {
    const rng = createRng(1);
    const draws = Array.from({ length: 100_000 }, rng);
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    expect(mean(draws)).toBeCloseTo(0.5, 2);
    // Each decile holds 10% ± 0.5% (about 5 standard errors).
    const deciles = new Array(10).fill(0);
    for (const x of draws) deciles[Math.floor(x * 10)]++;
    for (const count of deciles) expect(Math.abs(count / draws.length - 0.1)).toBeLessThan(0.005);
  });
});

/** Lognormal per-iteration noise times a lognormal per-process offset; the true median of the marginal is `truth`. */
function syntheticProcesses(
  rng: () => number,
  processes: number,
  iterations: number,
  truth: number,
  betweenSd: number,
  withinSd: number,
) {
  return Array.from({ length: processes }, () => {
    const offset = betweenSd * normalDraw(rng);
    return Array.from({ length: iterations }, () => truth * Math.exp(offset + withinSd * normalDraw(rng)));
  });
}

describe("hierarchicalBootstrap", () => {
  it("is reproducible for a seed and brackets its estimate", () => {
    const data = syntheticProcesses(createRng(1), 3, 200, 10, 0.05, 0.1);
    const a = medianCI(data, { resamples: 500, seed: 11 });
    const b = medianCI(data, { resamples: 500, seed: 11 });
    expect(a).toEqual(b);
    expect(a.estimate).toBe(median(data.flat()));
    expect(a.low).toBeLessThan(a.estimate);
    expect(a.high).toBeGreaterThan(a.estimate);
  });

  it("gives the same interval on the counting fast path as through a generic statistic", () => {
    const data = syntheticProcesses(createRng(2), 4, 101, 10, 0.05, 0.1);
    for (const p of [50, 90, 99]) {
      const fast = hierarchicalBootstrap(data, percentileStatistic(p), { resamples: 300, seed: 5 });
      const generic = hierarchicalBootstrap(data, (xs) => percentile(xs, p), { resamples: 300, seed: 5 });
      expect(fast.low).toBeCloseTo(generic.low, 12);
      expect(fast.high).toBeCloseTo(generic.high, 12);
      expect(fast.estimate).toBeCloseTo(generic.estimate, 12);
    }
  });

  it("gives the same interval for the mean on the counting path as through a wrapped mean", () => {
    const data = syntheticProcesses(createRng(6), 3, 200, 10, 0.05, 0.1);
    const fast = hierarchicalBootstrap(data, mean, { resamples: 300, seed: 2 });
    const generic = hierarchicalBootstrap(data, (xs) => mean(xs), { resamples: 300, seed: 2 });
    expect(fast.estimate).toBe(mean(data.flat()));
    expect(fast.low).toBeCloseTo(generic.low, 10);
    expect(fast.high).toBeCloseTo(generic.high, 10);
  });

  it("computes several statistics on shared resamples, each equal to its own bootstrap", () => {
    const data = syntheticProcesses(createRng(8), 3, 150, 10, 0.05, 0.1);
    const options = { resamples: 300, seed: 4 };
    const all = hierarchicalBootstrapAll(
      data,
      { p50: medianStatistic, p99: percentileStatistic(99), mean, trimmed: (xs: number[]) => percentile(xs, 25) },
      options,
    );
    expect(all.p50).toEqual(hierarchicalBootstrap(data, medianStatistic, options));
    expect(all.p99).toEqual(hierarchicalBootstrap(data, percentileStatistic(99), options));
    expect(all.mean).toEqual(hierarchicalBootstrap(data, mean, options));
    expect(all.trimmed).toEqual(hierarchicalBootstrap(data, (xs) => percentile(xs, 25), options));
  });

  it("widens with between-process spread, which an iid bootstrap ignores", () => {
    const rng = createRng(4);
    const tight = syntheticProcesses(rng, 5, 400, 10, 0, 0.1);
    // Same iterations, shifted per process by ±10%.
    const spread = tight.map((p, i) => p.map((x) => x * (1 + (0.1 * (i - 2)) / 2)));
    const width = (ci: { low: number; high: number }) => ci.high - ci.low;
    const hierarchical = medianCI(spread, { resamples: 1000, seed: 1 });
    const iid = medianCI([spread.flat()], { resamples: 1000, seed: 1 });
    expect(width(hierarchical)).toBeGreaterThan(3 * width(iid));
    expect(width(medianCI(tight, { resamples: 1000, seed: 1 }))).toBeLessThan(width(hierarchical) / 3);
  });

  it("ignores empty processes and gives NaN without data", () => {
    const withEmpty = medianCI([[1, 2, 3], [], [2, 3, 4]], { resamples: 200, seed: 1 });
    const without = medianCI(
      [
        [1, 2, 3],
        [2, 3, 4],
      ],
      { resamples: 200, seed: 1 },
    );
    expect(withEmpty).toEqual(without);
    expect(medianCI([[], []], { resamples: 10, seed: 1 }).estimate).toBeNaN();
  });

  it("gives a zero-width interval when every value is equal", () => {
    expect(
      medianCI(
        [
          [2, 2],
          [2, 2, 2],
        ],
        { resamples: 100, seed: 1 },
      ),
    ).toEqual({ estimate: 2, low: 2, high: 2 });
  });

  it("refuses a confidence outside (0, 1) and a non-positive resample count", () => {
    expect(() => medianCI([[1]], { resamples: 10, seed: 1, confidence: 1 })).toThrow(RangeError);
    expect(() => medianCI([[1]], { resamples: 0, seed: 1 })).toThrow(RangeError);
  });

  // Calibration: a 95% CI must cover the true median in about 95% of datasets. Setting: 30 processes × 20
  // iterations, per-process offset and per-iteration noise both lognormal with σ = 0.1 — enough processes for the process-level resample to approximate the between-process
  // distribution. 1,000 datasets: the binomial standard error at 95% is 0.7 points, so 93–97% is ±3 SE.
  it("covers the true median in 93–97% of 1,000 synthetic datasets, where an iid bootstrap does not", () => {
    const rng = createRng(42);
    const trials = 1000;
    let covered = 0;
    let coveredIid = 0;
    for (let trial = 0; trial < trials; trial++) {
      const data = syntheticProcesses(rng, 30, 20, 10, 0.1, 0.1);
      const ci = medianCI(data, { resamples: 300, seed: trial });
      if (ci.low <= 10 && 10 <= ci.high) covered++;
      if (trial < 200) {
        const iid = medianCI([data.flat()], { resamples: 300, seed: trial });
        if (iid.low <= 10 && 10 <= iid.high) coveredIid++;
      }
    }
    const coverage = covered / trials;
    console.log(
      `median CI coverage: ${(coverage * 100).toFixed(1)}% hierarchical, ${((coveredIid / 200) * 100).toFixed(1)}% iid`,
    );
    expect(coverage).toBeGreaterThanOrEqual(0.93);
    expect(coverage).toBeLessThanOrEqual(0.97);
    // Treating iterations as independent ignores the between-process spread and is far too narrow.
    expect(coveredIid / 200).toBeLessThan(0.8);
  });
});

describe("ratioOfMediansCI", () => {
  it("estimates a known ratio and brackets it", () => {
    const rng = createRng(9);
    const base = syntheticProcesses(rng, 5, 300, 10, 0.02, 0.05);
    const head = syntheticProcesses(rng, 5, 300, 12, 0.02, 0.05);
    const ci = ratioOfMediansCI(head, base, { resamples: 1000, seed: 1 });
    expect(ci.ratio).toBeCloseTo(median(head.flat()) / median(base.flat()), 12);
    expect(ci.low).toBeLessThan(1.2);
    expect(ci.high).toBeGreaterThan(1.2);
    expect(ci.low).toBeGreaterThan(1.1);
  });

  it("covers 1 in 93–97% of A/A comparisons", () => {
    const rng = createRng(43);
    const trials = 600;
    let covered = 0;
    for (let trial = 0; trial < trials; trial++) {
      const a = syntheticProcesses(rng, 30, 20, 10, 0.1, 0.1);
      const b = syntheticProcesses(rng, 30, 20, 10, 0.1, 0.1);
      const ci = ratioOfMediansCI(a, b, { resamples: 300, seed: trial });
      if (ci.low <= 1 && 1 <= ci.high) covered++;
    }
    const coverage = covered / trials;
    console.log(`A/A ratio CI coverage: ${(coverage * 100).toFixed(1)}%`);
    expect(coverage).toBeGreaterThanOrEqual(0.93);
    expect(coverage).toBeLessThanOrEqual(0.97);
  });
});

describe("summarizeLatency", () => {
  it("summarises all iterations pooled, with the median's CI", () => {
    const processes = [
      [1, 2, 3, 4],
      [5, 6, 7, 8, 9, 10],
    ];
    const summary = summarizeLatency(processes, { resamples: 200, seed: 1 });
    expect(summary).toMatchObject({ count: 10, processes: 2, mean: 5.5, p50: 5.5, min: 1, max: 10 });
    expect(summary.p90).toBeCloseTo(9.1, 12);
    expect(summary.p99).toBeCloseTo(9.91, 12);
    expect(summary.cv).toBeCloseTo(stddev(processes.flat()) / 5.5, 12);
    expect(summary.betweenProcessCv).toBeCloseTo(stddev([2.5, 7.5]) / 5, 12);
    expect(summary.p50Low).toBeLessThanOrEqual(5.5);
    expect(summary.p50High).toBeGreaterThanOrEqual(5.5);
  });

  it("accepts the median statistic directly", () => {
    expect(hierarchicalBootstrap([[1, 2, 3]], medianStatistic, { resamples: 10, seed: 1 }).estimate).toBe(2);
  });
});
