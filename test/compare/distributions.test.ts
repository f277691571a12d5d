import { describe, expect, it } from "vitest";
import {
  betaQuantile,
  clopperPearson,
  formatProportion,
  logGamma,
  normalQuantile,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTQuantile,
} from "../../src/compare/distributions.js";

/** P(X ≤ k) for X ~ Binomial(n, p), by summing the pmf built up multiplicatively: independent of the beta code. */
function binomialCdf(k: number, n: number, p: number): number {
  let pmf = (1 - p) ** n;
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    sum += pmf;
    pmf *= ((n - i) / (i + 1)) * (p / (1 - p));
  }
  return sum;
}

describe("logGamma", () => {
  it("gives ln((n − 1)!) at integers and ln √π at one half", () => {
    expect(logGamma(1)).toBeCloseTo(0, 13);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(21)).toBeCloseTo(Math.log(2432902008176640000), 10);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
  });
});

describe("regularizedIncompleteBeta", () => {
  it("equals the binomial tail it stands for at integer parameters", () => {
    // I_x(a, b) = P(Binomial(a + b − 1, x) ≥ a)
    expect(regularizedIncompleteBeta(0.5, 2, 3)).toBeCloseTo(11 / 16, 14);
    for (const [x, a, b] of [
      [0.1, 3, 40],
      [0.7, 12, 5],
      [0.03, 1, 200],
      [0.9, 199, 2],
    ] as const)
      expect(regularizedIncompleteBeta(x, a, b)).toBeCloseTo(1 - binomialCdf(a - 1, a + b - 1, x), 12);
  });

  it("is 0 at 0, 1 at 1, and x itself for Beta(1, 1)", () => {
    expect(regularizedIncompleteBeta(0, 2, 5)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 5)).toBe(1);
    expect(regularizedIncompleteBeta(0.37, 1, 1)).toBeCloseTo(0.37, 14);
  });

  it("refuses parameters outside its domain", () => {
    expect(() => regularizedIncompleteBeta(0.5, 0, 1)).toThrow(RangeError);
    expect(() => regularizedIncompleteBeta(1.5, 1, 1)).toThrow(RangeError);
  });
});

describe("betaQuantile", () => {
  it("inverts the CDF", () => {
    for (const [q, a, b] of [
      [0.025, 3, 198],
      [0.975, 190, 11],
      [0.5, 2, 2],
    ] as const)
      expect(regularizedIncompleteBeta(betaQuantile(q, a, b), a, b)).toBeCloseTo(q, 12);
  });
});

describe("clopperPearson", () => {
  it("matches R's binom.test for 5 of 10 and 1 of 20", () => {
    const half = clopperPearson(5, 10);
    expect(half.low).toBeCloseTo(0.187086, 6);
    expect(half.high).toBeCloseTo(0.812914, 6);
    const one = clopperPearson(1, 20);
    expect(one.low).toBeCloseTo(0.001265, 6);
    expect(one.high).toBeCloseTo(0.248733, 6);
  });

  it("has the closed forms at the edges: 0 successes and all successes", () => {
    const none = clopperPearson(0, 200);
    expect(none.low).toBe(0);
    expect(none.high).toBeCloseTo(1 - 0.025 ** (1 / 200), 12);
    const all = clopperPearson(200, 200);
    expect(all.high).toBe(1);
    expect(all.low).toBeCloseTo(0.025 ** (1 / 200), 12);
  });

  it("puts exactly α/2 of binomial probability beyond each bound", () => {
    for (const [x, n] of [
      [7, 200],
      [183, 200],
      [40, 250],
    ] as const) {
      const ci = clopperPearson(x, n);
      expect(1 - binomialCdf(x - 1, n, ci.low)).toBeCloseTo(0.025, 10); // P(X ≥ x | low)
      expect(binomialCdf(x, n, ci.high)).toBeCloseTo(0.025, 10); // P(X ≤ x | high)
    }
  });

  it("narrows as the confidence level falls and refuses impossible counts", () => {
    const wide = clopperPearson(12, 200, 0.99);
    const narrow = clopperPearson(12, 200, 0.9);
    expect(wide.low).toBeLessThan(narrow.low);
    expect(wide.high).toBeGreaterThan(narrow.high);
    expect(() => clopperPearson(11, 10)).toThrow(RangeError);
    expect(() => clopperPearson(1, 0)).toThrow(RangeError);
    expect(() => clopperPearson(1.5, 10)).toThrow(RangeError);
  });

  it("formats a rate with its bounds in percent", () => {
    expect(formatProportion(clopperPearson(5, 10))).toBe("5/10 = 50.0% [18.7%, 81.3%]");
  });
});

describe("normal and Student t quantiles", () => {
  it("match the tables: z 0.975 = 1.959964, t 0.975 at 1, 4 and 8 degrees of freedom", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 6);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 6);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062, 4);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.776445, 6);
    expect(studentTQuantile(0.975, 8)).toBeCloseTo(2.306004, 6);
    expect(studentTQuantile(0.025, 8)).toBeCloseTo(-2.306004, 6);
  });

  it("has a t CDF that is symmetric and tends to the normal with many degrees of freedom", () => {
    expect(studentTCdf(1.3, 6) + studentTCdf(-1.3, 6)).toBeCloseTo(1, 14);
    expect(studentTQuantile(0.975, 100_000)).toBeCloseTo(normalQuantile(0.975), 4);
  });
});
