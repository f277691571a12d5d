// npm run bench:sampler — the profiling sampler's own cost (targets: thread ≤ 1% of a core, ratio CI upper ≤ 1.02).
//  1. The sampler thread's CPU time at 100 Hz, from /proc/self/task/<tid>/stat (and schedstat, in ns), as a share
//     of one core, while it watches a worker process like the ORT runner's (node + onnxruntime threads).
//  2. A CPU-bound case (an onnxruntime-node MatMul in a worker process, ≥ 1 ms per iteration) timed in
//     interleaved blocks with the sampler on and off: the ratio of medians with its 95% hierarchical-bootstrap CI.
// Environment: BLOCKS (per arm, default 24), ITERATIONS (per block, 125), SIZE (MatMul, 512), THREADS (ORT, 1),
// HZ (100), SECONDS (part 1, 10), NVML=1 to sample NVML devices as well (on a GPU machine).
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { matmulModelBytes } from "../src/measure/calibrate.js";
import { ProfilingSampler, threadCpuTimeMs, monotonicNowMs } from "../src/measure/sampler.js";
import { median, ratioOfMediansCI } from "../src/measure/stats.js";
import { fromRoot } from "../src/paths.js";

const BLOCKS = Number(process.env.BLOCKS ?? 24);
const ITERATIONS = Number(process.env.ITERATIONS ?? 125);
const SIZE = Number(process.env.SIZE ?? 512);
const THREADS = Number(process.env.THREADS ?? 1);
const HZ = Number(process.env.HZ ?? 100);
const SECONDS = Number(process.env.SECONDS ?? 10);
const NVML = process.env.NVML === "1";
/** Targets: the sampler must not cost the measured work more than this. */
const MAX_THREAD_SHARE = 0.01;
const MAX_RATIO_UPPER = 1.02;

const created = ProfilingSampler.create();
if (!created.ok) {
  console.error(created.reason);
  process.exit(2);
}
const sampler = created.sampler;

// The worker: an ORT session in its own process; "run N" answers with N per-iteration times in ms.
const modelPath = join(mkdtempSync(join(tmpdir(), "effbench-bench-sampler-")), "matmul.onnx");
writeFileSync(modelPath, matmulModelBytes(SIZE, SIZE, SIZE));
const WORKER = `
const ort = require("onnxruntime-node");
const readline = require("node:readline");
(async () => {
  const session = await ort.InferenceSession.create(${JSON.stringify(modelPath)}, {
    executionProviders: ["cpu"], intraOpNumThreads: ${THREADS}, interOpNumThreads: 1, executionMode: "sequential",
    extra: { session: { "intra_op.allow_spinning": "0" } },
  });
  const n = ${SIZE};
  const fill = () => Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const feeds = { A: new ort.Tensor("float32", fill(), [n, n]), B: new ort.Tensor("float32", fill(), [n, n]) };
  for (let i = 0; i < 30; i++) await session.run(feeds);
  process.stdout.write("ready\\n");
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.split(" ");
    if (cmd === "run") {
      const times = [];
      for (let i = 0; i < Number(arg); i++) { const t0 = performance.now(); await session.run(feeds); times.push(performance.now() - t0); }
      process.stdout.write(JSON.stringify(times) + "\\n");
    } else if (cmd === "spin") {
      const end = performance.now() + Number(arg);
      while (performance.now() < end) await session.run(feeds);
      process.stdout.write("[]\\n");
    }
  }
})();
`;
const worker = spawn(process.execPath, ["-e", WORKER], { cwd: fromRoot(), stdio: ["pipe", "pipe", "inherit"] });
const lines = createInterface({ input: worker.stdout! })[Symbol.asyncIterator]();
const nextLine = async () => {
  const { value, done } = await lines.next();
  if (done) throw new Error("the worker exited");
  return value as string;
};
if ((await nextLine()) !== "ready") throw new Error("the worker did not start");
const ask = async (line: string): Promise<number[]> => {
  worker.stdin!.write(line + "\n");
  return JSON.parse(await nextLine()) as number[];
};

/** Time on CPU of one thread of this process in ns, from schedstat (finer than stat's 10 ms ticks). */
function threadSchedNs(tid: number): number | null {
  try {
    return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return null;
  }
}

// 1. The sampler thread's own CPU time while the worker is busy.
const startOptions = { pids: [worker.pid!], hz: HZ, nvml: NVML };
sampler.start(startOptions);
const tid = sampler.threadId;
const cpu0 = threadCpuTimeMs(tid)!;
const sched0 = threadSchedNs(tid);
const wall0 = monotonicNowMs();
await ask(`spin ${SECONDS * 1000}`);
const cpu1 = threadCpuTimeMs(tid)!;
const sched1 = threadSchedNs(tid);
const wall1 = monotonicNowMs();
const trace = sampler.stop();
const wallMs = wall1 - wall0;
const statShare = (cpu1 - cpu0) / wallMs;
const schedShare = sched0 !== null && sched1 !== null ? (sched1 - sched0) / 1e6 / wallMs : null;
const rowsPerS = (trace.timestampsMs.length / (trace.timestampsMs.at(-1)! - trace.timestampsMs[0]!)) * 1000;
console.log(
  `sampler: ${HZ} Hz, watching the worker tree (peak ${Math.max(...trace.columns.process_count!)} process(es)); columns: ${Object.keys(trace.columns).join(", ")}`,
);
console.log(
  `unavailable: ${
    Object.entries(trace.unavailable)
      .map(([k, v]) => `${k} (${v})`)
      .join("; ") || "none"
  }`,
);
console.log(`achieved rate ${rowsPerS.toFixed(1)} rows/s over ${(wallMs / 1000).toFixed(1)} s`);
console.log(
  `sampler thread CPU (/proc/self/task/${tid}/stat): ${(cpu1 - cpu0).toFixed(0)} ms over ${wallMs.toFixed(0)} ms = ${(statShare * 100).toFixed(3)}% of one core` +
    (schedShare !== null
      ? ` (schedstat: ${(schedShare * 100).toFixed(3)}%, ${((sched1! - sched0!) / trace.timestampsMs.length / 1000).toFixed(1)} µs per row)`
      : "") +
    `  (target ≤ ${MAX_THREAD_SHARE * 100}%) ${Math.max(statShare, schedShare ?? 0) <= MAX_THREAD_SHARE ? "PASS" : "FAIL"}`,
);

// 2. Interleaved blocks, sampler on vs off; the arm order alternates per pair (ABBA…) to cancel drift.
const on: number[][] = [];
const off: number[][] = [];
for (let b = 0; b < BLOCKS; b++) {
  for (const arm of b % 2 === 0 ? ["on", "off"] : ["off", "on"]) {
    if (arm === "on") {
      sampler.start(startOptions);
      on.push(await ask(`run ${ITERATIONS}`));
      sampler.stop();
    } else {
      off.push(await ask(`run ${ITERATIONS}`));
    }
  }
  process.stderr.write(
    `block ${b + 1}/${BLOCKS}: on p50 ${median(on.at(-1)!).toFixed(3)} ms, off p50 ${median(off.at(-1)!).toFixed(3)} ms\n`,
  );
}
worker.stdin!.end();
worker.kill();
const ci = ratioOfMediansCI(on, off, { resamples: 4000, seed: 1 });
console.log(
  `case: onnxruntime-node MatMul ${SIZE}×${SIZE}×${SIZE}, ${THREADS} thread(s), in a worker process; ${BLOCKS} blocks × ${ITERATIONS} iterations per arm, interleaved`,
);
console.log(
  `median with sampler ${median(on.flat()).toFixed(4)} ms/iter, without ${median(off.flat()).toFixed(4)} ms/iter`,
);
console.log(
  `ratio on/off = ${ci.ratio.toFixed(4)}  95% CI [${ci.low.toFixed(4)}, ${ci.high.toFixed(4)}]  (target: upper bound ≤ ${MAX_RATIO_UPPER}) ${ci.high <= MAX_RATIO_UPPER ? "PASS" : "FAIL"}`,
);
