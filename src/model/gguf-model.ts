// Local GGUF files as models (`models: [{ gguf: "./model.gguf" }]`, docs/llamacpp.md): at suite validation the
// file's header alone is read (src/model/gguf-file.ts) and mapped onto ModelConfig, with what the file holds (its
// identity, tensor types, parameters and bytes as stored) kept in `model.gguf` for the planner, the accounting and
// the runners. The tensor data is never read by the harness: a runner that loads GGUF files runs it as it is.
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { ModelConfig } from "../suite/schema.js";
import { GGML_TYPE_TABLE, GgufError, LLAMA_FILE_TYPE_NAMES, ggmlTensorBytes, readGgufHeader } from "./gguf-file.js";
import type { GgufHeader, GgufMetaValue } from "./gguf-file.js";
import { CHECKPOINT_FIELDS, fillArchitectureFields, type CheckpointModelFields } from "./checkpoint.js";

/** What the suite's `gguf` path becomes after validation (`model.gguf`). */
export interface GgufModelFile {
  /** Absolute path of the file. */
  path: string;
  /** `<file name>#<16 hex of sha256(header bytes, file size)>`: the case key's name for the file. */
  identity: string;
  fileBytes: number;
  /** `general.architecture`. */
  architecture: string;
  /** `general.file_type` by llama-quantize's name (Q4_K_M…), null when the file does not say. */
  fileType: string | null;
  /** Tensors per ggml type, e.g. { Q4_K: 190, Q6_K: 33, F32: 65 }. */
  tensorTypes: Record<string, number>;
  /** Values stored in all tensors (every tensor, norms included). */
  params: number;
  /** Parameters one token uses: a MoE's routed experts a token skips left out. */
  activeParams: number;
  /** Bytes of all tensor data as stored (block scales included, alignment padding not). */
  tensorBytes: number;
}

/** GGUF architectures (`general.architecture`) whose layout the IR describes, and the model family each maps to. */
const ARCHITECTURES: Record<string, "llama" | "qwen2" | "qwen3"> = { llama: "llama", qwen2: "qwen2", qwen3: "qwen3" };

/** The ModelConfig fields a GGUF's header decides (the rest keep their defaults): a checkpoint's but rope scaling. */
type GgufFields = Omit<CheckpointModelFields, "ropeScaling" | "moe">;

/** A GGUF header decides the checkpoint fields but rope scaling (not mapped from the file). */
const FIELDS = CHECKPOINT_FIELDS.filter((f): f is keyof GgufFields => f !== "ropeScaling");

function numberOf(metadata: Map<string, GgufMetaValue>, key: string, fallback?: number): number {
  const value = metadata.get(key);
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (value === undefined && fallback !== undefined) return fallback;
  if (value === undefined) throw new GgufError(`the header has no ${key}`);
  throw new GgufError(`${key} should be a number, got ${typeof value === "object" ? "an array" : String(value)}`);
}

/** "Q4_K_M-like mix: Q4_K 190, Q6_K 33, F32 65" — what the file holds, for results and `bench inspect`. */
export function ggufTypeSummary(file: Pick<GgufModelFile, "fileType" | "tensorTypes">): string {
  const counts = Object.entries(file.tensorTypes)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([type, n]) => `${type} ${n}`)
    .join(", ");
  return `${file.fileType ? `${file.fileType}-like mix` : "tensor types"}: ${counts}`;
}

/** Maps a GGUF header onto the ModelConfig fields (and the MoE block); throws a GgufError naming what is not supported. */
export function modelFieldsFromGguf(header: GgufHeader): { fields: GgufFields; moe?: ModelConfig["moe"] } {
  const arch = header.metadata.get("general.architecture");
  if (typeof arch !== "string") throw new GgufError(`the header has no general.architecture`);
  if (header.metadata.get("general.type") === "adapter")
    throw new GgufError(`this is a LoRA adapter GGUF (general.type = adapter), not a model`);
  const family = ARCHITECTURES[arch];
  if (!family)
    throw new GgufError(
      `architecture "${arch}" is not supported: local GGUFs of ${Object.keys(ARCHITECTURES).join(", ")} (Mistral and Mixtral files are "llama") are read — other architectures' layouts are not described by the harness's model fields`,
    );
  const m = header.metadata;
  const key = (name: string) => `${arch}.${name}`;
  const tensors = new Map(header.tensors.map((t) => [t.name, t]));
  const embedding = tensors.get("token_embd.weight");
  if (!embedding) throw new GgufError(`no token_embd.weight tensor — the file holds no model weights`);
  const hidden = numberOf(m, key("embedding_length"));
  const heads = numberOf(m, key("attention.head_count"));
  const tokens = m.get("tokenizer.ggml.tokens");
  // Token ids must be below both the tokenizer's size (llama.cpp refuses larger ids) and the embedding's rows.
  const rows = embedding.ne[1] ?? 0;
  const vocab = typeof tokens === "object" && tokens.length > 0 ? Math.min(tokens.length, rows) : rows;
  if (!(vocab > 0)) throw new GgufError(`token_embd.weight has shape [${embedding.ne.join(", ")}]: no vocabulary`);
  const experts = numberOf(m, key("expert_count"), 0);
  const fields: GgufFields = {
    family,
    layers: numberOf(m, key("block_count")),
    hidden,
    heads,
    kvHeads: numberOf(m, key("attention.head_count_kv"), heads),
    headDim: numberOf(m, key("attention.key_length"), hidden / heads),
    ffn: numberOf(m, key("feed_forward_length")),
    vocab,
    maxPositions: numberOf(m, key("context_length")),
    ropeTheta: numberOf(m, key("rope.freq_base"), 10000),
    rmsNormEps: numberOf(m, key("attention.layer_norm_rms_epsilon"), 1e-5),
    tieEmbeddings: !tensors.has("output.weight"),
    attentionBias: tensors.has("blk.0.attn_q.bias"),
    qkNorm: family === "qwen3" ? true : undefined,
  };
  if (experts > 0) {
    if (family !== "llama")
      throw new GgufError(
        `a ${arch} file with ${experts} experts: only llama-architecture (Mixtral-style) MoE is read`,
      );
    return {
      fields,
      moe: {
        experts,
        topK: numberOf(m, key("expert_used_count")),
        expertFfn: numberOf(m, key("expert_feed_forward_length"), fields.ffn),
        sharedExperts: 0,
        firstDenseLayers: 0,
        normTopK: true,
      },
    };
  }
  return { fields };
}

/** What the file holds by its tensor infos: counts per type, parameters (all and per token) and bytes as stored. */
export function ggufContents(header: GgufHeader, moe?: ModelConfig["moe"]): Omit<GgufModelFile, "path" | "identity"> {
  const tensorTypes: Record<string, number> = {};
  let params = 0;
  let expertParams = 0;
  let tensorBytes = 0;
  for (const tensor of header.tensors) {
    const type = GGML_TYPE_TABLE[tensor.typeId]!.name; // ggmlTensorBytes checked the id when the header was read
    tensorTypes[type] = (tensorTypes[type] ?? 0) + 1;
    const count = tensor.ne.reduce((a, b) => a * b, 1);
    params += count;
    if (/_exps\.weight$/.test(tensor.name)) expertParams += count;
    tensorBytes += ggmlTensorBytes(tensor);
  }
  const fileType = header.metadata.get("general.file_type");
  return {
    fileBytes: header.fileBytes,
    architecture: String(header.metadata.get("general.architecture")),
    fileType: typeof fileType === "number" ? (LLAMA_FILE_TYPE_NAMES[fileType] ?? `file type ${fileType}`) : null,
    tensorTypes,
    params,
    activeParams: moe ? Math.round(params - expertParams * (1 - moe.topK / moe.experts)) : params,
    tensorBytes,
  };
}

/** `name.gguf#` + 16 hex of sha256 over the header's sha256 and the file size: cheap (the tensor data is not read), and
 * it changes when the metadata, a tensor's type, shape or offset, or the file's size does. */
export function ggufIdentity(path: string, header: GgufHeader): string {
  const hash = createHash("sha256").update(`${header.headerSha256}:${header.fileBytes}`).digest("hex");
  return `${basename(path)}#${hash.slice(0, 16)}`;
}

/** The file's size and modification time: part of a GGUF case's config hash, so `--resume` reruns a rewritten file. */
export function ggufFileVersion(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.size}:${stat.mtimeMs}`;
  } catch {
    return "";
  }
}

/** Reads a GGUF's header and returns the model fields and the file's facts; errors say what is wrong with the file. */
export function readGgufModel(path: string): {
  fields: GgufFields;
  moe?: ModelConfig["moe"];
  file: GgufModelFile;
} {
  if (!existsSync(path))
    throw new GgufError(
      `${path} does not exist — give the path of a local .gguf model file (relative to the suite file)`,
    );
  if (statSync(path).isDirectory())
    throw new GgufError(
      `${path} is a directory — give the .gguf file itself (a Hugging Face model directory is a checkpoint: use checkpoint instead)`,
    );
  let header: GgufHeader;
  try {
    header = readGgufHeader(path);
  } catch (error) {
    if (error instanceof GgufError) throw new GgufError(`${path}: ${error.message}`);
    throw new GgufError(`${path} could not be read: ${(error as Error).message}`);
  }
  try {
    const { fields, moe } = modelFieldsFromGguf(header);
    return { fields, moe, file: { path, identity: ggufIdentity(path, header), ...ggufContents(header, moe) } };
  } catch (error) {
    if (error instanceof GgufError) throw new GgufError(`${path}: ${error.message}`);
    throw error;
  }
}

/**
 * Fills the models of a raw suite that give `gguf` (a path, relative to `baseDir`, the suite's folder) from the
 * file's header, before validation: the architecture comes from the file, a field the suite also gives must agree
 * (maxPositions may only be lowered), `name` defaults to the file's name without `.gguf`. Returns the new raw suite and
 * the problems found, as `models[i].gguf: message` lines.
 */
export function expandGgufModels(raw: unknown, baseDir: string): { raw: unknown; issues: string[] } {
  if (!raw || typeof raw !== "object" || !Array.isArray((raw as { models?: unknown }).models))
    return { raw, issues: [] };
  const issues: string[] = [];
  const models = (raw as { models: unknown[] }).models.map((entry, index) => {
    if (!entry || typeof entry !== "object" || !("gguf" in entry)) return entry;
    const model = { ...(entry as Record<string, unknown>) };
    const at = `models[${index}]`;
    // A resolved suite validated again carries the object this function made: read its file again.
    const given = model.gguf as unknown;
    const path =
      typeof given === "string"
        ? given
        : given && typeof given === "object" && typeof (given as { path?: unknown }).path === "string"
          ? (given as { path: string }).path
          : undefined;
    if (!path) {
      issues.push(`${at}.gguf: expected the path of a .gguf file (e.g. gguf: "./models/model-Q4_K_M.gguf")`);
      return model;
    }
    for (const other of ["checkpoint", "hf"] as const)
      if (model[other] !== undefined) {
        issues.push(
          `${at}.gguf: a model is either a GGUF file or ${other === "hf" ? "an hf config" : "a checkpoint"} — remove one`,
        );
        return model;
      }
    let read: ReturnType<typeof readGgufModel>;
    try {
      read = readGgufModel(resolve(baseDir, path));
    } catch (error) {
      if (!(error instanceof GgufError)) throw error;
      issues.push(`${at}.gguf: ${error.message}`);
      return model;
    }
    model.gguf = read.file;
    if (model.name === undefined) model.name = basename(read.file.path).replace(/\.gguf$/i, "");
    if (model.moe !== undefined)
      issues.push(`${at}.moe: a GGUF model's architecture comes from the file's header — remove moe`);
    else if (read.moe) model.moe = read.moe;
    if (model.weights !== undefined)
      issues.push(`${at}.weights: a GGUF model's weights are the file's — remove weights`);
    issues.push(
      ...fillArchitectureFields(model, read.fields, FIELDS, at, {
        says: "the GGUF header says",
        from: "a GGUF model's architecture comes from its header",
      }),
    );
    return model;
  });
  return { raw: { ...(raw as object), models }, issues };
}
