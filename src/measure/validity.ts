// Validity verdicts per result (docs/protocol.md): a number comes with the reasons not to trust it. The timing
// flags are decided here from the raw per-iteration samples; samplers add their own flags (energy, clocks…)
// to the same list, in the same shape.
import type { Protocol } from "../suite/schema.js";
import { MIN_SAMPLES_PER_REPEAT, UNSTABLE_CV } from "./protocol.js";
import { cv, mean, median, stddev } from "./stats.js";

/**
 * Below this many processes (repeats), a bootstrap CI cannot be trusted once repeats differ by more than their
 * iteration noise explains. Measured with the coverage simulation of test/measure/stats.test.ts (400 datasets
 * each, 200 iterations per process, lognormal iteration noise σ = 0.1): with a per-process offset of σ = 0.03 the
 * 95% CI of the median covered the truth in 82% of datasets with 3 processes, 86% with 5, 92% with 10 and 95% with
 * 30; with σ = 0.1, in 74%, 86%, 89% and 93%.
 */
export const MIN_PROCESSES_FOR_CI = 10;
/**
 * `few-processes` is raised when the variance of the repeats' medians exceeds this multiple of what iteration noise
 * alone gives them. With no real between-process difference and 3 processes the ratio exceeds 4 by chance in
 * about 2% of results (it is χ²₂/2-distributed).
 */
export const BETWEEN_PROCESS_VARIANCE_RATIO = 4;

/** Every flag a result can carry; a flag not listed here still fits (`string & {}`) so that new samplers need no change. */
export type ValidityFlag =
  // timing, decided here
  | "too-few-samples"
  | "unstable"
  | "too-short"
  | "few-processes"
  // samplers (native sampler, energy, NVML)
  | "energy-window-too-short"
  | "energy-integrated-from-power"
  | "clocks-changed"
  | "power-limit-changed"
  | "power-capped"
  | "thermal-throttle"
  | "sampler-overhead"
  | "sampler-dropped-rows"
  | "process-memory-from-device"
  // GPU profiling pass
  | "host-bound"
  | (string & {});

export interface ValidityRecord {
  flag: ValidityFlag;
  /** What was seen, with the numbers, for a person reading the report. */
  detail: string;
}

export interface ValidityInput {
  /** Per-iteration latencies in ms, one array per repeat (process). */
  processes: number[][];
  protocol: Pick<Protocol, "minMeasureMs">;
  /** Fewer timed iterations than this in a repeat flags `too-few-samples`. */
  minSamplesPerRepeat?: number;
  /** A pooled coefficient of variation above this flags `unstable`. */
  unstableCv?: number;
  /**
   * The measure window of each repeat in ms, when the runner reports it. Without it the window is the sum of
   * the repeat's iterations: the measure loop times iterations back to back, so the sum is the window less
   * the loop's own few microseconds per iteration.
   */
  measureWindowsMs?: Array<number | null | undefined>;
  /** Flags raised elsewhere (sampler, energy) to report with these, merged by flag. */
  extra?: ValidityRecord[];
}

const format = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));

/** The timing validity flags of one result, plus `extra`, merged so that each flag appears once. */
export function validityFlags(input: ValidityInput): ValidityRecord[] {
  const flags: ValidityRecord[] = [];
  const minSamples = input.minSamplesPerRepeat ?? MIN_SAMPLES_PER_REPEAT;
  const unstableCv = input.unstableCv ?? UNSTABLE_CV;
  const repeatCount = input.processes.length;
  const label = (index: number) => `repeat ${index + 1}/${repeatCount}`;

  const few = input.processes.map((p, index) => ({ index, count: p.length })).filter((r) => r.count < minSamples);
  if (few.length > 0)
    flags.push({
      flag: "too-few-samples",
      detail: `${few.map((r) => `${label(r.index)} has ${r.count} timed iteration${r.count === 1 ? "" : "s"}`).join(", ")}; at least ${minSamples} are needed per repeat`,
    });

  // Robust dispersion: a few scheduler hiccups on a shared machine make the classic CV explode while the
  // median (what is reported) does not move; the MAD-based CV (1.4826·MAD/median, ≈ CV for normal data) does not.
  const all = input.processes.flat();
  const robust = robustCv(all);
  const medians = input.processes.filter((p) => p.length > 0).map((p) => median(p));
  const betweenCv = cv(medians);
  // A repeat whose median is off (between-process variance) is unstable even when each repeat is steady.
  if ((Number.isFinite(robust) && robust > unstableCv) || (Number.isFinite(betweenCv) && betweenCv > unstableCv)) {
    const perRepeat = input.processes
      .map((p) => robustCv(p))
      .filter(Number.isFinite)
      .map(format);
    flags.push({
      flag: "unstable",
      detail:
        `robust coefficient of variation (1.4826·MAD/median) ${format(robust)} over ${all.length} iterations exceeds ${unstableCv}` +
        (perRepeat.length > 0 ? ` (within repeats: ${perRepeat.join(", ")}` : " (") +
        (Number.isFinite(betweenCv)
          ? `; between repeat medians: ${format(betweenCv)}; classic CV ${format(cv(all))})`
          : ")"),
    });
  }

  const spread = betweenProcessSpread(input.processes);
  if (spread && spread.processes < MIN_PROCESSES_FOR_CI && spread.varianceRatio > BETWEEN_PROCESS_VARIANCE_RATIO)
    flags.push({
      flag: "few-processes",
      detail:
        `the ${spread.processes} repeats' medians differ by ${format(spread.medianCv * 100)}% (CV), ${format(spread.varianceRatio)}× the variance ` +
        `iteration noise explains; with fewer than ${MIN_PROCESSES_FOR_CI} processes the 95% CI is too narrow ` +
        `(in simulation it covered the truth 74–86% of the time) — raise protocol.repeats to ${MIN_PROCESSES_FOR_CI} or more`,
    });

  const short: string[] = [];
  input.processes.forEach((p, index) => {
    if (p.length === 0) return;
    const reported = input.measureWindowsMs?.[index];
    const windowMs = reported ?? p.reduce((a, b) => a + b, 0);
    if (windowMs < input.protocol.minMeasureMs)
      short.push(`${label(index)} measured ${reported == null ? "≈" : ""}${format(windowMs)} ms`);
  });
  if (short.length > 0)
    flags.push({
      flag: "too-short",
      detail: `${short.join(", ")}, less than the protocol's minMeasureMs ${input.protocol.minMeasureMs} ms (the iteration cap, maxIterations, was reached first)`,
    });

  return combineValidity([...flags, ...(input.extra ?? [])]);
}

/**
 * How much the repeats' medians differ beyond what their iteration noise explains: the sample variance of the
 * per-process medians over the mean squared standard error of a median (≈ 1.2533·sd/√n for near-normal noise).
 * About 1 when processes differ only by chance; undefined below two processes with two iterations each.
 */
export function betweenProcessSpread(
  processes: number[][],
): { processes: number; medianCv: number; varianceRatio: number } | undefined {
  const usable = processes.filter((p) => p.length >= 2);
  if (usable.length < 2) return undefined;
  const medians = usable.map((p) => median(p));
  const expected = mean(usable.map((p) => (1.2533 * stddev(p)) ** 2 / p.length));
  const observed = stddev(medians) ** 2;
  const varianceRatio = expected > 0 ? observed / expected : observed > 0 ? Infinity : 0;
  return { processes: usable.length, medianCv: cv(medians), varianceRatio };
}

/** Merges records with the same flag (e.g. one per repeat) into one, keeping every distinct detail in order. */
export function combineValidity(records: ValidityRecord[]): ValidityRecord[] {
  const byFlag = new Map<string, string[]>();
  for (const record of records) {
    const details = byFlag.get(record.flag) ?? [];
    if (!details.includes(record.detail)) details.push(record.detail);
    byFlag.set(record.flag, details);
  }
  return [...byFlag].map(([flag, details]) => ({ flag, detail: details.join("; ") }));
}

/** 1.4826 × median absolute deviation ÷ median: the CV's robust analogue (equal to it for normal data). */
export function robustCv(xs: number[]): number {
  if (xs.length < 2) return NaN;
  const m = median(xs);
  return (1.4826 * median(xs.map((x) => Math.abs(x - m)))) / m;
}
