// npm run bench:runners — the torch runner's own cost (issue 7, acceptance 3). Times one torch case (a) through the
// harness (the long-lived worker, its JSON-lines request and Python measure loop) and (b) in a bare torch loop run by
// a separate plain Python script on the same model, weights and inputs (runners/torch/bare_loop.py), in interleaved
// blocks, and prints the ratio of medians with its 95% hierarchical-bootstrap CI, plus the JSON-lines round trip
// per request.
import { execa } from "execa";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateSuite } from "../src/suite/loader.js";
import { planSuite } from "../src/suite/planner.js";
import { fromRoot } from "../src/paths.js";
import { TorchRunner } from "../runners/torch/runner.js";
import { ensureWeightsFile } from "../runners/torch/weights-file.js";
import { median, percentile, ratioOfMediansCI } from "../src/measure/stats.js";

const BLOCKS = Number(process.env.BLOCKS ?? 8);
const PINGS = Number(process.env.PINGS ?? 2000);
const { suite } = validateSuite(
  {
    name: "runner-overhead",
    runners: ["torch"],
    // ≥ 1 ms per iteration on these cores: a 4-layer, 512-wide model, prefill of 32 tokens (as bench:overhead).
    models: [{ name: "overhead-model", layers: 4, hidden: 512, heads: 8, kvHeads: 4, ffn: 1408, vocab: 4096 }],
    scenarios: ["prefill"],
    workloads: [{ batch: 1, promptTokens: 32 }],
    // One thread: with 2 cores shared by other processes, a second OpenMP thread makes both loops wait on each other.
    torch: { device: process.env.DEVICE === "cuda" ? "cuda" : "cpu", threads: Number(process.env.THREADS ?? 1) },
    protocol: { repeats: 1, minMeasureMs: 1500, minIterations: 50, warmupMaxMs: 1000 },
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
const harness: number[][] = [];
const bare: number[][] = [];
try {
  for (let block = 0; block < BLOCKS; block++) {
    const outcome = await runner.runRepeat(c!, { repeat: 0, signal: new AbortController().signal, timeoutMs: 300_000 });
    if (outcome.status !== "completed") throw new Error(`harness run failed: ${outcome.reason}`);
    harness.push(outcome.series.find((s) => s.metric === "latency_ms")!.values);
    const { stdout } = await execa(python, ["-u", fromRoot("runners/torch/bare_loop.py"), caseFile, weightsPath, "30", "10"]);
    bare.push(JSON.parse(stdout.trim().split("\n").at(-1)!) as number[]);
    process.stderr.write(`block ${block + 1}/${BLOCKS}: harness p50 ${median(harness.at(-1)!).toFixed(3)} ms, bare ${median(bare.at(-1)!).toFixed(3)} ms\n`);
  }
  // The JSON-lines round trip: a request and its reply through the live worker's pipes, nothing else.
  for (let i = 0; i < 100; i++) await runner.ping();
  const roundTripsUs: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const t0 = performance.now();
    await runner.ping();
    roundTripsUs.push((performance.now() - t0) * 1000);
  }
  const ci = ratioOfMediansCI(harness, bare, { resamples: 4000, seed: 1 });
  console.log(`case: ${c!.name} on ${String(probe.info.python)} (torch ${String(probe.info.torch)}), ${BLOCKS} interleaved blocks`);
  console.log(`harness median ${median(harness.flat()).toFixed(4)} ms/iter, bare torch loop median ${median(bare.flat()).toFixed(4)} ms/iter`);
  console.log(`ratio harness/bare = ${ci.ratio.toFixed(4)}  95% CI [${ci.low.toFixed(4)}, ${ci.high.toFixed(4)}]  (target: upper bound ≤ 1.03) ${ci.high <= 1.03 ? "PASS" : "FAIL"}`);
  // On a shared machine other processes' bursts land in one loop's blocks and not the other's: say so.
  const blockMedians = [...harness, ...bare].map((b) => median(b));
  const spread = Math.max(...blockMedians) / Math.min(...blockMedians);
  if (spread > 1.5) console.log(`warning: block medians range ${Math.min(...blockMedians).toFixed(2)}–${Math.max(...blockMedians).toFixed(2)} ms (×${spread.toFixed(1)}): the machine is busy, and this CI says little about the harness`);
  console.log(`JSON-lines round trip per request: median ${median(roundTripsUs).toFixed(1)} µs, p90 ${percentile(roundTripsUs, 90).toFixed(1)} µs (${PINGS} pings)`);
} finally {
  await runner.close();
}
