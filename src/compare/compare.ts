// `bench compare`: a noise-aware regression gate (docs/ci.md). Cases are matched by caseKey; each side's raw samples
// are grouped by process (repeat), and the ratio of medians head/base gets a hierarchical-bootstrap CI — the
// process is the unit, since iterations inside one process are not independent.
import { median, ratioOfPercentilesCI } from "../measure/stats.js";
import { PROTOCOL_DEFAULTS } from "../measure/protocol.js";
import { openStore, type ResultRow, type Store } from "../store/store.js";
import { normalQuantile, studentTQuantile } from "./distributions.js";
import { compareMessages } from "./messages.js";
import { applyDriftControl, loadSideMachine, type CaseDrift, type DriftSummary } from "./drift.js";

export type Verdict = "regressed" | "improved" | "unchanged" | "inconclusive";
/** A verdict for a matched pair, or why there is none. */
export type CaseVerdict = Verdict | "only-in-base" | "only-in-head" | "not-comparable";

/** The metric compared unless told otherwise: per-iteration wall time, stored raw per process. */
export const DEFAULT_METRIC = "latency_ms";
/** The relative change that matters unless told otherwise (`--threshold 5%`). */
export const DEFAULT_THRESHOLD = 0.05;
/**
 * Below this many processes on a side the between-process variance is unknown (one process's iterations say
 * nothing about the next process), so the CI would be too narrow: such a pair is inconclusive, said rather than
 * guessed. `npm run bench:gate` measures the gate at 5 processes per side.
 */
export const MIN_PROCESSES_PER_SIDE = 2;

export interface CompareOptions {
  /** Relative change that matters, e.g. 0.05 for 5%. */
  threshold: number;
  resamples?: number;
  seed?: number;
  /** Two-sided confidence level of the ratio's CI (0.95 unless given). */
  confidence?: number;
  /** Lower is better (latency); false for throughput-like metrics. */
  lowerIsBetter?: boolean;
  /** Widen the CI for few processes (smallSampleExpansion); true unless false. */
  smallSampleCorrection?: boolean;
  /** The per-side statistic whose ratio is compared, as a percentile: 50 (the median) unless given. */
  percentile?: number;
}

/**
 * The decision rule, on the CI of head/base (for lower-is-better metrics):
 * - regressed: the whole CI is above 1 and the estimate exceeds 1 + threshold (significant and large enough);
 * - improved: the mirror image below 1 (the estimate under 1 / (1 + threshold));
 * - unchanged: the equivalence interval lies inside [1/(1+threshold), 1+threshold] — the two one-sided tests
 *   (TOST, Schuirmann 1987) at the one-sided level of the CI's tails doubled, i.e. the 90% interval beside a 95% CI,
 *   the usual equivalence test at 5%; without one, the CI itself (stricter);
 * - inconclusive: anything else — too noisy to decide, said rather than guessed.
 * Requiring both significance and size keeps small real shifts (a 2% change measured precisely) from failing a
 * gate whose threshold is 5%, while a CI that straddles the threshold stays inconclusive.
 */
export function decide(
  ratio: number,
  low: number,
  high: number,
  options: CompareOptions,
  equivalence?: { low: number; high: number },
): Verdict {
  const eq = equivalence ?? { low, high };
  if (![ratio, low, high, eq.low, eq.high].every((x) => Number.isFinite(x) && x > 0)) return "inconclusive";
  const flip = options.lowerIsBetter === false;
  const worse = flip ? { ratio: 1 / ratio, low: 1 / high, high: 1 / low } : { ratio, low, high };
  const worseEq = flip ? { low: 1 / eq.high, high: 1 / eq.low } : eq;
  const upper = 1 + options.threshold;
  const lower = 1 / upper;
  if (worse.low > 1 && worse.ratio > upper) return "regressed";
  if (worse.high < 1 && worse.ratio < lower) return "improved";
  if (worseEq.low >= lower && worseEq.high <= upper) return "unchanged";
  return "inconclusive";
}

/** The confidence level of the equivalence (TOST) interval that goes with a CI: 0.95 → 0.90. */
export function equivalenceConfidence(confidence: number): number {
  return 1 - 2 * (1 - confidence);
}

export interface SampleComparison {
  /** median(head) / median(base), all iterations pooled; null when a side has no samples. */
  ratio: number | null;
  low: number | null;
  high: number | null;
  /** The 90% interval (for a 95% CI) that decides `unchanged`: the two one-sided tests at 5%. */
  equivalenceLow: number | null;
  equivalenceHigh: number | null;
  verdict: Verdict;
  /** Why the verdict is inconclusive regardless of the numbers (too few processes). */
  reason?: string;
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * How much to widen the bootstrap CI of the ratio for few processes. Resampling n processes sees their variance
 * as (n − 1)/n of its size, and the percentile interval uses normal quantiles where Student's t applies, so with
 * 5 processes per side the plain interval misses far more often than 5% (measured: `npm run bench:gate`). The CI
 * of the log ratio is widened about the estimate by √(n/(n − 1)) · t(df; 1 − α/2) / z(1 − α/2), n the smaller
 * side's process count and df = n_base + n_head − 2: the normal-theory form of Hesterberg's expanded percentile
 * interval (2015). 3 processes per side: × 1.73; 5: × 1.32; 10: × 1.13; 30: × 1.04.
 */
export function smallSampleExpansion(baseProcesses: number, headProcesses: number, confidence = 0.95): number {
  const n = Math.min(baseProcesses, headProcesses);
  if (n < 2) return Number.POSITIVE_INFINITY;
  const q = 1 - (1 - confidence) / 2;
  return Math.sqrt(n / (n - 1)) * (studentTQuantile(q, baseProcesses + headProcesses - 2) / normalQuantile(q));
}

/** Widens [low, high] about `ratio` by `factor` on the log scale (a ratio's CI is symmetric there, not around it). */
export function expandInterval(
  ratio: number,
  low: number,
  high: number,
  factor: number,
): { low: number; high: number } {
  return { low: ratio * (low / ratio) ** factor, high: ratio * (high / ratio) ** factor };
}

/** Compares one metric's per-process samples of two sides (arrays of processes, each an array of iterations). */
export function compareSamples(base: number[][], head: number[][], options: CompareOptions): SampleComparison {
  const confidence = options.confidence ?? 0.95;
  const eqConfidence = equivalenceConfidence(confidence);
  // Same seed ⇒ the same bootstrap draws: the two intervals are two pairs of percentiles of one distribution.
  const bootstrap = (level: number) =>
    ratioOfPercentilesCI(head, base, options.percentile ?? 50, {
      resamples: options.resamples ?? PROTOCOL_DEFAULTS.bootstrapResamples,
      seed: options.seed ?? PROTOCOL_DEFAULTS.seed,
      confidence: level,
    });
  const raw = bootstrap(confidence);
  const baseProcesses = base.filter((p) => p.length > 0).length;
  const headProcesses = head.filter((p) => p.length > 0).length;
  if (Math.min(baseProcesses, headProcesses) < MIN_PROCESSES_PER_SIDE)
    return {
      ratio: finiteOrNull(raw.ratio),
      low: finiteOrNull(raw.low),
      high: finiteOrNull(raw.high),
      equivalenceLow: null,
      equivalenceHigh: null,
      verdict: "inconclusive",
      reason: compareMessages.tooFewProcesses(baseProcesses, headProcesses, MIN_PROCESSES_PER_SIDE),
    };
  const rawEq = eqConfidence > 0 ? bootstrap(eqConfidence) : raw;
  const widen = (interval: { ratio: number; low: number; high: number }, level: number) =>
    options.smallSampleCorrection === false
      ? interval
      : {
          ratio: interval.ratio,
          ...expandInterval(
            interval.ratio,
            interval.low,
            interval.high,
            smallSampleExpansion(baseProcesses, headProcesses, level),
          ),
        };
  const ci = widen(raw, confidence);
  const eq = eqConfidence > 0 ? widen(rawEq, eqConfidence) : ci;
  return {
    ratio: finiteOrNull(ci.ratio),
    low: finiteOrNull(ci.low),
    high: finiteOrNull(ci.high),
    equivalenceLow: finiteOrNull(eq.low),
    equivalenceHigh: finiteOrNull(eq.high),
    verdict: decide(ci.ratio, ci.low, ci.high, options, eq),
  };
}

/** Throughput-like metrics (…_per_s) are better when higher; times, bytes and joules when lower. */
export function lowerIsBetterFor(metric: string): boolean {
  return !/(_per_s|per_second|throughput)/.test(metric);
}

export interface StoreSide {
  path: string;
  /** Only this run's results; every run in the file when absent (the latest result per case wins). */
  runId?: number;
}

export interface CompareStoresOptions extends Partial<CompareOptions> {
  /** The two sides were measured interleaved in one sitting: no drift control is needed or applied. */
  interleaved?: boolean;
  /** Which per-iteration sample series to compare (default latency_ms). */
  metric?: string;
}

/** What one side contributed to a comparison. */
export interface SideResult {
  resultId: number;
  runId: number;
  status: ResultRow["status"];
  /** The stored reason of a result that did not complete. */
  reason: string | null;
  finishedAt: string;
  /** Processes (repeats) and iterations with samples of the metric. */
  processes: number;
  iterations: number;
  /** Median of the metric over all iterations pooled; null without samples. */
  median: number | null;
  /** Validity flags stored with the result (unstable, too-short…): shown beside the verdict. */
  flags: string[];
}

export interface CaseComparison {
  caseKey: string;
  caseName: string;
  verdict: CaseVerdict;
  ratio: number | null;
  low: number | null;
  high: number | null;
  /** The equivalence (TOST) interval that decides `unchanged`. */
  equivalenceLow: number | null;
  equivalenceHigh: number | null;
  base: SideResult | null;
  head: SideResult | null;
  /** Why there is no verdict, or why it is inconclusive regardless of the numbers. */
  reason?: string;
  /** The drift control this case's ratio was normalised by (src/compare/drift.ts); absent when not controlled. */
  drift?: CaseDrift;
}

export interface CompareSummary {
  total: number;
  regressed: number;
  improved: number;
  unchanged: number;
  inconclusive: number;
  onlyInBase: number;
  onlyInHead: number;
  notComparable: number;
}

export interface SideDescription {
  path: string;
  /** The run selected with --base-run/--head-run, or null for every run in the file. */
  runId: number | null;
  /** The runs whose results were compared. */
  runIds: number[];
}

export interface CompareReport {
  base: SideDescription;
  head: SideDescription;
  metric: string;
  threshold: number;
  lowerIsBetter: boolean;
  /** Whether CIs were widened for few processes (smallSampleExpansion). */
  smallSampleCorrection: boolean;
  /** The compared statistic as a percentile: 50 is the median (absent in reports built by hand). */
  percentile?: number;
  confidence: number;
  resamples: number;
  seed: number;
  cases: CaseComparison[];
  summary: CompareSummary;
  /** How machine drift between the two sides was handled (absent in reports built by hand). */
  drift?: DriftSummary;
}

/** The latest result per caseKey (by finish time, then id): a completed one when there is one, else the latest of any status. */
export function latestPerCase(results: ResultRow[]): Map<string, ResultRow> {
  const later = (a: ResultRow, b: ResultRow) =>
    a.finishedAt > b.finishedAt || (a.finishedAt === b.finishedAt && a.resultId > b.resultId);
  const completed = new Map<string, ResultRow>();
  const any = new Map<string, ResultRow>();
  for (const r of results) {
    const map = r.status === "completed" ? completed : any;
    const current = map.get(r.caseKey);
    if (!current || later(r, current)) map.set(r.caseKey, r);
  }
  for (const [key, r] of any) if (!completed.has(key)) completed.set(key, r);
  return completed;
}

async function sideResult(
  store: Store,
  row: ResultRow,
  metric: string,
): Promise<{ side: SideResult; processes: number[][] }> {
  const processes =
    row.status === "completed"
      ? (await store.loadSampleProcesses(row.resultId, metric)).filter((p) => p.length > 0)
      : [];
  const all = processes.flat();
  return {
    processes,
    side: {
      resultId: row.resultId,
      runId: row.runId,
      status: row.status,
      reason: row.reason,
      finishedAt: row.finishedAt,
      processes: processes.length,
      iterations: all.length,
      median: all.length > 0 ? median(all) : null,
      flags: [...new Set(row.validity.map((v) => v.flag))],
    },
  };
}

/** Sample metrics a result does have: named in the reason when the asked-for one is missing. */
async function sampleMetricsOf(store: Store, resultId: number): Promise<string[]> {
  return [...new Set((await store.loadSamples(resultId)).map((s) => s.metric))];
}

async function compareRows(
  baseStore: Store,
  headStore: Store,
  base: ResultRow | undefined,
  head: ResultRow | undefined,
  metric: string,
  options: CompareOptions,
): Promise<CaseComparison> {
  const caseKey = (head ?? base)!.caseKey;
  const caseName = (head ?? base)!.caseName;
  const empty = { ratio: null, low: null, high: null, equivalenceLow: null, equivalenceHigh: null };
  const b = base ? await sideResult(baseStore, base, metric) : undefined;
  const h = head ? await sideResult(headStore, head, metric) : undefined;
  const common = { caseKey, caseName, base: b?.side ?? null, head: h?.side ?? null };
  if (!b) return { ...common, ...empty, verdict: "only-in-head", reason: compareMessages.onlyInHead };
  if (!h) return { ...common, ...empty, verdict: "only-in-base", reason: compareMessages.onlyInBase };
  for (const [label, row, side] of [
    ["base", base!, b],
    ["head", head!, h],
  ] as const) {
    if (row.status !== "completed")
      return {
        ...common,
        ...empty,
        verdict: "not-comparable",
        reason: compareMessages.notCompleted(label, row.status, row.reason),
      };
    if (side.processes.length === 0) {
      const store = label === "base" ? baseStore : headStore;
      return {
        ...common,
        ...empty,
        verdict: "not-comparable",
        reason: compareMessages.noSamples(label, metric, await sampleMetricsOf(store, row.resultId)),
      };
    }
  }
  const result = compareSamples(b.processes, h.processes, options);
  const { reason, ...numbers } = result;
  return { ...common, ...numbers, ...(reason ? { reason } : {}) };
}

export function summarize(cases: CaseComparison[]): CompareSummary {
  const count = (verdict: CaseVerdict) => cases.filter((c) => c.verdict === verdict).length;
  return {
    total: cases.length,
    regressed: count("regressed"),
    improved: count("improved"),
    unchanged: count("unchanged"),
    inconclusive: count("inconclusive"),
    onlyInBase: count("only-in-base"),
    onlyInHead: count("only-in-head"),
    notComparable: count("not-comparable"),
  };
}

async function loadSide(store: Store, side: StoreSide): Promise<ResultRow[]> {
  if (side.runId !== undefined && !(await store.listRuns()).some((r) => r.id === side.runId))
    throw new CompareError(compareMessages.unknownRun(side.path, side.runId));
  return store.loadResults(side.runId === undefined ? {} : { runId: side.runId });
}

/** A usage problem of a comparison (unknown run, nothing to compare): the CLI prints it and exits 2. */
export class CompareError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "CompareError";
  }
}

/**
 * Compares two result sets — two files, or two runs of one file — case by case. Each side keeps its latest
 * completed result per caseKey; cases found on one side only are listed as such. Stores are opened read-only.
 */
export async function compareStores(
  base: StoreSide,
  head: StoreSide,
  options: CompareStoresOptions = {},
): Promise<CompareReport> {
  const metric = options.metric ?? DEFAULT_METRIC;
  const resolved: Required<CompareOptions> = {
    threshold: options.threshold ?? DEFAULT_THRESHOLD,
    resamples: options.resamples ?? PROTOCOL_DEFAULTS.bootstrapResamples,
    seed: options.seed ?? PROTOCOL_DEFAULTS.seed,
    confidence: options.confidence ?? 0.95,
    lowerIsBetter: options.lowerIsBetter ?? lowerIsBetterFor(metric),
    smallSampleCorrection: options.smallSampleCorrection ?? true,
    percentile: options.percentile ?? 50,
  };
  if (!(resolved.threshold > 0)) throw new CompareError(compareMessages.badThreshold(String(resolved.threshold)));
  const baseStore = await openStore(base.path, { readonly: true });
  const headStore =
    head.path === base.path
      ? baseStore
      : await openStore(head.path, { readonly: true }).catch(async (error: unknown) => {
          await baseStore.close();
          throw error;
        });
  try {
    const baseRows = latestPerCase(await loadSide(baseStore, base));
    const headRows = latestPerCase(await loadSide(headStore, head));
    const keys = [...headRows.keys(), ...[...baseRows.keys()].filter((k) => !headRows.has(k))];
    const cases: CaseComparison[] = [];
    for (const key of keys)
      cases.push(await compareRows(baseStore, headStore, baseRows.get(key), headRows.get(key), metric, resolved));
    markSettingsApart(cases);
    const runIds = (rows: Map<string, ResultRow>) =>
      [...new Set([...rows.values()].map((r) => r.runId))].sort((a, b) => a - b);
    const drift: DriftSummary = options.interleaved
      ? { controlled: 0, uncontrolled: 0, machineChanged: 0, notes: [compareMessages.interleavedNote] }
      : applyDriftControl(
          cases,
          await loadSideMachine(baseStore, runIds(baseRows)),
          await loadSideMachine(headStore, runIds(headRows)),
          resolved,
          { compareSamples, decide },
        );
    return {
      base: { path: base.path, runId: base.runId ?? null, runIds: runIds(baseRows) },
      head: { path: head.path, runId: head.runId ?? null, runIds: runIds(headRows) },
      metric,
      ...resolved,
      cases,
      summary: summarize(cases),
      drift,
    };
  } finally {
    await baseStore.close();
    if (headStore !== baseStore) await headStore.close();
  }
}

/** A case key without its runner settings: what the same case measured under other settings shares. */
function keyWithoutSettings(caseKey: string): { rest: string; settings: Record<string, unknown> } {
  try {
    const { settings, ...rest } = JSON.parse(caseKey) as { settings?: Record<string, unknown> };
    return { rest: JSON.stringify(rest), settings: settings ?? {} };
  } catch {
    return { rest: caseKey, settings: {} };
  }
}

/**
 * Cases that differ only in runner settings that change the measurement (dtype, threads, execution mode…) have
 * different case keys, so they are never paired; a case found on one side only whose twin under other settings is on
 * the other side says so, with both settings, instead of the plain "only in" reason.
 */
function markSettingsApart(cases: CaseComparison[]): void {
  const byRest = new Map<string, CaseComparison[]>();
  for (const c of cases) {
    if (c.verdict !== "only-in-base" && c.verdict !== "only-in-head") continue;
    const { rest } = keyWithoutSettings(c.caseKey);
    byRest.set(rest, [...(byRest.get(rest) ?? []), c]);
  }
  for (const group of byRest.values()) {
    const bases = group.filter((c) => c.verdict === "only-in-base");
    const heads = group.filter((c) => c.verdict === "only-in-head");
    if (bases.length === 0 || heads.length === 0) continue;
    const show = (cs: CaseComparison[]) => cs.map((c) => describeSettings(keyWithoutSettings(c.caseKey).settings));
    for (const c of bases) c.reason = compareMessages.settingsDiffer("base", show([c])[0]!, show(heads));
    for (const c of heads) c.reason = compareMessages.settingsDiffer("head", show([c])[0]!, show(bases));
  }
}

function describeSettings(settings: Record<string, unknown>): string {
  const entries = Object.entries(settings);
  return entries.length === 0 ? "default settings" : entries.map(([k, v]) => `${k} ${String(v)}`).join(", ");
}

/** The runs of a file that hold results, oldest first: the defaults of a one-file comparison. */
export async function runsWithResults(path: string): Promise<number[]> {
  const store = await openStore(path, { readonly: true });
  try {
    return (await store.listRuns()).filter((r) => r.resultCount > 0).map((r) => r.id);
  } finally {
    await store.close();
  }
}
