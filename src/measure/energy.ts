// Energy and time-averages from sampled series (pure functions; sampler-metrics.ts applies them to a trace).
// Times are ms on one clock; a NaN value is a sample where the source could not be read and is skipped.

/** A window [startMs, endMs] on the sampler's clock (CLOCK_MONOTONIC ms). */
export interface TimeWindow {
  startMs: number;
  endMs: number;
}

/**
 * The energy counter quantises: with a difference over fewer than this many counter updates, one update at
 * either end is a > 10% error, so a shorter window is flagged `energy-window-too-short`.
 */
export const MIN_ENERGY_WINDOW_UPDATES = 10;
/**
 * NVML's power reading is itself an average over about a second on recent GPUs (Hopper: ~1 s), so power
 * integrated over a window shorter than this many averaging periods is flagged as well.
 */
export const POWER_AVERAGING_MS = 1_000;
export const MIN_POWER_WINDOW_AVERAGES = 10;

/** Indices of the finite samples. */
function finiteIndices(values: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) out.push(i);
  return out;
}

/** Linear interpolation of a sampled series at `t`; null when `t` is outside the finite samples. */
export function valueAt(timesMs: ArrayLike<number>, values: ArrayLike<number>, t: number): number | null {
  const idx = finiteIndices(values);
  if (idx.length === 0) return null;
  const first = idx[0]!;
  const last = idx[idx.length - 1]!;
  if (t < timesMs[first]! || t > timesMs[last]!) return null;
  let lo = 0;
  let hi = idx.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (timesMs[idx[mid]!]! <= t) lo = mid;
    else hi = mid;
  }
  const i = idx[lo]!;
  const j = idx[hi]!;
  const t0 = timesMs[i]!;
  const t1 = timesMs[j]!;
  if (t === t0 || t1 === t0) return values[i]!;
  if (t === t1) return values[j]!;
  return values[i]! + ((values[j]! - values[i]!) * (t - t0)) / (t1 - t0);
}

/**
 * Trapezoid integral of a series over the window, clipped to the span of its finite samples. NaN rows (a source
 * not read on that row, or a failed read) are skipped: the neighbouring finite samples are joined.
 */
export function integrate(
  timesMs: ArrayLike<number>,
  values: ArrayLike<number>,
  window: TimeWindow,
): { integral: number; coveredMs: number } {
  let integral = 0;
  let coveredMs = 0;
  const idx = finiteIndices(values);
  for (let n = 0; n + 1 < idx.length; n++) {
    const t0 = timesMs[idx[n]!]!;
    const t1 = timesMs[idx[n + 1]!]!;
    const v0 = values[idx[n]!]!;
    const v1 = values[idx[n + 1]!]!;
    if (t1 <= t0) continue;
    const a = Math.max(t0, window.startMs);
    const b = Math.min(t1, window.endMs);
    if (b <= a) continue;
    const at = (t: number) => v0 + ((v1 - v0) * (t - t0)) / (t1 - t0);
    integral += ((at(a) + at(b)) / 2) * (b - a);
    coveredMs += b - a;
  }
  return { integral, coveredMs };
}

/** Time-weighted mean over the window (EfficientLLM's AMU when the series is memory); null without coverage. */
export function timeAverage(timesMs: ArrayLike<number>, values: ArrayLike<number>, window: TimeWindow): number | null {
  const { integral, coveredMs } = integrate(timesMs, values, window);
  return coveredMs > 0 ? integral / coveredMs : null;
}

/** Finite samples inside the window (inclusive). */
export function valuesIn(timesMs: ArrayLike<number>, values: ArrayLike<number>, window: TimeWindow): number[] {
  const out: number[] = [];
  for (let i = 0; i < timesMs.length; i++) {
    const t = timesMs[i]!;
    if (t >= window.startMs && t <= window.endMs && Number.isFinite(values[i])) out.push(values[i]!);
  }
  return out;
}

/**
 * How often a cumulative counter changes value: a low percentile (the 10th) of the gaps between the changes seen
 * in the samples, because the counter is read densely only at first (and at marks) and sparsely afterwards. A
 * counter that changes at every read updates at least that fast, so the result is then an upper bound. Null
 * when it changed fewer than twice.
 */
const UPDATE_PERIOD_PERCENTILE = 0.1;

export function counterUpdatePeriodMs(timesMs: ArrayLike<number>, counter: ArrayLike<number>): number | null {
  const changes: number[] = [];
  let previous: number | undefined;
  for (let i = 0; i < timesMs.length; i++) {
    const v = counter[i]!;
    if (!Number.isFinite(v)) continue;
    if (previous !== undefined && v !== previous) changes.push(timesMs[i]!);
    previous = v;
  }
  if (changes.length < 2) return null;
  const gaps = changes
    .slice(1)
    .map((t, i) => t - changes[i]!)
    .sort((a, b) => a - b);
  return gaps[Math.floor((gaps.length - 1) * UPDATE_PERIOD_PERCENTILE)]!;
}

/**
 * Unwraps a raw counter that wraps to 0 after `maxRange` (RAPL's max_energy_range_uj) into a cumulative series
 * starting at 0. Assumes at most one wrap between samples, which holds at any sampling rate above ~1 Hz.
 */
export function unwrapCounter(raw: ArrayLike<number>, maxRange: number): Float64Array {
  const out = new Float64Array(raw.length);
  let total = 0;
  for (let i = 1; i < raw.length; i++) {
    const delta = raw[i]! >= raw[i - 1]! ? raw[i]! - raw[i - 1]! : maxRange - raw[i - 1]! + raw[i]!;
    total += delta;
    out[i] = total;
  }
  return out;
}

export type EnergyResult =
  | {
      energyJ: number;
      source: "counter" | "integrated-power";
      windowMs: number;
      /** The counter's observed update period (counter) or the power averaging period (integrated power). */
      updatePeriodMs: number | null;
      tooShort: boolean;
      detail: string;
    }
  | { energyJ: null; reason: string };

/** Energy over the window from a cumulative counter (interpolated at the window's ends), in joules. */
export function energyFromCounter(
  timesMs: ArrayLike<number>,
  cumulative: ArrayLike<number>,
  window: TimeWindow,
  joulesPerUnit: number,
): EnergyResult {
  const windowMs = window.endMs - window.startMs;
  const start = valueAt(timesMs, cumulative, window.startMs);
  const end = valueAt(timesMs, cumulative, window.endMs);
  if (start === null || end === null)
    return { energyJ: null, reason: "the energy counter's samples do not cover the measure window" };
  const updatePeriodMs = counterUpdatePeriodMs(timesMs, cumulative);
  if (end === start) {
    return {
      energyJ: null,
      reason: `the energy counter did not advance during the ${windowMs.toFixed(1)} ms window${updatePeriodMs ? ` (it updates about every ${updatePeriodMs.toFixed(0)} ms)` : ""}`,
    };
  }
  const tooShort = updatePeriodMs !== null && windowMs < MIN_ENERGY_WINDOW_UPDATES * updatePeriodMs;
  return {
    energyJ: (end - start) * joulesPerUnit,
    source: "counter",
    windowMs,
    updatePeriodMs,
    tooShort,
    detail: tooShort
      ? `window ${windowMs.toFixed(0)} ms < ${MIN_ENERGY_WINDOW_UPDATES} × the counter's update period (${updatePeriodMs!.toFixed(0)} ms)`
      : `counter difference over ${windowMs.toFixed(0)} ms`,
  };
}

/** Fallback energy: power (W) integrated over the window (trapezoid), flagged by the caller. */
export function energyFromPower(
  timesMs: ArrayLike<number>,
  powerW: ArrayLike<number>,
  window: TimeWindow,
): EnergyResult {
  const windowMs = window.endMs - window.startMs;
  const { integral, coveredMs } = integrate(timesMs, powerW, window);
  if (coveredMs < windowMs * 0.9) return { energyJ: null, reason: "the power samples do not cover the measure window" };
  // Scale a small uncovered edge (< 10%) by the mean power rather than dropping it.
  const energyJ = ((integral / coveredMs) * windowMs) / 1000;
  const tooShort = windowMs < MIN_POWER_WINDOW_AVERAGES * POWER_AVERAGING_MS;
  return {
    energyJ,
    source: "integrated-power",
    windowMs,
    updatePeriodMs: POWER_AVERAGING_MS,
    tooShort,
    detail: tooShort
      ? `power integrated over ${windowMs.toFixed(0)} ms < ${MIN_POWER_WINDOW_AVERAGES} × the ~${POWER_AVERAGING_MS} ms averaging of NVML's power reading`
      : `power integrated over ${windowMs.toFixed(0)} ms`,
  };
}
