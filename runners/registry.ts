// The runner registry (CONVENTIONS.md §9): refuses duplicates, probes each runner once, aggregates failures.
import type { RunnerName } from "../src/suite/schema.js";
import type { ProbeResult, Runner } from "./runner.js";
import { OrtRunner } from "./ort/runner.js";

export interface RunnerOptions {
  /** Interpreter for the torch worker (`--python`); else BENCH_PYTHON, .venv, python3. */
  python?: string;
}

type RunnerFactory = (options: RunnerOptions) => Promise<Runner>;

const factories = new Map<RunnerName, RunnerFactory>();

export function registerRunner(name: RunnerName, factory: RunnerFactory): void {
  if (factories.has(name)) throw new Error(`runner "${name}" is registered twice`);
  factories.set(name, factory);
}

registerRunner("ort", async () => new OrtRunner());
registerRunner("torch", async (options) => {
  // Loaded lazily: the torch runner's module starts nothing until used.
  const { TorchRunner } = await import("./torch/runner.js");
  return new TorchRunner(options);
});

export class RunnerPool {
  private readonly runners = new Map<RunnerName, { runner: Runner; probe: ProbeResult }>();
  constructor(private readonly options: RunnerOptions = {}) {}

  async get(name: RunnerName): Promise<{ runner: Runner; probe: ProbeResult }> {
    let entry = this.runners.get(name);
    if (!entry) {
      const factory = factories.get(name);
      if (!factory) throw new Error(`no runner named "${name}" is registered`);
      let runner: Runner;
      try {
        runner = await factory(this.options);
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

function unavailableRunner(name: RunnerName, reason: string): Runner {
  return {
    name,
    probe: async () => ({ available: false, reason, info: {} }),
    unsupportedReason: () => reason,
    runRepeat: async () => ({ status: "unsupported", reason }),
    close: async () => {},
  };
}
