// Models given as a transformers config (`hf: { config }` or `hf: { configFile }`): any architecture
// AutoModelForCausalLM builds, run on the torch runner with weights the worker seeds (runners/torch/seeded.py). The
// IR fields the scenarios, `--estimate` and `--scale` need (layers, hidden, heads, vocab, MoE shape…) are derived here
// from the config's usual keys; whether the IR expresses the architecture exactly (the ort runner) is the strict
// checkpoint mapping's answer (checkpoint.ts), kept as `hf.irUnsupported` when it is no.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { modelFieldsFromHfConfig } from "./checkpoint.js";

type Json = Record<string, unknown>;

function first(config: Json, keys: string[]): number | undefined {
  for (const key of keys) {
    const value = config[key];
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  return undefined;
}

/** The IR fields of a transformers config by its common keys; `missing` names those it lacks. */
export function irFieldsFromAnyHfConfig(config: Json): { fields: Json; missing: string[] } {
  const missing: string[] = [];
  const need = (field: string, keys: string[], fallback?: number): number | undefined => {
    const value = first(config, keys) ?? fallback;
    if (value === undefined) missing.push(`${field} (config key ${keys.join(" / ")})`);
    return value;
  };
  const hidden = need("hidden", ["hidden_size", "n_embd", "d_model"]);
  const heads = need("heads", ["num_attention_heads", "n_head"]);
  const rope = (config.rope_parameters ?? config.rope_scaling ?? {}) as Json;
  const experts = first(config, ["num_local_experts", "num_experts", "n_routed_experts"]);
  const intermediate = first(config, ["intermediate_size", "ffn_dim", "n_inner"]);
  const expertFfn = first(config, ["moe_intermediate_size", "expert_intermediate_size"]) ?? intermediate;
  const fields: Json = {
    layers: need("layers", ["num_hidden_layers", "n_layer", "num_layers"]),
    hidden,
    heads,
    kvHeads: first(config, ["num_key_value_heads"]) ?? heads,
    headDim: first(config, ["head_dim"]) ?? (hidden !== undefined && heads !== undefined ? hidden / heads : undefined),
    ffn: intermediate ?? expertFfn ?? need("ffn", ["intermediate_size"]),
    vocab: need("vocab", ["vocab_size"]),
    maxPositions: first(config, ["max_position_embeddings", "n_positions"]) ?? 4096,
    ropeTheta: first(rope, ["rope_theta"]) ?? first(config, ["rope_theta"]) ?? 10000,
    rmsNormEps: first(config, ["rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon"]) ?? 1e-6,
    tieEmbeddings: config.tie_word_embeddings === true,
    attentionBias: config.attention_bias === true || config.qkv_bias === true,
  };
  if (experts !== undefined && experts >= 2) {
    const mlpOnly = Array.isArray(config.mlp_only_layers) ? (config.mlp_only_layers as number[]) : [];
    let firstDense = first(config, ["first_k_dense_replace"]) ?? 0;
    while (mlpOnly.includes(firstDense)) firstDense++;
    const sharedWidth = first(config, ["shared_expert_intermediate_size"]);
    const sharedCount = first(config, ["n_shared_experts", "num_shared_experts"]) ?? (sharedWidth ? 1 : 0);
    fields.moe = {
      experts,
      topK: first(config, ["num_experts_per_tok", "moe_topk", "top_k"]) ?? 2,
      ...(expertFfn !== undefined ? { expertFfn } : {}),
      sharedExperts: sharedCount,
      ...(sharedWidth !== undefined ? { sharedFfn: sharedWidth } : {}),
      firstDenseLayers: firstDense,
      normTopK: config.norm_topk_prob !== false,
    };
  }
  return { fields, missing };
}

/**
 * Fills the models of a raw suite that give `hf` (before validation): reads `configFile` (relative to the suite's
 * folder), checks the config, derives the IR fields the suite leaves out, and records why the IR cannot express it.
 */
export function expandHfModels(raw: unknown, baseDir: string): { raw: unknown; issues: string[] } {
  if (!raw || typeof raw !== "object" || !Array.isArray((raw as { models?: unknown }).models))
    return { raw, issues: [] };
  const issues: string[] = [];
  const models = (raw as { models: unknown[] }).models.map((entry, index) => {
    if (!entry || typeof entry !== "object" || !("hf" in entry)) return entry;
    const at = `models[${index}].hf`;
    const model = { ...(entry as Json) };
    const hf = model.hf as Json | undefined;
    if (!hf || typeof hf !== "object") {
      issues.push(`${at}: expected { config: {...} } or { configFile: "./config.json" }`);
      return model;
    }
    if ((hf.config === undefined) === (hf.configFile === undefined)) {
      issues.push(`${at}: give exactly one of config (a config.json's contents) or configFile (its path)`);
      return model;
    }
    if (model.checkpoint !== undefined) {
      issues.push(`${at}: a model is either a checkpoint directory or an hf config — remove one`);
      return model;
    }
    let config: Json;
    if (typeof hf.configFile === "string") {
      const path = resolve(baseDir, hf.configFile);
      if (!existsSync(path)) {
        issues.push(`${at}.configFile: ${path} does not exist — give the path of a transformers config.json`);
        return model;
      }
      try {
        config = JSON.parse(readFileSync(path, "utf8")) as Json;
      } catch (error) {
        issues.push(`${at}.configFile: ${path} is not valid JSON: ${(error as Error).message}`);
        return model;
      }
    } else config = hf.config as Json;
    if (!config || typeof config !== "object" || Array.isArray(config)) {
      issues.push(`${at}.config: expected a JSON object (a config.json's contents)`);
      return model;
    }
    if (typeof config.model_type !== "string") {
      issues.push(
        `${at}.config.model_type: missing — transformers picks the architecture by it (e.g. "llama", "qwen3_moe")`,
      );
      return model;
    }
    const { fields, missing } = irFieldsFromAnyHfConfig(config);
    if (missing.length > 0) {
      issues.push(`${at}.config: cannot derive ${missing.join(", ")} — add them to the config or to the model`);
      return model;
    }
    let irUnsupported: string | undefined;
    try {
      modelFieldsFromHfConfig(config);
    } catch (error) {
      irUnsupported = (error as Error).message;
    }
    for (const [field, value] of Object.entries(fields)) if (model[field] === undefined) model[field] = value;
    model.hf = { config, ...(irUnsupported ? { irUnsupported } : {}) };
    return model;
  });
  return { raw: { ...(raw as object), models }, issues };
}
