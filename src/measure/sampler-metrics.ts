// Metrics of one repeat's measure window from the sampler's trace (docs/metrics.md): AMU, peak and per-process
// memory, PCU, energy (counter difference; integrated power as a flagged fallback), J/token, AEC, the CPU
// analogues, and the validity flags the samples raise. Unavailable ⇒ null with the reason, never 0.
import type { ScalarMeasure } from "../runner/contract.js";
import {
  energyFromCounter,
  energyFromPower,
  timeAverage,
  valueAt,
  valuesIn,
  type EnergyResult,
  type TimeWindow,
} from "./energy.js";
import type { SamplerTrace } from "./sampler.js";

/** A metric from the samples; `label` says how to read it (e.g. that PCU is a duty cycle). */
export interface SamplerMetric extends ScalarMeasure {
  label?: string;
}

export type SamplerValidityFlag =
  | "energy-window-too-short"
  | "energy-integrated-from-power"
  | "clocks-changed"
  | "power-limit-changed"
  | "thermal-throttle"
  | "power-capped"
  | "process-memory-from-device"
  | "sampler-dropped-rows";

export interface SamplerValidity {
  flag: SamplerValidityFlag;
  detail: string;
}

/** An SM or memory clock that moves by more than this fraction inside the window flags `clocks-changed`. */
export const CLOCK_CHANGE_TOLERANCE = 0.05;

/** Clock event reason bits (nvml.h `nvmlClocksEventReason*`). */
export const CLOCK_EVENT_REASONS = {
  gpuIdle: 0x1,
  applicationsClocksSetting: 0x2,
  swPowerCap: 0x4,
  hwSlowdown: 0x8,
  syncBoost: 0x10,
  swThermalSlowdown: 0x20,
  hwThermalSlowdown: 0x40,
  hwPowerBrakeSlowdown: 0x80,
  displayClockSetting: 0x100,
} as const;
const THERMAL_REASONS = CLOCK_EVENT_REASONS.swThermalSlowdown | CLOCK_EVENT_REASONS.hwThermalSlowdown;

export const PCU_LABEL =
  "PCU: mean NVML utilization.gpu, a duty cycle (share of time any kernel ran), not the share of SMs or FLOPs in use";
export const CPU_ANALOGUE_LABEL = "CPU analogue: resident set size of the worker's process tree";

export interface SamplerMetricsOptions {
  /** Tokens processed inside the window, for J/token. */
  tokens?: number;
}

export interface SamplerMetricsResult {
  metrics: SamplerMetric[];
  validity: SamplerValidity[];
}

/** Every metric this module computes, null with `reason` (the addon or the sampler did not run). */
export function unavailableSamplerMetrics(reason: string): SamplerMetric[] {
  return METRIC_UNITS.map(([metric, unit]) => ({ metric, unit, value: null, reason }));
}

const METRIC_UNITS: [string, string][] = [
  ["cpu_rss_avg_bytes", "B"],
  ["cpu_rss_peak_bytes", "B"],
  ["cpu_utilization_cores", "cores"],
  ["perf_task_clock_ms", "ms"],
  ["perf_context_switches", "count"],
  ["perf_page_faults", "count"],
  ["cpu_energy_j", "J"],
  ["cpu_energy_j_per_token", "J/tok"],
  ["cpu_power_avg_w", "W"],
  ["gpu_amu_bytes", "B"],
  ["gpu_memory_peak_bytes", "B"],
  ["gpu_process_memory_avg_bytes", "B"],
  ["gpu_process_memory_peak_bytes", "B"],
  ["gpu_pcu_pct", "%"],
  ["gpu_memory_utilization_pct", "%"],
  ["gpu_energy_j", "J"],
  ["gpu_energy_j_per_token", "J/tok"],
  ["gpu_power_avg_w", "W"],
  ["gpu_energy_window_ms", "ms"],
  ["gpu_sm_clock_mhz", "MHz"],
  ["gpu_temperature_max_c", "°C"],
  ["gpu_power_limit_w", "W"],
];
const unitOf = new Map(METRIC_UNITS);

export function samplerMetrics(
  trace: SamplerTrace,
  window: TimeWindow,
  options: SamplerMetricsOptions = {},
): SamplerMetricsResult {
  const metrics: SamplerMetric[] = [];
  const validity: SamplerValidity[] = [];
  const t = trace.timestampsMs;
  const windowMs = window.endMs - window.startMs;
  const put = (metric: string, value: number | null, reasonOrLabel?: { reason?: string; label?: string }) => {
    const m: SamplerMetric = { metric, unit: unitOf.get(metric)!, value };
    if (value === null) m.reason = reasonOrLabel?.reason ?? "not measured";
    if (reasonOrLabel?.label) m.label = reasonOrLabel.label;
    metrics.push(m);
  };
  const why = (...keys: string[]) => keys.map((k) => trace.unavailable[k]).find((r) => r !== undefined);
  const delta = (column: Float64Array) => {
    const a = valueAt(t, column, window.startMs);
    const b = valueAt(t, column, window.endMs);
    return a === null || b === null ? null : b - a;
  };
  const notCovered = "the sampler's rows do not cover the measure window";

  if (trace.droppedRows > 0)
    validity.push({
      flag: "sampler-dropped-rows",
      detail: `${trace.droppedRows} sampler rows were overwritten before being read`,
    });

  // CPU side.
  const rss = trace.columns.rss_bytes;
  const hwm = trace.columns.hwm_bytes;
  const noProc = why("proc") ?? "the sampler watched no process";
  if (rss) {
    put("cpu_rss_avg_bytes", timeAverage(t, rss, window), {
      reason: notCovered,
      label: `${CPU_ANALOGUE_LABEL}, time-averaged`,
    });
    // VmHWM is a running peak (since start or the last resetPeakRss), so its value at the window's end covers
    // spikes between samples; the sampled RSS is a lower bound when VmHWM is missing.
    const peaks = [...valuesIn(t, hwm ?? rss, window), ...valuesIn(t, rss, window)];
    put("cpu_rss_peak_bytes", peaks.length ? Math.max(...peaks) : null, {
      reason: notCovered,
      label: `${CPU_ANALOGUE_LABEL}, peak (VmHWM)`,
    });
    const cpuMs = trace.columns.cpu_time_ms ? delta(trace.columns.cpu_time_ms) : null;
    put("cpu_utilization_cores", cpuMs === null || windowMs <= 0 ? null : cpuMs / windowMs, { reason: notCovered });
  } else {
    for (const name of ["cpu_rss_avg_bytes", "cpu_rss_peak_bytes", "cpu_utilization_cores"])
      put(name, null, { reason: noProc });
  }
  const perfReason = why("perf", "proc") ?? "perf counters were not sampled";
  for (const [name, column, scale] of [
    ["perf_task_clock_ms", "perf_task_clock_ns", 1e-6],
    ["perf_context_switches", "perf_context_switches", 1],
    ["perf_page_faults", "perf_page_faults", 1],
  ] as const) {
    const series = trace.columns[column];
    const d = series ? delta(series) : null;
    put(name, d === null ? null : d * scale, { reason: series ? notCovered : perfReason });
  }
  const rapl = trace.columns.rapl_energy_uj;
  if (rapl) {
    const e = energyFromCounter(t, rapl, window, 1e-6);
    putEnergy("cpu", e, put, options.tokens, validity);
  } else {
    const reason = why("rapl") ?? "RAPL was not sampled";
    for (const name of ["cpu_energy_j", "cpu_energy_j_per_token", "cpu_power_avg_w"]) put(name, null, { reason });
  }

  // GPU side: totals over the sampled devices.
  if (trace.devices.length === 0) {
    const reason = why("nvml") ?? "no NVML device was sampled";
    for (const [name] of METRIC_UNITS.filter(([n]) => n.startsWith("gpu_"))) put(name, null, { reason });
    return { metrics, validity };
  }
  const col = (k: number, name: string) => trace.columns[`gpu${k}.${name}`];
  const reasonOf = (name: string) =>
    trace.devices.map((_, k) => trace.unavailable[`gpu${k}.${name}`]).find((r) => r !== undefined) ?? notCovered;
  const sumOver = (f: (k: number) => number | null) => {
    let total = 0;
    for (let k = 0; k < trace.devices.length; k++) {
      const v = f(k);
      if (v === null) return null;
      total += v;
    }
    return total;
  };
  const meanOver = (f: (k: number) => number | null) => {
    const s = sumOver(f);
    return s === null ? null : s / trace.devices.length;
  };
  const maxIn = (series: Float64Array | undefined) => {
    const vs = series ? valuesIn(t, series, window) : [];
    return vs.length ? Math.max(...vs) : null;
  };

  put(
    "gpu_amu_bytes",
    sumOver((k) => (col(k, "memory_used_bytes") ? timeAverage(t, col(k, "memory_used_bytes")!, window) : null)),
    {
      reason: reasonOf("memory_used_bytes"),
      label: "AMU: time-averaged device memory in use (EfficientLLM)",
    },
  );
  put(
    "gpu_memory_peak_bytes",
    sumOver((k) => maxIn(col(k, "memory_used_bytes"))),
    { reason: reasonOf("memory_used_bytes") },
  );

  // Per-process memory; NVML lists host PIDs, so in another PID namespace none of ours match: device memory then.
  const fromDevice: string[] = [];
  const processSeries = trace.devices.map((device, k) => {
    const own = col(k, "process_memory_bytes");
    if (own && valuesIn(t, own, window).length > 0) return own;
    const foreign = maxIn(col(k, "foreign_process_count"));
    fromDevice.push(
      foreign && foreign > 0
        ? `NVML lists ${foreign} process(es) on ${device.uuid} but none of the watched PIDs (a different PID namespace, e.g. a container): device memory used instead`
        : `NVML lists none of the watched PIDs on ${device.uuid}${trace.unavailable[`gpu${k}.process_memory_bytes`] ? ` (${trace.unavailable[`gpu${k}.process_memory_bytes`]})` : ""}: device memory used instead`,
    );
    return col(k, "memory_used_bytes");
  });
  if (fromDevice.length > 0) validity.push({ flag: "process-memory-from-device", detail: fromDevice.join("; ") });
  const processLabel = fromDevice.length
    ? `device memory (fallback): ${fromDevice.join("; ")}`
    : "per-process memory from NVML";
  put(
    "gpu_process_memory_avg_bytes",
    sumOver((k) => (processSeries[k] ? timeAverage(t, processSeries[k]!, window) : null)),
    {
      reason: reasonOf("memory_used_bytes"),
      label: processLabel,
    },
  );
  put(
    "gpu_process_memory_peak_bytes",
    sumOver((k) => maxIn(processSeries[k])),
    { reason: reasonOf("memory_used_bytes"), label: processLabel },
  );

  put(
    "gpu_pcu_pct",
    meanOver((k) => (col(k, "utilization_gpu_pct") ? timeAverage(t, col(k, "utilization_gpu_pct")!, window) : null)),
    {
      reason: reasonOf("utilization_gpu_pct"),
      label: PCU_LABEL,
    },
  );
  put(
    "gpu_memory_utilization_pct",
    meanOver((k) =>
      col(k, "utilization_memory_pct") ? timeAverage(t, col(k, "utilization_memory_pct")!, window) : null,
    ),
    {
      reason: reasonOf("utilization_memory_pct"),
      label: "mean NVML utilization.memory (share of time memory was read or written)",
    },
  );

  // Energy: the counter where every device has one, else integrated power (flagged).
  const perDevice: EnergyResult[] = trace.devices.map((_, k) => {
    const counter = col(k, "energy_mj");
    if (counter) {
      const e = energyFromCounter(t, counter, window, 1e-3);
      if (e.energyJ !== null || !col(k, "power_mw")) return e;
    }
    const power = col(k, "power_mw");
    if (!power)
      return {
        energyJ: null,
        reason: `${trace.unavailable[`gpu${k}.energy_mj`] ?? "no energy counter"}; ${trace.unavailable[`gpu${k}.power_mw`] ?? "no power reading"}`,
      };
    return energyFromPower(
      t,
      Float64Array.from(power, (mw) => mw / 1000),
      window,
    );
  });
  const failed = perDevice.find((e): e is Extract<EnergyResult, { energyJ: null }> => e.energyJ === null);
  if (failed) {
    putEnergy("gpu", failed, put, options.tokens, validity);
  } else {
    const ok = perDevice as Extract<EnergyResult, { energyJ: number }>[];
    const integrated = ok.filter((e) => e.source === "integrated-power");
    if (integrated.length > 0) {
      const missing = trace.devices.map((_, k) => trace.unavailable[`gpu${k}.energy_mj`]).find((r) => r !== undefined);
      validity.push({
        flag: "energy-integrated-from-power",
        detail: `energy integrated from NVML power samples${missing ? ` (${missing})` : ""}`,
      });
    }
    const tooShort = ok.find((e) => e.tooShort);
    putEnergy(
      "gpu",
      {
        energyJ: ok.reduce((s, e) => s + e.energyJ, 0),
        source: integrated.length ? "integrated-power" : "counter",
        windowMs,
        updatePeriodMs: ok[0]!.updatePeriodMs,
        tooShort: tooShort !== undefined,
        detail: tooShort?.detail ?? ok[0]!.detail,
      },
      put,
      options.tokens,
      validity,
    );
  }

  put(
    "gpu_sm_clock_mhz",
    meanOver((k) => (col(k, "sm_clock_mhz") ? timeAverage(t, col(k, "sm_clock_mhz")!, window) : null)),
    {
      reason: reasonOf("sm_clock_mhz"),
    },
  );
  put(
    "gpu_temperature_max_c",
    (() => {
      const maxima = trace.devices.map((_, k) => maxIn(col(k, "temperature_c")));
      return maxima.some((m) => m === null) ? null : Math.max(...(maxima as number[]));
    })(),
    { reason: reasonOf("temperature_c") },
  );
  put(
    "gpu_power_limit_w",
    (() => {
      const limit = sumOver((k) => maxIn(col(k, "power_limit_mw")));
      return limit === null ? null : limit / 1000;
    })(),
    { reason: reasonOf("power_limit_mw") },
  );

  // Validity from the samples inside the window.
  trace.devices.forEach((device, k) => {
    for (const clock of ["sm_clock_mhz", "memory_clock_mhz"]) {
      const vs = col(k, clock) ? valuesIn(t, col(k, clock)!, window) : [];
      if (vs.length < 2) continue;
      const lo = Math.min(...vs);
      const hi = Math.max(...vs);
      if (hi > 0 && (hi - lo) / hi > CLOCK_CHANGE_TOLERANCE)
        validity.push({
          flag: "clocks-changed",
          detail: `${device.uuid} ${clock.replace("_mhz", "")} moved between ${lo} and ${hi} MHz`,
        });
    }
    const limits = col(k, "power_limit_mw") ? valuesIn(t, col(k, "power_limit_mw")!, window) : [];
    if (limits.length > 1 && Math.min(...limits) !== Math.max(...limits))
      validity.push({
        flag: "power-limit-changed",
        detail: `${device.uuid} power limit moved between ${Math.min(...limits) / 1000} and ${Math.max(...limits) / 1000} W`,
      });
    const reasons = col(k, "clock_event_reasons") ? valuesIn(t, col(k, "clock_event_reasons")!, window) : [];
    const seen = reasons.reduce((acc, r) => acc | r, 0);
    if (seen & THERMAL_REASONS)
      validity.push({
        flag: "thermal-throttle",
        detail: `${device.uuid} reported thermal slowdown (clock event reasons 0x${seen.toString(16)})`,
      });
    if (seen & CLOCK_EVENT_REASONS.swPowerCap)
      validity.push({
        flag: "power-capped",
        detail: `${device.uuid} was held at its power cap (clock event reasons 0x${seen.toString(16)})`,
      });
  });
  return { metrics, validity };
}

function putEnergy(
  side: "cpu" | "gpu",
  e: EnergyResult,
  put: (metric: string, value: number | null, extra?: { reason?: string; label?: string }) => void,
  tokens: number | undefined,
  validity: SamplerValidity[],
): void {
  if (e.energyJ === null) {
    for (const name of [`${side}_energy_j`, `${side}_energy_j_per_token`, `${side}_power_avg_w`])
      put(name, null, { reason: e.reason });
    if (side === "gpu") put("gpu_energy_window_ms", null, { reason: e.reason });
    return;
  }
  const source =
    side === "cpu"
      ? "RAPL package energy counter"
      : e.source === "counter"
        ? "NVML total-energy counter"
        : "NVML power integrated";
  if (e.tooShort) validity.push({ flag: "energy-window-too-short", detail: `${side}: ${e.detail}` });
  put(`${side}_energy_j`, e.energyJ, { label: `${source} over the measure window` });
  put(`${side}_energy_j_per_token`, tokens && tokens > 0 ? e.energyJ / tokens : null, {
    reason: "the number of tokens in the window is unknown",
  });
  put(`${side}_power_avg_w`, e.windowMs > 0 ? (e.energyJ * 1000) / e.windowMs : null, {
    reason: "empty window",
    label:
      side === "gpu" ? "AEC: average power over the window (EfficientLLM)" : "average package power over the window",
  });
  // The window the energy covers, beside the counter's update period: the flag needs ≥ 10 updates in it.
  if (side === "gpu")
    put("gpu_energy_window_ms", e.windowMs, {
      label: `window the energy covers${e.updatePeriodMs !== null ? `; the ${e.source === "counter" ? "counter updates" : "power reading averages"} about every ${e.updatePeriodMs.toFixed(0)} ms` : ""}`,
    });
}
