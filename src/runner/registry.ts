// The runner registry: runner definitions registered once (runners/index.ts does it for the built-in ones; a test
// may register its own), the loaded runners of a run (`RunnerPool`, each probed once), and what the core asks of a
// case's runner without naming it.
import type { Case } from "../suite/case.js";
import type { ProbeResult, Runner, RunnerDefinition, RunnerOptions } from "./contract.js";

const definitions = new Map<string, RunnerDefinition<any>>();

/** Registers a runner; a second definition under the same name is refused. */
export function registerRunner<S extends Record<string, unknown>>(definition: RunnerDefinition<S>): void {
  if (definitions.has(definition.name)) throw new Error(`runner "${definition.name}" is registered twice`);
  definitions.set(definition.name, definition as RunnerDefinition<any>);
}

/** The registered runners' names, in registration order. */
export function runnerNames(): string[] {
  return [...definitions.keys()];
}

export function runnerDefinitions(): RunnerDefinition<any>[] {
  return [...definitions.values()];
}

export function getRunnerDefinition(name: string): RunnerDefinition<any> {
  const definition = definitions.get(name);
  if (!definition)
    throw new Error(
      definitions.size === 0
        ? `no runner is registered (import runners/index.ts, as the CLI does, before planning suites)`
        : `no runner named "${name}" is registered; known: ${runnerNames().join(", ")}`,
    );
  return definition;
}

/** The case's runner settings, typed by the caller (each runner reads its own). */
export function caseSettings<S>(c: Pick<Case, "settings">): S {
  return c.settings as S;
}

export class RunnerPool {
  private readonly runners = new Map<string, { runner: Runner; probe: ProbeResult }>();
  constructor(private readonly options: RunnerOptions = {}) {}

  async get(name: string): Promise<{ runner: Runner; probe: ProbeResult }> {
    let entry = this.runners.get(name);
    if (!entry) {
      let runner: Runner;
      try {
        runner = await getRunnerDefinition(name).load(this.options);
      } catch (error) {
        const reason = `the ${name} runner could not be loaded: ${(error as Error).message}`;
        runner = unavailableRunner(name, reason);
      }
      entry = { runner, probe: await runner.probe() };
      this.runners.set(name, entry);
    }
    return entry;
  }

  /** Probe results of every runner asked for so far, for `bench env` and the run's environment record. */
  probes(): Record<string, ProbeResult> {
    return Object.fromEntries([...this.runners].map(([name, entry]) => [name, entry.probe]));
  }

  async close(): Promise<void> {
    await Promise.all([...this.runners.values()].map((e) => e.runner.close()));
  }
}

function unavailableRunner(name: string, reason: string): Runner {
  return {
    name,
    probe: async () => ({ available: false, reason, info: {} }),
    unsupportedReason: () => reason,
    runRepeat: async () => ({ status: "unsupported", reason }),
    close: async () => {},
  };
}
