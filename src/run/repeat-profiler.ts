// Samples a repeat's worker while it runs (docs/metrics.md): the native sampler thread watches the worker's process
// tree (and NVML devices on GPU cases) from the parent; the metrics cover the measure window the worker reports.
import type { Case } from "../suite/case.js";
import type { ScalarMeasure } from "../runner/contract.js";
import { getRunnerDefinition } from "../runner/registry.js";
import {
  monotonicNowMs,
  ProfilingSampler,
  probeNvml,
  selectDeviceUuids,
  type SamplerTrace,
} from "../measure/sampler.js";
import { PROTOCOL_DEFAULTS } from "../measure/protocol.js";
import { samplerMetrics, unavailableSamplerMetrics, type SamplerValidity } from "../measure/sampler-metrics.js";

/** Sampler columns kept as time series in the store (for the report's per-case page). */
const STORED_COLUMNS = [
  "rss_bytes",
  "cpu_time_ms",
  "gpu0.memory_used_bytes",
  "gpu0.power_mw",
  "gpu0.utilization_gpu_pct",
  "gpu0.sm_clock_mhz",
  "gpu0.energy_mj",
];
/** At most this many rows per stored series (every k-th row). */
const MAX_STORED_ROWS = 2000;

export interface RepeatProfile {
  scalars: ScalarMeasure[];
  validity: SamplerValidity[];
  series: Array<{ metric: string; tMs: number[]; values: number[] }>;
  info: Record<string, unknown>;
}

export class RepeatProfiler {
  private sampler: ProfilingSampler | undefined;
  private unavailableReason: string | undefined;
  private startMs: number | undefined;
  private measureStartMs: number | undefined;
  private measureEndMs: number | undefined;

  private nvmlProbed: boolean | undefined;

  constructor(private readonly c: Case) {}

  /** Whether this repeat samples a GPU through NVML (a case that does not compute on the host, NVML present). */
  private samplesNvml(): boolean {
    if (this.nvmlProbed === undefined)
      this.nvmlProbed = !getRunnerDefinition(this.c.runner).onHost(this.c.settings) && probeNvml().ok;
    return this.nvmlProbed;
  }

  /**
   * The protocol this repeat runs under: when its energy comes from a GPU's energy counter, the measure window lasts
   * at least `minEnergyWindowMs`, so that the counter (about 100 ms per update) covers enough updates. The flag's
   * own rule (≥ 10 updates in the window) is unchanged: a window still too short stays flagged.
   */
  measureProtocol(): { protocol: Case["protocol"]; energyWindow?: { minMs: number; reason: string } } {
    const p = this.c.protocol;
    const minEnergyWindowMs = p.minEnergyWindowMs ?? PROTOCOL_DEFAULTS.minEnergyWindowMs;
    if (!this.samplesNvml() || minEnergyWindowMs <= p.minMeasureMs) return { protocol: p };
    return {
      protocol: { ...p, minMeasureMs: minEnergyWindowMs },
      energyWindow: {
        minMs: minEnergyWindowMs,
        reason: `GPU energy is measured: the measure window was extended from minMeasureMs ${p.minMeasureMs} ms to minEnergyWindowMs ${minEnergyWindowMs} ms`,
      },
    };
  }

  /** Called with the worker's PID as soon as it exists. */
  onProcess(pid: number): void {
    if (this.sampler?.running) return;
    const created = ProfilingSampler.create();
    if (!created.ok) {
      this.unavailableReason = created.reason;
      return;
    }
    this.sampler = created.sampler;
    // A case that does not compute on the host runs on a GPU: the sampler also reads NVML for it.
    const gpu = !getRunnerDefinition(this.c.runner).onHost(this.c.settings);
    let deviceUuids: string[] | undefined;
    if (gpu) {
      const probe = probeNvml();
      if (probe.ok) deviceUuids = selectDeviceUuids(process.env.CUDA_VISIBLE_DEVICES, probe.devices).uuids.slice(0, 1);
    }
    this.startMs = monotonicNowMs();
    this.sampler.start({ pids: [pid], hz: this.c.protocol.samplerHz, nvml: gpu, nvmlDeviceUuids: deviceUuids });
  }

  onWindow(phase: "measure-start" | "measure-end"): void {
    // A full row (energy counter included) exactly at the window's edge.
    if (this.sampler?.running) this.sampler.mark();
    if (phase === "measure-start") this.measureStartMs = monotonicNowMs();
    else this.measureEndMs = monotonicNowMs();
  }

  /** Stops sampling and computes the window's metrics; `tokens` processed in the window give J/token. */
  finish(tokens: number | undefined): RepeatProfile {
    if (!this.sampler?.running) {
      const reason = this.unavailableReason ?? "the sampler did not start (no worker process was reported)";
      return { scalars: unavailableSamplerMetrics(reason), validity: [], series: [], info: { sampler: reason } };
    }
    const endMs = monotonicNowMs();
    const trace = this.sampler.stop();
    // Without window events from the worker, the whole repeat is the window (flagged in info).
    const window = { startMs: this.measureStartMs ?? this.startMs!, endMs: this.measureEndMs ?? endMs };
    const { metrics, validity } = samplerMetrics(trace, window, { tokens });
    return {
      scalars: metrics,
      validity,
      series: storedSeries(trace),
      info: {
        samplerHz: trace.hz,
        windowMs: window.endMs - window.startMs,
        windowFromWorker: this.measureStartMs !== undefined,
        devices: trace.devices,
        driverVersion: trace.driverVersion,
        unavailable: trace.unavailable,
      },
    };
  }
}

function storedSeries(trace: SamplerTrace): RepeatProfile["series"] {
  const t0 = trace.timestampsMs[0] ?? 0;
  const step = Math.max(1, Math.ceil(trace.timestampsMs.length / MAX_STORED_ROWS));
  const out: RepeatProfile["series"] = [];
  for (const name of STORED_COLUMNS) {
    const column = trace.columns[name];
    if (!column) continue;
    const tMs: number[] = [];
    const values: number[] = [];
    for (let i = 0; i < column.length; i += step) {
      if (!Number.isFinite(column[i]!)) continue;
      tMs.push(trace.timestampsMs[i]! - t0);
      values.push(column[i]!);
    }
    out.push({ metric: `sampler.${name}`, tMs, values });
  }
  return out;
}
