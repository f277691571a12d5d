// What every fault scenario shares: its outcome row, its definition, and the tally of its injections' expectations
// (kept apart from the scenario list so that scenario files in other modules use them without an import cycle).
import { hasStackTrace, type BenchResult } from "./harness.js";

export interface FaultOutcome {
  fault: string;
  /** How many times the fault was injected. */
  injected: number;
  /** Injections after which every expectation held. */
  survived: number;
  /** Rows recorded (or reported recorded) before the fault that are missing after it. */
  rowsLost: number;
  /** Every unmet expectation, with what was seen. Empty when the scenario passed. */
  problems: string[];
  /** How the fault was simulated, where a reader needs to know (e.g. a fallback). */
  notes: string[];
}

export interface FaultScenario {
  id: string;
  /** The row label of the table. */
  fault: string;
  /** The behaviour proven, as a sentence (the vitest test name). */
  behaviour: string;
  /** Upper bound for the test runner. */
  timeoutMs: number;
  /** Why it cannot run here (e.g. no Python), if so: reported as skipped, not as survived. */
  unavailable?: () => string | undefined;
  run(): Promise<FaultOutcome>;
}

/** Collects the expectations of one scenario's injections. */
export class Tally {
  readonly outcome: FaultOutcome;
  private current: string[] | undefined;

  constructor(fault: string) {
    this.outcome = { fault, injected: 0, survived: 0, rowsLost: 0, problems: [], notes: [] };
  }

  /** Runs one injection; it survived when none of its expectations failed and it did not throw. */
  async inject(label: string, body: () => Promise<void>): Promise<void> {
    this.outcome.injected++;
    const problems: string[] = [];
    this.current = problems;
    try {
      await body();
    } catch (error) {
      problems.push(`threw: ${(error as Error).stack ?? error}`);
    } finally {
      this.current = undefined;
    }
    if (problems.length === 0) this.outcome.survived++;
    else this.outcome.problems.push(...problems.map((p) => `${label}: ${p}`));
  }

  expect(ok: boolean, what: string, seen: () => string = () => ""): boolean {
    if (!ok) this.current!.push(`expected ${what}${seen() ? ` — saw ${seen()}` : ""}`);
    return ok;
  }

  /** Takes over what another tally found (a retried attempt), as part of the current injection. */
  absorb(outcome: FaultOutcome): void {
    this.current!.push(...outcome.problems);
    this.outcome.rowsLost += outcome.rowsLost;
    this.outcome.notes.push(...outcome.notes);
  }

  lost(rows: number): void {
    this.outcome.rowsLost += Math.max(0, rows);
  }

  note(text: string): void {
    this.outcome.notes.push(text);
  }

  /** The checks every bad-input or fault run of the CLI shares: exit code, a clear message, no stack trace. */
  expectCleanFailure(result: BenchResult, exitCodes: number[], message: RegExp): void {
    const output = `${result.stderr}\n${result.stdout}`;
    this.expect(
      result.exitCode !== undefined && exitCodes.includes(result.exitCode),
      `exit code ${exitCodes.join(" or ")}`,
      () => `${result.exitCode ?? result.signal} (stderr: ${tail(result.stderr)})`,
    );
    this.expect(message.test(output), `a message matching ${message}`, () => tail(output));
    this.expect(!hasStackTrace(output), "no stack trace", () => tail(output));
  }

  expectNoOrphans(left: number[], what: string): void {
    this.expect(left.length === 0, `no ${what} left running`, () => `pids ${left.join(", ")}`);
  }
}

export const tail = (text: string, chars = 600) => (text.length > chars ? `…${text.slice(-chars)}` : text).trim();
