// A fixture generator for the report's tests and its benchmark (`npm run bench:report`): it writes a results
// database through the real store API, with real planned cases, metrics computed by the real resultMetrics and
// validity flags from the real validityFlags, but with INVENTED per-iteration values. Every row says so: the suite is
// named "synthetic-…", every result's details carry `synthetic: true`, and the report shows a banner. Nothing
// here may be presented as a measurement.
import { validateSuite } from "../src/suite/loader.js";
import { planSuite } from "../src/suite/planner.js";
import type { Case } from "../src/suite/case.js";
import { openStore, type MetricRecord, type ResultRecord } from "../src/store/store.js";
import { resultMetrics } from "../src/measure/result-metrics.js";
import { validityFlags } from "../src/measure/validity.js";
import { createRng, normalDraw } from "../src/measure/stats.js";
import type { RepeatOutcome } from "../src/runner/contract.js";

export interface SyntheticOptions {
  /** Suite name; "synthetic-" is prepended when missing, so the page can never hide what it is. */
  suiteName?: string;
  models?: number;
  /** How many of the technique list to use (at most its length). */
  techniques?: number;
  scenarios?: Array<"prefill" | "decode" | "generate" | "train-step">;
  workloads?: number;
  repeats?: number;
  iterations?: number;
  /** Runs written one after the other (the same cases, values drifting a little), for trends. */
  runs?: number;
  seed?: number;
  /** Sampler readings per repeat. */
  samplerPoints?: number;
}

const TECHNIQUES = [
  { kind: "base" },
  { kind: "lora", rank: 8, alpha: 16 },
  { kind: "lora", rank: 64, alpha: 128, targets: "all-linear" },
  { kind: "rslora", rank: 16, alpha: 32 },
  { kind: "dora", rank: 8, alpha: 16 },
  { kind: "lora", rank: 8, alpha: 16, merged: true },
  { kind: "int8" },
  { kind: "int4", blockSize: 32 },
  { kind: "fp16" },
  { kind: "bf16" },
];

/** Relative cost of each technique in the invented numbers (index-aligned with TECHNIQUES). */
const SPEED = [1, 1.12, 1.35, 1.14, 1.3, 1.0, 0.8, 0.65, 0.95, 0.97];
const FIDELITY_ERROR = [0, 0, 0, 0, 0, 1e-6, 4e-3, 2.5e-2, 6e-4, 4e-3];

export function syntheticCases(options: SyntheticOptions = {}): Case[] {
  const models = options.models ?? 3;
  const workloads = options.workloads ?? 2;
  const raw = {
    name: syntheticName(options.suiteName),
    description: "SYNTHETIC fixture rows for report tests and benchmarks: not measurements",
    models: Array.from({ length: models }, (_, i) => ({
      name: `synthetic-model-${i}`,
      layers: 2 + (i % 4),
      hidden: 128 * (1 + (i % 3)),
      heads: 4,
      kvHeads: 2,
      ffn: 256 * (1 + (i % 3)),
      vocab: 512,
    })),
    techniques: TECHNIQUES.slice(0, Math.max(1, Math.min(TECHNIQUES.length, options.techniques ?? 4))),
    scenarios: options.scenarios ?? ["prefill", "decode"],
    workloads: Array.from({ length: workloads }, (_, i) => ({
      name: `w${i}`,
      batch: 1 + (i % 4),
      promptTokens: 32 * (1 + i),
    })),
    // No `runners`: the suite's default, the first registered runner.
    protocol: { repeats: options.repeats ?? 3, bootstrapResamples: 100, seed: options.seed ?? 1 },
  };
  const { suite } = validateSuite(raw, "reports/synthetic.ts");
  return planSuite(suite, { codeVersion: "0.0.0-synthetic" });
}

const syntheticName = (name?: string) =>
  !name ? "synthetic-report-fixture" : name.startsWith("synthetic-") ? name : `synthetic-${name}`;

/** One result record with invented samples (deterministic in the seed); some cases fail or are unsupported. */
export function syntheticRecord(c: Case, index: number, run: number, options: SyntheticOptions = {}): ResultRecord {
  const rng = createRng((options.seed ?? 1) * 1_000_003 + index * 7919 + run * 104_729);
  const repeats = options.repeats ?? 3;
  const iterations = options.iterations ?? 20;
  const technique = TECHNIQUES.findIndex(
    (t) => JSON.stringify({ ...t }) === JSON.stringify(pick(c.technique, Object.keys(t))),
  );
  const base = {
    startedAt: new Date(Date.UTC(2026, 0, 1 + run)).toISOString(),
    finishedAt: new Date(Date.UTC(2026, 0, 1 + run, 0, 1)).toISOString(),
    details: { synthetic: true, generator: "reports/synthetic.ts" },
  };
  const notRun = (status: "failed" | "unsupported", reason: string): ResultRecord => ({
    ...base,
    case: c,
    status,
    reason,
    repeats: 0,
    samples: [],
    metrics: [],
    validity: [],
  });
  if (index % 37 === 36) return notRun("failed", "synthetic: worker exited with code 1");
  if (index % 41 === 40) return notRun("unsupported", "synthetic: CUDA execution provider not installed");

  const size = (c.model.layers * c.model.hidden * c.model.ffn) / 1e5;
  const tokens =
    c.scenario === "prefill" || c.scenario === "train-step"
      ? c.workload.batch * c.workload.promptTokens
      : c.workload.batch;
  const scenarioCost = c.scenario === "train-step" ? 3 : c.scenario === "prefill" ? 1 : 0.15;
  const centreMs = (0.2 + size * scenarioCost * (tokens / 64) * (SPEED[technique] ?? 1)) * (1 + 0.01 * run);
  const noise = index % 11 === 0 ? 0.25 : 0.04;
  const samples = Array.from({ length: repeats }, (_, repeat) => {
    const offset = Math.exp(0.02 * normalDraw(rng));
    return {
      repeat,
      metric: "latency_ms",
      values: Array.from({ length: iterations }, () => centreMs * offset * Math.exp(noise * normalDraw(rng))),
    };
  });
  const rssBytes = 1.5e8 + size * 4e6 * (technique === 7 ? 0.4 : technique === 6 ? 0.6 : 1);
  const outcomes: Array<Extract<RepeatOutcome, { status: "completed" }>> = samples.map((s) => ({
    status: "completed",
    series: [{ metric: "latency_ms", unit: "ms", values: s.values }],
    scalars: [{ metric: "peak_rss_bytes", unit: "B", value: Math.round(rssBytes * (1 + 0.01 * rng())) }],
    tokensPerIteration: tokens,
    settings: {},
  }));
  const metrics: MetricRecord[] = resultMetrics(c, outcomes);
  metrics.push(
    { name: "cpu_rss_avg_bytes", value: rssBytes * 0.97, unit: "B", label: "synthetic" },
    { name: "gpu_amu_bytes", value: null, unit: "B", reason: "synthetic fixture: no NVML device" },
    { name: "cpu_energy_j_per_token", value: (centreMs / tokens) * 0.02, unit: "J/tok", label: "synthetic" },
    technique <= 0
      ? { name: "rel_l2_error", value: null, unit: "ratio", reason: "the base is the reference" }
      : {
          name: "rel_l2_error",
          value: (FIDELITY_ERROR[technique] ?? 0.01) * (1 + 0.1 * rng()),
          unit: "ratio",
          label: "synthetic",
        },
  );
  const validity = validityFlags({ processes: samples.map((s) => s.values), protocol: c.protocol });
  const samplerPoints = options.samplerPoints ?? 20;
  const samplerSeries = Array.from({ length: repeats }, (_, repeat) => ({
    repeat,
    metric: "sampler.rss_bytes",
    tMs: Array.from({ length: samplerPoints }, (_, i) => i * 10),
    values: Array.from({ length: samplerPoints }, (_, i) => rssBytes * (0.9 + 0.1 * Math.min(1, i / 5)) + 1e5 * rng()),
  }));
  return {
    ...base,
    case: c,
    status: "completed",
    repeats,
    settings: { synthetic: true },
    samples,
    samplerSeries,
    metrics,
    validity,
  };
}

function pick(value: object, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, (value as Record<string, unknown>)[k]]));
}

/** Writes `runs` synthetic runs of the cases to `path` through the store API. Returns the case count. */
export async function writeSyntheticStore(
  path: string,
  options: SyntheticOptions = {},
): Promise<{ cases: number; results: number }> {
  const cases = syntheticCases(options);
  const store = await openStore(path);
  let results = 0;
  try {
    for (let run = 0; run < (options.runs ?? 1); run++) {
      const runId = await store.beginRun({
        suiteName: syntheticName(options.suiteName),
        suitePath: "reports/synthetic.ts",
        suiteHash: "synthetic",
        resolvedSuite: { synthetic: true },
        gitCommit: `synthetic${String(run).padStart(2, "0")}`,
        codeVersion: "0.0.0-synthetic",
        argv: ["synthetic"],
      });
      await store.recordEnv(runId, { synthetic: true, cpu: { manufacturer: "Synthetic", brand: "CPU" }, gpus: [] });
      for (const [index, c] of cases.entries()) {
        await store.recordResult(runId, syntheticRecord(c, index, run, options));
        results++;
      }
      await store.finishRun(runId, "completed");
    }
  } finally {
    await store.close();
  }
  return { cases: cases.length, results };
}
