// Machine-drift control in `bench compare` (docs/protocol.md, "Machine-drift control"): each case's head/base ratio
// is divided by the ratio of the control measured between the cases' processes of the same runs, with the two
// intervals combined on the log scale; when the control moved by more than the threshold, or the host or device
// differs, the machine changed: the verdict says so and its interval is widened further.
import type { Store, ControlRow } from "../store/store.js";
import type { CaseComparison, CompareOptions, compareSamples, decide, Verdict } from "./compare.js";
import { compareMessages } from "./messages.js";

/**
 * When the machine changed, how closely a case is assumed to follow the control's move: the normalised interval
 * gets DRIFT_TRACKING × max(|ln control ratio|, ln(1 + threshold)) more half-width on the log scale (in quadrature).
 * A case and the control share the machine but not its bottleneck (a memory-bound case moves less than a GEMM when
 * the clock drops, more when another tenant thrashes the cache): half the move is what `npm run bench:gate-runs`
 * checks the gate against.
 */
export const DRIFT_TRACKING = 0.5;

/** A ratio with its CI and equivalence interval, as compareSamples gives them. */
export interface RatioInterval {
  ratio: number;
  low: number;
  high: number;
  equivalenceLow: number;
  equivalenceHigh: number;
}

/**
 * head/base of a case divided by head/base of the control. On the log scale the ratios subtract and, taking the two
 * as independent (conservative: case and control share the machine's load, which correlates them positively and
 * would narrow the interval of the difference), each side's half-widths add in quadrature: the lower bound takes
 * the case's lower and the control's upper half-width, and vice versa. `extraLog` is added in quadrature to both.
 */
export function normaliseRatio(caseRatio: RatioInterval, control: RatioInterval, extraLog = 0): RatioInterval {
  const ln = Math.log;
  const ratio = caseRatio.ratio / control.ratio;
  const bound = (caseHalf: number, controlHalf: number) => Math.sqrt(caseHalf ** 2 + controlHalf ** 2 + extraLog ** 2);
  const interval = (cLow: number, cHigh: number, kLow: number, kHigh: number) => ({
    low: ratio * Math.exp(-bound(ln(caseRatio.ratio / cLow), ln(kHigh / control.ratio))),
    high: ratio * Math.exp(bound(ln(cHigh / caseRatio.ratio), ln(control.ratio / kLow))),
  });
  const ci = interval(caseRatio.low, caseRatio.high, control.low, control.high);
  const eq = interval(
    caseRatio.equivalenceLow,
    caseRatio.equivalenceHigh,
    control.equivalenceLow,
    control.equivalenceHigh,
  );
  return { ratio, low: ci.low, high: ci.high, equivalenceLow: eq.low, equivalenceHigh: eq.high };
}

/** The widening of a machine change (see DRIFT_TRACKING), on the log scale. */
export function machineChangeWidening(controlRatio: number, threshold: number): number {
  return DRIFT_TRACKING * Math.max(Math.abs(Math.log(controlRatio)), Math.log(1 + threshold));
}

/** Whether the control moved beyond the threshold (either way). */
export function controlMoved(controlRatio: number, threshold: number): boolean {
  return controlRatio > 1 + threshold || controlRatio < 1 / (1 + threshold);
}

export interface CaseDrift {
  /** The control's key: what it measures. */
  control: string;
  controlRatio: number | null;
  controlLow: number | null;
  controlHigh: number | null;
  /** Control processes on each side. */
  controlProcesses: [number, number];
  /** The case's own ratio and verdict, before normalisation. */
  raw: { ratio: number | null; low: number | null; high: number | null; verdict: Verdict };
  machineChanged: boolean;
  /** Why the machine is taken to have changed. */
  machineChangedBecause?: string;
}

export interface DriftSummary {
  /** Cases normalised by a control, and cases compared without one. */
  controlled: number;
  uncontrolled: number;
  machineChanged: number;
  /** What a reader must know: how the ratios were normalised, or that drift is not controlled and why. */
  notes: string[];
}

export interface SideMachine {
  controls: ControlRow[];
  hostnames: string[];
  cpus: string[];
}

/** The controls, hosts and CPUs of one side's runs. */
export async function loadSideMachine(store: Store, runIds: number[]): Promise<SideMachine> {
  const runs = (await store.listRuns()).filter((r) => runIds.includes(r.id));
  const cpus: string[] = [];
  for (const id of runIds) {
    const cpu = (await store.loadEnv(id)).cpu as { brand?: string; manufacturer?: string } | undefined;
    if (cpu?.brand) cpus.push(`${cpu.manufacturer ?? ""} ${cpu.brand}`.trim());
  }
  return {
    controls: await store.loadControls(runIds),
    hostnames: [...new Set(runs.map((r) => r.hostname).filter((h): h is string => h !== null))],
    cpus: [...new Set(cpus)],
  };
}

/**
 * The control processes that go with a case on one side: those measured right after its own processes (same
 * caseKey) when there are at least two, else every completed process of that control in the side's runs.
 */
export function controlProcessesFor(
  controls: ControlRow[],
  caseKey: string,
  runId: number,
): { key: string; processes: number[][]; devices: string[] } | { reason: string } {
  const ofRun = controls.filter((r) => r.runId === runId);
  if (ofRun.length === 0) return { reason: "none" };
  const own = ofRun.filter((r) => r.caseKey === caseKey);
  const key = (own[0] ?? ofRun[0])!.control;
  const failed = (own.length > 0 ? own : ofRun).find((r) => r.status !== "completed");
  const completed = (rows: ControlRow[]) => rows.filter((r) => r.control === key && r.status === "completed");
  const chosen = completed(own).length >= 2 ? completed(own) : completed(ofRun);
  if (chosen.length === 0) return { reason: failed?.reason ?? "no completed control process" };
  const devices = [
    ...new Set(chosen.map((r) => String(r.settings?.deviceName ?? r.settings?.executionProvider ?? ""))),
  ];
  return { key, processes: chosen.map((r) => r.valuesMs).filter((v) => v.length > 0), devices };
}

/** The comparison's own statistics, handed in by compare.ts (so that this module does not import it at run time). */
export interface CompareStatistics {
  compareSamples: typeof compareSamples;
  decide: typeof decide;
}

/**
 * Normalises each compared case by its control (in place) and returns the summary. Cases without a control on
 * both sides keep their raw verdict, with a note that drift is not controlled.
 */
export function applyDriftControl(
  cases: CaseComparison[],
  base: SideMachine,
  head: SideMachine,
  options: Required<CompareOptions>,
  { compareSamples, decide }: CompareStatistics,
): DriftSummary {
  const summary: DriftSummary = { controlled: 0, uncontrolled: 0, machineChanged: 0, notes: [] };
  const hostChange =
    base.hostnames.length > 0 && head.hostnames.length > 0 && base.hostnames.join() !== head.hostnames.join()
      ? compareMessages.hostChanged(base.hostnames, head.hostnames)
      : base.cpus.length > 0 && head.cpus.length > 0 && base.cpus.join() !== head.cpus.join()
        ? compareMessages.cpuChanged(base.cpus, head.cpus)
        : undefined;
  const uncontrolledWhy = new Set<string>();
  for (const c of cases) {
    if (c.ratio === null || c.low === null || c.high === null || !c.base || !c.head) continue;
    const b = controlProcessesFor(base.controls, c.caseKey, c.base.runId);
    const h = controlProcessesFor(head.controls, c.caseKey, c.head.runId);
    const why =
      "reason" in b
        ? compareMessages.noControl("base", b.reason)
        : "reason" in h
          ? compareMessages.noControl("head", h.reason)
          : b.key !== h.key
            ? compareMessages.controlsDiffer(b.key, h.key)
            : undefined;
    // Said once for the whole report (summary.notes); the case keeps its raw verdict and has no `drift`.
    if (why !== undefined || "reason" in b || "reason" in h) {
      summary.uncontrolled++;
      uncontrolledWhy.add(why!);
      continue;
    }
    const control = compareSamples(b.processes, h.processes, options);
    const raw = { ratio: c.ratio, low: c.low, high: c.high, verdict: c.verdict as Verdict };
    const drift: CaseDrift = {
      control: b.key,
      controlRatio: control.ratio,
      controlLow: control.low,
      controlHigh: control.high,
      controlProcesses: [b.processes.length, h.processes.length],
      raw,
      machineChanged: false,
    };
    c.drift = drift;
    summary.controlled++;
    if (control.ratio === null || control.low === null || control.high === null || control.equivalenceLow === null) {
      c.verdict = "inconclusive";
      c.reason = [c.reason, control.reason ?? compareMessages.controlNotComparable].filter(Boolean).join("; ");
      continue;
    }
    const deviceChange =
      b.devices.join() !== h.devices.join() ? compareMessages.deviceChanged(b.devices, h.devices) : undefined;
    const because = controlMoved(control.ratio, options.threshold)
      ? compareMessages.controlMoved(control.ratio)
      : (hostChange ?? deviceChange);
    drift.machineChanged = because !== undefined;
    if (because) {
      drift.machineChangedBecause = because;
      summary.machineChanged++;
    }
    const normalised = normaliseRatio(
      {
        ratio: c.ratio,
        low: c.low,
        high: c.high,
        equivalenceLow: c.equivalenceLow ?? c.low,
        equivalenceHigh: c.equivalenceHigh ?? c.high,
      },
      {
        ratio: control.ratio,
        low: control.low,
        high: control.high,
        equivalenceLow: control.equivalenceLow,
        equivalenceHigh: control.equivalenceHigh ?? control.high,
      },
      because ? machineChangeWidening(control.ratio, options.threshold) : 0,
    );
    c.ratio = normalised.ratio;
    c.low = normalised.low;
    c.high = normalised.high;
    c.equivalenceLow = normalised.equivalenceLow;
    c.equivalenceHigh = normalised.equivalenceHigh;
    // A case already inconclusive for too few processes stays so.
    if (!c.reason)
      c.verdict = decide(normalised.ratio, normalised.low, normalised.high, options, {
        low: normalised.equivalenceLow,
        high: normalised.equivalenceHigh,
      });
  }
  if (summary.controlled > 0) summary.notes.push(compareMessages.normalised(summary.controlled));
  if (summary.machineChanged > 0) summary.notes.push(compareMessages.machineChangedNote(summary.machineChanged));
  for (const why of uncontrolledWhy) summary.notes.push(why);
  return summary;
}
