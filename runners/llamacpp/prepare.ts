// The GGUF files one llamacpp case runs: the model file (the base, a merged adapter's weights, or a quant type) and,
// for unmerged LoRA / RSLoRA, the adapter file (plus its negation, the second adapter of adapter-swap). Built once
// into the runner's cache folder (shared by the repeats of a run, removed when it closes), in a private folder
// renamed into place so that a concurrent reader never sees half a file. A local GGUF model is used where it is.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Case } from "../../src/suite/case.js";
import { buildModelIr, type ModelIr } from "../../src/model/ir.js";
import { caseBaseWeights, caseIr } from "../../src/model/case-model.js";
import type { GgufFileType } from "./gguf/file-types.js";
import { loraGguf, modelGguf, writePlannedGguf } from "./gguf/model-gguf.js";
import { llamacppSettingsOf } from "./settings.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { ggufTypeSummary } from "../../src/model/gguf-model.js";
import type { AdapterParams, AdapterVariant } from "../../src/techniques/adapters.js";
import { seededLoraGguf } from "./gguf/seeded-adapter.js";

export interface GgufFile {
  path: string;
  bytes: number;
  /** How many tensors got each ggml type. */
  tensorTypes: Record<string, number>;
  notes: string[];
  /** Whether this call wrote it (false: found in the cache). */
  built: boolean;
}

export interface CaseFiles {
  /** The written file's type, or "local" for a local GGUF run as it is. */
  fileType: GgufFileType | "local";
  model: GgufFile;
  adapter?: GgufFile & { alpha: number; rank: number };
  /** The adapter with its alpha negated: a second adapter of the same shape for adapter-swap. */
  negatedAdapter?: GgufFile;
}

/** The file type of the case's model: the quant technique's, else the runner's `weights` setting. */
export function caseFileType(c: Case): GgufFileType {
  const technique = c.technique as { kind: string; type?: GgufFileType };
  return technique.kind === "quant" && technique.type ? technique.type : llamacppSettingsOf(c).weights;
}

function key(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 24);
}

function countTypes(types: Record<string, string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of Object.values(types)) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** A cached file built by `write(path)` (which returns what meta.json records). */
function cached(cacheDir: string, id: string, write: (path: string) => Omit<GgufFile, "path" | "built">): GgufFile {
  const dir = join(cacheDir, id);
  const path = join(dir, "file.gguf");
  const metaPath = join(dir, "meta.json");
  if (existsSync(metaPath)) return { ...JSON.parse(readFileSync(metaPath, "utf8")), path, built: false };
  mkdirSync(cacheDir, { recursive: true });
  const building = mkdtempSync(join(cacheDir, `${id}.building-`));
  try {
    const meta = write(join(building, "file.gguf"));
    writeFileSync(join(building, "meta.json"), JSON.stringify(meta));
    try {
      renameSync(building, dir);
    } catch {
      if (!existsSync(metaPath)) throw new Error(`could not move the built GGUF file into the cache at ${dir}`);
    }
    return { ...meta, path, built: true };
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

function writeModel(ir: () => ModelIr, fileType: GgufFileType) {
  return (path: string) => {
    const written = writePlannedGguf(path, modelGguf(ir(), fileType));
    return { bytes: written.bytes, tensorTypes: countTypes(written.tensorTypes), notes: written.notes };
  };
}

/** The model's unmodified weights as a GGUF of `fileType` (the fidelity base is its f32 file). */
export function baseModelFile(c: Case, cacheDir: string, fileType: GgufFileType): GgufFile {
  const id = key({ model: c.model, routingSkew: c.workload.routingSkew, fileType, what: "base" });
  return cached(
    cacheDir,
    `model-${id}`,
    writeModel(() => buildModelIr(c.model, caseBaseWeights(c)), fileType),
  );
}

/** A local GGUF model: the file itself, and for an unmerged adapter a seeded adapter file written from its shapes. */
function localCaseFiles(c: Case, cacheDir: string): CaseFiles {
  const file = c.model.gguf!;
  const model: GgufFile = {
    path: file.path,
    bytes: file.fileBytes,
    tensorTypes: file.tensorTypes,
    notes: [`local file ${file.identity}, run as it is: ${ggufTypeSummary(file)}`],
    built: false,
  };
  if (getTechnique(c.technique.kind).family !== "adapter") return { fileType: "local", model };
  const variant = c.technique.kind as AdapterVariant;
  const params = c.technique as unknown as AdapterParams;
  const adapterId = key({ gguf: file.identity, model: c.model.name, technique: c.technique, what: "seeded-adapter" });
  const writeAdapter = (negate: boolean) => (path: string) => {
    const plan = seededLoraGguf(c.model, variant, params, file.architecture);
    if (negate)
      plan.metadata = plan.metadata.map(([k, v]) =>
        k === "adapter.lora.alpha" && v.type === "f32" ? [k, { type: "f32", value: -v.value }] : [k, v],
      );
    const written = writePlannedGguf(path, plan);
    const alpha = (plan.metadata.find(([k]) => k === "adapter.lora.alpha")![1] as { value: number }).value;
    return {
      bytes: written.bytes,
      tensorTypes: countTypes(written.tensorTypes),
      notes: [`seeded from the local file's shapes: alpha ${alpha}, rank ${params.rank}`],
      alpha,
      rank: params.rank,
    };
  };
  const adapter = cached(cacheDir, `adapter-${adapterId}`, writeAdapter(false)) as GgufFile & {
    alpha: number;
    rank: number;
  };
  const negatedAdapter =
    c.scenario === "adapter-swap" ? cached(cacheDir, `adapter-neg-${adapterId}`, writeAdapter(true)) : undefined;
  return { fileType: "local", model, adapter, negatedAdapter };
}

export function prepareCaseFiles(c: Case, cacheDir: string): CaseFiles {
  if (c.model.gguf) return localCaseFiles(c, cacheDir);
  const fileType = caseFileType(c);
  const technique = c.technique as { kind: string; merged?: boolean };
  const adapted = getTechnique(technique.kind).family === "adapter"; // lora, rslora (DoRA is refused before)
  if (!adapted) return { fileType, model: baseModelFile(c, cacheDir, fileType) };
  if (technique.merged) {
    const id = key({ model: c.model, technique: c.technique, fileType, what: "merged" });
    return {
      fileType,
      model: cached(
        cacheDir,
        `model-${id}`,
        writeModel(() => caseIr(c), fileType),
      ),
    };
  }
  const model = baseModelFile(c, cacheDir, fileType);
  const adapterId = key({ model: c.model, technique: c.technique, what: "adapter" });
  let alpha = 0;
  let rank = 0;
  const writeAdapter = (negate: boolean) => (path: string) => {
    const plan = loraGguf(caseIr(c));
    if (!plan) throw new Error("the technique adapted no linear the GGUF adapter can hold");
    if (negate)
      plan.metadata = plan.metadata.map(([k, v]) =>
        k === "adapter.lora.alpha" && v.type === "f32" ? [k, { type: "f32", value: -v.value }] : [k, v],
      );
    const written = writePlannedGguf(path, plan);
    const alphaValue = plan.metadata.find(([k]) => k === "adapter.lora.alpha")![1] as { value: number };
    const rankValue = plan.tensors.find((t) => t.name.endsWith(".lora_a"))!.ne[1]!;
    return {
      bytes: written.bytes,
      tensorTypes: countTypes(written.tensorTypes),
      notes: [`alpha ${alphaValue.value}, rank ${rankValue}`],
      alpha: alphaValue.value,
      rank: rankValue,
    };
  };
  const adapter = cached(cacheDir, `adapter-${adapterId}`, writeAdapter(false)) as GgufFile & {
    alpha: number;
    rank: number;
  };
  alpha = adapter.alpha;
  rank = adapter.rank;
  const negatedAdapter =
    c.scenario === "adapter-swap" ? cached(cacheDir, `adapter-neg-${adapterId}`, writeAdapter(true)) : undefined;
  return { fileType, model, adapter: { ...adapter, alpha, rank }, negatedAdapter };
}
