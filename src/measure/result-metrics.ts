// Turns the raw repeats of a completed case into metric rows, each with its CI where one applies.
import type { Case } from "../suite/case.js";
import type { RepeatOutcome } from "../runner/contract.js";
import { getRunnerDefinition } from "../runner/registry.js";
import type { MetricRecord } from "../store/store.js";
import { cv, hierarchicalBootstrapAll, mean, percentileStatistic } from "./stats.js";
import { caseAccountingMetrics } from "../model/case-accounting.js";

type Completed = Extract<RepeatOutcome, { status: "completed" }>;

/** Bytes of one value of the activation dtype a runner reports in its settings (`settings.dtype`). */
const DTYPE_BYTES: Record<string, number> = { fp32: 4, fp16: 2, bf16: 2 };

/** This machine's calibrated peaks (`bench calibrate`), against which MFU and MBU are computed. */
export interface Peaks {
  cpuThreads: number;
  cpuFlopsPerS: number;
  cpuBytesPerS: number;
  source: string;
  /** False when only GPUs were calibrated (the cpu fields are then not a calibration). */
  cpuCalibrated?: boolean;
  /** Per device UUID (`bench calibrate` on a GPU): copy bandwidth and bf16 GEMM peak. */
  gpus?: Record<string, { copyBytesPerS: number; bf16FlopsPerS: number; name: string; source: string }>;
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
  // Bytes per iteration (and MBU, the floor) from the weights and cache dtype the runner holds, when it reports them.
  const heldWeights = metrics.find((m) => m.name === "weight_bytes")?.value ?? null;
  const dtype = outcomes[0]!.settings.dtype;
  const cacheValueBytes = typeof dtype === "string" ? (DTYPE_BYTES[dtype] ?? null) : null;
  metrics.push(
    ...caseAccountingMetrics(c, { weightBytes: heldWeights, cacheValueBytes }).filter((m) => !measured.has(m.name)),
  );
  const deviceUuid = outcomes[0]!.settings.deviceUuid;
  metrics.push(...utilisation(c, metrics, peaks, typeof deviceUuid === "string" ? deviceUuid : undefined));
  return metrics;
}

/** MFU = analytic FLOP/s ÷ peak FLOP/s; MBU = analytic bytes/s ÷ peak bandwidth (docs/metrics.md). On a GPU, against
 * that device's `bench calibrate` (by UUID): bf16 GEMM peak and copy bandwidth; decode results also get the
 * weight-read floor (bytes per iteration as held ÷ copy bandwidth) and their ratio to it. */
function utilisation(c: Case, metrics: MetricRecord[], peaks: Peaks | undefined, deviceUuid?: string): MetricRecord[] {
  const get = (name: string) => metrics.find((m) => m.name === name)?.value ?? null;
  const p50Ms = get("latency_p50_ms");
  const flops = get("flops_per_iteration");
  const bytes = get("bytes_per_iteration");
  const definition = getRunnerDefinition(c.runner);
  const threads = definition.hostThreads?.(c.settings);
  // A result without a device UUID from its runner ran on the host (e.g. torch's "auto" on a machine without CUDA).
  const onCpu = definition.onHost(c.settings) || !deviceUuid;
  const gpu = !onCpu && deviceUuid ? peaks?.gpus?.[deviceUuid] : undefined;
  let reason: string | undefined;
  if (!onCpu && !gpu)
    reason = `no calibration of this GPU (${deviceUuid ?? "unknown UUID"}) in this database: run \`bench calibrate --db <this db>\` on it first`;
  else if (onCpu && (!peaks || peaks.cpuCalibrated === false))
    reason = "no calibration in this database: run `bench calibrate --db <this db>` first";
  else if (onCpu && threads !== undefined && peaks!.cpuThreads !== threads)
    reason = `calibrated with ${peaks!.cpuThreads} thread(s), the case runs ${threads}: run \`bench calibrate --threads ${threads}\``;
  const label = gpu ? `against ${gpu.name}, ${gpu.source}` : peaks ? `against ${peaks.source}` : undefined;
  const ratio = (work: number | null, peak: number | undefined, what: string, peakLabel?: string): MetricRecord =>
    reason || !peak || !p50Ms
      ? { name: what, value: null, unit: "ratio", reason: reason ?? "no analytic work count for this scenario" }
      : work === null
        ? { name: what, value: null, unit: "ratio", reason: "no analytic work count for this scenario" }
        : {
            name: what,
            value: work / (p50Ms / 1000) / peak,
            unit: "ratio",
            label: peakLabel ? `${peakLabel} ${label}` : label,
          };
  const out = gpu
    ? [
        ratio(flops, gpu.bf16FlopsPerS, "mfu", "bf16 GEMM peak,"),
        ratio(bytes, gpu.copyBytesPerS, "mbu", "copy bandwidth,"),
      ]
    : [ratio(flops, peaks?.cpuFlopsPerS, "mfu"), ratio(bytes, peaks?.cpuBytesPerS, "mbu")];
  if (c.scenario === "decode") out.push(...decodeFloor(bytes, p50Ms, gpu, onCpu, reason));
  return out;
}

/** The decode weight-read floor: one step must read the weights (as held) and the KV cache once at the device's
 * calibrated copy bandwidth; the ratio says how far the step is from it. GPU results only. */
function decodeFloor(
  bytes: number | null,
  p50Ms: number | null,
  gpu: NonNullable<Peaks["gpus"]>[string] | undefined,
  onCpu: boolean,
  reason: string | undefined,
): MetricRecord[] {
  const why = onCpu
    ? "the weight-read floor is computed for GPU results (the CPU's caches make a DRAM floor misleading for small models)"
    : (reason ?? (bytes === null || !p50Ms ? "no analytic bytes per iteration" : undefined));
  if (why || !gpu || bytes === null || !p50Ms)
    return [
      { name: "decode_floor_ms", value: null, unit: "ms", reason: why ?? "no calibration" },
      { name: "decode_floor_ratio", value: null, unit: "ratio", reason: why ?? "no calibration" },
    ];
  const floorMs = (bytes / gpu.copyBytesPerS) * 1000;
  return [
    {
      name: "decode_floor_ms",
      value: floorMs,
      unit: "ms",
      label: `bytes per iteration as held ÷ calibrated copy bandwidth (${(gpu.copyBytesPerS / 1e12).toFixed(2)} TB/s)`,
    },
    { name: "decode_floor_ratio", value: p50Ms / floorMs, unit: "ratio", label: "latency p50 ÷ the weight-read floor" },
  ];
}
