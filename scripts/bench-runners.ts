// npm run bench:runners — the torch runner's own cost (docs/torch-runner.md). Times one torch case (a) through the
// harness (a torch worker, its JSON-lines request and Python measure loop) and (b) in a bare torch loop run by a
// separate plain Python script on the same model, weights and inputs (runners/torch/bare_loop.py), and prints the
// ratio of medians with its 95% hierarchical-bootstrap CI (processes, then iterations), plus the JSON-lines round
// trip per request.
//
// Both sides are made identical in everything but the harness, because what dominates a naive comparison is not the
// harness but the machine: on 2 cores shared with other work, a process that shares its core runs ~2× slower, and
// which process that hits changes every few seconds. So:
// - PAIRS pairs of fresh processes (a worker, a bare script); within a pair both stay alive and take turns in short
//   BURSTS (a harness request / a bare burst of ~0.3 s each, alternating, the first side alternating per pair), so
//   that both sides see the same machine at the same time; each burst, on either side, builds the model, warms up
//   the same fixed number of iterations and times every iteration with perf_counter until one stopping rule;
// - the same thread count through torch.set_num_threads and OMP_NUM_THREADS/MKL_NUM_THREADS in the environment both
//   inherit, and the same CPU affinity (PIN_CPU, inherited from this process);
// - a ~2 ms iteration: shorter than a scheduler time slice, so a burst of other work stretches a few iterations
//   (which the median ignores) instead of all of them.
//
//   PAIRS=24 BURSTS=8 THREADS=1 npm run bench:runners   (about 13 min here)
import "../runners/index.js"; // registers the built-in runners, as the CLI does
import { execa } from "execa";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateSuite } from "../src/suite/loader.js";
import { planSuite } from "../src/suite/planner.js";
import { fromRoot } from "../src/paths.js";
import { TorchRunner } from "../runners/torch/runner.js";
import { ensureWeightsFile } from "../runners/torch/weights-file.js";
import { median, medianCI, percentile, ratioOfMediansCI } from "../src/measure/stats.js";

const PAIRS = Number(process.env.PAIRS ?? 24);
const BURSTS = Number(process.env.BURSTS ?? 8);
const PINGS = Number(process.env.PINGS ?? 2000);
const THREADS = Number(process.env.THREADS ?? 1);
const WARMUP_ITERATIONS = Number(process.env.WARMUP_ITERATIONS ?? 50);
const BURST_MS = Number(process.env.BURST_MS ?? 300);
// Children inherit the environment and the affinity of this process: set both before any of them starts.
process.env.OMP_NUM_THREADS = String(THREADS);
process.env.MKL_NUM_THREADS = String(THREADS);
if (process.env.PIN_CPU) await execa("taskset", ["-pc", process.env.PIN_CPU, String(process.pid)]);

const { suite } = validateSuite(
  {
    name: "runner-overhead",
    runners: ["torch"],
    // ~2 ms per iteration on one core here (≥ 1 ms, so the harness's fixed cost per iteration stays small beside it): short next to a scheduler time slice, so
    // that another process's burst on a shared machine stretches a few iterations (which the median ignores) instead
    // of every one of them (a 17 ms iteration of bench:overhead's 4-layer 512-wide model shifted whole blocks).
    models: [{ name: "runner-overhead-model", layers: 2, hidden: 256, heads: 4, kvHeads: 2, ffn: 704, vocab: 4096 }],
    scenarios: ["prefill"],
    workloads: [{ batch: 1, promptTokens: 32 }],
    torch: { device: process.env.DEVICE === "cuda" ? "cuda" : "cpu", threads: THREADS },
    // warmupMaxMs 1: the harness's warm-up ends after exactly warmupMinIterations (the bare loop runs as many).
    protocol: {
      repeats: 1,
      minMeasureMs: BURST_MS,
      minIterations: 50,
      warmupMinIterations: WARMUP_ITERATIONS,
      warmupMaxMs: 1,
    },
  },
  "bench-runners",
);
const [c] = planSuite(suite, { codeVersion: "bench" });
const dir = mkdtempSync(join(tmpdir(), "effbench-runners-"));
const caseFile = join(dir, "case.json");
writeFileSync(caseFile, JSON.stringify(c));
const runner = new TorchRunner({ python: process.env.BENCH_PYTHON });
const probe = await runner.probe();
if (!probe.available) throw new Error(probe.reason);
const python = String(probe.info.python);
const weightsPath = ensureWeightsFile(c!);

async function harnessBurst(): Promise<number[]> {
  const outcome = await runner.runRepeat(c!, { repeat: 0, signal: new AbortController().signal, timeoutMs: 300_000 });
  if (outcome.status !== "completed") throw new Error(`harness run failed: ${outcome.reason}`);
  const warmup = outcome.details?.warmupIterations;
  if (warmup !== WARMUP_ITERATIONS)
    throw new Error(`the harness warmed up ${String(warmup)} iterations, not ${WARMUP_ITERATIONS}`);
  return outcome.series.find((s) => s.metric === "latency_ms")!.values;
}

/** A bare script kept alive for one pair: each line written to it is one burst, answered by its samples. */
function startBare(): { burst: () => Promise<number[]>; close: () => Promise<void> } {
  const child = execa(
    python,
    ["-u", fromRoot("runners/torch/bare_loop.py"), "--serve", caseFile, weightsPath, String(WARMUP_ITERATIONS)],
    { stdin: "pipe", stdout: "pipe", stderr: "ignore", buffer: false },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    burst: async () => {
      child.stdin!.write("go\n");
      const { value, done } = await lines.next();
      if (done) throw new Error("the bare loop exited");
      return JSON.parse(value as string) as number[];
    },
    close: async () => {
      child.stdin!.end();
      await child;
    },
  };
}

const harness: number[][] = [];
const bare: number[][] = [];
/** Per pair, harness/bare of the medians of each two adjacent bursts: the two sides at the same time. */
const burstRatios: number[][] = [];
try {
  for (let pair = 0; pair < PAIRS; pair++) {
    const bareProcess = startBare();
    const harnessSamples: number[] = [];
    const bareSamples: number[] = [];
    const ratios: number[] = [];
    for (let burst = 0; burst < BURSTS; burst++) {
      // Alternate which side goes first (per pair and per burst), so that no trend favours one side.
      let h: number[];
      let b: number[];
      if ((pair + burst) % 2 === 0) {
        h = await harnessBurst();
        b = await bareProcess.burst();
      } else {
        b = await bareProcess.burst();
        h = await harnessBurst();
      }
      harnessSamples.push(...h);
      bareSamples.push(...b);
      ratios.push(median(h) / median(b));
    }
    burstRatios.push(ratios);
    await runner.close(); // the next pair gets a fresh worker, as it gets a fresh bare process
    await bareProcess.close();
    harness.push(harnessSamples);
    bare.push(bareSamples);
    process.stderr.write(
      `pair ${pair + 1}/${PAIRS}: harness p50 ${median(harnessSamples).toFixed(3)} ms (${harnessSamples.length} it), bare ${median(bareSamples).toFixed(3)} ms (${bareSamples.length} it)\n`,
    );
  }
  // The JSON-lines round trip: a request and its reply through a live worker's pipes, nothing else.
  for (let i = 0; i < 100; i++) await runner.ping();
  const roundTripsUs: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const t0 = performance.now();
    await runner.ping();
    roundTripsUs.push((performance.now() - t0) * 1000);
  }
  const ci = ratioOfMediansCI(harness, bare, { resamples: 4000, seed: 1 });
  const paired = medianCI(burstRatios, { resamples: 4000, seed: 1 });
  const pinned = process.env.PIN_CPU ? `, pinned to CPU ${process.env.PIN_CPU}` : "";
  console.log(
    `case: ${c!.name} on ${python} (torch ${String(probe.info.torch)}), ${THREADS} thread(s)${pinned}; ${PAIRS} pairs of fresh processes × ${BURSTS} alternating bursts of ≥ ${BURST_MS} ms`,
  );
  console.log(
    `harness median ${median(harness.flat()).toFixed(4)} ms/iter, bare torch loop median ${median(bare.flat()).toFixed(4)} ms/iter`,
  );
  // The headline is time-matched: each harness burst over the bare burst next to it, the median over all of them,
  // its CI from resampling pairs of processes and then bursts within them (medianCI). The unpaired ratio of the
  // pooled medians below resamples each side's processes independently, so it also carries the machine's
  // between-process variance, which on a shared machine is not the harness.
  console.log(
    `ratio harness/bare (time-matched bursts) = ${paired.estimate.toFixed(4)}  95% CI [${paired.low.toFixed(4)}, ${paired.high.toFixed(4)}]  (target: upper bound ≤ 1.03) ${paired.high <= 1.03 ? "PASS" : "FAIL"}`,
  );
  console.log(
    `ratio of pooled medians, sides resampled independently = ${ci.ratio.toFixed(4)}  95% CI [${ci.low.toFixed(4)}, ${ci.high.toFixed(4)}]`,
  );
  // Between-process spread of each side: what the CI is made of.
  const spread = (processes: number[][]) => {
    const medians = processes.map((b) => median(b));
    return `${((Math.max(...medians) / Math.min(...medians) - 1) * 100).toFixed(1)}%`;
  };
  console.log(
    `between-process spread of process medians (max/min − 1): harness ${spread(harness)}, bare ${spread(bare)}`,
  );
  console.log(
    `JSON-lines round trip per request: median ${median(roundTripsUs).toFixed(1)} µs, p90 ${percentile(roundTripsUs, 90).toFixed(1)} µs (${PINGS} pings)`,
  );
} finally {
  await runner.close();
}
