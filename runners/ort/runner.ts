// The ort runner: onnxruntime-node in a child process per case-repeat (a fresh process per repeat, so that each
// repeat starts from a cold allocator and the repeats are independent samples).
import { runChildRepeat } from "../shared/child-repeat.js";
import { readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromRoot } from "../../src/paths.js";
import type { Case } from "../../src/suite/case.js";
import type { ProbeResult, RepeatContext, RepeatOutcome, Runner } from "../../src/runner/contract.js";
import type { OrtSettings } from "./settings.js";
import { ORT_CACHE_DIR_VARIABLE } from "./cache-dir.js";
import { ortStaticReason } from "./support.js";

const childPath = fromRoot("runners/ort/child.ts");

/** Caches of runs whose process is gone (killed with -9: no exit handler ran), which may hold gigabytes. */
function removeOrphanedCaches(): void {
  for (const name of readdirSync(tmpdir())) {
    const match = /^effbench-ort-cache-(\d+)-[0-9a-f]{8}(\.building-.*)?$/.exec(name);
    if (!match || processAlive(Number(match[1]))) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // alive, someone else's
  }
}

export class OrtRunner implements Runner {
  readonly name = "ort" as const;
  /** Models with external data, built once and shared by the repeats (runners/ort/prepare.ts); removed by close(). */
  private cacheDir?: string;
  private readonly removeCache = () => {
    if (this.cacheDir) rmSync(this.cacheDir, { recursive: true, force: true });
    this.cacheDir = undefined;
  };

  /** A path, created only when a child caches a model in it (small models never do). */
  private modelCacheDir(): string {
    if (!this.cacheDir) {
      removeOrphanedCaches();
      this.cacheDir = join(tmpdir(), `effbench-ort-cache-${process.pid}-${randomUUID().slice(0, 8)}`);
      process.once("exit", this.removeCache); // also when the run ends without close()
    }
    return this.cacheDir;
  }

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
      { childPath, runner: this.name, env: { [ORT_CACHE_DIR_VARIABLE]: this.modelCacheDir() } },
      c,
      ctx,
    );
  }

  async close(): Promise<void> {
    this.removeCache();
    process.removeListener("exit", this.removeCache);
  }
}
