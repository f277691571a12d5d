// Children die with their parent, however it dies (kill -9 included): a worker thread polls getppid() and kills
// this process when the parent is gone. A thread, because the main thread may be stuck in native code.
import { Worker } from "node:worker_threads";

const POLL_MS = 200;

export function dieWithParent(): void {
  const parent = process.ppid;
  const worker = new Worker(
    `const parent = ${parent};
     setInterval(() => { if (process.ppid !== parent) process.kill(${process.pid}, "SIGKILL"); }, ${POLL_MS});`,
    { eval: true },
  );
  worker.unref();
}
