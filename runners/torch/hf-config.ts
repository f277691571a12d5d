// The transformers config dict of a case's model, what runners/torch/seeded.py's `seeded_model` builds: a model given
// as `hf: { config }` (with the IR fields written back when `--scale` shrank it), or an IR model of the llama family
// as the LlamaConfig / Qwen2Config transformers would build for it. One place for the mapping, so that any caller
// (the worker's seeded weights, GPU-scale models) builds the same architecture.
import type { ModelConfig } from "../../src/suite/schema.js";
import { dimensionsOf } from "../../src/model/architecture.js";

type Json = Record<string, unknown>;

/** Writes the IR fields of a (scaled) model back into its transformers config, in the keys that config uses. */
function withIrFields(config: Json, model: ModelConfig): Json {
  const out: Json = { ...config };
  const set = (keys: string[], value: unknown, always = false) => {
    const key = keys.find((k) => k in config) ?? (always ? keys[0] : undefined);
    if (key !== undefined && value !== undefined) out[key] = value;
  };
  const dims = dimensionsOf(model);
  set(["num_hidden_layers", "n_layer", "num_layers"], model.layers, true);
  set(["hidden_size", "n_embd", "d_model"], model.hidden, true);
  set(["num_attention_heads", "n_head"], model.heads, true);
  set(["num_key_value_heads"], dims.kvHeads);
  set(["head_dim"], dims.headDim);
  set(["intermediate_size", "ffn_dim", "n_inner"], model.ffn);
  set(["vocab_size"], model.vocab, true);
  if (model.moe) {
    set(["num_local_experts", "num_experts", "n_routed_experts"], model.moe.experts);
    set(["num_experts_per_tok"], model.moe.topK);
    set(["moe_intermediate_size"], model.moe.expertFfn);
    set(["shared_expert_intermediate_size"], model.moe.sharedFfn);
  }
  // Per-layer lists follow the layer count.
  if (Array.isArray(config.layer_types)) out.layer_types = (config.layer_types as unknown[]).slice(0, model.layers);
  if (Array.isArray(config.mlp_only_layers))
    out.mlp_only_layers = (config.mlp_only_layers as number[]).filter((l) => l < model.layers);
  return out;
}

/** The transformers config dict of a model; `scaled` when `--scale` changed its IR fields. */
export function hfConfigDict(model: ModelConfig, scaled = false): Json {
  if (model.hf) return scaled ? withIrFields(model.hf.config, model) : { ...model.hf.config };
  if (model.moe)
    throw new Error("an IR MoE model's transformers form is built by the worker (runners/torch/moe_block.py)");
  const dims = dimensionsOf(model);
  const common: Json = {
    vocab_size: model.vocab,
    hidden_size: model.hidden,
    intermediate_size: model.ffn,
    num_hidden_layers: model.layers,
    num_attention_heads: model.heads,
    num_key_value_heads: dims.kvHeads,
    head_dim: dims.headDim,
    max_position_embeddings: model.maxPositions,
    rope_theta: model.ropeTheta,
    rms_norm_eps: model.rmsNormEps,
    tie_word_embeddings: model.tieEmbeddings,
    pad_token_id: null,
    bos_token_id: null,
    eos_token_id: null,
  };
  const scaling = model.ropeScaling;
  if (scaling)
    common.rope_parameters = {
      rope_type: scaling.type,
      rope_theta: model.ropeTheta,
      factor: scaling.factor,
      ...(scaling.type === "llama3"
        ? {
            low_freq_factor: scaling.lowFreqFactor,
            high_freq_factor: scaling.highFreqFactor,
            original_max_position_embeddings: scaling.originalMaxPositions,
          }
        : {}),
    };
  if (model.qkNorm) return { model_type: "qwen3", ...common, attention_bias: false, use_sliding_window: false };
  // Qwen2 is Llama with q/k/v biases only (Llama's attention_bias would put one on o_proj too).
  return model.attentionBias
    ? { model_type: "qwen2", ...common, use_sliding_window: false }
    : { model_type: "llama", ...common, attention_bias: false, mlp_bias: false };
}
