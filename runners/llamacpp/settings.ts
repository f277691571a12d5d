// The llamacpp runner's settings (the suite's top-level `llamacpp` key): the llama.cpp context and load options a
// result records. The backend is chosen explicitly (never node-llama-cpp's "auto", which falls back silently).
import { z } from "zod";

const positiveInt = z.number().int("expected a whole number").positive("expected a positive integer");

export const llamacppSettingsSchema = z
  .object({
    /** The ggml backend: the CPU, or CUDA / Vulkan where their prebuilt binaries and a device exist. */
    gpu: z.enum(["cpu", "cuda", "vulkan"]).default("cpu"),
    /** Threads of the evaluation (llama.cpp's n_threads); one by default, as the ort runner (2-core machines). */
    threads: positiveInt.default(1),
    /** llama.cpp's n_batch: tokens submitted per decode call. */
    batchSize: positiveInt.default(512),
    /** Context size per sequence; default: the workload's promptTokens + newTokens + 1. */
    contextSize: positiveInt.optional(),
    flashAttention: z.boolean().default(false),
    /** Memory-map the GGUF file (llama.cpp's default) instead of reading it into memory. */
    mmap: z.boolean().default(true),
    /** The KV cache's type (llama.cpp's default f16; f32 for exact comparisons). */
    kvCacheType: z.enum(["f16", "f32"]).default("f16"),
    /** Type of the model file for techniques that are not a `quant` type (base, LoRA merged or not). */
    weights: z.enum(["f32", "f16", "bf16"]).default("f32"),
  })
  .strict();

export type LlamacppSettings = z.output<typeof llamacppSettingsSchema>;

/** A llamacpp case's settings (the suite's `llamacpp` key, parsed by the planner). */
export function llamacppSettingsOf(c: { settings: unknown }): LlamacppSettings {
  return c.settings as LlamacppSettings;
}

declare module "../../src/runner/contract.js" {
  interface RunnerSettingsInputs {
    /** Settings of the llamacpp runner (llama.cpp through node-llama-cpp). */
    llamacpp: z.input<typeof llamacppSettingsSchema>;
  }
}
