// One repeat of a case in a fresh Node child process (the ort and llamacpp runners): the case goes in a JSON file,
// the child reports the measure window and its outcome over IPC; the parent enforces the timeout, Ctrl-C, the RSS
// cap (--case-memory) and turns a crash into a `failed` outcome with the tail of the child's stderr.
import { execaNode } from "execa";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Case } from "../../src/suite/case.js";
import type { RepeatContext, RepeatOutcome } from "../../src/runner/contract.js";
import { watchRss } from "./proc.js";
import { PARENT_PID_VARIABLE } from "./parent-watch.js";

/** What a child sends its parent. */
export type ChildMessage =
  | { type: "ready" }
  | { type: "window"; phase: "measure-start" | "measure-end" }
  | { type: "result"; outcome: RepeatOutcome };

const STDERR_TAIL_CHARS = 2000;

export interface ChildRepeatOptions {
  /** The child's entry (a .ts file run through tsx): argv is [case.json, repeat index]. */
  childPath: string;
  /** The runner's name, for failure messages ("the ort child process exited…"). */
  runner: string;
  /** Extra environment for the child. */
  env?: Record<string, string>;
}

export async function runChildRepeat(options: ChildRepeatOptions, c: Case, ctx: RepeatContext): Promise<RepeatOutcome> {
  const dir = mkdtempSync(join(tmpdir(), `effbench-${options.runner}-`));
  const caseFile = join(dir, "case.json");
  writeFileSync(caseFile, JSON.stringify(c));
  let outcome: RepeatOutcome | undefined;
  let stderr = "";
  const child = execaNode(options.childPath, [caseFile, String(ctx.repeat)], {
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
    env: { ...process.env, [PARENT_PID_VARIABLE]: String(process.pid), ...options.env },
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
      reason: `the ${options.runner} child process ${how} before reporting${stderr ? `: ${stderr.trim()}` : ""}`,
    };
  } finally {
    stopWatchdog();
    rmSync(dir, { recursive: true, force: true });
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
    return "tsx"; // not resolvable from here (a bundle without tsx): the bare name
  }
}
