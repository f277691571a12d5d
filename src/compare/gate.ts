// The statistics of `npm run bench:gate` (docs/ci.md): how often the compare gate raises a false alarm
// between two samples of the same thing (A/A), how often it catches a known slowdown (A/B), and how often it
// cannot decide — each comparison drawing R processes per side from a measured pool of process-level repeats.
import { createRng } from "../measure/stats.js";
import { PROTOCOL_DEFAULTS } from "../measure/protocol.js";
import { compareSamples, type Verdict } from "./compare.js";
import { clopperPearson, type ProportionInterval } from "./distributions.js";

/** Acceptance of the gate: the 95% upper bound of A/A false alarms… */
export const GATE_MAX_FALSE_ALARM = 0.1;
/** …the 95% lower bound of detections of the injected slowdown… */
export const GATE_MIN_DETECTION = 0.9;
/** …and the share of inconclusive verdicts in each experiment. */
export const GATE_MAX_INCONCLUSIVE = 0.2;

/** Per-iteration samples of process-level repeats: arm A as is, arm B with the injected slowdown. */
export interface GatePool {
  a: number[][];
  b: number[][];
}

export interface GateExperimentOptions {
  /** Processes per side (R). */
  repeats: number;
  comparisons: number;
  threshold: number;
  seed: number;
  resamples?: number;
}

export interface GateExperiment {
  kind: "A/A" | "A/B";
  counts: Record<Verdict, number>;
  /** head/base ratio of each comparison. */
  ratios: number[];
  /** Relative half-width of each comparison's equivalence interval, √(high/low) − 1: only below the threshold can it show `unchanged`. */
  halfWidths: number[];
}

/** `count` distinct indices below `n` (a partial Fisher–Yates shuffle). */
export function drawIndices(n: number, count: number, rng: () => number): number[] {
  if (count > n) throw new RangeError(`drawIndices: cannot draw ${count} distinct of ${n}`);
  const indices = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rng() * (n - i));
    [indices[i], indices[j]] = [indices[j]!, indices[i]!];
  }
  return indices.slice(0, count);
}

/**
 * A/A: R processes of A against R other processes of A (every `regressed` is a false alarm). A/B: R of A as base
 * against R of B as head (every `regressed` is a detection). Each comparison has its own bootstrap seed.
 */
export function runGateExperiment(pool: GatePool, kind: "A/A" | "A/B", options: GateExperimentOptions): GateExperiment {
  const { repeats, comparisons, threshold, seed } = options;
  if (pool.a.length < (kind === "A/A" ? 2 * repeats : repeats) || (kind === "A/B" && pool.b.length < repeats))
    throw new RangeError(
      `the pool (${pool.a.length} A, ${pool.b.length} B processes) is too small for ${kind} draws of ${repeats} per side`,
    );
  const rng = createRng(seed + (kind === "A/A" ? 0 : 1));
  const counts: Record<Verdict, number> = { regressed: 0, improved: 0, unchanged: 0, inconclusive: 0 };
  const ratios: number[] = [];
  const halfWidths: number[] = [];
  for (let k = 0; k < comparisons; k++) {
    let base: number[][];
    let head: number[][];
    if (kind === "A/A") {
      const chosen = drawIndices(pool.a.length, 2 * repeats, rng).map((i) => pool.a[i]!);
      [base, head] = [chosen.slice(0, repeats), chosen.slice(repeats)];
    } else {
      base = drawIndices(pool.a.length, repeats, rng).map((i) => pool.a[i]!);
      head = drawIndices(pool.b.length, repeats, rng).map((i) => pool.b[i]!);
    }
    const result = compareSamples(base, head, {
      threshold,
      resamples: options.resamples ?? PROTOCOL_DEFAULTS.bootstrapResamples,
      seed: seed * 100_003 + k,
    });
    counts[result.verdict]++;
    if (result.ratio !== null) ratios.push(result.ratio);
    if (result.equivalenceLow !== null && result.equivalenceHigh !== null)
      halfWidths.push(Math.sqrt(result.equivalenceHigh / result.equivalenceLow) - 1);
  }
  return { kind, counts, ratios, halfWidths };
}

export interface GateCheck {
  name: string;
  interval: ProportionInterval;
  rule: string;
  pass: boolean;
}

/** The acceptance checks, each rate with its exact 95% Clopper–Pearson interval. */
export function gateChecks(aa: GateExperiment, ab: GateExperiment): GateCheck[] {
  const rate = (experiment: GateExperiment, verdict: Verdict) =>
    clopperPearson(
      experiment.counts[verdict],
      Object.values(experiment.counts).reduce((sum, n) => sum + n, 0),
    );
  const falseAlarm = rate(aa, "regressed");
  const detection = rate(ab, "regressed");
  const aaInconclusive = rate(aa, "inconclusive");
  const abInconclusive = rate(ab, "inconclusive");
  const pct = (x: number) => `${x * 100}%`;
  return [
    {
      name: "A/A false alarms (regressed)",
      interval: falseAlarm,
      rule: `95% upper bound ≤ ${pct(GATE_MAX_FALSE_ALARM)}`,
      pass: falseAlarm.high <= GATE_MAX_FALSE_ALARM,
    },
    {
      name: "A/B detections of the slowdown",
      interval: detection,
      rule: `95% lower bound ≥ ${pct(GATE_MIN_DETECTION)}`,
      pass: detection.low >= GATE_MIN_DETECTION,
    },
    {
      name: "A/A inconclusive",
      interval: aaInconclusive,
      rule: `≤ ${pct(GATE_MAX_INCONCLUSIVE)}`,
      pass: aaInconclusive.rate <= GATE_MAX_INCONCLUSIVE,
    },
    {
      name: "A/B inconclusive",
      interval: abInconclusive,
      rule: `≤ ${pct(GATE_MAX_INCONCLUSIVE)}`,
      pass: abInconclusive.rate <= GATE_MAX_INCONCLUSIVE,
    },
  ];
}
