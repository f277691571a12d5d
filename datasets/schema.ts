// Zod schemas of the reference data under datasets/: real architectures, workload length distributions and
// values published by papers. Every file under datasets/ is validated against these by test/datasets/.
import { z } from "zod";
import { modelSchema } from "../src/suite/schema.js";

const positiveInt = z.number().int().positive();

/** A citation: where a number was read, precisely enough for a reader to find it again. */
export const citationSchema = z
  .object({
    /** Authors/organisation, title and arXiv id or URL. */
    source: z.string().min(1),
    /** Table, figure or section the figure comes from ("Table 5", "§4.2", "model card"). */
    section: z.string().min(1),
    url: z.string().url().optional(),
  })
  .strict();

// ── architectures ────────────────────────────────────────────────────────────────────────────────

/** Parameters a real architecture has that ModelConfig cannot express, so accounting from ModelConfig omits them. */
export const unmodelledSchema = z
  .object({
    feature: z.string().min(1),
    /** Exact number of parameters the feature adds (the test checks transformers = ours + these). */
    params: positiveInt,
    formula: z.string().min(1),
    reason: z.string().min(1),
  })
  .strict();

type ModelInput = z.input<typeof modelSchema>;
const MODEL_KEYS = new Set(Object.keys(modelSchema.shape));

/** ModelConfig fields minus `name`/`weights`/`checkpoint`, checked by the suite's own model schema (typos included). */
const architectureModelSchema = z
  .record(z.string(), z.unknown())
  .superRefine((model, ctx) => {
    for (const key of Object.keys(model)) {
      if (!MODEL_KEYS.has(key) || key === "name" || key === "weights" || key === "checkpoint")
        ctx.addIssue({ code: "custom", path: [key], message: `not an architecture field of ModelConfig` });
    }
    const parsed = modelSchema.safeParse({ ...model, name: "architecture" });
    if (!parsed.success)
      for (const issue of parsed.error.issues)
        ctx.addIssue({ code: "custom", path: issue.path as PropertyKey[], message: issue.message });
  })
  .transform((model) => model as Omit<ModelInput, "name" | "weights" | "checkpoint">);

export const architectureSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9.-]+$/, "ids are lower-case kebab-case (file name without .json)"),
    displayName: z.string().min(1),
    hfRepo: z.string().regex(/^[\w.-]+\/[\w.-]+$/),
    configSource: z.string().url(),
    /** The published, rounded figure, printed beside the exact count; never used as an oracle. */
    published: z
      .object({
        totalParams: z.number().positive(),
        activeParams: z.number().positive().optional(),
        text: z.string().min(1),
        source: z.string().min(1),
        section: z.string().min(1),
      })
      .strict(),
    /** The architecture as a suite model, without `name` (architectureModel() adds it). */
    model: architectureModelSchema,
    /** The Hugging Face config (parameter-relevant keys) that transformers builds on the meta device. */
    hfConfig: z.object({ model_type: z.string().min(1) }).passthrough(),
    /** The checkpoint's own config when hfConfig is a stand-in architecture (see hfProxy). */
    hfConfigOriginal: z
      .object({ model_type: z.string().min(1) })
      .passthrough()
      .optional(),
    /** Why hfConfig is a stand-in for a model whose code transformers does not ship. */
    hfProxy: z.string().min(1).optional(),
    /** Parameters the stand-in has and the real model does not (subtracted from the transformers count). */
    proxyExtra: z.array(unmodelledSchema).default([]),
    unmodelled: z.array(unmodelledSchema).default([]),
    notes: z.string().optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if ((a.hfProxy === undefined) !== (a.hfConfigOriginal === undefined))
      ctx.addIssue({ code: "custom", path: ["hfProxy"], message: "hfProxy and hfConfigOriginal go together" });
    if (a.proxyExtra.length > 0 && a.hfProxy === undefined)
      ctx.addIssue({ code: "custom", path: ["proxyExtra"], message: "proxyExtra needs hfProxy" });
    if (a.model.moe && a.published.activeParams === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["published", "activeParams"],
        message: "a MoE architecture states its published active parameters",
      });
  });

export type Architecture = z.output<typeof architectureSchema>;
/** An architecture file as stored (defaults not filled). */
export type ArchitectureInput = z.input<typeof architectureSchema>;

// ── workloads ────────────────────────────────────────────────────────────────────────────────────

/** Summary statistics of a token-length distribution, as far as the source states them (null = not stated). */
export const lengthStatsSchema = z
  .object({
    mean: z.number().positive().nullable(),
    median: z.number().positive().nullable(),
    p90: z.number().positive().nullable().default(null),
    max: z.number().positive().nullable().default(null),
    std: z.number().positive().nullable().default(null),
  })
  .strict();

export const workloadDatasetSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9.-]+$/),
    task: z.enum(["chat", "summarisation", "code"]),
    /** The dataset the lengths describe (e.g. ShareGPT), and the tokenizer where the source says. */
    dataset: z.string().min(1),
    tokenizer: z.string().nullable(),
    citation: citationSchema,
    prompt: lengthStatsSchema,
    generation: lengthStatsSchema,
    /**
     * A small set of (prompt, generation) points that a `generate` suite runs, derived from the stats above
     * (typically median and p90 / mean). `derivation` says exactly how.
     */
    points: z
      .array(
        z
          .object({
            name: z.string().min(1),
            promptTokens: positiveInt,
            newTokens: positiveInt,
            derivation: z.string().min(1),
          })
          .strict(),
      )
      .min(1),
    confidence: z.string().min(1),
  })
  .strict();

export type WorkloadDataset = z.output<typeof workloadDatasetSchema>;

// ── references (papers' values) ──────────────────────────────────────────────────────────────────

/** Our metric names (docs/metrics.md) that a paper's figure corresponds to. */
export const metricNameSchema = z.enum([
  "amu_bytes", // EfficientLLM AMU: time-averaged device memory in use
  "peak_memory_bytes", // allocator peak (torch.cuda.max_memory_allocated), as MixLoRA measures
  "pcu_duty_cycle", // EfficientLLM PCU: mean nvidia-smi utilization.gpu
  "latency_s", // EfficientLLM AL: seconds per iteration / request
  "token_latency_s", // time per generated token (MixLoRA's "token latency")
  "inference_tokens_per_s", // EfficientLLM IT
  "train_tokens_per_param_s", // EfficientLLM TT
  "train_samples_per_param_s", // EfficientLLM ST
  "mean_power_w", // EfficientLLM AEC (mean W, not joules)
  "mcr", // EfficientLLM model compression rate
  "weight_bytes",
  "total_params",
  "trainable_params",
]);
export type MetricName = z.output<typeof metricNameSchema>;

/** One side of a ratio: which technique (with the parameters that matter) on which model. */
export const referenceSideSchema = z
  .object({
    technique: z.string().min(1),
    params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    model: z.string().optional(),
    /** The paper's own value for this side, with its unit as printed. */
    paperValue: z.number().optional(),
    paperUnit: z.string().optional(),
  })
  .strict();

export const regimeSchema = z
  .object({
    device: z.string().min(1),
    precision: z.string().min(1),
    /** Model scale the claim was measured at ("32B", "1.5B×8", "7B"). */
    scale: z.string().min(1),
    scenario: z.enum(["prefill", "decode", "generate", "train-step", "inference", "training"]),
    framework: z.string().optional(),
    batch: z.string().optional(),
  })
  .strict();

export const referenceSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9.-]+$/),
    claim: z.string().min(1),
    metric: metricNameSchema,
    /** The paper's metric name and unit as printed ("AMU (GB)"). */
    paperMetric: z.string().min(1),
    numerator: referenceSideSchema,
    denominator: referenceSideSchema,
    /** numerator ÷ denominator as the paper states it or as computed from its two printed values; null for a direction-only claim. */
    paperValue: z.number().positive().nullable(),
    /**
     * `stated`: the source prints the ratio (or the percentage it implies); `computed`: we divided two printed values;
     * `approximate`: the source says "about"/"up to", or the figure follows from the design rather than a measurement;
     * `direction`: the source only says which side is higher.
     */
    valueKind: z.enum(["stated", "computed", "approximate", "direction"]),
    /** Which side the claim says is higher; required for direction-only claims, a check on the value otherwise. */
    direction: z.enum(["numerator-higher", "numerator-lower"]).optional(),
    regime: regimeSchema,
    citation: citationSchema,
    /** How sure we are that the figure is what the paper says (what was checked, against what). */
    confidence: z.string().min(1),
  })
  .strict()
  .superRefine((r, ctx) => {
    const n = r.numerator.paperValue;
    const d = r.denominator.paperValue;
    if ((r.valueKind === "direction") !== (r.paperValue === null))
      ctx.addIssue({
        code: "custom",
        path: ["paperValue"],
        message: "paperValue is null exactly when valueKind is direction",
      });
    if (r.valueKind === "direction" && r.direction === undefined)
      ctx.addIssue({ code: "custom", path: ["direction"], message: "a direction-only claim states its direction" });
    if (r.valueKind === "computed" && r.paperValue !== null) {
      if (n === undefined || d === undefined) {
        ctx.addIssue({ code: "custom", path: ["valueKind"], message: "a computed ratio needs both sides' paperValue" });
      } else if (Math.abs(n / d - r.paperValue) > 0.005 * r.paperValue) {
        ctx.addIssue({
          code: "custom",
          path: ["paperValue"],
          message: `computed ratio ${r.paperValue} ≠ ${n} ÷ ${d} = ${(n / d).toFixed(3)}`,
        });
      }
    }
    if (r.paperValue !== null && r.direction === "numerator-higher" && r.paperValue < 1)
      ctx.addIssue({ code: "custom", path: ["direction"], message: "numerator-higher with a ratio below 1" });
    if (r.paperValue !== null && r.direction === "numerator-lower" && r.paperValue > 1)
      ctx.addIssue({ code: "custom", path: ["direction"], message: "numerator-lower with a ratio above 1" });
  });

export const referenceFileSchema = z
  .object({
    paper: z.string().min(1),
    arxiv: z
      .string()
      .regex(/^\d{4}\.\d{4,5}$/)
      .optional(),
    /** What the file holds and what it deliberately leaves out. */
    scope: z.string().min(1),
    references: z.array(referenceSchema).min(1),
  })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.references.forEach((r, i) => {
      if (seen.has(r.id))
        ctx.addIssue({ code: "custom", path: ["references", i, "id"], message: `duplicate id ${r.id}` });
      seen.add(r.id);
    });
  });

export type Reference = z.output<typeof referenceSchema>;
export type ReferenceFile = z.output<typeof referenceFileSchema>;
