// Real Hugging Face checkpoints (docs/checkpoints.md): a local directory with config.json and safetensors weights, one
// file or shards listed in model.safetensors.index.json. Two steps, deliberately apart:
// - at suite validation, only config.json is read and mapped onto ModelConfig (so `bench inspect`, planning
//   and accounting stay instant whatever the checkpoint's size);
// - when a case builds its model, the safetensors are read and every float tensor (F32/F16/BF16/F64) is
//   converted to float32 under its Hugging Face name, which is already the IR's naming.
// What the IR cannot represent (other rope types, o_proj/MLP biases, a sliding window narrower than the
// context used, quantised checkpoints, other architectures) is refused with the reason, never approximated.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { ModelConfig } from "../suite/schema.js";
import { LM_HEAD, denseTensorShapes } from "./architecture.js";
import { moeModelTensorShapes } from "./moe.js";
import { DTYPE_BYTES, decodeToFloat32, readSafetensors, type RawTensor } from "./safetensors.js";
import type { WeightMap } from "./weights.js";

export const CONFIG_FILE = "config.json";
export const SAFETENSORS_FILE = "model.safetensors";
export const SAFETENSORS_INDEX_FILE = "model.safetensors.index.json";
export const TOKENIZER_FILE = "tokenizer.json";

/** The architectures (config.json `model_type`) whose graph the IR is, and the family each maps to (Mixtral: Mistral attention, a MoE FFN). */
export const SUPPORTED_MODEL_TYPES = {
  llama: "llama",
  mistral: "mistral",
  qwen2: "qwen2",
  qwen3: "qwen3",
  mixtral: "mistral",
} as const;

/** MoE architectures the IR does not represent, and why. */
const UNSUPPORTED_MOE_REASONS: Record<string, string> = {
  qwen2_moe: "Qwen2-MoE's shared expert is scaled by a sigmoid shared_expert_gate, which the IR does not model",
  qwen3_moe: "Qwen3-MoE has per-head q/k norms, which the IR does not model",
};

/** Buffers some checkpoints carry that are recomputed, not weights: ignored when loading. */
const IGNORED_TENSOR_SUFFIXES = [".rotary_emb.inv_freq"];

/** The ModelConfig fields a checkpoint's config.json decides. */
export type CheckpointModelFields = Pick<
  ModelConfig,
  | "family"
  | "layers"
  | "hidden"
  | "heads"
  | "kvHeads"
  | "headDim"
  | "ffn"
  | "vocab"
  | "maxPositions"
  | "ropeTheta"
  | "ropeScaling"
  | "qkNorm"
  | "rmsNormEps"
  | "tieEmbeddings"
  | "attentionBias"
  | "moe"
>;

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** Reads and parses `<dir>/config.json`; the error says what is wrong with the directory. */
export function readHfConfig(dir: string): Record<string, unknown> {
  if (!existsSync(dir))
    throw new CheckpointError(
      `${dir} does not exist — give the path of a local Hugging Face model directory (config.json + *.safetensors)`,
    );
  if (!statSync(dir).isDirectory())
    throw new CheckpointError(
      `${dir} is a file, not a directory — give the model's directory (config.json + *.safetensors)`,
    );
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path))
    throw new CheckpointError(`${dir} has no ${CONFIG_FILE} — is it a Hugging Face model directory?`);
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("expected a JSON object");
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new CheckpointError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function num(config: Record<string, unknown>, key: string, fallback?: number): number {
  const value = config[key];
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (value === undefined || value === null) {
    if (fallback !== undefined) return fallback;
    throw new CheckpointError(`config.json has no "${key}"`);
  }
  throw new CheckpointError(`config.json "${key}" should be a number, got ${JSON.stringify(value)}`);
}

/**
 * The rope of a config: transformers 5 writes `rope_parameters: {rope_type, rope_theta}`, transformers 4
 * `rope_theta` and `rope_scaling` at the top level. Only the default rope (θ^(−2i/d), HF's "default") is
 * what the IR computes (architecture.ts rotaryTables); scaled variants change the frequencies and are refused.
 */
/** transformers 5's defaults where a config.json leaves a key out (checked on LlamaConfig, MistralConfig, Qwen2Config, MixtralConfig). */
const CONFIG_DEFAULTS: Record<string, { ropeTheta: number; rmsNormEps: number }> = {
  llama: { ropeTheta: 10000, rmsNormEps: 1e-6 },
  mistral: { ropeTheta: 10000, rmsNormEps: 1e-6 },
  qwen2: { ropeTheta: 10000, rmsNormEps: 1e-6 },
  qwen3: { ropeTheta: 10000, rmsNormEps: 1e-6 },
  mixtral: { ropeTheta: 1e6, rmsNormEps: 1e-5 },
};

function ropeOf(config: Record<string, unknown>): { theta: number; scaling?: ModelConfig["ropeScaling"] } {
  const parameters = (config.rope_parameters ?? null) as Record<string, unknown> | null;
  const scalingBlock = (config.rope_scaling ?? null) as Record<string, unknown> | null;
  let scaling: ModelConfig["ropeScaling"];
  for (const block of [parameters, scalingBlock]) {
    if (!block) continue;
    const type = (block.rope_type ?? block.type ?? "default") as string;
    if (type === "default") continue;
    const number = (key: string, fallback?: number): number => {
      const value = block[key] ?? fallback;
      if (typeof value !== "number" || !(value > 0))
        throw new CheckpointError(`rope ${type}: "${key}" should be a positive number, got ${JSON.stringify(value)}`);
      return value;
    };
    if (type === "linear")
      scaling = { type, factor: number("factor"), lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 };
    else if (type === "llama3")
      scaling = {
        type,
        factor: number("factor"),
        lowFreqFactor: number("low_freq_factor"),
        highFreqFactor: number("high_freq_factor"),
        originalMaxPositions: number("original_max_position_embeddings"),
      };
    else
      throw new CheckpointError(
        `rope type "${type}" is not implemented: the IR computes the default, linear and llama3 rotary embeddings only, so this model's positions would be wrong`,
      );
  }
  const partial = parameters?.partial_rotary_factor ?? config.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1)
    throw new CheckpointError(
      `partial_rotary_factor ${String(partial)} is not implemented: the IR rotates the whole head dimension`,
    );
  const theta = parameters?.rope_theta ?? config.rope_theta;
  if (theta === undefined || theta === null)
    return { theta: (CONFIG_DEFAULTS[String(config.model_type)] ?? CONFIG_DEFAULTS.llama!).ropeTheta, scaling };
  if (typeof theta !== "number" || !(theta > 0))
    throw new CheckpointError(`rope_theta should be a positive number, got ${JSON.stringify(theta)}`);
  return { theta, scaling };
}

/**
 * The ModelConfig fields of a config.json (llama, mistral, qwen2), plus notes on choices made. Throws a
 * CheckpointError naming what the IR cannot represent.
 */
export function modelFieldsFromHfConfig(config: Record<string, unknown>): {
  fields: CheckpointModelFields;
  notes: string[];
} {
  const modelType = config.model_type;
  if (typeof modelType !== "string") throw new CheckpointError(`config.json has no "model_type"`);
  if (modelType in UNSUPPORTED_MOE_REASONS)
    throw new CheckpointError(
      `model_type "${modelType}" is not supported: ${UNSUPPORTED_MOE_REASONS[modelType]} (describe the model with a moe block and synthesised weights instead)`,
    );
  if (!(modelType in SUPPORTED_MODEL_TYPES))
    throw new CheckpointError(
      `model_type "${modelType}" is not supported: checkpoints of ${Object.keys(SUPPORTED_MODEL_TYPES).join(", ")} are loaded`,
    );
  const family = SUPPORTED_MODEL_TYPES[modelType as keyof typeof SUPPORTED_MODEL_TYPES];
  const notes: string[] = [];
  if (config.quantization_config !== undefined && config.quantization_config !== null)
    throw new CheckpointError(
      `the checkpoint is quantised (quantization_config); give the fp32/fp16/bf16 checkpoint — the int4/int8 techniques quantise it themselves`,
    );
  const activation = config.hidden_act ?? "silu";
  if (activation !== "silu")
    throw new CheckpointError(`hidden_act "${String(activation)}" is not implemented: the IR's MLP is SwiGLU (silu)`);
  if (config.mlp_bias === true) throw new CheckpointError(`mlp_bias is true: the IR's MLP projections have no bias`);
  let attentionBias: boolean;
  if (family === "qwen2")
    attentionBias = true; // Qwen2 always has q/k/v biases (and none on o_proj)
  else if (config.attention_bias === true)
    throw new CheckpointError(
      `attention_bias is true: ${modelType} then has an o_proj bias too, which the IR does not have (only q/k/v biases, as Qwen2)`,
    );
  else attentionBias = false;

  const { theta: ropeTheta, scaling: ropeScaling } = ropeOf(config);
  const hidden = num(config, "hidden_size");
  const heads = num(config, "num_attention_heads");
  const kvHeads = num(config, "num_key_value_heads", heads);
  const headDim = num(config, "head_dim", hidden / heads);
  let maxPositions = num(config, "max_position_embeddings");
  // A sliding window only changes attention past `window` tokens: within it, attention is plain causal.
  // The IR has no window, so the usable context is capped at it (buildOnnxModel refuses longer inputs).
  const window =
    family === "qwen2" || family === "qwen3"
      ? config.use_sliding_window === true
        ? (config.sliding_window as number | null | undefined)
        : null
      : (config.sliding_window as number | null | undefined);
  if (
    (family === "qwen2" || family === "qwen3") &&
    config.use_sliding_window === true &&
    num(config, "max_window_layers", 0) >= num(config, "num_hidden_layers")
  ) {
    // Qwen2 applies the window only to layers ≥ max_window_layers: none here.
  } else if (typeof window === "number" && window > 0 && window < maxPositions) {
    notes.push(
      `sliding window ${window}: maxPositions capped at ${window} (attention within the window is plain causal attention, which the IR computes)`,
    );
    maxPositions = window;
  }
  const fields: CheckpointModelFields = {
    family,
    layers: num(config, "num_hidden_layers"),
    hidden,
    heads,
    kvHeads,
    headDim,
    ffn: num(config, "intermediate_size"),
    vocab: num(config, "vocab_size"),
    maxPositions,
    ropeTheta,
    ...(ropeScaling ? { ropeScaling } : {}),
    ...(family === "qwen3" ? { qkNorm: true } : {}),
    rmsNormEps: num(config, "rms_norm_eps", (CONFIG_DEFAULTS[modelType] ?? CONFIG_DEFAULTS.llama!).rmsNormEps),
    tieEmbeddings: config.tie_word_embeddings === true,
    attentionBias,
    moe: undefined,
  };
  if (modelType === "mixtral") {
    // Mixtral: softmax over the experts, top-k, renormalised (normTopK); every layer is MoE; experts are SwiGLU of intermediate_size.
    const experts = num(config, "num_local_experts");
    fields.moe = {
      experts,
      topK: num(config, "num_experts_per_tok", 2),
      expertFfn: fields.ffn,
      sharedExperts: 0,
      firstDenseLayers: 0,
      normTopK: true,
    };
  }
  return { fields, notes };
}

/** Reads only config.json of a checkpoint directory and returns the ModelConfig fields it decides. */
export function checkpointModelFields(dir: string): { fields: CheckpointModelFields; notes: string[] } {
  try {
    return modelFieldsFromHfConfig(readHfConfig(dir));
  } catch (error) {
    if (error instanceof CheckpointError && !error.message.startsWith(dir))
      throw new CheckpointError(`${join(dir, CONFIG_FILE)}: ${error.message}`);
    throw error;
  }
}

/**
 * Fills a raw model's architecture fields from what a file says (config.json, a GGUF header); a field the suite also
 * gives must agree, except that `maxPositions` may be lowered (a shorter context). Returns the disagreements.
 */
export function fillArchitectureFields(
  model: Record<string, unknown>,
  read: Partial<Record<string, unknown>>,
  fields: readonly string[],
  at: string,
  source: { says: string; from: string },
): string[] {
  const issues: string[] = [];
  for (const field of fields) {
    const fromFile = read[field];
    const given = model[field];
    if (given === undefined) {
      if (fromFile !== undefined) model[field] = fromFile;
      continue;
    }
    if (field === "maxPositions" && typeof given === "number" && given <= (fromFile as number)) continue;
    if (given !== fromFile)
      issues.push(
        `${at}.${field}: ${source.says} ${JSON.stringify(fromFile)}, the suite says ${JSON.stringify(given)} — remove the field (${source.from})`,
      );
  }
  return issues;
}

/** The architecture fields a checkpoint's config.json decides (the MoE block apart). */
export const CHECKPOINT_FIELDS: Exclude<keyof CheckpointModelFields, "moe">[] = [
  "family",
  "layers",
  "hidden",
  "heads",
  "kvHeads",
  "headDim",
  "ffn",
  "vocab",
  "maxPositions",
  "ropeTheta",
  "ropeScaling",
  "qkNorm",
  "rmsNormEps",
  "tieEmbeddings",
  "attentionBias",
];

/**
 * Fills the models of a raw suite that name a `checkpoint` from their config.json, before validation: the
 * architecture comes from the checkpoint, a field the suite also gives must agree (maxPositions may only be
 * lowered), and relative `checkpoint` / `perplexityText` paths are resolved against `baseDir` (the suite's
 * folder). Returns the new raw suite and the problems found, as `models[i].field: message` lines.
 */
export function expandCheckpointModels(raw: unknown, baseDir: string): { raw: unknown; issues: string[] } {
  if (!raw || typeof raw !== "object" || !Array.isArray((raw as { models?: unknown }).models))
    return { raw, issues: [] };
  const issues: string[] = [];
  const models = (raw as { models: unknown[] }).models.map((entry, index) => {
    if (!entry || typeof entry !== "object") return entry;
    const model = { ...(entry as Record<string, unknown>) };
    const at = `models[${index}]`;
    if (typeof model.perplexityText === "string") {
      model.perplexityText = resolve(baseDir, model.perplexityText);
      if (!existsSync(model.perplexityText as string))
        issues.push(`${at}.perplexityText: ${model.perplexityText as string} does not exist — give a UTF-8 text file`);
      if (typeof model.checkpoint !== "string")
        issues.push(
          `${at}.perplexityText: perplexity needs a tokenizer — set checkpoint to a model directory with ${TOKENIZER_FILE}`,
        );
    }
    if (typeof model.checkpoint !== "string") return model;
    const dir = resolve(baseDir, model.checkpoint);
    model.checkpoint = dir;
    let mapped: ReturnType<typeof modelFieldsFromHfConfig>;
    try {
      mapped = checkpointModelFields(dir);
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      issues.push(`${at}.checkpoint: ${error.message}`);
      return model;
    }
    if (typeof model.perplexityText === "string" && !existsSync(join(dir, TOKENIZER_FILE)))
      issues.push(
        `${at}.perplexityText: the checkpoint has no ${TOKENIZER_FILE} to tokenise the text with — add the tokenizer (save_pretrained of the tokenizer writes it) or remove perplexityText`,
      );
    if (model.name === undefined) model.name = basename(dir);
    if (model.moe !== undefined)
      issues.push(
        `${at}.moe: a checkpoint's architecture comes from its config.json — remove moe (a Mixtral checkpoint's MoE block is read from it)`,
      );
    else if (mapped.fields.moe) model.moe = mapped.fields.moe;
    if (model.weights !== undefined)
      issues.push(`${at}.weights: a checkpoint model's weights come from its safetensors — remove weights`);
    issues.push(
      ...fillArchitectureFields(model, mapped.fields, CHECKPOINT_FIELDS, at, {
        says: "the checkpoint's config.json says",
        from: "a checkpoint's architecture comes from its config.json",
      }),
    );
    return model;
  });
  return { raw: { ...(raw as object), models }, issues };
}

/** The safetensors files of a checkpoint and which tensors each holds (from the index when sharded). */
export function checkpointFiles(dir: string): { files: string[]; sharded: boolean } {
  const indexPath = join(dir, SAFETENSORS_INDEX_FILE);
  if (existsSync(indexPath)) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(readFileSync(indexPath, "utf8")) as typeof index;
    } catch (error) {
      throw new CheckpointError(`${indexPath} is not valid JSON: ${(error as Error).message}`);
    }
    if (!index.weight_map || typeof index.weight_map !== "object")
      throw new CheckpointError(`${indexPath} has no weight_map`);
    const files = [...new Set(Object.values(index.weight_map))].sort();
    for (const file of files)
      if (!existsSync(join(dir, file)))
        throw new CheckpointError(`${indexPath} lists ${file}, which is missing from ${dir}`);
    return { files: files.map((file) => join(dir, file)), sharded: true };
  }
  const single = join(dir, SAFETENSORS_FILE);
  if (existsSync(single)) return { files: [single], sharded: false };
  const hint = existsSync(join(dir, "pytorch_model.bin"))
    ? " (pytorch_model.bin is not read: convert it with save_pretrained(safe_serialization=True))"
    : "";
  throw new CheckpointError(`${dir} has neither ${SAFETENSORS_FILE} nor ${SAFETENSORS_INDEX_FILE}${hint}`);
}

/** Names, sizes and modification times of a checkpoint's files (no file is read): changes when the weights do. */
export function checkpointFingerprint(dir: string): string {
  const { files } = checkpointFiles(dir);
  return [join(dir, CONFIG_FILE), ...files]
    .map((file) => `${basename(file)}:${statSync(file).size}:${statSync(file).mtimeMs}`)
    .join(";");
}

/**
 * A checkpoint's identity wherever it sits (the case key uses it, so that the same checkpoint in another folder or
 * on another machine is the same case): a hash of config.json and of the weight files' names and sizes.
 */
export function checkpointIdentity(dir: string): string {
  const hash = createHash("sha256").update(readFileSync(join(dir, CONFIG_FILE)));
  // A config without weights on disk (inspect, list) is planned too: then config.json alone names it.
  for (const file of weightFilesOrNone(dir)) hash.update(`\0${basename(file)}:${statSync(file).size}`);
  return `${basename(dir)}#${hash.digest("hex").slice(0, 16)}`;
}

function weightFilesOrNone(dir: string): string[] {
  try {
    return checkpointFiles(dir).files;
  } catch {
    return [];
  }
}

/** The weight files' names, sizes and modification times ("" without weights): part of a checkpoint case's config hash. */
export function checkpointFilesVersion(dir: string): string {
  return weightFilesOrNone(dir)
    .map((file) => `${basename(file)}:${statSync(file).size}:${statSync(file).mtimeMs}`)
    .join(";");
}

/** A text file's identity (its content's hash), for the case key of a perplexity text. */
export function textIdentity(path: string): string {
  return `${basename(path)}#${createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 16)}`;
}

/** What a checkpoint's weights were, recorded with the result (provenance, not identity). */
export interface CheckpointProvenance {
  path: string;
  files: number;
  fileBytes: number;
  dtypes: string[];
}

let cached: { key: string; weights: WeightMap; provenance: CheckpointProvenance } | undefined;

/**
 * Every weight of a checkpoint model as float32 under its Hugging Face name, checked against the shapes the
 * model config implies (so a config edited by hand, or a model shrunk with --scale, fails with the tensor
 * named). The last checkpoint loaded is kept, since one case builds the base and the technique's model.
 */
export function loadCheckpointWeights(model: ModelConfig): WeightMap {
  return loadCheckpoint(model).weights;
}

export function checkpointProvenance(model: ModelConfig): CheckpointProvenance {
  return loadCheckpoint(model).provenance;
}

function loadCheckpoint(model: ModelConfig): { weights: WeightMap; provenance: CheckpointProvenance } {
  const dir = model.checkpoint;
  if (!dir) throw new Error(`model ${model.name} has no checkpoint`);
  const expected = model.moe ? moeModelTensorShapes(model, denseTensorShapes(model)) : denseTensorShapes(model);
  const key = JSON.stringify([dir, [...expected]]);
  if (cached?.key === key) return cached;
  cached = undefined; // free the previous model's weights before reading the next
  const { files } = checkpointFiles(dir);
  const weights: WeightMap = new Map();
  const unexpected: string[] = [];
  const dtypes = new Set<string>();
  let fileBytes = 0;
  const experts = new MixtralExperts(model);
  for (const file of files) {
    fileBytes += statSync(file).size;
    const { tensors } = readSafetensors(file);
    for (const [name, raw] of tensors) {
      if (IGNORED_TENSOR_SUFFIXES.some((suffix) => name.endsWith(suffix))) continue;
      if (name === LM_HEAD && model.tieEmbeddings) continue; // tied: the embedding is the output projection
      if (experts.take(name, raw, file)) {
        dtypes.add(raw.dtype);
        continue;
      }
      const shape = expected.get(name);
      if (!shape) {
        unexpected.push(name);
        continue;
      }
      if (raw.shape.join(",") !== shape.join(","))
        throw new CheckpointError(
          `${file}: ${name} has shape [${raw.shape.join(", ")}], model ${model.name} expects [${shape.join(", ")}] — the model config does not match the checkpoint (a checkpoint model cannot be resized with --scale)`,
        );
      if (!["F32", "F16", "BF16", "F64"].includes(raw.dtype))
        throw new CheckpointError(
          `${file}: ${name} is ${raw.dtype}; only float checkpoints (F32, F16, BF16) are loaded — the int4/int8 techniques quantise the weights themselves`,
        );
      if (raw.bytes.byteLength !== shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[raw.dtype])
        throw new CheckpointError(`${file}: ${name} is truncated`);
      dtypes.add(raw.dtype);
      weights.set(name, { shape, data: decodeToFloat32(raw) });
    }
  }
  if (unexpected.length > 0)
    throw new CheckpointError(
      `${dir}: ${unexpected.length} tensor(s) the IR of a ${model.family} model does not use, e.g. ${unexpected.slice(0, 3).join(", ")} — the checkpoint's architecture has parts the harness does not model`,
    );
  for (const [name, tensor] of experts.stacked()) weights.set(name, tensor);
  const missing = [...expected.keys()].filter((name) => !weights.has(name));
  if (missing.length > 0)
    throw new CheckpointError(`${dir}: ${missing.length} tensor(s) missing, e.g. ${missing.slice(0, 3).join(", ")}`);
  // Keep the IR's tensor order (denseTensorShapes), whatever order the shards had.
  const ordered: WeightMap = new Map([...expected.keys()].map((name) => [name, weights.get(name)!]));
  cached = {
    key,
    weights: ordered,
    provenance: { path: dir, files: files.length, fileBytes, dtypes: [...dtypes].sort() },
  };
  return cached;
}

/** What mapping the checkpoint's config.json decided beyond plain fields (e.g. a context capped at the sliding window). */
export function checkpointNotes(model: ModelConfig): string[] {
  if (!model.checkpoint) return [];
  try {
    return checkpointModelFields(model.checkpoint).notes;
  } catch {
    return []; // validation already reported it
  }
}

/** The checkpoint's tokenizer.json, when it has one. */
export function checkpointTokenizerPath(model: ModelConfig): string | undefined {
  if (!model.checkpoint) return undefined;
  const path = join(model.checkpoint, TOKENIZER_FILE);
  return existsSync(path) ? path : undefined;
}

/**
 * Mixtral checkpoints as save_pretrained writes them (transformers 4 and 5 alike): per-expert
 * `block_sparse_moe.experts.{e}.w1|w3|w2.weight` and `block_sparse_moe.gate.weight`, stacked here into the IR's
 * transformers-5 layout — `mlp.experts.gate_up_proj` [E, 2I, H] (rows: w1 = gate, then w3 = up),
 * `mlp.experts.down_proj` [E, H, I] (w2), `mlp.gate.weight` [E, H]. Checkpoints already in the fused layout
 * load by name.
 */
class MixtralExperts {
  private readonly parts = new Map<string, Float32Array>();

  constructor(private readonly model: ModelConfig) {}

  /** Takes a per-expert or legacy-router tensor; false when the name is not one. */
  take(name: string, raw: RawTensor, file: string): boolean {
    const moe = this.model.moe;
    if (!moe) return false;
    const router = /^model\.layers\.(\d+)\.block_sparse_moe\.gate\.weight$/.exec(name);
    const expert = /^model\.layers\.(\d+)\.block_sparse_moe\.experts\.(\d+)\.(w1|w2|w3)\.weight$/.exec(name);
    if (!router && !expert) return false;
    const { hidden } = this.model;
    const expertFfn = moe.expertFfn ?? this.model.ffn;
    const wanted = router ? [moe.experts, hidden] : expert![3] === "w2" ? [hidden, expertFfn] : [expertFfn, hidden];
    if (raw.shape.join(",") !== wanted.join(","))
      throw new CheckpointError(
        `${file}: ${name} has shape [${raw.shape.join(", ")}], model ${this.model.name} expects [${wanted.join(", ")}]`,
      );
    if (expert && Number(expert[2]) >= moe.experts)
      throw new CheckpointError(`${file}: ${name} is expert ${expert[2]}, the config has ${moe.experts}`);
    this.parts.set(name, decodeToFloat32(raw));
    return true;
  }

  /** The stacked tensors under the IR's names (only for layers whose parts were seen). */
  *stacked(): Generator<[string, { shape: number[]; data: Float32Array }]> {
    const moe = this.model.moe;
    if (!moe || this.parts.size === 0) return;
    const { hidden } = this.model;
    const ffn = moe.expertFfn ?? this.model.ffn;
    for (let layer = 0; layer < this.model.layers; layer++) {
      const legacy = `model.layers.${layer}.block_sparse_moe`;
      const router = this.parts.get(`${legacy}.gate.weight`);
      if (router) yield [`model.layers.${layer}.mlp.gate.weight`, { shape: [moe.experts, hidden], data: router }];
      if (!this.parts.has(`${legacy}.experts.0.w1.weight`)) continue;
      const gateUp = new Float32Array(moe.experts * 2 * ffn * hidden);
      const down = new Float32Array(moe.experts * hidden * ffn);
      for (let e = 0; e < moe.experts; e++) {
        const part = (w: string) => {
          const data = this.parts.get(`${legacy}.experts.${e}.${w}.weight`);
          if (!data)
            throw new CheckpointError(`${this.model.checkpoint}: ${legacy}.experts.${e}.${w}.weight is missing`);
          return data;
        };
        gateUp.set(part("w1"), e * 2 * ffn * hidden);
        gateUp.set(part("w3"), (e * 2 + 1) * ffn * hidden);
        down.set(part("w2"), e * hidden * ffn);
      }
      yield [`model.layers.${layer}.mlp.experts.gate_up_proj`, { shape: [moe.experts, 2 * ffn, hidden], data: gateUp }];
      yield [`model.layers.${layer}.mlp.experts.down_proj`, { shape: [moe.experts, hidden, ffn], data: down }];
    }
  }
}
