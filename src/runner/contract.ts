// The runner contract, owned by the core: what a runner declares (`RunnerDefinition`: its settings, device class,
// static support, memory and notes) and what a loaded runner does (`Runner`: probe, run one repeat, close). The
// core asks these and never names a runner; each runner lives in runners/<name>/ (docs/architecture.md).
import type { z } from "zod";
import type { Case } from "../suite/case.js";
import type { CaseInspection } from "../inspect.js";
import type { TechniqueAccounting } from "../techniques/accounting.js";
import type { ControlSource } from "../run/drift-control.js";

/** One repeat of one case, run in its own process (ort) or in the worker of that repeat index (torch). */
export interface RepeatContext {
  /** 0-based repeat index. */
  repeat: number;
  /** Aborted on Ctrl-C or when the case times out. */
  signal: AbortSignal;
  timeoutMs: number;
  /** RSS cap of the worker's process tree (`--case-memory`); over it the repeat fails. */
  memoryCapBytes?: number;
  /** Called with the worker's PID as soon as it exists, so the sampler can watch its process tree. */
  onProcess?: (pid: number) => void;
  /** Called when the measure window opens and closes (monotonic ms, `performance.timeOrigin`-relative in the parent). */
  onWindow?: (phase: "measure-start" | "measure-end") => void;
}

/** A named series of per-iteration values measured in one process. */
export interface SampleSeries {
  /** e.g. "latency_ms", "ort_model_run_us", "ttft_ms", "tpot_ms". */
  metric: string;
  unit: string;
  values: number[];
}

/** A scalar a repeat measured once (peak RSS, logits fidelity…); `null` with a reason when not measurable. */
export interface ScalarMeasure {
  metric: string;
  unit: string;
  value: number | null;
  reason?: string;
  /** How to read it (e.g. that PCU is a duty cycle). */
  label?: string;
}

/** One request of a serving point, stored row by row (table serve_requests); times in ms from the point's start. */
export interface RequestRow {
  request: number;
  adapter: string | null;
  intendedMs: number;
  sentMs: number;
  sendLagMs: number;
  status: "ok" | "error" | "timeout";
  httpStatus: number | null;
  error: string | null;
  ttftMs: number | null;
  tpotMs: number | null;
  e2eMs: number;
  itl: { count: number; meanMs: number; p50Ms: number; p99Ms: number; maxMs: number } | null;
  /** Achieved lengths, from the server's `usage`. */
  promptTokens: number | null;
  outputTokens: number | null;
  /** The lengths the request was planned with (its prompt's token count and its max_tokens), when known. */
  intendedPromptTokens?: number | null;
  intendedOutputTokens?: number | null;
  /**
   * Of a duration-bound point: ended within the window, drained after it, or cancelled at its end (then `status` is
   * `error` with the reason); null when the point is bound by its request count.
   */
  phase?: "window" | "drained" | "cancelled" | null;
}

export type RepeatOutcome =
  | {
      status: "completed";
      series: SampleSeries[];
      scalars: ScalarMeasure[];
      /** Tokens processed per timed iteration (for throughput). */
      tokensPerIteration: number;
      /** Length of the measure window (first timed iteration's start to last's end), ms. */
      measureWindowMs?: number;
      /** Settings the runner actually used (threads, spinning, EP, optimisation level, dtype…). */
      settings: Record<string, unknown>;
      /** Extra per-repeat facts (routing histograms, library versions…). */
      details?: Record<string, unknown>;
      /** The series validity checks and the run summary read (default `latency_ms`). */
      primarySeries?: string;
      /** Tokens produced in the measure window, when not tokensPerIteration × iterations (serving: output tokens). */
      windowTokens?: number;
      /** Per-request rows of a serving point. */
      requests?: RequestRow[];
      /** Validity flags the runner raises itself (e.g. a load client's send lag). */
      validity?: Array<{ flag: string; detail: string }>;
    }
  | { status: "failed" | "timed-out" | "unsupported"; reason: string; requests?: RequestRow[] };

export interface ProbeResult {
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
  /** Library versions, devices… recorded with the run. */
  info: Record<string, unknown>;
}

export interface Runner {
  name: string;
  /** What this machine supports; never throws. */
  probe(): Promise<ProbeResult>;
  /**
   * `undefined` if the case can run on this machine, else the reason it cannot (recorded as `unsupported`). The
   * static checks of the definition (`RunnerDefinition.unsupportedReason`) are made before this one.
   */
  unsupportedReason(c: Case, probe: ProbeResult): string | undefined;
  /** Runs one repeat of a case. Never throws for a case's own failure: returns `failed` with the reason. */
  runRepeat(c: Case, ctx: RepeatContext): Promise<RepeatOutcome>;
  /** Releases workers. */
  close(): Promise<void>;
  /** Parameter counts of a case's model as the runner's own libraries report them, without running it (`bench inspect`
   * for models and techniques the TypeScript accounting cannot count). */
  inspect?(c: Case): Promise<RunnerCounts>;
}

/** `bench calibrate` of one accelerator a runner can see (e.g. a CUDA GPU), keyed by its UUID. */
export interface GpuCalibration {
  uuid: string | null;
  name: string;
  /** Device-to-device copy bandwidth, read + written bytes per second (fastest run). */
  copyBytesPerS: number;
  copyMedianBytesPerS: number;
  /** bf16 GEMM FLOP/s (fastest run). */
  bf16FlopsPerS: number;
  bf16MedianFlopsPerS: number;
  method: string;
}

/** Options the CLI passes to every runner it loads. */
export interface RunnerOptions {
  /** Interpreter for Python workers (`--python`); else BENCH_PYTHON, .venv, python3. */
  python?: string;
}

/** Where a case's weights and activations live: host memory (checked against this machine up front) or a device. */
export interface MemoryNeed {
  /** Bytes of host memory the case needs at least. */
  hostBytes: number;
  /** How that was counted, for the refusal message (e.g. "3 × 0.6 GiB of weights while building"). */
  explanation: string;
}

/**
 * What a runner declares to the core. Registered once (src/runner/registry.ts) before any suite is validated: the
 * suite schema is built from the registry, with each runner's settings under a top-level key named after it.
 */
export interface RunnerDefinition<S extends Record<string, unknown> = Record<string, unknown>> {
  /** The name suites list in `runners` and the top-level key of its settings. */
  name: string;
  /** One line for `bench env` and the docs. */
  description: string;
  /** The zod object schema of the runner's settings; every field has a default. */
  settingsSchema: z.ZodType<S>;
  /** The device class a case runs on under these settings ("cpu", "cuda"…): part of the case key. */
  deviceClass(settings: S): string;
  /**
   * Settings that change what is measured beyond the device class, with default values left out (so adding one
   * keeps existing case ids): they join the case key.
   */
  caseKeySettings?(settings: S): Record<string, unknown>;
  /**
   * The suite's settings expanded along an axis of the runner's (torch: a list of execution modes), one settings object
   * per case; absent ⇒ the settings as they are.
   */
  settingsVariants?(settings: S): S[];
  /** Appended to the case name when the settings are not the defaults (e.g. "cuda-graph"). */
  caseLabel?(settings: S): string | undefined;
  /** Whether the case computes on the host CPU (MFU/MBU against the CPU calibration; otherwise the sampler watches the GPU). */
  onHost(settings: S): boolean;
  /** CPU threads a host case computes with, when the runner fixes them (checked against the calibration's). */
  hostThreads?(settings: S): number | undefined;
  /** Reasons known without loading the runner (scenario or technique it does not implement…), else `undefined`. */
  unsupportedReason?(c: Case): string | undefined;
  /**
   * Host memory a case needs, from arithmetic (`bench inspect`), checked against this machine before it runs;
   * `undefined` (or absent) when the case's model does not live in host memory.
   */
  hostMemory?(c: Case, inspection: CaseInspection): MemoryNeed | undefined;
  /** What to record about how the case's technique really runs on this runner (e.g. "fp16 cast to fp32 at load"). */
  techniqueNotes?(c: Case): string[];
  /**
   * The case's accounting as this runner stores the model, where its settings change it (a runner that writes its
   * model file in f16 holds 2-byte weights whatever the technique's own bytes): `bench inspect` and the stored
   * `weight_bytes` use it.
   * Absent or `undefined` ⇒ the technique's accounting stands.
   */
  heldAccounting?(c: Case, accounting: TechniqueAccounting): TechniqueAccounting | undefined;
  /**
   * `bench export`: the exact artifact the case runs (ort: its ONNX graph), for other tools; throws with the reason
   * when the case has none. Absent ⇒ the runner has nothing to export.
   */
  exportCase?(c: Case): Promise<{ bytes: Uint8Array; summary: string }>;
  /**
   * The machine-drift control of the case's device class (docs/protocol.md, "Machine-drift control"): a small fixed
   * workload `bench run` measures in its own process after each of the case's processes. Absent ⇒ drift is not
   * controlled for this runner's cases (stored `unsupported` with that reason).
   */
  driftControl?(c: Case, options: RunnerOptions): ControlSource;
  /** For `bench list --estimate`: seconds to start one repeat's process, and which device's throughput applies. */
  estimate: {
    startS: number;
    device(settings: S): "cpu" | "cuda";
    /** Whether the runner's worker initialises this case's weights itself (no weights file is synthesised). */
    seededWeights?(c: Case): boolean;
  };
  /** `bench calibrate`: the accelerators this runner sees, measured (none, with the reason, without one). */
  calibrateGpus?(options: RunnerOptions): Promise<{ gpus: GpuCalibration[]; reason?: string }>;
  /** Loads the runner (lazily: a runner's module starts nothing until a case needs it). */
  load(options: RunnerOptions): Promise<Runner>;
}

/**
 * The settings a suite may give each runner, by runner name, for editor completion in suite files: each runner's
 * settings module adds its own entry (`declare module … { interface RunnerSettingsInputs { name: … } }`).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RunnerSettingsInputs {}

/** Parameter counts a runner reports for a case (`Runner.inspect`). */
export interface RunnerCounts {
  total: number;
  trainable: number;
  /** Parameters one token uses (MoE: the routed experts a token skips left out); absent or null when not known. */
  activePerToken?: number | null;
  architecture?: string;
}
