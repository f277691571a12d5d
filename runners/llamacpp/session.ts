// Loads llama.cpp through node-llama-cpp the one way this project allows: prebuilt binaries only (`build: "never"`,
// never a download or a compile), the backend chosen explicitly, and the context options of the case's settings.
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaModel } from "node-llama-cpp";
import type { LlamacppSettings } from "./settings.js";

export async function loadLlama(settings: LlamacppSettings): Promise<Llama> {
  return getLlama({
    gpu: settings.gpu === "cpu" ? false : settings.gpu,
    build: "never",
    usePrebuiltBinaries: true,
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
  });
}

export async function loadModel(llama: Llama, path: string, settings: LlamacppSettings): Promise<LlamaModel> {
  return llama.loadModel({ modelPath: path, useMmap: settings.mmap, gpuLayers: settings.gpu === "cpu" ? 0 : "max" });
}

export interface ContextOptions {
  contextSize: number;
  sequences: number;
  adapters?: { filePath: string; scale?: number }[];
}

export async function createContext(
  model: LlamaModel,
  settings: LlamacppSettings,
  options: ContextOptions,
): Promise<LlamaContext> {
  const kv = settings.kvCacheType === "f32" ? "F32" : "F16";
  return model.createContext({
    contextSize: options.contextSize,
    sequences: options.sequences,
    batchSize: settings.batchSize,
    threads: { ideal: settings.threads, min: settings.threads },
    flashAttention: settings.flashAttention,
    experimentalKvCacheKeyType: kv,
    experimentalKvCacheValueType: kv,
    ...(options.adapters ? { lora: { adapters: options.adapters } } : {}),
  });
}

/** What the result records of how llama.cpp really ran. */
export function runSettings(
  llama: Llama,
  model: LlamaModel,
  context: LlamaContext,
  settings: LlamacppSettings,
): Record<string, unknown> {
  return {
    backend: llama.gpu === false ? "cpu" : llama.gpu,
    llamaCppRelease: llama.llamaCppRelease.release,
    binary: llama.buildType,
    threads: context.idealThreads,
    batchSize: context.batchSize,
    contextSize: context.contextSize,
    sequences: context.totalSequences,
    flashAttention: context.flashAttention,
    kvCacheType: settings.kvCacheType,
    mmap: model.useMmap,
    gpuLayers: model.gpuLayers,
  };
}
