// Serve settings for request lengths and duration bounds: the seeded length draws (same seed ⇒ same lengths, clipped
// to the caps and the model's context, the fitted distribution recorded), and the clear errors a suite gets for bad
// settings (an unknown dataset lists the known ones; cancel without a duration; min above max; an unknown kind).
import { describe, expect, it } from "vitest";
import "../../runners/index.js";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { UsageError } from "../../src/messages.js";
import { LENGTH_DATASET_IDS, LengthSampler, lengthsSchema } from "../../runners/serve/lengths.js";
import { pointBound, type ServeSettings } from "../../runners/serve/settings.js";
import { serveStaticReason } from "../../runners/serve/support.js";

const MICRO = { name: "micro", layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97 };

const suite = (serve: Record<string, unknown>) => ({
  name: "x",
  models: [MICRO],
  scenarios: ["serving"],
  workloads: [{ promptTokens: 12, newTokens: 4 }],
  runners: ["serve"],
  serve,
});

function settingsError(serve: Record<string, unknown>): string {
  try {
    validateSuite(suite(serve), "s.ts");
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error("expected the suite to be rejected");
}

const draws = (sampler: LengthSampler, n: number) => Array.from({ length: n }, (_, i) => sampler.at(i));

describe("request lengths", () => {
  it("draws the same lengths from the same seed, other lengths from another, each prefix independent of n", () => {
    const spec = lengthsSchema.parse({ kind: "dataset", dataset: "chat-sharegpt" });
    const a = draws(new LengthSampler(spec, { prompt: 12, output: 4 }, 4096, 5), 200);
    expect(draws(new LengthSampler(spec, { prompt: 12, output: 4 }, 4096, 5), 200)).toEqual(a);
    expect(draws(new LengthSampler(spec, { prompt: 12, output: 4 }, 4096, 6), 200)).not.toEqual(a);
    expect(draws(new LengthSampler(spec, { prompt: 12, output: 4 }, 4096, 5), 20)).toEqual(a.slice(0, 20));
    expect(new Set(a.map((l) => l.output)).size).toBeGreaterThan(50);
  });

  it("fits a log-normal to the dataset's mean (σ assumed), whose draws average near that mean, and records it", () => {
    const spec = lengthsSchema.parse({ kind: "dataset", dataset: "chat-alpaca" });
    const sampler = new LengthSampler(spec, { prompt: 12, output: 4 }, 1_000_000, 1);
    const n = 20_000;
    draws(sampler, n);
    const summary = sampler.summary(n) as { prompt: { mean: number }; output: { mean: number } };
    // chat-alpaca: means 19.31 (prompt) and 58.45 (output); rounding and the clip at 1 move them a little.
    expect(summary.prompt.mean).toBeGreaterThan(19.31 * 0.95);
    expect(summary.prompt.mean).toBeLessThan(19.31 * 1.05);
    expect(summary.output.mean).toBeGreaterThan(58.45 * 0.95);
    expect(summary.output.mean).toBeLessThan(58.45 * 1.05);
    expect(sampler.description).toMatchObject({
      kind: "dataset",
      dataset: "chat-alpaca",
      assumption: expect.stringMatching(/log-normal .* assumed σ = 1 .* not the dataset's own distribution/),
      output: { distribution: "log-normal", fittedTo: "mean 58.45", mu: Math.log(58.45) - 0.5, sigma: 1 },
    });
  });

  it("fits the median where the dataset gives no mean", () => {
    const spec = lengthsSchema.parse({ kind: "dataset", dataset: "code-azure-coding", sigma: 0.5 });
    const sampler = new LengthSampler(spec, { prompt: 12, output: 4 }, 1_000_000, 1);
    expect(sampler.description).toMatchObject({ prompt: { fittedTo: "median 1500", mu: Math.log(1500), sigma: 0.5 } });
    const outputs = draws(sampler, 4001)
      .map((l) => l.output)
      .sort((x, y) => x - y);
    expect(outputs[2000]).toBeGreaterThanOrEqual(12);
    expect(outputs[2000]).toBeLessThanOrEqual(14);
  });

  it("clips to the caps and the model's context (prompt + output ≤ context) and counts the clipped draws", () => {
    const spec = lengthsSchema.parse({ kind: "dataset", dataset: "chat-sharegpt", maxPromptTokens: 40 });
    const sampler = new LengthSampler(spec, { prompt: 12, output: 4 }, 64, 3);
    const all = draws(sampler, 300);
    for (const l of all) {
      expect(l.prompt).toBeGreaterThanOrEqual(1);
      expect(l.prompt).toBeLessThanOrEqual(40);
      expect(l.output).toBeGreaterThanOrEqual(1);
      expect(l.prompt + l.output).toBeLessThanOrEqual(64);
    }
    const summary = sampler.summary(300) as { clippedDraws: { prompt: number; output: number } };
    expect(summary.clippedDraws.prompt).toBeGreaterThan(100);
    expect(summary.clippedDraws.output).toBeGreaterThan(100);
  });

  it("draws uniform lengths within the bounds, both bounds reached; fixed gives the workload's pair", () => {
    const spec = lengthsSchema.parse({ kind: "uniform", prompt: { min: 3, max: 6 }, output: { min: 2, max: 2 } });
    const all = draws(new LengthSampler(spec, { prompt: 12, output: 4 }, 4096, 9), 400);
    expect(new Set(all.map((l) => l.prompt))).toEqual(new Set([3, 4, 5, 6]));
    expect(new Set(all.map((l) => l.output))).toEqual(new Set([2]));
    const fixed = new LengthSampler(lengthsSchema.parse({ kind: "fixed" }), { prompt: 12, output: 4 }, 4096, 9);
    expect(draws(fixed, 3)).toEqual([
      { prompt: 12, output: 4 },
      { prompt: 12, output: 4 },
      { prompt: 12, output: 4 },
    ]);
  });
});

describe("serve settings", () => {
  it("an unknown dataset id names the path and lists the known ones", () => {
    const message = settingsError({ lengths: { kind: "dataset", dataset: "sharegpt" } });
    expect(message).toContain("s.ts");
    expect(message).toMatch(/serve\.lengths\.dataset: unknown workload dataset — known: chat-sharegpt, chat-alpaca/);
    expect(message).toContain('got "sharegpt"');
    for (const id of LENGTH_DATASET_IDS) expect(message).toContain(id);
  });

  it("refuses cancel without a duration, min above max, an unknown kind, a non-positive duration", () => {
    expect(settingsError({ inFlight: "cancel" })).toMatch(/serve\.inFlight: cancel needs serve\.durationS/);
    expect(
      settingsError({ lengths: { kind: "uniform", prompt: { min: 9, max: 3 }, output: { min: 1, max: 2 } } }),
    ).toMatch(/serve\.lengths\.prompt\.max: min is above max/);
    expect(settingsError({ lengths: { kind: "zipf" } })).toMatch(
      /serve\.lengths(\.kind)?: expected kind "fixed" \(the workload's lengths\), "uniform" or "dataset"/,
    );
    expect(settingsError({ durationS: 0 })).toMatch(/serve\.durationS: a duration is seconds, > 0/);
  });

  it("keys and names cases by non-default lengths and duration bounds, and keeps the default cases as they were", () => {
    const names = (serve: Record<string, unknown>) =>
      planSuite(validateSuite(suite(serve), "s.ts").suite, { codeVersion: "t" }).map((c) => c.name);
    const keys = (serve: Record<string, unknown>) =>
      planSuite(validateSuite(suite(serve), "s.ts").suite, { codeVersion: "t" }).map((c) => c.caseKey);
    expect(names({ rates: [2] })[0]).toMatch(/2 req\/s poisson$/);
    expect(names({ rates: [2], lengths: { kind: "dataset", dataset: "chat-alpaca" } })[0]).toMatch(
      /2 req\/s poisson, chat-alpaca lengths$/,
    );
    expect(names({ concurrency: [2], durationS: 3, inFlight: "cancel" })[0]).toMatch(/concurrency 2, 3 s cancel$/);
    const base = keys({ rates: [2] })[0];
    expect(keys({ rates: [2], lengths: { kind: "fixed" } })[0]).toBe(base);
    expect(keys({ rates: [2], lengths: { kind: "dataset", dataset: "chat-alpaca" } })[0]).not.toBe(base);
    expect(keys({ rates: [2], durationS: 3 })[0]).not.toBe(base);
  });

  it("says a duration that does not end before the case timeout is unsupported, with the fix", () => {
    const [c] = planSuite(
      validateSuite({ ...suite({ durationS: 30 }), protocol: { caseTimeoutMs: 20_000 } }, "s.ts").suite,
      { codeVersion: "t" },
    );
    expect(serveStaticReason(c!)).toMatch(
      /serve\.durationS \(30 s\) does not end before the case timeout .*20000 ms.* shorten durationS or raise caseTimeoutMs/,
    );
  });

  it("bounds a point by its count (16 by default, all drain) or its duration (no count unless given)", () => {
    const settings = (serve: Record<string, unknown>) =>
      validateSuite(suite(serve), "s.ts").suite.serve as unknown as ServeSettings;
    expect(pointBound(settings({}))).toEqual({ requests: 16, inFlight: "drain" });
    expect(pointBound(settings({ requests: 5, inFlight: "drain" }))).toEqual({ requests: 5, inFlight: "drain" });
    expect(pointBound(settings({ durationS: 2, inFlight: "cancel" }))).toEqual({
      requests: Infinity,
      durationMs: 2000,
      inFlight: "cancel",
    });
    expect(pointBound(settings({ durationS: 2, requests: 7 }))).toEqual({
      requests: 7,
      durationMs: 2000,
      inFlight: "drain",
    });
  });
});
