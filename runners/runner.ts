// The Runner interface (DESIGN.md §3–4) and what a repeat of a case returns.
import type { Case } from "../src/suite/case.js";

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
    }
  | { status: "failed" | "timed-out" | "unsupported"; reason: string };

export interface ProbeResult {
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
  /** Library versions, devices… recorded with the run. */
  info: Record<string, unknown>;
}

export interface Runner {
  name: Case["runner"];
  /** What this machine supports; never throws. */
  probe(): Promise<ProbeResult>;
  /** `undefined` if the case can run here, else the reason it cannot (recorded as `unsupported`). */
  unsupportedReason(c: Case, probe: ProbeResult): string | undefined;
  /** Runs one repeat of a case. Never throws for a case's own failure: returns `failed` with the reason. */
  runRepeat(c: Case, ctx: RepeatContext): Promise<RepeatOutcome>;
  /** Releases workers. */
  close(): Promise<void>;
}
