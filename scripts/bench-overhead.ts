// npm run bench:overhead — the harness's own cost (docs/protocol.md). Times one ORT case (a) through the
// harness (the ort runner's child process and measure loop) and (b) in a bare session.run loop in the same kind
// of process, in interleaved blocks, and prints the ratio of medians with its 95% hierarchical-bootstrap CI,
// plus the measure loop's fixed cost per iteration.
import "../runners/index.js"; // registers the built-in runners, as the CLI does
import { execa } from "execa";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateSuite } from "../src/suite/loader.js";
import { planSuite } from "../src/suite/planner.js";
import { OrtRunner } from "../runners/ort/runner.js";
import { measureLoop } from "../runners/shared/measure-loop.js";
import { median, ratioOfMediansCI } from "../src/measure/stats.js";

const BLOCKS = Number(process.env.BLOCKS ?? 8);
const { suite } = validateSuite(
  {
    name: "overhead",
    // ≥ 1 ms per iteration on these cores: a 4-layer, 512-wide model, prefill of 32 tokens.
    models: [{ name: "overhead-model", layers: 4, hidden: 512, heads: 8, kvHeads: 4, ffn: 1408, vocab: 4096 }],
    scenarios: ["prefill"],
    workloads: [{ batch: 1, promptTokens: 32 }],
    protocol: { repeats: 1, minMeasureMs: 1500, minIterations: 50, warmupMaxMs: 1000 },
  },
  "bench-overhead",
);
const [c] = planSuite(suite, { codeVersion: "bench" });
const caseFile = join(mkdtempSync(join(tmpdir(), "effbench-overhead-")), "case.json");
writeFileSync(caseFile, JSON.stringify(c));
const runner = new OrtRunner();
const harness: number[][] = [];
const bare: number[][] = [];
for (let block = 0; block < BLOCKS; block++) {
  const outcome = await runner.runRepeat(c!, {
    repeat: block,
    signal: new AbortController().signal,
    timeoutMs: 120_000,
  });
  if (outcome.status !== "completed") throw new Error(`harness run failed: ${outcome.reason}`);
  harness.push(outcome.series.find((s) => s.metric === "latency_ms")!.values);
  const { stdout } = await execa("node", ["--import", "tsx", "scripts/bare-ort-loop.ts", caseFile, "30", "10"]);
  bare.push(JSON.parse(stdout) as number[]);
  process.stderr.write(
    `block ${block + 1}/${BLOCKS}: harness p50 ${median(harness.at(-1)!).toFixed(3)} ms, bare ${median(bare.at(-1)!).toFixed(3)} ms\n`,
  );
}
const ci = ratioOfMediansCI(harness, bare, { resamples: 4000, seed: 1 });

// The measure loop's fixed cost: an iteration that does nothing but await.
const { latencyMs: empty } = await measureLoop(async () => {}, {
  warmupMinIterations: 100,
  warmupMaxMs: 200,
  minMeasureMs: 500,
  minIterations: 10_000,
  maxIterations: 200_000,
});
console.log(`case: ${c!.name}, ${BLOCKS} interleaved blocks`);
console.log(
  `harness median ${median(harness.flat()).toFixed(4)} ms/iter, bare loop median ${median(bare.flat()).toFixed(4)} ms/iter`,
);
console.log(
  `ratio harness/bare = ${ci.ratio.toFixed(4)}  95% CI [${ci.low.toFixed(4)}, ${ci.high.toFixed(4)}]  (target: upper bound ≤ 1.03) ${ci.high <= 1.03 ? "PASS" : "FAIL"}`,
);
console.log(
  `measure-loop fixed cost per iteration: ${(median(empty) * 1000).toFixed(2)} µs (median of ${empty.length} empty iterations)`,
);
