// Builds what one ort case-repeat runs: the ONNX graph of the case and pre-allocated, seeded input tensors.
//
// Models whose initialisers exceed EXTERNAL_DATA_THRESHOLD_BYTES (~1.8 GiB; a protobuf is limited to 2 GiB) are
// built with ONNX external data into a cache directory (the runner's, shared by the repeats of a run and removed
// when it closes): `<cacheDir>/<hash of what shapes the graph>/model.onnx` + `model.onnx.data` (offsets aligned
// to 4096 bytes, so ORT maps them), and ORT loads them from that path. The first repeat builds (the weights are
// written out as they are emitted: the builder holds no copy), later repeats and cases only load.
import * as ort from "onnxruntime-node";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Case } from "../../src/suite/case.js";
import { createRng } from "../../src/measure/stats.js";
import { buildCaseOnnx, type CaseOnnx, type InputSpec } from "./onnx/case-onnx.js";
import { GraphBuilder, EXTERNAL_DATA_THRESHOLD_BYTES } from "./onnx/onnx-graph.js";
import { caseTechniqueAccounting } from "../../src/model/case-accounting.js";

export interface PrepareOptions {
  /** Where models with external data are cached; absent: every model is built in memory (over 2 GiB is an error). */
  cacheDir?: string;
  /** Initialiser bytes above which a model goes to external data (tests force a low one). */
  externalDataThresholdBytes?: number;
}

export interface PreparedOrtCase {
  /** The serialised model; for a model with external data, only its graph (the weights are in the data file). */
  modelBytes: Uint8Array;
  /** Set when the model lives in files (external data): load it from this path, not from the bytes. */
  modelPath?: string;
  /** Whether this call built the model (false: found in the cache, or built in memory). */
  builtExternalData?: boolean;
  feeds: Record<string, ort.Tensor>;
  tokensPerIteration: number;
  settings: Record<string, unknown>;
  details?: Record<string, unknown>;
  /** Outputs the timed runs fetch (MoE: logits only; the routing outputs are read once after timing). */
  fetches?: string[];
}

export async function prepareOrtCase(c: Case, repeat: number, options: PrepareOptions = {}): Promise<PreparedOrtCase> {
  const cached = options.cacheDir
    ? buildOrLoadCached(c, options.cacheDir, options.externalDataThresholdBytes ?? EXTERNAL_DATA_THRESHOLD_BYTES)
    : undefined;
  const built = cached?.built ?? buildCaseOnnx(c);
  // Inputs are seeded by the case and protocol seed, not the repeat: every repeat times the same work.
  const rng = createRng(c.protocol.seed);
  const feeds: Record<string, ort.Tensor> = {};
  for (const spec of built.inputs) feeds[spec.name] = makeTensor(spec, rng, c.model.vocab);
  const tokensPerIteration = c.scenario === "decode" ? c.workload.batch : c.workload.batch * c.workload.promptTokens;
  // Routing outputs (chosen experts; DynMoLE's kept-expert masks) stay off the timed fetches.
  const routing = (name: string) => name.startsWith("router_indices.") || name.startsWith("router_mask.");
  const fetches = built.outputs.some(routing) ? built.outputs.filter((name) => !routing(name)) : undefined;
  const settings = cached?.modelPath
    ? { ...built.settings, externalData: "initialisers in an external data file, loaded by ORT from its path" }
    : built.settings;
  return {
    modelBytes: built.bytes,
    modelPath: cached?.modelPath,
    builtExternalData: cached?.builtNow,
    feeds,
    tokensPerIteration,
    settings: settings ?? {},
    details: { ...built.details, repeat },
    fetches,
  };
}

/** A full disk while writing the weights says where and how much, and how to point the cache elsewhere. */
function withDiskSpaceHint<T>(folder: string, expectedBytes: number, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
    const size = expectedBytes > 0 ? `about ${(expectedBytes / 1e9).toFixed(1)} GB` : "its weights";
    throw new Error(
      `no space left to write the model's external data in ${folder} (it needs ${size}): set TMPDIR to a disk with room`,
    );
  }
}

function expectedWeightBytes(c: Case): number {
  try {
    return caseTechniqueAccounting(c).weightBytes;
  } catch {
    return 0; // no estimate: the builder decides from what it has emitted
  }
}

/** What a cached model records beside its files (everything of CaseOnnx but the bytes). */
type CachedMeta = Omit<CaseOnnx, "bytes">;

/** The graph depends on these fields of a case only (not on the protocol, the runner settings or the repeat). */
export function modelCacheKey(c: Case): string {
  const shaping = { model: c.model, technique: c.technique, scenario: c.scenario, workload: c.workload };
  return createHash("sha256").update(JSON.stringify(shaping)).digest("hex").slice(0, 24);
}

function buildOrLoadCached(
  c: Case,
  cacheDir: string,
  thresholdBytes: number,
): { built: CaseOnnx; modelPath?: string; builtNow: boolean } {
  const dir = join(cacheDir, modelCacheKey(c));
  const modelPath = join(dir, "model.onnx");
  const metaPath = join(dir, "meta.json");
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, "utf8")) as CachedMeta;
    return { built: { ...meta, bytes: readFileSync(modelPath) }, modelPath, builtNow: false };
  }
  // Built in a private folder beside the cache and renamed into place, so a concurrent repeat never sees half a
  // model; the cache folder itself exists only once a model is cached in it.
  const building = mkdtempSync(`${cacheDir}.building-`);
  try {
    const dataPath = join(building, "model.onnx.data");
    // A model the accounting already puts over the threshold spills from its first large initialiser on, so the
    // builder never holds pending weights (1.8 GiB less at the peak); otherwise it spills only if it must.
    const spillFromBytes = expectedWeightBytes(c) > thresholdBytes ? 0 : thresholdBytes;
    const built = withDiskSpaceHint(building, expectedWeightBytes(c), () =>
      GraphBuilder.withExternalData({ dataPath, thresholdBytes: spillFromBytes }, () => buildCaseOnnx(c)),
    );
    if (!existsSync(dataPath)) return { built, builtNow: false }; // small enough for one protobuf: nothing to cache
    writeFileSync(join(building, "model.onnx"), built.bytes);
    const { bytes: _bytes, ...meta } = built;
    writeFileSync(join(building, "meta.json"), JSON.stringify(meta satisfies CachedMeta));
    mkdirSync(cacheDir, { recursive: true });
    try {
      renameSync(building, dir);
    } catch {
      if (!existsSync(metaPath)) throw new Error(`could not move the built model into the cache at ${dir}`);
    }
    return { built, modelPath, builtNow: true };
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

function makeTensor(spec: InputSpec, rng: () => number, vocab: number): ort.Tensor {
  const size = spec.dims.reduce((a, b) => a * b, 1);
  if (spec.type === "int64") {
    const data = new BigInt64Array(size);
    if (spec.fill === "tokens") for (let i = 0; i < size; i++) data[i] = BigInt(Math.floor(rng() * vocab));
    else if (spec.fill === "value") data.fill(BigInt(spec.value ?? 0));
    else if (spec.fill === "range")
      for (let i = 0; i < size; i++) data[i] = BigInt((spec.value ?? 0) + (i % spec.dims[spec.dims.length - 1]!));
    return new ort.Tensor("int64", data, spec.dims);
  }
  const data = new Float32Array(size);
  if (spec.fill === "normal") for (let i = 0; i < size; i++) data[i] = gaussian(rng);
  else if (spec.fill === "value") data.fill(spec.value ?? 0);
  return new ort.Tensor("float32", data, spec.dims);
}

function gaussian(rng: () => number): number {
  const u = Math.max(rng(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}
