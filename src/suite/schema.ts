// The suite schema: the one source of truth for what a suite may say. It is built from the registries (techniques,
// runners: each registered runner's settings sit under a top-level key named after it), so a runner or technique
// registered in one line is validated like the built-in ones. `SuiteInput` is what a user writes; `ResolvedSuite`
// has every default filled in.
import { z } from "zod";
import { techniqueSchema, type TechniqueConfig } from "../techniques/registry.js";
import { PROTOCOL_DEFAULTS } from "../measure/protocol.js";
import { runnerDefinitions } from "../runner/registry.js";
import type { RunnerSettingsInputs } from "../runner/contract.js";
import type { TechniqueInputs } from "../techniques/technique.js";

const positiveInt = z.number().int("expected a whole number").positive("expected a positive integer");
const nonNegativeInt = z.number().int("expected a whole number").nonnegative("expected an integer ≥ 0");

/** MoE block shape of a model (Mixtral / Qwen2-MoE / DeepSeekMoE style). */
export const moeSchema = z.object({
  experts: z.number().int().min(2, "a MoE needs at least two experts"),
  topK: positiveInt.default(2),
  /** Intermediate size of one routed expert (defaults to the model's ffn). */
  expertFfn: positiveInt.optional(),
  /** Always-on shared experts (DeepSeekMoE); 0 = none. */
  sharedExperts: nonNegativeInt.default(0),
  /** Intermediate size of one shared expert (defaults to expertFfn). */
  sharedFfn: positiveInt.optional(),
  /** The first N layers keep a dense FFN (DeepSeek's first_k_dense_replace). */
  firstDenseLayers: nonNegativeInt.default(0),
  /** Renormalise the top-k routing weights to sum to 1 (Mixtral: true). */
  normTopK: z.boolean().default(true),
  /** Capacity factor; tokens over an expert's capacity are dropped. Omit for no dropping. */
  capacityFactor: z.number().positive().optional(),
});

export const weightsSchema = z.object({
  seed: nonNegativeInt.default(0),
  /** `llm-like`: heavy tails and outlier input channels, as real LLM weights have; `gaussian`: plain N(0, σ²). */
  distribution: z.enum(["llm-like", "gaussian"]).default("llm-like"),
  /**
   * Who makes the weights: `file` — the harness synthesises them into a weights file (both runners run the same
   * numbers); `worker` — the torch worker initialises them from the seed on the device (seconds for an 8B model; torch
   * only). Unset: `worker` for a torch case whose fp32 weights would exceed 8 GiB (runners/torch/seeded.ts), else file.
   */
  source: z.enum(["file", "worker"]).optional(),
});

export const modelSchema = z
  .object({
    name: z.string().min(1),
    family: z.enum(["llama", "qwen2", "mistral", "qwen3"]).default("llama"),
    layers: positiveInt,
    hidden: positiveInt,
    heads: positiveInt,
    kvHeads: positiveInt.optional(),
    headDim: positiveInt.optional(),
    ffn: positiveInt,
    vocab: positiveInt,
    maxPositions: positiveInt.default(4096),
    ropeTheta: z.number().positive().default(10000),
    /** Rope frequency scaling as transformers' rope types `linear` and `llama3` (Llama 3.1/3.2); absent = default rope. */
    ropeScaling: z
      .object({
        type: z.enum(["linear", "llama3"]),
        factor: z.number().positive(),
        /** llama3 only: wavelengths above originalMaxPositions / lowFreqFactor are divided by factor… */
        lowFreqFactor: z.number().positive().default(1),
        /** …those below originalMaxPositions / highFreqFactor kept, the band between interpolated. */
        highFreqFactor: z.number().positive().default(4),
        originalMaxPositions: z.number().int().positive().default(8192),
      })
      .optional(),
    /** RMSNorm of each query and key head before the rope (Qwen3's q_norm / k_norm). */
    qkNorm: z.boolean().optional(),
    rmsNormEps: z.number().positive().default(1e-5),
    tieEmbeddings: z.boolean().default(false),
    /** q/k/v projection bias (Qwen2). */
    attentionBias: z.boolean().default(false),
    moe: moeSchema.optional(),
    weights: weightsSchema.default({ seed: 0, distribution: "llm-like" }),
    /**
     * A local Hugging Face directory (config.json + safetensors, sharded too) instead of synthesised weights:
     * the architecture fields are filled from its config.json (docs/checkpoints.md). Relative to the suite file.
     */
    checkpoint: z.string().optional(),
    /**
     * Any transformers causal LM by its config (a config.json's contents, or `configFile` resolved by the loader): run
     * on the torch runner with worker-seeded weights; the IR fields are derived from it (src/model/hf-config.ts).
     */
    hf: z
      .object({
        config: z.record(z.string(), z.unknown()),
        /** Why the IR (and so the ort runner) cannot express this architecture; absent when it can. */
        irUnsupported: z.string().optional(),
      })
      .optional(),
    /**
     * A local GGUF file (llama.cpp's format), run as it is by a runner that loads GGUF files: the suite gives its path
     * (relative to the suite file); validation reads the header (src/model/gguf-model.ts) and fills the architecture
     * fields and this object — the file's identity, tensor types, parameters and bytes as stored (docs/llamacpp.md).
     */
    gguf: z
      .object({
        path: z.string(),
        identity: z.string(),
        fileBytes: z.number(),
        architecture: z.string(),
        fileType: z.string().nullable(),
        tensorTypes: z.record(z.string(), z.number()),
        params: z.number(),
        activeParams: z.number(),
        tensorBytes: z.number(),
      })
      .optional(),
    /** A UTF-8 text file: fidelity adds perplexity on it (needs a checkpoint with tokenizer.json). Relative to the suite file. */
    perplexityText: z.string().optional(),
  })
  .superRefine((m, ctx) => {
    const kv = m.kvHeads ?? m.heads;
    if (!(m.heads > 0 && kv > 0 && m.hidden > 0)) return; // already reported by the field checks
    if (m.heads % kv !== 0)
      ctx.addIssue({
        code: "custom",
        path: ["kvHeads"],
        message: `heads (${m.heads}) must be a multiple of kvHeads (${kv})`,
      });
    if (m.headDim === undefined && m.hidden % m.heads !== 0)
      ctx.addIssue({
        code: "custom",
        path: ["heads"],
        message: `hidden (${m.hidden}) must be divisible by heads (${m.heads}), or set headDim`,
      });
    if (m.moe && m.moe.topK > m.moe.experts)
      ctx.addIssue({
        code: "custom",
        path: ["moe", "topK"],
        message: `topK (${m.moe.topK}) cannot exceed experts (${m.moe.experts})`,
      });
  });

/** `serving`: requests to a server under load (a serving runner sweeps its load points). */
export const scenarioSchema = z.enum([
  "prefill",
  "decode",
  "generate",
  "train-step",
  "adapter-swap",
  "merge",
  "serving",
]);

export const workloadSchema = z.object({
  name: z.string().min(1).optional(),
  batch: positiveInt.default(1),
  /** Prompt (context) length in tokens. */
  promptTokens: positiveInt,
  /** Tokens generated per request (generate) — decode times one step at context promptTokens. */
  newTokens: positiveInt.default(1),
  /** Router skew for MoE: 0 = uniform, s > 0 = Zipf(s) over experts. */
  routingSkew: z.number().nonnegative().default(0),
  /**
   * MoE routing locality (src/model/routing-locality.ts): segment lengths for SRP/SCH and expert-cache sizes for
   * SCH/LRU; absent = segments 4, 16, 64, 256 (those ≤ the prompt) and caches of k and 2k experts.
   */
  locality: z
    .object({
      segmentLengths: z.array(positiveInt).min(1),
      cacheSizes: z.array(positiveInt).min(1),
    })
    .strict()
    .optional(),
});

export const protocolSchema = z.object({
  warmupMinIterations: nonNegativeInt.default(PROTOCOL_DEFAULTS.warmupMinIterations),
  warmupMaxMs: positiveInt.default(PROTOCOL_DEFAULTS.warmupMaxMs),
  minMeasureMs: positiveInt.default(PROTOCOL_DEFAULTS.minMeasureMs),
  minIterations: positiveInt.default(PROTOCOL_DEFAULTS.minIterations),
  maxIterations: positiveInt.default(PROTOCOL_DEFAULTS.maxIterations),
  repeats: positiveInt.default(PROTOCOL_DEFAULTS.repeats),
  caseTimeoutMs: positiveInt.default(PROTOCOL_DEFAULTS.caseTimeoutMs),
  /** Unset: PROTOCOL_DEFAULTS.minEnergyWindowMs (left out of the resolved protocol, so config hashes stay). */
  minEnergyWindowMs: positiveInt.optional(),
  samplerHz: positiveInt.default(PROTOCOL_DEFAULTS.samplerHz),
  seed: nonNegativeInt.default(PROTOCOL_DEFAULTS.seed),
  bootstrapResamples: positiveInt.default(PROTOCOL_DEFAULTS.bootstrapResamples),
});

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/**
 * Cases to leave out of the cross product (GitHub Actions' matrix `exclude`): an entry drops every case that
 * matches all the fields it gives. `model` is a model's name, `technique` a technique's `name` or `kind`,
 * `workload` a workload's `name`; a field may list several values (any of them matches).
 */
export const excludeSchema = z
  .object({
    model: oneOrMany.optional(),
    technique: oneOrMany.optional(),
    scenario: oneOrMany.optional(),
    workload: oneOrMany.optional(),
    runner: oneOrMany.optional(),
  })
  .strict()
  .refine(
    (e) => Object.keys(e).length > 0,
    "an exclude entry needs at least one of model, technique, scenario, workload, runner",
  );

/** The suite's fields other than the runners' settings. */
const suiteFields = {
  name: z.string().min(1),
  description: z.string().optional(),
  models: z.array(modelSchema).min(1, "a suite needs at least one model"),
  techniques: z
    .array(z.unknown())
    .min(1)
    .default([{ kind: "base" }]),
  scenarios: z.array(scenarioSchema).min(1, "a suite needs at least one scenario"),
  workloads: z.array(workloadSchema).min(1, "a suite needs at least one workload"),
  runners: z.array(z.string()).min(1),
  protocol: protocolSchema.default(protocolSchema.parse({})),
  exclude: z.array(excludeSchema).default([]),
};

/**
 * The strict suite schema for the runners and techniques registered now: `runners` lists registered names, each
 * runner's settings (defaults filled in) sit under its name, techniques are the registry's union.
 */
export function suiteSchema() {
  const runners = runnerDefinitions();
  if (runners.length === 0)
    throw new Error("no runner is registered: import runners/index.ts (as the CLI does) before validating suites");
  const names = runners.map((r) => r.name);
  const settings = Object.fromEntries(
    runners.map((r) => [r.name, r.settingsSchema.default(r.settingsSchema.parse({}))]),
  );
  return z
    .object({
      ...suiteFields,
      techniques: z
        .array(techniqueSchema())
        .min(1)
        .default([{ kind: "base" }] as never),
      runners: z
        .array(z.enum(names as [string, ...string[]]))
        .min(1)
        // The first registered runner (runners/index.ts registers ort first: embedded, no Python needed).
        .default(names.slice(0, 1)),
      ...settings,
    })
    .strict()
    .superRefine((suite, ctx) => checkExcludes(suite as unknown as ResolvedSuite, ctx));
}

function checkExcludes(suite: ResolvedSuite, ctx: z.RefinementCtx): void {
  // Every value an exclude names must exist in the suite: a typo would otherwise silently exclude nothing.
  const known: Record<string, string[]> = {
    model: suite.models.map((m) => m.name),
    technique: [
      ...new Set(
        suite.techniques.flatMap((t) => [
          t.kind,
          ...((t as { name?: string }).name ? [(t as { name: string }).name] : []),
        ]),
      ),
    ],
    scenario: suite.scenarios,
    workload: suite.workloads.flatMap((w) => (w.name ? [w.name] : [])),
    runner: suite.runners,
  };
  suite.exclude.forEach((entry, index) => {
    for (const [field, value] of Object.entries(entry) as [string, string | string[]][]) {
      const values = Array.isArray(value) ? value : [value];
      values.forEach((v, i) => {
        if (known[field]!.includes(v)) return;
        ctx.addIssue({
          code: "custom",
          path: ["exclude", index, field, ...(Array.isArray(value) ? [i] : [])],
          message: `no ${field} ${JSON.stringify(v)} in this suite; its ${field}s: ${known[field]!.length ? known[field]!.join(", ") : "(none named)"}`,
        });
      });
    }
  });
}

/** A model as written: every architecture field, or a `checkpoint` whose config.json fills them in (src/model/checkpoint.ts),
 * or a `gguf` file whose header does (src/model/gguf-model.ts). */
export type ModelInput =
  | z.input<typeof modelSchema>
  | (Partial<z.input<typeof modelSchema>> & { checkpoint: string })
  | (Omit<Partial<z.input<typeof modelSchema>>, "gguf"> & { gguf: string })
  | (Partial<z.input<typeof modelSchema>> & {
      name: string;
      hf: { config: Record<string, unknown> } | { configFile: string };
    });
type SuiteFields = z.ZodObject<typeof suiteFields>;
/** What a suite file says: the suite's fields, plus each registered runner's settings under its name. */
export type SuiteInput = Omit<z.input<SuiteFields>, "models" | "techniques" | "runners"> & {
  models: ModelInput[];
  techniques?: Array<z.input<TechniqueSchema> | TechniqueInputs[keyof TechniqueInputs]>;
  runners?: Array<keyof RunnerSettingsInputs | (string & {})>;
} & { [K in keyof RunnerSettingsInputs]?: RunnerSettingsInputs[K] };
type TechniqueSchema = ReturnType<typeof techniqueSchema>;
/** A validated suite: every default filled in; `suite[runnerName]` holds that runner's settings. */
export type ResolvedSuite = Omit<z.output<SuiteFields>, "techniques"> & {
  techniques: TechniqueConfig[];
  [runnerSettings: string]: unknown;
};
export type ModelConfig = z.output<typeof modelSchema>;
export type MoeConfig = z.output<typeof moeSchema>;
export type Scenario = z.output<typeof scenarioSchema>;
export type Workload = z.output<typeof workloadSchema>;
/** A registered runner's name (runners/index.ts registers the built-in ones). */
export type RunnerName = string;
export type ExcludeEntry = z.output<typeof excludeSchema>;
export type Protocol = z.output<typeof protocolSchema>;
