// The llamacpp runner: llama.cpp through node-llama-cpp (prebuilt binaries from npm, never built or downloaded), in
// a child process per case-repeat like the ort runner, on GGUF files the project writes from its models.
import { execaNode } from "execa";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromRoot } from "../../src/paths.js";
import type { Case } from "../../src/suite/case.js";
import type { ProbeResult, RepeatContext, RepeatOutcome, Runner } from "../../src/runner/contract.js";
import { watchRss } from "../shared/proc.js";
import { PARENT_PID_VARIABLE } from "../shared/parent-watch.js";
import type { ChildMessage } from "./child.js";
import { llamacppSettingsOf } from "./settings.js";
import { llamacppUnsupportedReason } from "./support.js";
import { nodeLlamaCppVersion } from "./version.js";

const childPath = fromRoot("runners/llamacpp/child.ts");
const CACHE_DIR_VARIABLE = "EFFBENCH_LLAMACPP_CACHE_DIR"; // read by child.ts
const STDERR_TAIL_CHARS = 2000;

export class LlamacppRunner implements Runner {
  readonly name = "llamacpp" as const;
  private cacheDir?: string;
  private readonly removeCache = () => {
    if (this.cacheDir) rmSync(this.cacheDir, { recursive: true, force: true });
    this.cacheDir = undefined;
  };

  private modelCacheDir(): string {
    if (!this.cacheDir) {
      this.cacheDir = join(tmpdir(), `effbench-llamacpp-cache-${process.pid}-${randomUUID().slice(0, 8)}`);
      process.once("exit", this.removeCache);
    }
    return this.cacheDir;
  }

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
    const dir = mkdtempSync(join(tmpdir(), "effbench-llamacpp-"));
    const caseFile = join(dir, "case.json");
    writeFileSync(caseFile, JSON.stringify(c));
    let outcome: RepeatOutcome | undefined;
    let stderr = "";
    const child = execaNode(childPath, [caseFile, String(ctx.repeat)], {
      nodeOptions: ["--import", tsxLoader(), "--expose-gc"],
      ipc: true,
      serialization: "json",
      reject: false,
      timeout: ctx.timeoutMs,
      cancelSignal: ctx.signal,
      forceKillAfterDelay: 2000,
      stdout: "inherit",
      stderr: "pipe",
      buffer: { stderr: true },
      env: {
        ...process.env,
        NODE_LLAMA_CPP_SKIP_DOWNLOAD: "true", // node-llama-cpp never fetches or builds binaries from a run
        [PARENT_PID_VARIABLE]: String(process.pid),
        [CACHE_DIR_VARIABLE]: this.modelCacheDir(),
      },
      detached: true,
    });
    let overCap: number | undefined;
    const stopWatchdog =
      child.pid !== undefined && ctx.memoryCapBytes
        ? watchRss(child.pid, ctx.memoryCapBytes, (rss) => {
            overCap = rss;
            child.kill("SIGKILL");
          })
        : () => {};
    if (child.pid !== undefined) ctx.onProcess?.(child.pid);
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL_CHARS);
    });
    try {
      for await (const message of child.getEachMessage() as AsyncIterable<ChildMessage>) {
        if (message.type === "window") ctx.onWindow?.(message.phase);
        else if (message.type === "result") outcome = message.outcome;
      }
      const result = await child;
      if (overCap !== undefined)
        return {
          status: "failed",
          reason: `exceeded the memory cap: RSS ${(overCap / 2 ** 20).toFixed(0)} MiB > ${(ctx.memoryCapBytes! / 2 ** 20).toFixed(0)} MiB (--case-memory)`,
        };
      if (outcome) return outcome;
      if (result.timedOut)
        return { status: "timed-out", reason: `no result within the case timeout of ${ctx.timeoutMs} ms` };
      if (result.isCanceled) return { status: "failed", reason: "interrupted" };
      const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
      return {
        status: "failed",
        reason: `the llamacpp child process ${how} before reporting${stderr ? `: ${stderr.trim()}` : ""}`,
      };
    } finally {
      stopWatchdog();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    this.removeCache();
    process.removeListener("exit", this.removeCache);
  }
}

/** tsx's loader as an absolute URL, so that a child started from any folder finds it. */
function tsxLoader(): string {
  try {
    return import.meta.resolve("tsx");
  } catch {
    return "tsx";
  }
}
