// Loads the native profiling addon (native/) and wraps its sampler thread. The addon is never required:
// without it, `loadNativeAddon()` says which paths it tried and why, and the metrics it would give are null
// with that reason, never 0.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fromRoot } from "../paths.js";

export const ADDON_FILE = "effbench_native.node";
/** Default sampling rate (the protocol's `samplerHz` overrides it). */
export const DEFAULT_SAMPLER_HZ = 100;
/**
 * The JS side drains the native ring buffer this often, so a long window never overflows it. Often and small: a
 * drain runs on the event loop, and one every 5 s (500 rows) held it for over a millisecond — late sends of a load
 * generator that shares this loop (an open-loop serving client); every 0.5 s the pause stays well under that.
 */
const DRAIN_INTERVAL_MS = 500;

export interface NvmlDeviceInfo {
  index: number;
  uuid: string;
  name: string;
  memoryTotalBytes?: number;
}

export type NvmlProbe =
  { ok: true; libPath: string; driverVersion?: string; devices: NvmlDeviceInfo[] } | { ok: false; reason: string };

interface NativeStartInfo {
  samplerTid: number;
  columns: string[];
  unavailable: { name: string; reason: string }[];
  devices: NvmlDeviceInfo[];
  raplDomains: string[];
  driverVersion?: string;
  nvmlLibPath?: string;
  processMemoryFunction?: string;
}

interface NativeBatch {
  timestampsMs: Float64Array;
  columns: Float64Array[];
  dropped: number;
}

interface NativeSampler {
  start(options: Record<string, unknown>): NativeStartInfo;
  stop(): void;
  mark(): void;
  read(): NativeBatch;
  readonly running: boolean;
  readonly threadId: number;
}

/** What the addon exports (native/src/addon.cc). */
export interface NativeAddon {
  version: string;
  Sampler: new () => NativeSampler;
  /** CLOCK_MONOTONIC in ms, the sampler's time base. */
  monotonicNowMs(): number;
  resetPeakRss(pid: number): { ok: true } | { ok: false; reason: string };
  nvmlProbe(libPath?: string): NvmlProbe;
}

export type AddonLoad =
  { ok: true; addon: NativeAddon; path: string } | { ok: false; reason: string; triedPaths: string[] };

let cached: AddonLoad | undefined;

/** Candidate locations, in order: $EFFBENCH_NATIVE_DIR (the GPU bundle), then the build output. */
export function addonCandidatePaths(): string[] {
  const paths: string[] = [];
  if (process.env.EFFBENCH_NATIVE_DIR) paths.push(join(process.env.EFFBENCH_NATIVE_DIR, ADDON_FILE));
  paths.push(fromRoot("native", "build", "Release", ADDON_FILE));
  return paths;
}

/** Loads the addon once per process; never throws. */
export function loadNativeAddon(): AddonLoad {
  if (cached) return cached;
  const triedPaths = addonCandidatePaths();
  const failures: string[] = [];
  const require = createRequire(import.meta.url);
  for (const path of triedPaths) {
    if (!existsSync(path)) {
      failures.push(`${path}: not found`);
      continue;
    }
    try {
      const addon = require(path) as NativeAddon;
      if (typeof addon.Sampler !== "function") throw new Error("it does not export Sampler (stale build?)");
      cached = { ok: true, addon, path };
      return cached;
    } catch (error) {
      failures.push(`${path}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  cached = {
    ok: false,
    reason: `native profiling addon unavailable (run \`npm run build:native\`): ${failures.join("; ")}`,
    triedPaths,
  };
  return cached;
}

/** CLOCK_MONOTONIC in ms: Node's hrtime uses the same clock as the sampler's timestamps. */
export function monotonicNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export interface SamplerOptions {
  /** Roots of the watched process tree (the worker; its children are found by the sampler). */
  pids: number[];
  hz?: number;
  /**
   * Rate of the costlier sources: VmHWM, CPU time, perf, RAPL, NVML utilisation, power, clocks, limits, temperature
   * and process list (default 10 Hz). Every row has the cheap ones: RSS (statm) and NVML memory in use.
   */
  fullHz?: number;
  /**
   * Rate of NVML's energy counter (default 2 Hz; it costs ~4 ms of CPU per read on an H200 and changes only every
   * ~100 ms). It is also read on every full row of the first second, at start and stop, and on `mark()`.
   */
  energyHz?: number;
  /** Sample NVML devices. Default: true when `nvmlDeviceUuids` is given, else false. */
  nvml?: boolean;
  /** Devices to sample, by UUID (see `selectDeviceUuids`); empty or absent with `nvml`: every device. */
  nvmlDeviceUuids?: string[];
  /** Default: $EFFBENCH_NVML_LIB, else libnvidia-ml.so.1. */
  nvmlLibPath?: string;
  perf?: boolean;
  rapl?: boolean;
  capacityRows?: number;
}

/** Everything one sampling session recorded: raw rows, column by column, plus why the missing columns are missing. */
export interface SamplerTrace {
  hz: number;
  /** CLOCK_MONOTONIC ms of each row. */
  timestampsMs: Float64Array;
  /** e.g. rss_bytes, hwm_bytes, cpu_time_ms, perf_task_clock_ns, rapl_energy_uj, gpu0.energy_mj, gpu0.power_mw. */
  columns: Record<string, Float64Array>;
  /** Column or group ("perf", "rapl", "nvml", "gpu0.energy_mj"…) → why it was not sampled. */
  unavailable: Record<string, string>;
  /** The sampled devices; column prefix `gpu<k>.` is the k-th of them. */
  devices: NvmlDeviceInfo[];
  raplDomains: string[];
  driverVersion?: string;
  nvmlLibPath?: string;
  processMemoryFunction?: string;
  samplerTid: number;
  /** Rows lost because the ring buffer overflowed (0 unless the event loop was blocked for minutes). */
  droppedRows: number;
}

/** The sampler thread of the addon, with its rows collected on the JS side. */
export class ProfilingSampler {
  private readonly native: NativeSampler;
  private info: NativeStartInfo | undefined;
  private hz = DEFAULT_SAMPLER_HZ;
  private batches: NativeBatch[] = [];
  private timer: NodeJS.Timeout | undefined;

  private constructor(addon: NativeAddon) {
    this.native = new addon.Sampler();
  }

  /** A sampler, or why there cannot be one. */
  static create(): { ok: true; sampler: ProfilingSampler } | { ok: false; reason: string } {
    const load = loadNativeAddon();
    return load.ok ? { ok: true, sampler: new ProfilingSampler(load.addon) } : { ok: false, reason: load.reason };
  }

  get running(): boolean {
    return this.native.running;
  }

  /** The sampler thread's id (for /proc/self/task/<tid>/stat). */
  get threadId(): number {
    return this.native.threadId;
  }

  start(options: SamplerOptions): void {
    this.hz = options.hz ?? DEFAULT_SAMPLER_HZ;
    this.batches = [];
    const nvml = options.nvml ?? (options.nvmlDeviceUuids !== undefined && options.nvmlDeviceUuids.length > 0);
    this.info = this.native.start({
      pids: options.pids,
      hz: this.hz,
      nvml,
      deviceUuids: options.nvmlDeviceUuids ?? [],
      ...(options.nvmlLibPath !== undefined ? { nvmlLibPath: options.nvmlLibPath } : {}),
      ...(options.fullHz !== undefined ? { fullHz: options.fullHz } : {}),
      ...(options.energyHz !== undefined ? { energyHz: options.energyHz } : {}),
      perf: options.perf ?? true,
      rapl: options.rapl ?? true,
      ...(options.capacityRows !== undefined ? { capacityRows: options.capacityRows } : {}),
    });
    this.timer = setInterval(() => this.batches.push(this.native.read()), DRAIN_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Takes a full row, energy counter included, right now: call it when the measure window opens and closes, so
   * that the energy difference needs no interpolation at its ends.
   */
  mark(): void {
    this.native.mark();
  }

  /** Stops the thread (it takes one last row) and returns everything recorded since start. */
  stop(): SamplerTrace {
    if (!this.info) throw new Error("ProfilingSampler.stop() before start()");
    clearInterval(this.timer);
    this.native.stop();
    this.batches.push(this.native.read());
    return buildTrace(this.info, this.batches, this.hz);
  }
}

function buildTrace(info: NativeStartInfo, batches: NativeBatch[], hz: number): SamplerTrace {
  const rows = batches.reduce((n, b) => n + b.timestampsMs.length, 0);
  const concat = (pick: (b: NativeBatch) => Float64Array) => {
    const out = new Float64Array(rows);
    let at = 0;
    for (const b of batches) {
      out.set(pick(b), at);
      at += b.timestampsMs.length;
    }
    return out;
  };
  const columns: Record<string, Float64Array> = {};
  info.columns.forEach((name, i) => (columns[name] = concat((b) => b.columns[i]!)));
  const unavailable: Record<string, string> = {};
  for (const u of info.unavailable) unavailable[u.name] = u.reason;
  return {
    hz,
    timestampsMs: concat((b) => b.timestampsMs),
    columns,
    unavailable,
    devices: info.devices,
    raplDomains: info.raplDomains,
    ...(info.driverVersion !== undefined ? { driverVersion: info.driverVersion } : {}),
    ...(info.nvmlLibPath !== undefined ? { nvmlLibPath: info.nvmlLibPath } : {}),
    ...(info.processMemoryFunction !== undefined ? { processMemoryFunction: info.processMemoryFunction } : {}),
    samplerTid: info.samplerTid,
    droppedRows: batches.reduce((n, b) => n + b.dropped, 0),
  };
}

/** Resets the VmHWM of `pid` (after model load), so that peak RSS covers the measure window only. */
export function resetPeakRss(pid: number): { ok: true } | { ok: false; reason: string } {
  const load = loadNativeAddon();
  return load.ok ? load.addon.resetPeakRss(pid) : { ok: false, reason: load.reason };
}

/** NVML's devices (PCI order) and driver, or why NVML cannot be used. */
export function probeNvml(libPath?: string): NvmlProbe {
  const load = loadNativeAddon();
  if (!load.ok) return { ok: false, reason: load.reason };
  return libPath === undefined ? load.addon.nvmlProbe() : load.addon.nvmlProbe(libPath);
}

/**
 * Maps CUDA_VISIBLE_DEVICES to NVML UUIDs. Entries may be indices or (prefixes of) GPU-/MIG- UUIDs; as in CUDA,
 * an entry that matches nothing hides it and every later entry. Indices are taken in PCI order, which is NVML's
 * order and CUDA's when CUDA_DEVICE_ORDER=PCI_BUS_ID (CUDA's default, FASTEST_FIRST, may differ on machines with
 * mixed GPUs: pass UUIDs there). Unset means every device.
 */
export function selectDeviceUuids(
  cudaVisibleDevices: string | undefined,
  devices: readonly NvmlDeviceInfo[],
): { uuids: string[]; note?: string } {
  const ordered = [...devices].sort((a, b) => a.index - b.index);
  if (cudaVisibleDevices === undefined) return { uuids: ordered.map((d) => d.uuid) };
  const uuids: string[] = [];
  for (const raw of cudaVisibleDevices.split(",").map((s) => s.trim())) {
    if (raw === "") break;
    let match: NvmlDeviceInfo | undefined;
    if (/^\d+$/.test(raw)) {
      match = ordered[Number(raw)];
    } else {
      const prefix = /^(GPU|MIG)-/i.test(raw) ? raw : `GPU-${raw}`;
      const found = ordered.filter((d) => d.uuid.toLowerCase().startsWith(prefix.toLowerCase()));
      match = found.length === 1 ? found[0] : undefined;
    }
    if (!match) {
      return {
        uuids,
        note: `CUDA_VISIBLE_DEVICES entry "${raw}" matches no single NVML device; it and later entries are ignored, as CUDA does`,
      };
    }
    if (!uuids.includes(match.uuid)) uuids.push(match.uuid);
  }
  return { uuids };
}

/** User + system CPU time of one thread of this process, from /proc/self/task/<tid>/stat (ms; tick resolution). */
export function threadCpuTimeMs(tid: number): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): utime and stime are fields 14 and 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;
