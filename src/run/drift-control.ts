// The machine-drift control of `bench run` (docs/protocol.md, "Machine-drift control"): after a case's process, the
// control of that case's runner and device class runs in its own process and is stored with the run, so that it
// sees the same machine load as the cases around it. `bench compare` normalises by it.
import type { Case } from "../suite/case.js";
import type { Store } from "../store/store.js";

/** One measurement of a control, in a fresh process: its per-iteration times, or why there are none. */
export type ControlOutcome =
  | { status: "completed"; valuesMs: number[]; settings: Record<string, unknown> }
  | { status: "failed" | "unsupported"; reason: string };

/** What a runner's control offers (`RunnerDefinition.driftControl`): its key and one measurement. */
export interface ControlSource {
  /** What it measures, device class included: base and head controls are paired by it. */
  key: string;
  measure(signal?: AbortSignal): Promise<ControlOutcome>;
}

/** Turns the control off for one run (interleaved A/B needs none: both sides share the sitting). */
export const DRIFT_CONTROL_VARIABLE = "EFFBENCH_DRIFT_CONTROL";

export interface DriftControlOptions {
  store: Store;
  runId: number;
  controlFor: (c: Case) => ControlSource;
  /** At most one measurement of a control per this many ms (0: after every case process). */
  intervalMs: number;
  signal?: AbortSignal;
}

export class DriftControlRecorder {
  private readonly lastAt = new Map<string, number>();
  private readonly unsupported = new Set<string>();
  constructor(private readonly options: DriftControlOptions) {}

  /** Measures the case's control when its interval has passed; a control's failure is recorded, never thrown. */
  async afterProcess(c: Case): Promise<void> {
    const source = this.options.controlFor(c);
    if (this.unsupported.has(source.key)) return;
    const last = this.lastAt.get(source.key);
    if (last !== undefined && performance.now() - last < this.options.intervalMs) return;
    if (this.options.signal?.aborted) return;
    const measuredAt = new Date().toISOString();
    const outcome = await source
      .measure(this.options.signal)
      .catch((error: unknown) => ({ status: "failed" as const, reason: String((error as Error)?.message ?? error) }));
    this.lastAt.set(source.key, performance.now());
    if (outcome.status === "unsupported") this.unsupported.add(source.key);
    await this.options.store.recordControl(this.options.runId, {
      control: source.key,
      caseKey: c.caseKey,
      measuredAt,
      status: outcome.status,
      valuesMs: outcome.status === "completed" ? outcome.valuesMs : [],
      ...(outcome.status === "completed" ? { settings: outcome.settings } : { reason: outcome.reason }),
    });
  }
}
