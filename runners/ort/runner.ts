// The ort runner: onnxruntime-node in a child process per case-repeat (a fresh process per repeat, so that each
// repeat starts from a cold allocator and the repeats are independent samples).
import { runChildRepeat } from "../shared/child-repeat.js";
import { RunCacheDir } from "../shared/run-cache-dir.js";
import { createRequire } from "node:module";
import { fromRoot } from "../../src/paths.js";
import type { Case } from "../../src/suite/case.js";
import type { ProbeResult, RepeatContext, RepeatOutcome, Runner } from "../../src/runner/contract.js";
import type { OrtSettings } from "./settings.js";
import { ORT_CACHE_DIR_VARIABLE } from "./cache-dir.js";
import { ortStaticReason } from "./support.js";

const childPath = fromRoot("runners/ort/child.ts");

export class OrtRunner implements Runner {
  readonly name = "ort" as const;
  /** Models with external data, built once and shared by the repeats (runners/ort/prepare.ts); removed by close(). */
  private readonly cache = new RunCacheDir("effbench-ort-cache");

  async probe(): Promise<ProbeResult> {
    try {
      const require = createRequire(import.meta.url);
      const version = (require("onnxruntime-node/package.json") as { version: string }).version;
      const ort = await import("onnxruntime-node");
      const backends =
        (ort as unknown as { listSupportedBackends?: () => Array<{ name: string }> }).listSupportedBackends?.() ?? [];
      return { available: true, info: { onnxruntime: version, executionProviders: backends.map((b) => b.name) } };
    } catch (error) {
      return { available: false, reason: `onnxruntime-node does not load: ${(error as Error).message}`, info: {} };
    }
  }

  unsupportedReason(c: Case, probe: ProbeResult): string | undefined {
    const known = ortStaticReason(c);
    if (known) return known;
    if (!probe.available) return probe.reason;
    const providers = (probe.info.executionProviders as string[] | undefined) ?? ["cpu"];
    if ((c.settings as OrtSettings).executionProvider === "cuda" && !providers.includes("cuda"))
      return "the CUDA execution provider is not installed: onnxruntime-node ships only the CPU EP offline (install it with network access, without onnxruntime-node-install=skip)";
    return undefined;
  }

  async runRepeat(c: Case, ctx: RepeatContext): Promise<RepeatOutcome> {
    return runChildRepeat(
      { childPath, runner: this.name, env: { [ORT_CACHE_DIR_VARIABLE]: this.cache.path() } },
      c,
      ctx,
    );
  }

  async close(): Promise<void> {
    this.cache.close();
  }
}
