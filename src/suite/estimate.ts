// `bench list --estimate`: how long a suite will take, from the protocol and analytic work per iteration — so a
// nightly suite can be sized to its budget before it runs. An estimate, with its assumptions printed.
import type { Case } from "./case.js";
import { PROTOCOL_DEFAULTS } from "../measure/protocol.js";
import { inspectCase } from "../inspect.js";
import { caseAccountingMetrics } from "../model/case-accounting.js";
import { getRunnerDefinition } from "../runner/registry.js";
import { staticUnsupportedReason } from "../runner/support.js";

export interface Throughputs {
  /** Sustained FLOP/s for the runner's device class. */
  flopsPerS: number;
  /** Sustained memory bandwidth, bytes/s. */
  bytesPerS: number;
}

/** Conservative sustained rates (a fraction of peak) used when nothing better is known. */
export const DEFAULT_THROUGHPUTS: Record<"cpu" | "cuda", Throughputs> = {
  cpu: { flopsPerS: 50e9, bytesPerS: 10e9 },
  // An H100/H200 in bf16 sustains far less than its 990 TFLOP/s peak through eager PyTorch.
  cuda: { flopsPerS: 200e12, bytesPerS: 2e12 },
};

/** Fixed cost of one repeat: process or worker start, model build, warm-up bound. */
/** Synthesising seeded weights costs about this per GB of fp32 weights, once per model × technique (measured: 35 s for
 * Llama-3.2-1B's 4.9 GB on a shared 2-core VM); loading them into a worker, per repeat. Calibrated on the H200 smoke run. */
const SYNTHESIS_S_PER_GB = 7;
const LOAD_S_PER_GB = 1.5;
/** Worker-seeded weights are generated on the device (normal_ per tensor, no file read): an assumed 0.1 s per fp32 GB,
 * to be replaced by a measured rate from a GPU DB. */
const SEEDED_BUILD_S_PER_GB = 0.1;

export interface CaseEstimate {
  id: string;
  name: string;
  iterationS: number;
  totalS: number;
  /** Set when the technique cannot run on the case's runner: it will be recorded unsupported and costs nothing. */
  unsupported?: string;
}

/** `sharedBy`: how many planned cases use the same model and technique (they share one weight synthesis). */
export function estimateCase(c: Case, sharedBy = 1, rates = DEFAULT_THROUGHPUTS): CaseEstimate {
  const unsupported = staticUnsupportedReason(c);
  if (unsupported) return { id: c.id, name: c.name, iterationS: 0, totalS: 0, unsupported };
  const estimate = getRunnerDefinition(c.runner).estimate;
  const device = estimate.device(c.settings);
  const rate = rates[device];
  const metrics = caseAccountingMetrics(c);
  const flops = metrics.find((m) => m.name === "flops_per_iteration")?.value ?? 0;
  const trainFactor = c.scenario === "train-step" ? 3 : c.scenario === "generate" ? c.workload.newTokens : 1;
  const bytes = inspectCase(c).weightBytes * (c.scenario === "train-step" ? 3 : 1);
  const iterationS = Math.max((flops * trainFactor) / rate.flopsPerS, bytes / rate.bytesPerS);
  // A GPU case's measure window lasts at least minEnergyWindowMs (its energy is measured).
  const minMeasureMs =
    device === "cuda"
      ? Math.max(c.protocol.minMeasureMs, c.protocol.minEnergyWindowMs ?? PROTOCOL_DEFAULTS.minEnergyWindowMs)
      : c.protocol.minMeasureMs;
  const measureS = Math.max(minMeasureMs / 1000, c.protocol.minIterations * iterationS);
  const warmupS = Math.min(c.protocol.warmupMaxMs / 1000, Math.max(c.protocol.warmupMinIterations, 5) * iterationS);
  const gb = inspectCase(c).weightBytes / 1e9;
  // Weights a runner's worker seeds on the device (torch, large models) need no file synthesis.
  const seeded = estimate.seededWeights?.(c) ?? false;
  const synthesisS = seeded ? 0 : gb * SYNTHESIS_S_PER_GB;
  const totalS =
    synthesisS / sharedBy +
    c.protocol.repeats * (estimate.startS + gb * (seeded ? SEEDED_BUILD_S_PER_GB : LOAD_S_PER_GB) + warmupS + measureS);
  return { id: c.id, name: c.name, iterationS, totalS };
}

/** Estimates every case, sharing weight synthesis among cases of the same model and technique. */
export function estimateCases(cases: Case[], rates = DEFAULT_THROUGHPUTS): CaseEstimate[] {
  const key = (c: Case) => `${c.model.name}\u0000${JSON.stringify(c.technique)}`;
  const counts = new Map<string, number>();
  for (const c of cases) counts.set(key(c), (counts.get(key(c)) ?? 0) + 1);
  return cases.map((c) => estimateCase(c, counts.get(key(c))!, rates));
}
