// What a report shows, read from the store once: runs with their environment, every result with its case fields,
// metrics, validity flags, raw samples and sampler series. The generator (reports/site.ts) and the exports
// (reports/export.ts) are pure functions of this, so tests can build a ReportData by hand or through the store.
import type { ControlRow, ResultStatus, RunRow, SamplerSeriesRecord, Store } from "../src/store/store.js";
import { workloadLabel } from "../src/suite/planner.js";
import type { Workload } from "../src/suite/schema.js";
import type { allReferences } from "../datasets/references/index.js";
import { percentile } from "../src/measure/stats.js";
import { bulkRead, type ServeRequestPoint } from "./bulk-read.js";

export interface ReportRun extends RunRow {
  /** Machine facts recorded with the run (`store.recordEnv`). */
  env: Record<string, unknown>;
}

export interface ReportMetric {
  name: string;
  /** `null` when not measured; `reason` then says why. */
  value: number | null;
  unit: string;
  ciLow: number | null;
  ciHigh: number | null;
  reason: string | null;
  label: string | null;
}

/** Per-iteration values of one sample series, one array per repeat (process). */
export interface ReportSampleSeries {
  metric: string;
  processes: number[][];
  /** Iterations each repeat really had; a repeat longer than MAX_SAMPLES_PER_REPEAT is kept as that many quantiles. */
  counts: number[];
}

export interface ReportResult {
  resultId: number;
  runId: number;
  caseId: string;
  caseKey: string;
  name: string;
  model: string;
  technique: string;
  scenario: string;
  workload: Record<string, unknown>;
  workloadLabel: string;
  runner: string;
  /** "cpu · Intel Xeon…" or "cuda · NVIDIA H100…": device class of the case and the machine's device. */
  device: string;
  status: ResultStatus;
  reason: string | null;
  startedAt: string;
  finishedAt: string;
  repeats: number;
  configHash: string;
  config: Record<string, unknown> | null;
  settings: Record<string, unknown> | null;
  details: Record<string, unknown> | null;
  caseDetails: Record<string, unknown>;
  metrics: ReportMetric[];
  validity: Array<{ flag: string; detail: string }>;
  samples: ReportSampleSeries[];
  samplerSeries: SamplerSeriesRecord[];
  /** Every request of a serving point (serve runner), for the case page's per-request chart. */
  requests?: ServeRequestPoint[];
}

/** A paper's ratio (datasets/references), in our metric names. */
export type ReportReference = ReturnType<typeof allReferences>[number];

export interface ReportData {
  title: string;
  generatedAt: string;
  runs: ReportRun[];
  results: ReportResult[];
  /** Papers' reference ratios; the "versus paper" section is left out when absent or empty. */
  references?: ReportReference[];
  /** The runs' drift-control measurements (none in a file older than schema 3). */
  controls?: ControlRow[];
}

/** Sample series shown first on a case page (any other series follows). */
export const SAMPLE_METRICS = ["latency_ms", "ttft_ms", "tpot_ms", "ort_model_run_us"] as const;
/** A repeat with more iterations than this is summarised by this many evenly spaced quantiles on the case page. */
export const MAX_SAMPLES_PER_REPEAT = 400;
/** A sampler series longer than this is thinned to this many rows (every k-th reading). */
export const MAX_SAMPLER_POINTS = 300;

export interface LoadOptions {
  title?: string;
  /** Only this run's results (default: every run, for trends). */
  runId?: number;
  references?: ReportReference[];
  /** Load sampler time series (only the site's case pages show them); on by default. */
  samplerSeries?: boolean;
}

export async function loadReportData(store: Store, options: LoadOptions = {}): Promise<ReportData> {
  const runRows = await store.listRuns();
  const runs: ReportRun[] = [];
  for (const run of runRows) runs.push({ ...run, env: run.resultCount > 0 ? await store.loadEnv(run.id) : {} });
  const envOf = new Map(runs.map((r) => [r.id, r.env]));
  // Aggregated reads of the same file (see bulk-read.ts): the per-row API is too slow for 10,000 cases.
  const bulk = await bulkRead(store.path, { runId: options.runId, samplerSeries: options.samplerSeries });

  const results: ReportResult[] = [];
  for (const r of bulk.results) {
    const samples: ReportSampleSeries[] = [];
    for (const [metric, byResult] of bulk.samples) {
      const processes = (byResult.get(r.resultId) ?? []).filter((p) => p !== undefined);
      if (processes.length > 0) samples.push(compactSeries(metric, processes));
    }
    samples.sort((a, b) => sampleOrder(a.metric) - sampleOrder(b.metric) || a.metric.localeCompare(b.metric));
    const samplerSeries = (bulk.samplerSeries.get(r.resultId) ?? []).map(thinSamplerSeries);
    results.push({
      resultId: r.resultId,
      runId: r.runId,
      caseId: r.caseId,
      caseKey: r.caseKey,
      name: r.caseName,
      model: r.model,
      technique: r.technique,
      scenario: r.scenario,
      workload: r.workload,
      workloadLabel: workloadLabel(r.workload as unknown as Workload),
      runner: r.runner,
      device: deviceOf(r.caseKey, envOf.get(r.runId) ?? {}, r.settings),
      status: r.status,
      reason: r.reason,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      repeats: r.repeats,
      configHash: r.configHash,
      config: r.config,
      settings: r.settings,
      details: r.details,
      caseDetails: r.caseDetails,
      metrics: r.metrics.map((m) => ({
        name: m.name,
        value: m.value,
        unit: m.unit,
        ciLow: m.ciLow ?? null,
        ciHigh: m.ciHigh ?? null,
        reason: m.reason ?? null,
        label: m.label ?? null,
      })),
      validity: r.validity.map((v) => ({ flag: v.flag, detail: v.detail })),
      samples,
      samplerSeries,
      ...(bulk.requests.has(r.resultId)
        ? {
            requests: bulk.requests
              .get(r.resultId)!
              .map(([repeat, sent, ttft, e2e, status]) => [
                repeat,
                Math.round(sent * 10) / 10,
                ttft === null ? null : Math.round(ttft * 10) / 10,
                Math.round(e2e * 10) / 10,
                status,
              ]),
          }
        : {}),
    });
  }
  const suiteNames = [...new Set(runs.filter((r) => r.resultCount > 0).map((r) => r.suiteName))];
  return {
    title: options.title ?? `effbench — ${suiteNames.join(", ") || "no runs"}`,
    generatedAt: new Date().toISOString(),
    runs,
    results,
    references: options.references,
    controls: await store.loadControls(options.runId === undefined ? undefined : [options.runId]),
  };
}

/** latency_ms first, then the other known series, then anything else by name. */
const sampleOrder = (metric: string) => {
  const i = (SAMPLE_METRICS as readonly string[]).indexOf(metric);
  return i < 0 ? SAMPLE_METRICS.length : i;
};

/** Keeps every iteration up to MAX_SAMPLES_PER_REPEAT; beyond, that many type-7 quantiles (the distribution's shape). */
export function compactSeries(metric: string, processes: number[][]): ReportSampleSeries {
  return {
    metric,
    counts: processes.map((p) => p.length),
    processes: processes.map((p) => {
      if (p.length <= MAX_SAMPLES_PER_REPEAT) return p;
      const sorted = Float64Array.from(p).sort();
      return Array.from({ length: MAX_SAMPLES_PER_REPEAT }, (_, i) =>
        percentile(sorted, (100 * i) / (MAX_SAMPLES_PER_REPEAT - 1)),
      );
    }),
  };
}

function thinSamplerSeries(series: SamplerSeriesRecord): SamplerSeriesRecord {
  if (series.tMs.length <= MAX_SAMPLER_POINTS) return series;
  const step = Math.ceil(series.tMs.length / MAX_SAMPLER_POINTS);
  const keep = (_: unknown, i: number) => i % step === 0 || i === series.tMs.length - 1;
  return { ...series, tMs: series.tMs.filter(keep), values: series.values.filter(keep) };
}

/**
 * The device a result ran on: the planned device class (in the case key, from the runner's settings), unless the
 * runner recorded the device it really used (torch's `device: "auto"` resolves to cuda or cpu in the worker), named
 * by the run's machine facts when they say which.
 */
export function deviceOf(
  caseKey: string,
  env: Record<string, unknown>,
  settings?: Record<string, unknown> | null,
): string {
  let planned: string | undefined;
  try {
    planned = (JSON.parse(caseKey) as { deviceClass?: string }).deviceClass;
  } catch {
    planned = undefined;
  }
  const used = typeof settings?.device === "string" ? (settings.device as string).replace(/:\d+$/, "") : undefined;
  const deviceClass = used ?? planned ?? "unknown";
  if (deviceClass === "cpu") {
    const cpu = env.cpu as { manufacturer?: string; brand?: string } | undefined;
    const name = [cpu?.manufacturer, cpu?.brand].filter(Boolean).join(" ");
    return name ? `cpu · ${name}` : "cpu";
  }
  const gpus = (env.gpus as Array<{ model?: string }> | undefined) ?? [];
  const gpu = gpus.find((g) => /nvidia|h100|h200|a100|rtx|tesla/i.test(g.model ?? ""))?.model ?? gpus[0]?.model;
  return gpu ? `${deviceClass} · ${gpu}` : deviceClass;
}
