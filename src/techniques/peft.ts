// Any peft tuner, passed through to peft in the torch worker (runners/torch/peft_tuner.py): `config` is a peft
// config as peft's `get_peft_config` takes it (`peft_type` plus the tuner's fields). Counts are peft's own; for the
// tuners with a simple formula they are also computed here by arithmetic (and checked against peft in the tests).
import { z } from "zod";
import type { ModelConfig } from "../suite/schema.js";
import { PROJECTIONS, type ProjectionName } from "../model/architecture.js";
import { accountModel } from "../model/accounting.js";
import { baseAccounting, FP32_BYTES, linearSites, type TechniqueAccounting } from "./accounting.js";
import type { Technique } from "./technique.js";

const params = z
  .object({
    kind: z.literal("peft"),
    name: z.string().optional(),
    /** A peft config: `peft_type` (LORA, LOHA, LOKR, IA3, VERA, BOFT, …) and that tuner's fields, as peft names them. */
    config: z.object({ peft_type: z.string().min(1, "expected a peft type such as LORA, LOHA or IA3") }).passthrough(),
    /** merge_and_unload after the build (tuners that peft can merge). */
    merged: z.boolean().default(false),
    /** Seed of the adapter's initialisation (default: the model's weights seed). */
    seed: z.number().int().nonnegative().optional(),
  })
  .strict();

export type PeftParams = z.output<typeof params>;

/** Parameters one adapted linear [out, in] gets, for tuners whose count has a simple formula; the keys each allows. */
const FORMULAS: Record<
  string,
  {
    keys: string[];
    perLinear(config: Record<string, unknown>, out: number, inFeatures: number, p: ProjectionName): number;
  }
> = {
  // LoRA: A [r, in] and B [out, r]; DoRA adds the magnitude [out].
  LORA: {
    keys: ["r", "lora_alpha", "lora_dropout", "use_rslora", "use_dora", "init_lora_weights", "bias"],
    perLinear: (c, out, inFeatures) => num(c.r, 8) * (inFeatures + out) + (c.use_dora ? out : 0),
  },
  // LoHa: two rank-r pairs (w1_a, w1_b, w2_a, w2_b) whose products are multiplied elementwise.
  LOHA: {
    keys: ["r", "alpha", "rank_dropout", "module_dropout", "init_weights"],
    perLinear: (c, out, inFeatures) => 2 * num(c.r, 8) * (inFeatures + out),
  },
  // IA3: a learned vector scaling the output (or, for feed-forward modules, the input).
  IA3: {
    keys: ["feedforward_modules", "init_ia3_weights", "fan_in_fan_out"],
    perLinear: (c, out, inFeatures, p) => (asList(c.feedforward_modules).includes(p) ? inFeatures : out),
  },
  // VeRA: frozen shared random A, B (buffers, not parameters); trainable λ_d [out] and λ_b [r] per linear.
  VERA: {
    keys: ["r", "vera_dropout", "d_initial", "init_weights", "projection_prng_key", "save_projection"],
    perLinear: (c, out) => num(c.r, 256) + out,
  },
};

function num(value: unknown, fallback: number): number {
  return typeof value === "number" ? value : fallback;
}

function asList(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : typeof value === "string" ? [value] : [];
}

/** The adapted projections when target_modules names only ours ("all-linear" or a list); undefined otherwise. */
function targetsOf(config: Record<string, unknown>): ProjectionName[] | undefined {
  const targets = config.target_modules;
  if (targets === "all-linear") return [...PROJECTIONS];
  const list = asList(targets);
  if (list.length === 0 || !Array.isArray(targets)) return undefined;
  return list.every((t) => (PROJECTIONS as readonly string[]).includes(t)) ? (list as ProjectionName[]) : undefined;
}

/** Adapter parameters by arithmetic, or undefined when this tuner/config has no simple formula here. */
export function peftAdapterParams(model: ModelConfig, p: PeftParams): number | undefined {
  const type = p.config.peft_type.toUpperCase();
  const formula = FORMULAS[type];
  const config = p.config as Record<string, unknown>;
  const targets = targetsOf(config);
  if (!formula || !targets) return undefined;
  const allowed = new Set(["peft_type", "task_type", "target_modules", ...formula.keys]);
  if (Object.keys(config).some((k) => !allowed.has(k))) return undefined;
  if (type === "LORA" && config.bias !== undefined && config.bias !== "none") return undefined;
  let total = 0;
  for (const site of linearSites(model, targets))
    total += site.count * formula.perLinear(config, site.out, site.inFeatures, site.projection);
  return total;
}

export const RUNNER_COUNTS_REASON =
  "counted by peft in the torch worker (params_trainable, params_total_runner): this tuner or config has no formula here";

export function peftAccounting(model: ModelConfig, p: PeftParams): TechniqueAccounting {
  const adapterParams = peftAdapterParams(model, p);
  if (adapterParams === undefined) return { ...baseAccounting(model), countedByRunner: RUNNER_COUNTS_REASON };
  const a = accountModel(model);
  const kept = p.merged ? 0 : adapterParams;
  return {
    totalParams: a.totalParams + kept,
    trainableParams: adapterParams,
    // Every linear a target reaches is on every token's path (linearSites).
    activeParamsPerToken: (a.activeParams ?? a.totalParams) + kept,
    weightBytes: a.weightBytes + kept * FP32_BYTES,
    adapterParams,
    adapterBytes: kept * FP32_BYTES,
    extraFlopsPerToken: 2 * kept,
    extraFlopsPerForward: 0,
    notes: [
      p.merged
        ? "adapters folded into the base weights (merge_and_unload)"
        : "FLOPs of the adapter path counted as 2 per adapter parameter per token",
    ],
  };
}

export const peftTechnique: Technique<typeof params> = {
  kind: "peft",
  // Built by peft itself in the torch worker (runners/torch/peft_tuner.py); runners without it refuse the family.
  family: "peft",
  params,
  label: (p) => `peft ${p.name ?? p.config.peft_type.toLowerCase()}${p.merged && !p.name ? " merged" : ""}`,
  unsupportedReason: () => undefined,
  account: peftAccounting,
};
