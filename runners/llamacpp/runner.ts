// The llamacpp runner: llama.cpp through node-llama-cpp (prebuilt binaries from npm, never built or downloaded), in
// a child process per case-repeat like the ort runner, on GGUF files the project writes from its models.
import { runChildRepeat } from "../shared/child-repeat.js";
import { RunCacheDir } from "../shared/run-cache-dir.js";
import { fromRoot } from "../../src/paths.js";
import type { Case } from "../../src/suite/case.js";
import type { ProbeResult, RepeatContext, RepeatOutcome, Runner } from "../../src/runner/contract.js";
import { llamacppSettingsOf } from "./settings.js";
import { llamacppUnsupportedReason } from "./support.js";
import { nodeLlamaCppVersion } from "./version.js";

const childPath = fromRoot("runners/llamacpp/child.ts");
const CACHE_DIR_VARIABLE = "EFFBENCH_LLAMACPP_CACHE_DIR"; // read by child.ts

export class LlamacppRunner implements Runner {
  readonly name = "llamacpp" as const;
  /** The GGUF files of a run, written once and shared by the repeats' children; removed by close(). */
  private readonly cache = new RunCacheDir("effbench-llamacpp-cache");

  async probe(): Promise<ProbeResult> {
    try {
      const version = nodeLlamaCppVersion();
      const { getLlamaGpuTypes } = await import("node-llama-cpp");
      const gpuTypes = await getLlamaGpuTypes("supported");
      return { available: true, info: { nodeLlamaCpp: version, backends: ["cpu", ...gpuTypes.filter(Boolean)] } };
    } catch (error) {
      return { available: false, reason: `node-llama-cpp does not load: ${(error as Error).message}`, info: {} };
    }
  }

  unsupportedReason(c: Case, probe: ProbeResult): string | undefined {
    if (!probe.available) return probe.reason;
    const gpu = llamacppSettingsOf(c).gpu;
    const backends = (probe.info.backends as string[] | undefined) ?? ["cpu"];
    if (!backends.includes(gpu))
      return `llama.cpp's ${gpu} backend is not available here: node-llama-cpp's prebuilt ${gpu} binaries need the platform and the ${gpu === "cuda" ? "CUDA" : "Vulkan"} runtime (available: ${backends.join(", ")})`;
    return llamacppUnsupportedReason(c);
  }

  async runRepeat(c: Case, ctx: RepeatContext): Promise<RepeatOutcome> {
    return runChildRepeat(
      {
        childPath,
        runner: this.name,
        env: {
          NODE_LLAMA_CPP_SKIP_DOWNLOAD: "true", // node-llama-cpp never fetches or builds binaries from a run
          [CACHE_DIR_VARIABLE]: this.cache.path(),
        },
      },
      c,
      ctx,
    );
  }

  async close(): Promise<void> {
    this.cache.close();
  }
}
