// Validity verdicts per result (DESIGN.md §5): a number comes with the reasons not to trust it. The timing
// flags are decided here from the raw per-iteration samples; samplers add their own flags (energy, clocks…)
// to the same list, in the same shape.
import type { Protocol } from "../suite/schema.js";
import { MIN_SAMPLES_PER_REPEAT, UNSTABLE_CV } from "./protocol.js";
import { cv, median } from "./stats.js";

/** Every flag a result can carry; a flag not listed here still fits (`string & {}`) so that new samplers need no change. */
export type ValidityFlag =
  // timing, decided here
  | "too-few-samples"
  | "unstable"
  | "too-short"
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
    const perRepeat = input.processes.map((p) => robustCv(p)).filter(Number.isFinite).map(format);
    flags.push({
      flag: "unstable",
      detail:
        `robust coefficient of variation (1.4826·MAD/median) ${format(robust)} over ${all.length} iterations exceeds ${unstableCv}` +
        (perRepeat.length > 0 ? ` (within repeats: ${perRepeat.join(", ")}` : " (") +
        (Number.isFinite(betweenCv) ? `; between repeat medians: ${format(betweenCv)}; classic CV ${format(cv(all))})` : ")"),
    });
  }

  const short: string[] = [];
  input.processes.forEach((p, index) => {
    if (p.length === 0) return;
    const reported = input.measureWindowsMs?.[index];
    const windowMs = reported ?? p.reduce((a, b) => a + b, 0);
    if (windowMs < input.protocol.minMeasureMs) short.push(`${label(index)} measured ${reported == null ? "≈" : ""}${format(windowMs)} ms`);
  });
  if (short.length > 0)
    flags.push({
      flag: "too-short",
      detail: `${short.join(", ")}, less than the protocol's minMeasureMs ${input.protocol.minMeasureMs} ms (the iteration cap, maxIterations, was reached first)`,
    });

  return combineValidity([...flags, ...(input.extra ?? [])]);
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
