// Runs planned cases: each repeat in its own process, then statistics, then one store transaction per case. A case that fails, times out or is unsupported is recorded with its reason; the run goes on.
import type { Case } from "../suite/case.js";
import type { RepeatOutcome } from "../runner/contract.js";
import { RunnerPool } from "../runner/registry.js";
import type { ResultRecord, Store, ValidityRecord } from "../store/store.js";
import { resultMetrics, type Peaks } from "../measure/result-metrics.js";
import { validityFlags } from "../measure/validity.js";
import { hostBoundFlag } from "../measure/gpu-busy.js";
import { RepeatProfiler } from "./repeat-profiler.js";
import { inspectCase } from "../inspect.js";
import { totalmem } from "node:os";
import { getRunnerDefinition } from "../runner/registry.js";
import { staticUnsupportedReason } from "../runner/support.js";

/**
 * Refuses up front, with the numbers, a case whose model must live in this machine's memory and cannot fit: the
 * runner says how much host memory the case needs (`RunnerDefinition.hostMemory`).
 */
export function doesNotFit(c: Case, memoryBytes = totalmem()): string | undefined {
  const inspection = inspectCase(c);
  const need = getRunnerDefinition(c.runner).hostMemory?.(c, inspection);
  if (!need || need.hostBytes <= memoryBytes) return undefined;
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  return `does not fit in memory: needs about ${gib(need.hostBytes)} (${need.explanation}, plus ${gib(inspection.kvCacheBytes)} of KV cache), this machine has ${gib(memoryBytes)} — use a smaller model or run on a bigger machine (see \`bench inspect\`)`;
}

export type CaseStatus = "completed" | "failed" | "timed-out" | "unsupported" | "skipped";

export interface CaseSummary {
  case: Case;
  status: CaseStatus;
  reason?: string;
  p50Ms?: number | null;
  p50LowMs?: number | null;
  p50HighMs?: number | null;
  tokensPerS?: number | null;
  peakRssBytes?: number | null;
  flags?: string[];
}

export interface ExecuteOptions {
  store: Store;
  runId: number;
  runners: RunnerPool;
  /** configHashes already completed (for --resume). */
  skipConfigHashes?: Set<string>;
  /** Aborts the case in flight (second Ctrl-C). */
  signal?: AbortSignal;
  /** Checked between cases: stop after the current case (first Ctrl-C). */
  shouldStop?: () => boolean;
  /** Overrides the suite's protocol.caseTimeoutMs (`--case-timeout`). */
  caseTimeoutMs?: number;
  /** Calibrated peaks for MFU and MBU (`bench calibrate`). */
  peaks?: Peaks;
  /** `--case-memory`: RSS cap of the worker's process tree. */
  memoryCapBytes?: number;
  /** Called before each repeat's process starts (interleaved A/B waits for its turn here: src/run/turns.ts). */
  beforeRepeat?: (c: Case, repeat: number) => Promise<void>;
  /** Called after each completed repeat (the drift control measures here: src/run/drift-control.ts). */
  afterRepeat?: (c: Case, repeat: number) => Promise<void>;
  onCaseStart?: (c: Case, index: number, total: number) => void;
  onCaseEnd?: (summary: CaseSummary, index: number, total: number) => void;
}

export async function executeCases(cases: Case[], options: ExecuteOptions): Promise<CaseSummary[]> {
  const summaries: CaseSummary[] = [];
  for (const [index, c] of cases.entries()) {
    if (options.signal?.aborted || options.shouldStop?.()) break;
    if (options.skipConfigHashes?.has(c.configHash)) {
      const summary: CaseSummary = {
        case: c,
        status: "skipped",
        reason: "already completed with the same config hash (--resume)",
      };
      summaries.push(summary);
      options.onCaseEnd?.(summary, index, cases.length);
      continue;
    }
    options.onCaseStart?.(c, index, cases.length);
    const summary = await executeCase(c, options).catch(async (error: unknown) => {
      // A case whose results cannot be computed or stored is recorded as failed; the run goes on. Store errors
      // that make every case fail (disk full, read-only, locked) stop the run with their own message.
      if ((error as { name?: string }).name === "StoreError") throw error;
      const reason = `effbench could not process this case's results: ${error instanceof Error ? error.message : String(error)}`;
      const now = new Date().toISOString();
      await options.store.recordResult(options.runId, {
        case: c,
        status: "failed",
        reason,
        startedAt: now,
        finishedAt: now,
        repeats: 0,
        samples: [],
        metrics: [],
        validity: [],
      });
      return { case: c, status: "failed" as const, reason };
    });
    if (summary === "interrupted") break;
    summaries.push(summary);
    options.onCaseEnd?.(summary, index, cases.length);
  }
  return summaries;
}

async function executeCase(c: Case, options: ExecuteOptions): Promise<CaseSummary | "interrupted"> {
  const startedAt = new Date().toISOString();
  const record = (partial: Omit<ResultRecord, "case" | "startedAt" | "finishedAt">) =>
    options.store.recordResult(options.runId, { case: c, startedAt, finishedAt: new Date().toISOString(), ...partial });
  const refuse = async (reason: string) => {
    await record({ status: "unsupported", reason, repeats: 0, samples: [], metrics: [], validity: [] });
    return { case: c, status: "unsupported" as const, reason };
  };
  // What is known without the runner is refused before it is loaded (a runner none of whose cases can run never
  // starts its worker).
  const known = staticUnsupportedReason(c);
  if (known) return refuse(known);
  const { runner, probe } = await options.runners.get(c.runner);
  const unsupported = runner.unsupportedReason(c, probe) ?? doesNotFit(c);
  if (unsupported) return refuse(unsupported);

  const outcomes: Array<Extract<RepeatOutcome, { status: "completed" }>> = [];
  const samplerValidity: ValidityRecord[] = [];
  const samplerSeries: NonNullable<ResultRecord["samplerSeries"]> = [];
  const profiles: Record<string, unknown>[] = [];
  const requests: NonNullable<ResultRecord["requests"]> = [];
  for (let repeat = 0; repeat < c.protocol.repeats; repeat++) {
    await options.beforeRepeat?.(c, repeat);
    const profiler = new RepeatProfiler(c);
    // A repeat whose GPU energy is measured runs a longer measure window (protocol.minEnergyWindowMs).
    const measured = profiler.measureProtocol();
    const outcome = await runner.runRepeat(
      measured.protocol === c.protocol ? c : { ...c, protocol: measured.protocol },
      {
        repeat,
        signal: options.signal ?? new AbortController().signal,
        timeoutMs: options.caseTimeoutMs ?? c.protocol.caseTimeoutMs,
        memoryCapBytes: options.memoryCapBytes,
        onProcess: (pid) => profiler.onProcess(pid),
        onWindow: (phase) => profiler.onWindow(phase),
      },
    );
    const iterations =
      outcome.status === "completed" ? outcome.series.find((s) => s.metric === "latency_ms")?.values.length : undefined;
    const profile = profiler.finish(
      outcome.status === "completed"
        ? (outcome.windowTokens ?? (iterations ? outcome.tokensPerIteration * iterations : undefined))
        : undefined,
    );
    if (outcome.requests) requests.push(...outcome.requests.map((r) => ({ ...r, repeat })));
    // Ctrl-C: the case in flight is not recorded as a failure; the run stops after it.
    if (options.signal?.aborted) return "interrupted";
    // A Ctrl-C that reached a child in the instant it was being spawned (before it has its own process group)
    // kills it with SIGINT: when a stop was asked for, that is an interruption, not the case's failure.
    if (outcome.status !== "completed" && options.shouldStop?.() && /SIGINT/.test(outcome.reason)) return "interrupted";
    if (outcome.status !== "completed") {
      const reason =
        c.protocol.repeats > 1 ? `repeat ${repeat + 1}/${c.protocol.repeats}: ${outcome.reason}` : outcome.reason;
      await record({
        status: outcome.status,
        reason,
        repeats: repeat,
        samples: [],
        metrics: [],
        validity: [],
        requests,
      });
      return { case: c, status: outcome.status, reason };
    }
    outcome.scalars.push(...profile.scalars);
    samplerValidity.push(
      ...[...profile.validity, ...(outcome.validity ?? [])].map((v) => ({
        flag: v.flag,
        detail: `repeat ${repeat + 1}: ${v.detail}`,
      })),
    );
    samplerSeries.push(...profile.series.map((s) => ({ repeat, ...s })));
    profiles.push({ ...profile.info, ...(measured.energyWindow ? { energyWindow: measured.energyWindow } : {}) });
    outcomes.push(outcome);
    await options.afterRepeat?.(c, repeat);
  }

  const metrics = resultMetrics(c, outcomes, options.peaks);
  // The series whose dispersion says whether the case is valid: per-iteration latency, or what the runner names.
  const primary = outcomes[0]!.primarySeries ?? "latency_ms";
  const latencyProcesses = outcomes.map((o) => o.series.find((s) => s.metric === primary)?.values ?? []);
  const hostBound = hostBoundFlag(metrics);
  // Device memory read while the worker was shared by cases is not this case's own (docs/torch-runner.md).
  const gpuMemory = metrics.find((m) => m.name === "gpu_amu_bytes")?.value ?? null;
  if (gpuMemory !== null && outcomes.some((o) => /shared by cases/.test(String(o.settings.worker ?? ""))))
    samplerValidity.push({
      flag: "memory-not-isolated",
      detail:
        "device memory was read in a torch worker shared by earlier cases: it carries what they left in the allocator",
    });
  const validity = validityFlags({
    processes: latencyProcesses,
    protocol: c.protocol,
    measureWindowsMs: outcomes.map((o) => o.measureWindowMs),
    extra: [...samplerValidity, ...(hostBound ? [hostBound] : [])],
  });
  await record({
    status: "completed",
    repeats: outcomes.length,
    settings: outcomes[0]!.settings,
    details: { ...outcomes[0]!.details, sampler: profiles },
    samplerSeries,
    samples: outcomes.flatMap((o, repeat) => o.series.map((s) => ({ repeat, metric: s.metric, values: s.values }))),
    metrics,
    validity,
    requests,
  });
  const byName = new Map(metrics.map((m) => [m.name, m]));
  const p50 = byName.get(`${primary.replace(/_ms$/, "")}_p50_ms`);
  return {
    case: c,
    status: "completed",
    p50Ms: p50?.value ?? null,
    p50LowMs: p50?.ciLow ?? null,
    p50HighMs: p50?.ciHigh ?? null,
    tokensPerS: byName.get("tokens_per_s")?.value ?? null,
    peakRssBytes: byName.get("peak_rss_bytes")?.value ?? null,
    flags: validity.map((v) => v.flag),
  };
}
