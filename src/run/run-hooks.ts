// What `bench run` does around each case process besides the case: the drift control after it, and, inside an
// interleaved sitting, waiting for the turn before it. Built from the options and the environment.
import type { Case } from "../suite/case.js";
import type { Store } from "../store/store.js";
import { parseDurationMs } from "../cli/units.js";
import { DRIFT_CONTROL_VARIABLE, DriftControlRecorder, type ControlSource } from "./drift-control.js";
import type { RunnerOptions } from "../runner/contract.js";
import { getRunnerDefinition } from "../runner/registry.js";
import { TurnTaker } from "./turns.js";

/** `--control-interval`: "off", or the least time between two measurements of one control (default 0: every process). */
export function parseControlInterval(text: string | undefined, env: NodeJS.ProcessEnv = process.env): number | null {
  if (env[DRIFT_CONTROL_VARIABLE] === "off") return null;
  if (text === undefined) return 0;
  if (text.trim() === "off") return null;
  return parseDurationMs("--control-interval", text);
}

/** The case's runner's control, or a stand-in that records why there is none. */
export function driftControlOf(c: Case, options: RunnerOptions): ControlSource {
  const definition = getRunnerDefinition(c.runner);
  if (definition.driftControl) return definition.driftControl(c, options);
  return {
    key: `${c.runner}: no drift control`,
    measure: async () => ({ status: "unsupported", reason: `the ${c.runner} runner defines no drift control` }),
  };
}

export interface RunHooks {
  beforeRepeat?: (c: Case, repeat: number) => Promise<void>;
  afterRepeat?: (c: Case, repeat: number) => Promise<void>;
  /** Call once the cases are done. */
  finish(): void;
}

export function runHooks(options: {
  store: Store;
  runId: number;
  /** null: no drift control. */
  controlIntervalMs: number | null;
  controlFor: (c: Case) => ControlSource;
  signal?: AbortSignal;
}): RunHooks {
  const turns = TurnTaker.fromEnv();
  const control =
    options.controlIntervalMs === null
      ? undefined
      : new DriftControlRecorder({
          store: options.store,
          runId: options.runId,
          controlFor: options.controlFor,
          intervalMs: options.controlIntervalMs,
          ...(options.signal ? { signal: options.signal } : {}),
        });
  return {
    ...(turns ? { beforeRepeat: () => turns.before(options.signal) } : {}),
    ...(turns || control
      ? {
          afterRepeat: async (c: Case) => {
            // The control runs inside the turn: in an interleaved sitting the other side waits for it.
            await control?.afterProcess(c);
            turns?.after();
          },
        }
      : {}),
    finish: () => turns?.finish(),
  };
}
