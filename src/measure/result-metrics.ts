// Turns the raw repeats of a completed case into metric rows, each with its CI where one applies.
import type { Case } from "../suite/case.js";
import type { RepeatOutcome } from "../../runners/runner.js";
import type { MetricRecord } from "../store/store.js";
import { hierarchicalBootstrap, mean, percentile, cv } from "./stats.js";
import { caseAccountingMetrics } from "../model/case-accounting.js";

type Completed = Extract<RepeatOutcome, { status: "completed" }>;

export function resultMetrics(c: Case, outcomes: Completed[]): MetricRecord[] {
  const metrics: MetricRecord[] = [];
  const bootstrap = { resamples: c.protocol.bootstrapResamples, seed: c.protocol.seed };

  for (const name of new Set(outcomes.flatMap((o) => o.series.map((s) => s.metric)))) {
    const processes = outcomes.map((o) => o.series.find((s) => s.metric === name)?.values ?? []).filter((v) => v.length > 0);
    if (processes.length === 0) continue;
    const unit = outcomes.flatMap((o) => o.series).find((s) => s.metric === name)!.unit;
    const base = name.replace(/_(ms|us|s)$/, "");
    for (const [label, stat] of [
      ["p50", (xs: number[]) => percentile(xs, 50)],
      ["p90", (xs: number[]) => percentile(xs, 90)],
      ["p99", (xs: number[]) => percentile(xs, 99)],
      ["mean", mean],
    ] as const) {
      const ci = hierarchicalBootstrap(processes, stat, bootstrap);
      metrics.push({ name: `${base}_${label}_${unit}`, value: ci.estimate, unit, ciLow: ci.low, ciHigh: ci.high });
    }
    metrics.push({ name: `${base}_cv`, value: cv(processes.flat()), unit: "ratio" });
  }

  const p50 = metrics.find((m) => m.name === "latency_p50_ms");
  if (p50?.value) {
    const tokens = outcomes[0]!.tokensPerIteration;
    const perSecond = (count: number, ms: number | null | undefined) => (ms ? (count * 1000) / ms : null);
    metrics.push({
      name: "tokens_per_s",
      value: perSecond(tokens, p50.value),
      unit: "tok/s",
      ciLow: perSecond(tokens, p50.ciHigh),
      ciHigh: perSecond(tokens, p50.ciLow),
    });
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
      metrics.push({ name, value: null, unit, label, reason: found.find((s) => s.reason)?.reason ?? "not measured by the runner" });
      continue;
    }
    // Peaks take the worst repeat; other scalars the mean over repeats.
    const value = /peak|max/.test(name) ? Math.max(...values) : mean(values);
    metrics.push({ name, value, unit, label });
  }

  metrics.push(...caseAccountingMetrics(c));
  return metrics;
}
