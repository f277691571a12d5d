// The ort runner: onnxruntime-node in a child process per case-repeat (a fresh process per repeat, so that each
// repeat starts from a cold allocator and the repeats are independent samples).
import { execaNode } from "execa";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
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
import type { ChildMessage } from "./child.js";
import { watchRss } from "../shared/proc.js";
import { PARENT_PID_VARIABLE } from "../shared/parent-watch.js";

const childPath = fromRoot("runners/ort/child.ts");
const STDERR_TAIL_CHARS = 2000;

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
    const dir = mkdtempSync(join(tmpdir(), "effbench-ort-"));
    const caseFile = join(dir, "case.json");
    writeFileSync(caseFile, JSON.stringify(c));
    let outcome: RepeatOutcome | undefined;
    let stderr = "";
    const child = execaNode(childPath, [caseFile, String(ctx.repeat)], {
      nodeOptions: ["--import", tsxLoader(), "--expose-gc"], // gc: a child that built a large model frees it before loading
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
        [PARENT_PID_VARIABLE]: String(process.pid),
        [ORT_CACHE_DIR_VARIABLE]: this.modelCacheDir(),
      },
      // Its own process group: a terminal Ctrl-C reaches only bench, which then stops after this case.
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
        reason: `the ort child process ${how} before reporting${stderr ? `: ${stderr.trim()}` : ""}`,
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

/**
 * tsx's loader as an absolute URL: a bare `--import tsx` resolves from the child's working directory, which is the
 * user's (a suite run from a folder without node_modules would fail every case).
 */
export function tsxLoader(): string {
  try {
    return import.meta.resolve("tsx");
  } catch {
    return "tsx"; // not resolvable from here (a bundle without tsx): the bare name, as before
  }
}
