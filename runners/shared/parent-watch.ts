// Children die with their parent, however it dies (kill -9 included): a worker thread polls getppid() and kills
// this process when the parent is gone. A thread, because the main thread may be stuck in native code.
import { Worker } from "node:worker_threads";

const POLL_MS = 200;

/** Set by the parent to its own pid. A child that read `process.ppid` itself after its (slow, ESM) start would read
 * init's pid when the parent died while it was loading, and would then never notice (found by test/faults). */
export const PARENT_PID_VARIABLE = "EFFBENCH_PARENT_PID";

export function dieWithParent(parent = Number(process.env[PARENT_PID_VARIABLE]) || process.ppid): void {
  if (process.ppid !== parent) process.kill(process.pid, "SIGKILL");
  const worker = new Worker(
    `const parent = ${parent};
     setInterval(() => { if (process.ppid !== parent) process.kill(${process.pid}, "SIGKILL"); }, ${POLL_MS});`,
    { eval: true },
  );
  worker.unref();
}
