// Turns the raw repeats of a completed case into metric rows, each with its CI where one applies.
import type { Case } from "../suite/case.js";
import type { RepeatOutcome } from "../runner/contract.js";
import { getRunnerDefinition } from "../runner/registry.js";
import type { MetricRecord } from "../store/store.js";
import { cv, hierarchicalBootstrapAll, mean, percentileStatistic } from "./stats.js";
import { caseAccountingMetrics } from "../model/case-accounting.js";

type Completed = Extract<RepeatOutcome, { status: "completed" }>;

/** This machine's calibrated peaks (`bench calibrate`), against which MFU and MBU are computed. */
export interface Peaks {
  cpuThreads: number;
  cpuFlopsPerS: number;
  cpuBytesPerS: number;
  source: string;
}

export function resultMetrics(c: Case, outcomes: Completed[], peaks?: Peaks): MetricRecord[] {
  const metrics: MetricRecord[] = [];
  const bootstrap = { resamples: c.protocol.bootstrapResamples, seed: c.protocol.seed };

  for (const name of new Set(outcomes.flatMap((o) => o.series.map((s) => s.metric)))) {
    const processes = outcomes
      .map((o) => o.series.find((s) => s.metric === name)?.values ?? [])
      .filter((v) => v.length > 0);
    if (processes.length === 0) continue;
    const unit = outcomes.flatMap((o) => o.series).find((s) => s.metric === name)!.unit;
    const base = name.replace(/_(ms|us|s)$/, "");
    // One set of resamples for all four statistics.
    const cis = hierarchicalBootstrapAll(
      processes,
      { p50: percentileStatistic(50), p90: percentileStatistic(90), p99: percentileStatistic(99), mean },
      bootstrap,
    );
    for (const [label, ci] of Object.entries(cis))
      metrics.push({ name: `${base}_${label}_${unit}`, value: ci.estimate, unit, ciLow: ci.low, ciHigh: ci.high });
    metrics.push({ name: `${base}_cv`, value: cv(processes.flat()), unit: "ratio" });
  }

  const p50 = metrics.find((m) => m.name === "latency_p50_ms");
  if (p50?.value) {
    const tokens = outcomes[0]!.tokensPerIteration;
    const perSecond = (count: number, ms: number | null | undefined) => (ms ? (count * 1000) / ms : null);
    // A scenario that processes no tokens (merge, adapter swap) has no throughput: null with the reason, never 0.
    metrics.push(
      tokens > 0
        ? {
            name: "tokens_per_s",
            value: perSecond(tokens, p50.value),
            unit: "tok/s",
            ciLow: perSecond(tokens, p50.ciHigh),
            ciHigh: perSecond(tokens, p50.ciLow),
          }
        : {
            name: "tokens_per_s",
            value: null,
            unit: "tok/s",
            reason: `the ${c.scenario} scenario processes no tokens per iteration`,
          },
    );
    metrics.push({
      name: "samples_per_s",
      value: perSecond(c.workload.batch, p50.value),
      unit: "samples/s",
      ciLow: perSecond(c.workload.batch, p50.ciHigh),
      ciHigh: perSecond(c.workload.batch, p50.ciLow),
    });
  }

  for (const name of new Set(outcomes.flatMap((o) => o.scalars.map((s) => s.metric)))) {
    const found = outcomes.map((o) => o.scalars.find((s) => s.metric === name)).filter((s) => s !== undefined);
    const values = found.map((s) => s.value).filter((v): v is number => v !== null);
    const { unit, label } = found[0]!;
    if (values.length === 0) {
      metrics.push({
        name,
        value: null,
        unit,
        label,
        reason: found.find((s) => s.reason)?.reason ?? "not measured by the runner",
      });
      continue;
    }
    // Peaks take the worst repeat; other scalars the mean over repeats.
    const value = /peak|max/.test(name) ? Math.max(...values) : mean(values);
    metrics.push({ name, value, unit, label });
  }

  // What the runner measured wins over the analytic count of the same name (the contract tests check they agree).
  const measured = new Set(metrics.map((m) => m.name));
  metrics.push(...caseAccountingMetrics(c).filter((m) => !measured.has(m.name)));
  metrics.push(...utilisation(c, metrics, peaks));
  return metrics;
}

/** MFU = analytic FLOP/s ÷ peak FLOP/s; MBU = analytic bytes/s ÷ peak bandwidth (docs/metrics.md). */
function utilisation(c: Case, metrics: MetricRecord[], peaks: Peaks | undefined): MetricRecord[] {
  const get = (name: string) => metrics.find((m) => m.name === name)?.value ?? null;
  const p50Ms = get("latency_p50_ms");
  const flops = get("flops_per_iteration");
  const bytes = get("bytes_per_iteration");
  const definition = getRunnerDefinition(c.runner);
  const onCpu = definition.onHost(c.settings);
  const threads = definition.hostThreads?.(c.settings);
  let reason: string | undefined;
  if (!onCpu) reason = "no calibrated peak for this accelerator (bench calibrate measures the CPU)";
  else if (!peaks) reason = "no calibration in this database: run `bench calibrate --db <this db>` first";
  else if (threads !== undefined && peaks.cpuThreads !== threads)
    reason = `calibrated with ${peaks.cpuThreads} thread(s), the case runs ${threads}: run \`bench calibrate --threads ${threads}\``;
  const label = peaks ? `against ${peaks.source}` : undefined;
  const ratio = (work: number | null, peak: number | undefined, what: string): MetricRecord =>
    reason || !peak || !p50Ms
      ? { name: what, value: null, unit: "ratio", reason: reason ?? "no analytic work count for this scenario" }
      : work === null
        ? { name: what, value: null, unit: "ratio", reason: "no analytic work count for this scenario" }
        : { name: what, value: work / (p50Ms / 1000) / peak, unit: "ratio", label };
  return [ratio(flops, peaks?.cpuFlopsPerS, "mfu"), ratio(bytes, peaks?.cpuBytesPerS, "mbu")];
}
