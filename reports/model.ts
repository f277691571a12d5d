// The Node side of the site: aggregates ReportData into what the pages carry. The index carries one compact row
// per case (its latest result, leaderboard metrics only, display precision), the trend points and the
// "versus paper" comparisons; everything else (raw samples, sampler series, configs) goes to per-case chunks
// that the case page loads with a <script> tag. So the browser never aggregates 30,000 repeats itself.
import type { ReportData, ReportReference, ReportResult, ReportRun } from "./data.js";
import { AUXILIARY_METRICS, LEADERBOARD_METRICS } from "./metrics.js";
import { roundSignificant } from "./format.js";
import { compactRoutingDetails } from "./routing.js";
import { controlTrends, type ControlTrends } from "./controls.js";

/** `[value, ciLow, ciHigh]` for a measured metric, `[null, reason]` for one that was not measured. */
export type CompactMetric = [number, number | null, number | null] | [null, string];

export interface IndexRow {
  /** Case id (the case page's URL hash). */
  id: string;
  run: number;
  name: string;
  model: string;
  technique: string;
  scenario: string;
  workload: string;
  runner: string;
  device: string;
  /** Comparison group: ranks and Pareto fronts are computed among cases doing the same work. */
  group: string;
  status: ReportResult["status"];
  reason: string | null;
  /** Validity flag names (their details are on the case page). */
  flags: string[];
  m: Record<string, CompactMetric>;
}

export interface RunSummary {
  id: number;
  label: string;
  startedAt: string;
  suiteName: string;
  gitCommit: string | null;
  hostname: string | null;
  status: string;
  resultCount: number;
}

/** One point of a trend: a case's metric in one run. */
export type TrendPoint = [caseId: string, runId: number, value: number, ciLow: number | null, ciHigh: number | null];

export interface VersusRow {
  referenceId: string;
  claim: string;
  paper: string;
  citation: string;
  metric: string;
  paperMetric: string;
  paperValue: number | null;
  valueKind: string;
  numerator: string;
  denominator: string;
  /** Our measured pairs (same model, scenario, workload, runner, device), at most MAX_PAIRS_PER_REFERENCE. */
  pairs: Array<{
    numeratorCase: string;
    denominatorCase: string;
    numeratorId: string;
    denominatorId: string;
    group: string;
    ratio: number;
    ciLow: number | null;
    ciHigh: number | null;
    /** Our metric the ratio is of (both sides the same one): e.g. gpu_amu_bytes, or cpu_rss_avg_bytes on CPU. */
    metric: string;
    /** Why our ratio is not comparable with the paper's (regime mismatch, a CPU analogue); null when it is. */
    notComparable: string | null;
  }>;
  /** Why no pair was found, when pairs is empty. */
  missing: string | null;
}

export interface IndexModel {
  title: string;
  generatedAt: string;
  /** Some rows were written by a fixture generator: the page says so. */
  synthetic: boolean;
  runs: RunSummary[];
  units: Record<string, string>;
  labels: Record<string, string>;
  rows: IndexRow[];
  trendMetric: string;
  trends: TrendPoint[];
  /** The drift control per run, shown beside the trends (absent when no run measured one). */
  controlTrends?: ControlTrends;
  /** Absent when no references were given. */
  versus?: VersusRow[];
  caseChunks: number;
}

/** Cases per chunk file of the case page. */
export const CASES_PER_CHUNK = 100;
export const TREND_METRIC = "latency_p50_ms";
export const MAX_PAIRS_PER_REFERENCE = 6;

export const groupOf = (r: Pick<ReportResult, "scenario" | "workloadLabel">): string =>
  `${r.scenario} · ${r.workloadLabel}`;

/** A result was written by a fixture generator rather than measured (its details or case say so). */
export const isSynthetic = (r: ReportResult): boolean =>
  r.details?.synthetic === true || (r.caseDetails as { synthetic?: unknown }).synthetic === true;

export function runLabel(run: Pick<ReportRun, "id" | "startedAt" | "gitCommit">): string {
  const commit = run.gitCommit ? ` · ${run.gitCommit.slice(0, 8)}` : "";
  return `#${run.id} ${run.startedAt.slice(0, 16).replace("T", " ")}${commit}`;
}

/** The latest result of each case (by run start, then result id): what leaderboards rank. */
export function latestResults(data: ReportData): ReportResult[] {
  const startOf = new Map(data.runs.map((r) => [r.id, r.startedAt]));
  const latest = new Map<string, ReportResult>();
  for (const r of data.results) {
    const seen = latest.get(r.caseKey);
    if (!seen) latest.set(r.caseKey, r);
    else {
      const a = startOf.get(seen.runId) ?? "";
      const b = startOf.get(r.runId) ?? "";
      if (b > a || (b === a && r.resultId > seen.resultId)) latest.set(r.caseKey, r);
    }
  }
  return [...latest.values()];
}

const INDEX_METRICS = new Set([...LEADERBOARD_METRICS, ...AUXILIARY_METRICS]);

export function compactMetric(m: ReportResult["metrics"][number]): CompactMetric {
  if (m.value === null) return [null, m.reason ?? "not measured"];
  return [roundSignificant(m.value)!, roundSignificant(m.ciLow), roundSignificant(m.ciHigh)];
}

export function buildIndexModel(data: ReportData): IndexModel {
  const units: Record<string, string> = {};
  const labels: Record<string, string> = {};
  for (const r of data.results)
    for (const m of r.metrics) {
      units[m.name] ??= m.unit;
      if (m.label && labels[m.name] === undefined) labels[m.name] = m.label;
    }
  const latest = latestResults(data);
  const rows = latest.map((r): IndexRow => {
    const m: Record<string, CompactMetric> = {};
    for (const metric of r.metrics) if (INDEX_METRICS.has(metric.name)) m[metric.name] = compactMetric(metric);
    return {
      id: r.caseId,
      run: r.runId,
      name: r.name,
      model: r.model,
      technique: r.technique,
      scenario: r.scenario,
      workload: r.workloadLabel,
      runner: r.runner,
      device: r.device,
      group: groupOf(r),
      status: r.status,
      reason: r.reason,
      flags: r.validity.map((v) => v.flag),
      m,
    };
  });
  return {
    title: data.title,
    generatedAt: data.generatedAt,
    synthetic: data.results.some(isSynthetic),
    runs: data.runs.map((run) => ({
      id: run.id,
      label: runLabel(run),
      startedAt: run.startedAt,
      suiteName: run.suiteName,
      gitCommit: run.gitCommit,
      hostname: run.hostname,
      status: run.status,
      resultCount: run.resultCount,
    })),
    units,
    labels,
    rows,
    trendMetric: TREND_METRIC,
    trends: trendPoints(data, TREND_METRIC),
    ...((data.controls?.length ?? 0) > 0
      ? { controlTrends: controlTrends(data.controls!, new Map(data.results.map((r) => [r.caseKey, r.caseId]))) }
      : {}),
    versus:
      data.references === undefined || data.references.length === 0 ? undefined : versusPaper(data.references, latest),
    caseChunks: chunkCount(rows.length),
  };
}

/** Points of cases measured (completed, metric present) in two or more runs; cases seen once have no trend. */
export function trendPoints(data: ReportData, metric: string): TrendPoint[] {
  const byCase = new Map<string, TrendPoint[]>();
  for (const r of data.results) {
    if (r.status !== "completed") continue;
    const m = r.metrics.find((x) => x.name === metric);
    if (!m || m.value === null) continue;
    const list = byCase.get(r.caseId) ?? [];
    list.push([r.caseId, r.runId, roundSignificant(m.value)!, roundSignificant(m.ciLow), roundSignificant(m.ciHigh)]);
    byCase.set(r.caseId, list);
  }
  return [...byCase.values()].filter((points) => new Set(points.map((p) => p[1])).size >= 2).flat();
}

export const chunkCount = (cases: number): number => Math.max(1, Math.ceil(cases / CASES_PER_CHUNK));

/** FNV-1a of the case id, modulo the chunk count: the case page computes the same to find its chunk file. */
export function chunkOf(caseId: string, chunks: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < caseId.length; i++) {
    hash ^= caseId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % chunks;
}

export const chunkFileName = (chunk: number): string => `cases-${String(chunk).padStart(3, "0")}.js`;

// ── the index page's packed rows ───────────────────────────────────────────────────────────────────

/**
 * Rows as the index page carries them: repeated strings (model, device, group, reasons…) as indices into
 * dictionaries and metrics as flat arrays — a third of the JSON of plain objects for 10,000 cases.
 */
export interface PackedRows {
  dictionary: string[];
  metricNames: string[];
  /**
   * [id, run, name, model, technique, scenario, workload, runner, device, group, status, reason, flags, metrics]: strings
   * from model on are dictionary indices (reason -1 when none), flags a list of them, metrics a flat list of
   * [metric index, value, ciLow, ciHigh] quadruples, or [metric index, null, reason index, null] when not measured.
   */
  rows: Array<
    [
      string,
      number,
      string,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number[],
      Array<number | null>,
    ]
  >;
}

export type PackedIndexModel = Omit<IndexModel, "rows"> & { packed: PackedRows };

/** Numbers distinct strings in order of first use: `values[indexOf(text)] === text`. */
function interner(): { values: string[]; indexOf: (text: string) => number } {
  const values: string[] = [];
  const indices = new Map<string, number>();
  const indexOf = (text: string) => {
    let i = indices.get(text);
    if (i === undefined) indices.set(text, (i = values.push(text) - 1));
    return i;
  };
  return { values, indexOf };
}

export function packRows(rows: readonly IndexRow[]): PackedRows {
  const { values: dictionary, indexOf: word } = interner();
  const { values: metricNames, indexOf: metric } = interner();
  return {
    dictionary,
    metricNames,
    rows: rows.map((r) => {
      const metrics: Array<number | null> = [];
      for (const [name, m] of Object.entries(r.m))
        metrics.push(metric(name), m[0], m[0] === null ? word(m[1]) : m[1], m[0] === null ? null : m[2]);
      return [
        r.id,
        r.run,
        r.name,
        word(r.model),
        word(r.technique),
        word(r.scenario),
        word(r.workload),
        word(r.runner),
        word(r.device),
        word(r.group),
        word(r.status),
        r.reason === null ? -1 : word(r.reason),
        r.flags.map(word),
        metrics,
      ];
    }),
  };
}

export function unpackRows(packed: PackedRows): IndexRow[] {
  const d = packed.dictionary;
  return packed.rows.map(
    ([id, run, name, model, technique, scenario, workload, runner, device, group, status, reason, flags, metrics]) => {
      const m: Record<string, CompactMetric> = {};
      for (let i = 0; i < metrics.length; i += 4) {
        const value = metrics[i + 1];
        m[packed.metricNames[metrics[i]!]] =
          value === null ? [null, d[metrics[i + 2]!]] : [value, metrics[i + 2], metrics[i + 3]];
      }
      return {
        id,
        run,
        name,
        model: d[model],
        technique: d[technique],
        scenario: d[scenario],
        workload: d[workload],
        runner: d[runner],
        device: d[device],
        group: d[group],
        status: d[status] as IndexRow["status"],
        reason: reason < 0 ? null : d[reason],
        flags: flags.map((f) => d[f]),
        m,
      };
    },
  );
}

export function packIndexModel(model: IndexModel): PackedIndexModel {
  const { rows, ...rest } = model;
  return { ...rest, packed: packRows(rows) };
}

// ── versus paper ───────────────────────────────────────────────────────────────────────────────

/**
 * Our metric(s) for each reference metric name (datasets/schema.ts): the first one measured on both sides of a pair
 * wins. CPU runs have no device memory; their worker RSS stands in (CPU_ANALOGUES), shown greyed with that reason.
 */
const REFERENCE_METRICS: Record<string, string[]> = {
  amu_bytes: ["gpu_amu_bytes", "cpu_rss_avg_bytes"],
  peak_memory_bytes: [
    "torch_max_memory_allocated_bytes",
    "gpu_memory_peak_bytes",
    "cpu_rss_peak_bytes",
    "peak_rss_bytes",
  ],
  pcu_duty_cycle: ["gpu_pcu_pct"],
  latency_s: ["latency_mean_ms"],
  token_latency_s: ["tpot_mean_ms", "tpot_p50_ms"],
  inference_tokens_per_s: ["tokens_per_s"],
  train_tokens_per_param_s: ["tokens_per_s"],
  train_samples_per_param_s: ["samples_per_s"],
  mean_power_w: ["gpu_power_avg_w", "cpu_power_avg_w"],
  mcr: ["mcr"],
  weight_bytes: ["weight_bytes"],
  total_params: ["params_total"],
  trainable_params: ["params_trainable", "trainable_params"],
};
/** Our CPU stand-ins for device metrics, with what to say when a ratio rests on one. */
const CPU_ANALOGUES: Record<string, string> = {
  cpu_rss_avg_bytes: "ours is the CPU analogue of AMU (the worker's time-averaged RSS), not device memory",
  cpu_rss_peak_bytes: "ours is the CPU analogue (the worker's peak RSS), not device memory",
  peak_rss_bytes: "ours is the CPU analogue (the worker's peak RSS), not device memory",
};
/** Reference metrics that are per-parameter rates: our ratio divides by the parameter ratio. */
const PER_PARAMETER = new Set(["train_tokens_per_param_s", "train_samples_per_param_s"]);

const sameModel = (ours: string, theirs: string | undefined) =>
  theirs === undefined || ours.toLowerCase().startsWith(theirs.toLowerCase());

function sideLabel(side: ReportReference["numerator"]): string {
  const params = side.params
    ? ` (${Object.entries(side.params)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")})`
    : "";
  return `${side.technique}${params}${side.model ? ` · ${side.model}` : ""}`;
}

function techniqueMatches(r: ReportResult, side: ReportReference["numerator"]): boolean {
  if (r.technique !== side.technique) return false;
  const config = (r.caseDetails as { technique?: Record<string, unknown> }).technique ?? {};
  return Object.entries(side.params ?? {}).every(([k, v]) => config[k] === undefined || config[k] === v);
}

function regimeMismatch(reference: ReportReference, r: ReportResult): string | null {
  const paperOnGpu = /gpu|nvidia|h100|h200|a100|gh200|cuda/i.test(reference.regime.device);
  const oursOnGpu = !r.device.startsWith("cpu");
  if (reference.regime.device !== "any" && paperOnGpu !== oursOnGpu)
    return `paper measured on ${reference.regime.device}; ours on ${r.device}`;
  const scenario = reference.regime.scenario;
  const ourKind = r.scenario === "train-step" ? "training" : "inference";
  if (scenario !== r.scenario && scenario !== ourKind) return `paper's scenario is ${scenario}; ours is ${r.scenario}`;
  // `--scale` names a scaled-down architecture "<model>@<scale>" (src/model/scale.ts).
  if (r.model.includes("@"))
    return `ours is a scaled-down model (${r.model}); the paper's is ${reference.regime.scale}`;
  return null;
}

function metricOf(r: ReportResult, candidates: string[]) {
  for (const name of candidates) {
    const m = r.metrics.find((x) => x.name === name);
    if (m && m.value !== null) return m;
  }
  return undefined;
}

/** The first candidate measured (non-zero) on both results, so that a ratio never mixes two metrics. */
function sharedMetricOf(a: ReportResult, b: ReportResult, candidates: string[]) {
  for (const name of candidates) {
    const x = metricOf(a, [name]);
    const y = metricOf(b, [name]);
    if (x?.value && y?.value) return { name, a: x, b: y };
  }
  return undefined;
}

export function versusPaper(references: ReportReference[], latest: ReportResult[]): VersusRow[] {
  const completed = latest.filter((r) => r.status === "completed");
  // Denominator candidates by what must match (model, scenario, workload, runner, device): one lookup per numerator.
  const pairKey = (r: ReportResult) => `${r.model}\u0000${groupOf(r)}\u0000${r.runner}\u0000${r.device}`;
  const byPairKey = new Map<string, ReportResult[]>();
  for (const r of completed) {
    const list = byPairKey.get(pairKey(r));
    if (list) list.push(r);
    else byPairKey.set(pairKey(r), [r]);
  }
  return references.map((reference): VersusRow => {
    const ours = REFERENCE_METRICS[reference.metric] ?? [reference.metric];
    const row: VersusRow = {
      referenceId: reference.id,
      claim: reference.claim,
      paper: reference.paper,
      citation: `${reference.citation.source}, ${reference.citation.section}`,
      metric: ours.join(" / "),
      paperMetric: reference.paperMetric,
      paperValue: reference.paperValue ?? null,
      valueKind: reference.valueKind,
      numerator: sideLabel(reference.numerator),
      denominator: sideLabel(reference.denominator),
      pairs: [],
      missing: null,
    };
    const numerators = completed.filter(
      (r) => techniqueMatches(r, reference.numerator) && sameModel(r.model, reference.numerator.model),
    );
    if (numerators.length === 0) {
      row.missing = `no completed ${row.numerator} result in this database`;
      return row;
    }
    for (const n of numerators) {
      const d = byPairKey
        .get(pairKey(n))
        ?.find(
          (r) =>
            r !== n && techniqueMatches(r, reference.denominator) && sameModel(r.model, reference.denominator.model),
        );
      if (!d) continue;
      const shared = sharedMetricOf(n, d, ours);
      if (!shared) continue;
      const { a, b } = shared;
      let ratio = a.value! / b.value!;
      let ciLow = a.ciLow !== null && b.ciHigh ? a.ciLow / b.ciHigh : null;
      let ciHigh = a.ciHigh !== null && b.ciLow ? a.ciHigh / b.ciLow : null;
      if (PER_PARAMETER.has(reference.metric)) {
        const pa = metricOf(n, ["params_total"])?.value;
        const pb = metricOf(d, ["params_total"])?.value;
        if (!pa || !pb) continue;
        const scale = pb / pa;
        ratio *= scale;
        ciLow = ciLow === null ? null : ciLow * scale;
        ciHigh = ciHigh === null ? null : ciHigh * scale;
      }
      row.pairs.push({
        numeratorCase: n.name,
        denominatorCase: d.name,
        numeratorId: n.caseId,
        denominatorId: d.caseId,
        group: groupOf(n),
        ratio,
        ciLow,
        ciHigh,
        metric: shared.name,
        notComparable: regimeMismatch(reference, n) ?? CPU_ANALOGUES[shared.name] ?? null,
      });
      if (row.pairs.length >= MAX_PAIRS_PER_REFERENCE) break;
    }
    if (row.pairs.length === 0)
      row.missing = `no ${row.denominator} result with ${ours.join(" or ")} measured beside a ${row.numerator} one (same model, scenario, workload, runner, device)`;
    return row;
  });
}

// ── per-case chunks ────────────────────────────────────────────────────────────────────────────

/** Everything the case page shows about one case: all its results (every run), oldest first. */
export interface CaseEntry {
  results: CaseResult[];
}

/** A result as the case page uses it (the caseKey is left out: the page shows its parts). */
export type CaseResult = Omit<ReportResult, "caseKey">;

/** name, unit, reason and label are indices into the chunk's `strings` (-1 for none): they repeat across results. */
type PackedMetric = [
  name: number,
  value: number | null,
  unit: number,
  ciLow: number | null,
  ciHigh: number | null,
  reason: number,
  label: number,
];

/** A result in a chunk file: configs pooled per chunk (most cases share them), metrics as arrays, values at 6 digits. */
export type PackedCaseResult = Omit<CaseResult, "metrics" | "config" | "settings" | "caseDetails"> & {
  metrics: PackedMetric[];
  config: number;
  settings: number;
  caseDetails: number;
};

export interface PackedChunk {
  objects: unknown[];
  strings: string[];
  cases: Record<string, PackedCaseResult[]>;
}

const six = (x: number | null): number | null => roundSignificant(x, 6);

/**
 * Rounds a series to 6 significant digits of its largest magnitude, with one scale for the whole series: a multiply
 * and a round per value instead of a number-to-string conversion (toPrecision), and short JSON.
 */
export function roundSeries<T extends number | null>(values: readonly T[]): T[] {
  let max = 0;
  for (const v of values) if (v !== null && Number.isFinite(v) && Math.abs(v) > max) max = Math.abs(v);
  if (max === 0) return [...values];
  const exponent = 6 - Math.ceil(Math.log10(max));
  const scale = 10 ** Math.abs(exponent);
  const round =
    exponent >= 0 ? (v: number) => Math.round(v * scale) / scale : (v: number) => Math.round(v / scale) * scale;
  return values.map((v) => (v === null || !Number.isFinite(v) ? v : round(v))) as T[];
}

export function caseChunks(data: ReportData, chunks: number): Map<number, PackedChunk> {
  const startOf = new Map(data.runs.map((r) => [r.id, r.startedAt]));
  const byChunk = new Map<number, Map<string, ReportResult[]>>();
  for (const r of data.results) {
    const chunk = chunkOf(r.caseId, chunks);
    let cases = byChunk.get(chunk);
    if (!cases) byChunk.set(chunk, (cases = new Map()));
    const list = cases.get(r.caseId);
    if (list) list.push(r);
    else cases.set(r.caseId, [r]);
  }
  const out = new Map<number, PackedChunk>();
  for (const [chunk, cases] of byChunk) {
    const objects: unknown[] = [];
    // By identity: loadReportData hands results of the same config the same parsed object (bulk-read.ts).
    const pool = new Map<unknown, number>();
    const intern = (value: unknown) => {
      let i = pool.get(value ?? null);
      if (i === undefined) pool.set(value ?? null, (i = objects.push(value ?? null) - 1));
      return i;
    };
    const strings: string[] = [];
    const stringIndex = new Map<string, number>();
    const word = (text: string | null) => {
      if (text === null) return -1;
      let i = stringIndex.get(text);
      if (i === undefined) stringIndex.set(text, (i = strings.push(text) - 1));
      return i;
    };
    const packed: PackedChunk = { objects, strings, cases: {} };
    for (const [caseId, results] of cases) {
      results.sort(
        (a, b) => (startOf.get(a.runId) ?? "").localeCompare(startOf.get(b.runId) ?? "") || a.resultId - b.resultId,
      );
      packed.cases[caseId] = results.map(
        ({ caseKey: _caseKey, metrics, config, settings, caseDetails, samples, samplerSeries, details, ...rest }) => ({
          ...rest,
          details: compactRoutingDetails(details),
          config: intern(config),
          settings: intern(settings),
          caseDetails: intern(caseDetails),
          metrics: metrics.map((m): PackedMetric => [
            word(m.name),
            six(m.value),
            word(m.unit),
            six(m.ciLow),
            six(m.ciHigh),
            word(m.reason),
            word(m.label),
          ]),
          samples: samples.map((series) => ({ ...series, processes: series.processes.map(roundSeries) })),
          samplerSeries: samplerSeries.map((series) => ({
            ...series,
            tMs: series.tMs.map((t) => Math.round(t * 10) / 10),
            values: roundSeries(series.values),
          })),
        }),
      );
    }
    out.set(chunk, packed);
  }
  return out;
}

export function unpackChunk(chunk: PackedChunk): Record<string, CaseEntry> {
  const out: Record<string, CaseEntry> = {};
  for (const [caseId, results] of Object.entries(chunk.cases))
    out[caseId] = {
      results: results.map((r) => ({
        ...r,
        config: chunk.objects[r.config] as CaseResult["config"],
        settings: chunk.objects[r.settings] as CaseResult["settings"],
        caseDetails: chunk.objects[r.caseDetails] as CaseResult["caseDetails"],
        metrics: r.metrics.map(([name, value, unit, ciLow, ciHigh, reason, label]) => ({
          name: chunk.strings[name],
          value,
          unit: chunk.strings[unit],
          ciLow,
          ciHigh,
          reason: reason < 0 ? null : chunk.strings[reason],
          label: label < 0 ? null : chunk.strings[label],
        })),
      })),
    };
  return out;
}
