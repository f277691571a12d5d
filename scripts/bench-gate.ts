// npm run bench:gate — measures the regression gate of `bench compare` on real runs (docs/ci.md).
//
// 1. A pool of process-level repeats of one small real ORT case, in two arms run alternately (A B B A …, so slow
//    drift of the machine reaches both alike): A as is, B with EFFBENCH_TEST_EXTRA_WORK=0.10 — the ort child
//    spins, inside each timed iteration, for 10% of that iteration's run time (a real slowdown; same caseKey).
// 2. A/A: comparisons of R processes against R other processes, all drawn from arm A: every "regressed" is a
//    false alarm. A/B: R processes of A (base) against R of B (head): every "regressed" is a detection.
// 3. Rates with exact 95% Clopper–Pearson intervals; R passes when the false-alarm upper bound is ≤ 10%, the
//    detection lower bound ≥ 90%, and at most 20% of each set of comparisons is inconclusive. Several R are tried
//    (5, 10, 15): the gate can only call a case "unchanged" when R processes pin the ratio within the threshold,
//    so the smallest passing R is how many repeats a gated suite needs on this machine.
//
// The comparisons share one pool, so they are not independent draws of the machine: the intervals are those of
// the subsampling experiment, narrower than independent runs would give. More pool repeats shrink that gap.
//
// Options: --pool <file.json> (reuse a measured pool, or save it there), --pool-size 50, --repeats 5,10,15 (R list),
// --comparisons 200, --threshold 5%, --extra-work 0.10, --seed 1, --json <file> (write every number),
// --measure-ms 300 (minimum measured time per process),
// --nice <n> (run the pool's processes at this scheduling priority, e.g. --nice=-10 as root: on a shared machine other
// work then takes less of their CPU; the priority and the load average are printed with the numbers).
import "../runners/index.js"; // registers the built-in runners, as the CLI does
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, getPriority, loadavg, setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { OrtRunner } from "../runners/ort/runner.js";
import { gateChecks, runGateExperiment } from "../src/compare/gate.js";
import { parseThreshold } from "../src/compare/command.js";
import { clopperPearson, formatProportion } from "../src/compare/distributions.js";
import { cv, median } from "../src/measure/stats.js";
import { PROTOCOL_DEFAULTS } from "../src/measure/protocol.js";
import { validateSuite } from "../src/suite/loader.js";
import { planSuite } from "../src/suite/planner.js";

const { values } = parseArgs({
  options: {
    pool: { type: "string" },
    "pool-size": { type: "string", default: "50" },
    repeats: { type: "string", default: "5,10,15" },
    comparisons: { type: "string", default: "200" },
    threshold: { type: "string", default: "5%" },
    "extra-work": { type: "string", default: "0.10" },
    seed: { type: "string", default: "1" },
    json: { type: "string" },
    nice: { type: "string" },
    "measure-ms": { type: "string", default: "300" },
  },
});
const poolSize = Number(values["pool-size"]);
const repeatsList = values.repeats!.split(",").map(Number);
const comparisons = Number(values.comparisons);
const threshold = parseThreshold(values.threshold!);
const extraWork = Number(values["extra-work"]);
const seed = Number(values.seed);
// Children inherit the parent's priority: set it once here, before any ort child starts.
if (values.nice !== undefined) setPriority(Number(values.nice));
if (repeatsList.some((r) => !Number.isInteger(r) || r < 2))
  throw new Error(`--repeats: expected a list of integers ≥ 2, got "${values.repeats}"`);

/** A case of about 1–2 ms per iteration on these cores, measured for ~0.3 s per process: the pool costs most. */
const { suite } = validateSuite(
  {
    name: "gate",
    models: [{ name: "gate-model", layers: 2, hidden: 384, heads: 8, kvHeads: 4, ffn: 1056, vocab: 4096 }],
    scenarios: ["prefill"],
    workloads: [{ batch: 1, promptTokens: 32 }],
    protocol: { repeats: 1, minMeasureMs: Number(values["measure-ms"]), minIterations: 50, warmupMaxMs: 300 },
  },
  "bench-gate",
);
const [gateCase] = planSuite(suite, { codeVersion: "bench-gate" });

interface Pool {
  caseName: string;
  extraWork: number;
  a: number[][];
  b: number[][];
  measuredAt: string;
  cpu: string;
  /** 1-minute load average before and after the pool: other work on the machine is noise the gate must survive. */
  loadAverage: [number, number];
  /** Scheduling priority (nice) of the pool's processes. */
  nice: number;
  wallS: number;
}

async function measurePool(): Promise<Pool> {
  const runner = new OrtRunner();
  const a: number[][] = [];
  const b: number[][] = [];
  const loadBefore = loadavg()[0]!;
  const started = performance.now();
  const repeatOf = async (arm: "a" | "b", index: number) => {
    if (arm === "b") process.env.EFFBENCH_TEST_EXTRA_WORK = String(extraWork);
    else delete process.env.EFFBENCH_TEST_EXTRA_WORK;
    try {
      const outcome = await runner.runRepeat(gateCase!, {
        repeat: index,
        signal: new AbortController().signal,
        timeoutMs: 120_000,
      });
      if (outcome.status !== "completed")
        throw new Error(`arm ${arm} repeat ${index} ${outcome.status}: ${outcome.reason}`);
      if (arm === "b" && outcome.settings.testExtraWork !== extraWork)
        throw new Error("the ort child did not apply EFFBENCH_TEST_EXTRA_WORK");
      (arm === "a" ? a : b).push(outcome.series.find((s) => s.metric === "latency_ms")!.values);
    } finally {
      delete process.env.EFFBENCH_TEST_EXTRA_WORK;
    }
  };
  for (let i = 0; i < poolSize; i++) {
    // ABBA order: each arm goes first half of the time.
    for (const arm of i % 2 === 0 ? (["a", "b"] as const) : (["b", "a"] as const)) await repeatOf(arm, i);
    process.stderr.write(
      `\rpool ${i + 1}/${poolSize}: A ${median(a.at(-1)!).toFixed(3)} ms, B ${median(b.at(-1)!).toFixed(3)} ms per iteration   `,
    );
  }
  process.stderr.write("\n");
  await runner.close();
  return {
    caseName: gateCase!.name,
    extraWork,
    a,
    b,
    measuredAt: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? "unknown",
    loadAverage: [loadBefore, loadavg()[0]!],
    nice: getPriority(),
    wallS: (performance.now() - started) / 1000,
  };
}

let pool: Pool;
if (values.pool && existsSync(values.pool)) {
  pool = JSON.parse(readFileSync(values.pool, "utf8")) as Pool;
  console.log(`pool: ${values.pool} (measured ${pool.measuredAt}, ${pool.a.length} + ${pool.b.length} processes)`);
} else {
  console.log(
    `measuring a pool of ${poolSize} processes per arm of "${gateCase!.name}" (arm B: EFFBENCH_TEST_EXTRA_WORK=${extraWork})`,
  );
  pool = await measurePool();
  const path = values.pool ?? join(mkdtempSync(join(tmpdir(), "effbench-gate-")), "pool.json");
  writeFileSync(path, JSON.stringify(pool));
  console.log(`pool saved to ${path} (rerun the statistics alone with --pool ${path})`);
}
const level = (processes: number[][]) => processes.map((p) => median(p));
const trueRatio = median(pool.b.flat()) / median(pool.a.flat());
console.log(
  `case: ${pool.caseName}; pool ${pool.a.length} + ${pool.b.length} processes, ${Math.round(median(pool.a.map((p) => p.length)))} iterations each, measured in ${pool.wallS.toFixed(0)} s on ${pool.cpu} (load average ${pool.loadAverage.map((x) => x.toFixed(1)).join(" → ")}, nice ${pool.nice ?? 0})`,
);
console.log(
  `arm A median ${median(pool.a.flat()).toFixed(4)} ms, arm B ${median(pool.b.flat()).toFixed(4)} ms: whole-pool ratio B/A ${trueRatio.toFixed(4)} (injected extra work ${(pool.extraWork * 100).toFixed(0)}%); between-process CV of the per-process medians: A ${(cv(level(pool.a)) * 100).toFixed(2)}%, B ${(cv(level(pool.b)) * 100).toFixed(2)}%`,
);
console.log(
  `${comparisons} comparisons per experiment and per R, threshold ${(threshold * 100).toFixed(1)}%, ${PROTOCOL_DEFAULTS.bootstrapResamples} bootstrap resamples`,
);

const results = [];
for (const r of repeatsList) {
  if (pool.a.length < 2 * r) {
    console.log(`
R = ${r}: skipped, the pool of ${pool.a.length} A processes cannot hold two disjoint draws of ${r}`);
    continue;
  }
  const started = performance.now();
  const experimentOptions = { repeats: r, comparisons, threshold, seed };
  const aa = runGateExperiment(pool, "A/A", experimentOptions);
  const ab = runGateExperiment(pool, "A/B", experimentOptions);
  const checks = gateChecks(aa, ab);
  const anyFalseCall = clopperPearson(aa.counts.regressed + aa.counts.improved, comparisons);
  console.log(`
R = ${r} processes per side (${((performance.now() - started) / 1000).toFixed(1)} s of statistics):`);
  console.log(
    `  A/A: ${JSON.stringify(aa.counts)}  ratio head/base: median ${median(aa.ratios).toFixed(4)}, 2.5–97.5% [${percentileOf(aa.ratios, 2.5)}, ${percentileOf(aa.ratios, 97.5)}]`,
  );
  console.log(
    `  A/B: ${JSON.stringify(ab.counts)}  ratio head/base: median ${median(ab.ratios).toFixed(4)}, 2.5–97.5% [${percentileOf(ab.ratios, 2.5)}, ${percentileOf(ab.ratios, 97.5)}]`,
  );
  console.log(
    `  median half-width of the 90% equivalence interval: A/A ±${(median(aa.halfWidths) * 100).toFixed(1)}%, A/B ±${(median(ab.halfWidths) * 100).toFixed(1)}% (an interval wider than the threshold cannot show "unchanged")`,
  );
  console.log("  rates, with exact 95% Clopper–Pearson intervals:");
  for (const check of checks)
    console.log(
      `    ${check.name.padEnd(32)} ${formatProportion(check.interval).padEnd(30)} ${check.rule.padEnd(22)} ${check.pass ? "PASS" : "FAIL"}`,
    );
  console.log(`    ${"A/A any false call (either way)".padEnd(32)} ${formatProportion(anyFalseCall)}`);
  const pass = checks.every((c) => c.pass);
  console.log(`  R = ${r}: gate ${pass ? "PASS" : "FAIL"}`);
  results.push({ repeats: r, aa: aa.counts, ab: ab.counts, aaHalfWidth: median(aa.halfWidths), checks, pass });
}
const passing = results.filter((r) => r.pass).map((r) => r.repeats);
console.log(
  `
gate ${passing.length > 0 ? `PASS with ${passing[0]} or more processes per side` : "FAIL"} at a ${(threshold * 100).toFixed(1)}% threshold on this machine (R tried: ${results.map((r) => `${r.repeats} ${r.pass ? "pass" : "fail"}`).join(", ")})`,
);
if (values.json)
  writeFileSync(
    values.json,
    JSON.stringify(
      {
        pool: { ...pool, a: undefined, b: undefined, processes: [pool.a.length, pool.b.length], trueRatio },
        comparisons,
        threshold,
        results,
      },
      null,
      2,
    ),
  );
process.exitCode = passing.length > 0 ? 0 : 1;

function percentileOf(xs: number[], p: number): string {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(4);
}
