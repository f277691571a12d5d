// npm run bench:gate-runs — the regression gate's figures across separate runs (docs/protocol.md, "Machine-drift
// control"). Unlike bench:gate (pools measured in one sitting), every comparison here is between separate
// `bench run` invocations at different times, with the machine left to drift between them.
//
// Cross-run: blocks of four runs A B A′ B′ of a one-case ort suite (B: EFFBENCH_TEST_EXTRA_WORK, the test-only
// slowdown of the ort child, 10% unless --extra-work), each its own `bench run` process and database. Per block
// two A/A pairs (A vs A′, B vs B′: the same code twice) and two A/B pairs (A vs B, A′ vs B′); pairs never share a
// run within one experiment. Each pair is compared twice from the same numbers: raw (the case's own ratio) and
// normalised by the drift control measured in those runs.
// Interleaved: sittings of four sides A, A′, B, B′ (src/compare/interleave.ts, ABCD DCBA … order, one case process
// per turn): A vs A′ and B vs B′ are A/A pairs, A vs B and A′ vs B′ A/B pairs — one start-up for four comparisons.
// Every pair is compared with the default statistic (the median) and with p10 (`--statistic p10`), from the same
// databases: on a machine shared with other work the median moves with the load, a low percentile much less.
// Rates are counted with exact 95% Clopper–Pearson intervals. Acceptance: A/A false alarms ≤ 5% with the interval's
// upper bound ≤ 10%, and A/B detections ≥ 90%.
//
// Options: --pairs 36 (of each kind, per mode), --repeats 3 (processes per cross-run run), --interleave-repeats 3
// (processes per side of a sitting), --extra-work 0.10, --threshold 5%, --budget 25 (minutes, all modes; a mode
// stops starting blocks when its share is spent, and says so), --modes cross,interleaved, --json <file>, --dir <dir>,
// --drift-load 0 (cross-run only: the share of runs, chosen by a seeded coin, during which a noisy neighbour shares
// the machine — a drift made on purpose, as another tenant or a slower host makes it between two nights; 0 leaves
// the machine to drift by itself), --drift-hogs 1 (how many neighbour processes; each copies 128 MiB over and over,
// so it takes a CPU and thrashes the shared cache and memory bandwidth: on an idle CPU beside the case a busy loop
// alone would not slow it).
import { execa, execaNode } from "execa";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseThreshold } from "../src/compare/command.js";
import { compareStores, type CaseComparison, type Verdict } from "../src/compare/compare.js";
import { clopperPearson, formatProportion } from "../src/compare/distributions.js";
import { runInterleavedSitting } from "../src/compare/interleave.js";
import { median } from "../src/measure/stats.js";
import { fromRoot } from "../src/paths.js";
import { seededUniform } from "../src/model/sampling.js";

const { values } = parseArgs({
  options: {
    pairs: { type: "string", default: "36" },
    repeats: { type: "string", default: "3" },
    "interleave-repeats": { type: "string", default: "3" },
    "extra-work": { type: "string", default: "0.10" },
    threshold: { type: "string", default: "5%" },
    budget: { type: "string", default: "25" },
    modes: { type: "string", default: "cross,interleaved" },
    json: { type: "string" },
    dir: { type: "string" },
    "drift-load": { type: "string", default: "0" },
    "drift-hogs": { type: "string", default: "1" },
  },
});
const pairs = Number(values.pairs);
const threshold = parseThreshold(values.threshold!);
const extraWork = Number(values["extra-work"]);
const modes = values.modes!.split(",");
const budgetS = Number(values.budget) * 60;
const dir = values.dir ?? mkdtempSync(join(tmpdir(), "effbench-gate-runs-"));
mkdirSync(dir, { recursive: true });
const slow = { EFFBENCH_TEST_EXTRA_WORK: String(extraWork) };

/** One small ort case, about 1 ms per iteration on one core: process start-up costs more than the measuring. */
function writeSuite(name: string, repeats: number): string {
  const path = join(dir, `${name}.ts`);
  writeFileSync(
    path,
    `import { defineSuite } from "effbench";
export default defineSuite({
  name: "${name}",
  models: [{ name: "gate-model", layers: 2, hidden: 256, heads: 4, kvHeads: 2, ffn: 704, vocab: 2048 }],
  scenarios: ["prefill"],
  workloads: [{ batch: 1, promptTokens: 32 }],
  runners: ["ort"],
  protocol: { repeats: ${repeats}, minMeasureMs: 250, minIterations: 50, warmupMaxMs: 200 },
});
`,
  );
  return path;
}

type Kind = "A/A" | "A/B";
const STATISTICS = { median: 50, p10: 10 } as const;
type StatisticName = keyof typeof STATISTICS;
interface Outcome {
  verdict: Verdict;
  ratio: number | null;
  /** Cross-run only: the case's own verdict and ratio before the drift control. */
  rawVerdict: Verdict | null;
  rawRatio: number | null;
  controlRatio: number | null;
  machineChanged: boolean | null;
}
interface Comparison {
  mode: "cross" | "interleaved";
  kind: Kind;
  base: string;
  head: string;
  at: string;
  outcomes: Record<StatisticName, Outcome>;
  /** Cross-run with --drift-load: whether each side ran beside the noisy neighbour. */
  load: string | null;
}
const comparisons: Comparison[] = [];
const started = performance.now();
const elapsedS = () => (performance.now() - started) / 1000;
const loadStart = loadavg()[0]!;

const driftLoad = Number(values["drift-load"]);
/** A memory-streaming loop: 128 MiB copied back and forth, far beyond any cache. */
const NOISY_NEIGHBOUR =
  "const a = new Float64Array(1 << 24), b = new Float64Array(1 << 24); for (;;) { b.set(a); a.set(b); }";
const coin = seededUniform(20261204, "gate-runs drift load");
/** Runs made under the drift load (by database path). */
const loaded = new Set<string>();

async function benchRun(suite: string, db: string, env: Record<string, string> = {}): Promise<void> {
  // The drift load: neighbour processes for the whole run (case processes and drift control alike).
  const hogs =
    driftLoad > 0 && coin() < driftLoad
      ? Array.from({ length: Number(values["drift-hogs"]) }, () =>
          execa(process.execPath, ["--eval", NOISY_NEIGHBOUR], { reject: false }),
        )
      : [];
  if (hogs.length) loaded.add(db);
  try {
    const result = await execaNode(fromRoot("bin/bench.js"), ["run", suite, "--db", db], {
      env: { ...process.env, ...env },
      reject: false,
      stdout: "ignore",
      stderr: "pipe",
    });
    if (result.exitCode !== 0)
      throw new Error(`bench run ${db} exited with ${result.exitCode}: ${String(result.stderr)}`);
  } finally {
    for (const hog of hogs) hog.kill();
    await Promise.all(hogs);
  }
}

async function compare(mode: Comparison["mode"], kind: Kind, base: string, head: string): Promise<void> {
  const outcomes = {} as Record<StatisticName, Outcome>;
  for (const [name, percentile] of Object.entries(STATISTICS) as Array<[StatisticName, number]>) {
    const report = await compareStores(
      { path: base },
      { path: head },
      { threshold, percentile, interleaved: mode === "interleaved" },
    );
    const c: CaseComparison = report.cases[0]!;
    outcomes[name] = {
      verdict: c.verdict as Verdict,
      ratio: c.ratio,
      rawVerdict: mode === "cross" ? (c.drift?.raw.verdict ?? null) : null,
      rawRatio: mode === "cross" ? (c.drift?.raw.ratio ?? null) : null,
      controlRatio: c.drift?.controlRatio ?? null,
      machineChanged: c.drift?.machineChanged ?? null,
    };
  }
  const load =
    mode === "cross" ? `${loaded.has(base) ? "loaded" : "quiet"}→${loaded.has(head) ? "loaded" : "quiet"}` : null;
  comparisons.push({ mode, kind, base, head, at: new Date().toISOString(), load, outcomes });
  const pct = (r: number | null) => (r === null ? "—" : `${((r - 1) * 100).toFixed(1)}%`);
  const describe = (x: Outcome) =>
    `${x.verdict} ${pct(x.ratio)}${mode === "cross" ? ` (raw ${x.rawVerdict} ${pct(x.rawRatio)}, control ${pct(x.controlRatio)}${x.machineChanged ? ", machine changed" : ""})` : ""}`;
  process.stderr.write(
    `  ${mode} ${kind}${load && driftLoad > 0 ? ` (${load})` : ""}: median ${describe(outcomes.median)}; p10 ${describe(outcomes.p10)}\n`,
  );
}

const shareS = budgetS / modes.length;
const blocks = Math.ceil(pairs / 2);

if (modes.includes("cross")) {
  const suite = writeSuite("gate-runs", Number(values.repeats));
  const modeStart = elapsedS();
  for (let b = 0; b < blocks; b++) {
    const perBlock = b > 0 ? (elapsedS() - modeStart) / b : 0;
    if (b > 0 && elapsedS() - modeStart + perBlock > shareS) {
      console.log(
        `cross-run: stopped after ${b} block(s): the next would pass this mode's ${(shareS / 60).toFixed(1)} min`,
      );
      break;
    }
    const [a1, b1, a2, b2] = ["a1", "b1", "a2", "b2"].map((n) => join(dir, `cross-${b}-${n}.db`));
    await benchRun(suite, a1!);
    await benchRun(suite, b1!, slow);
    await benchRun(suite, a2!);
    await benchRun(suite, b2!, slow);
    process.stderr.write(`cross-run block ${b + 1}/${blocks} (${elapsedS().toFixed(0)} s)\n`);
    await compare("cross", "A/A", a1!, a2!);
    await compare("cross", "A/A", b1!, b2!);
    await compare("cross", "A/B", a1!, b1!);
    await compare("cross", "A/B", a2!, b2!);
  }
}

if (modes.includes("interleaved")) {
  const suite = writeSuite("gate-interleaved", Number(values["interleave-repeats"]));
  const modeStart = elapsedS();
  const modeBudget = budgetS - modeStart; // what the other mode left
  const sittings = Math.ceil(pairs / 2);
  for (let s = 0; s < sittings; s++) {
    const perSitting = s > 0 ? (elapsedS() - modeStart) / s : 0;
    if (s > 0 && elapsedS() - modeStart + perSitting > modeBudget) {
      console.log(`interleaved: stopped after ${s} sitting(s): the next would pass the budget`);
      break;
    }
    const sittingDir = join(dir, `sitting-${s}`);
    mkdirSync(sittingDir, { recursive: true });
    const checkout = fromRoot();
    const sitting = await runInterleavedSitting(
      [
        { name: "a1", checkout },
        { name: "b1", checkout, env: slow },
        { name: "a2", checkout },
        { name: "b2", checkout, env: slow },
      ],
      suite,
      sittingDir,
    );
    process.stderr.write(
      `sitting ${s + 1}/${sittings}: ${sitting.processes.join("+")} processes in ${sitting.wallS.toFixed(0)} s\n`,
    );
    const [a1, b1, a2, b2] = sitting.databases as [string, string, string, string];
    await compare("interleaved", "A/A", a1, a2);
    await compare("interleaved", "A/A", b1, b2);
    await compare("interleaved", "A/B", a1, b1);
    await compare("interleaved", "A/B", a2, b2);
  }
}

// The figures.
const rows: Array<Record<string, unknown>> = [];
console.log(
  `\nregression gate across runs: threshold ${(threshold * 100).toFixed(1)}%, injected slowdown ${(extraWork * 100).toFixed(0)}% (EFFBENCH_TEST_EXTRA_WORK), ${cpus().length} × ${cpus()[0]?.model ?? "?"}, load average ${loadStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}, ${(elapsedS() / 60).toFixed(1)} min`,
);
console.log(
  `cross-run: ${values.repeats} processes per run${driftLoad > 0 ? `, ${loaded.size} of the runs beside ${values["drift-hogs"]} memory-streaming neighbour(s) (--drift-load ${driftLoad})` : ""}; interleaved: ${values["interleave-repeats"]} processes per side; rates with exact 95% Clopper–Pearson intervals`,
);
const line = (label: string, list: Comparison[], statistic: StatisticName, raw: boolean) => {
  const verdictOf = (c: Comparison) => (raw ? c.outcomes[statistic].rawVerdict : c.outcomes[statistic].verdict);
  const count = (xs: Comparison[], verdict: Verdict) => xs.filter((c) => verdictOf(c) === verdict).length;
  const aa = list.filter((c) => c.kind === "A/A");
  const ab = list.filter((c) => c.kind === "A/B");
  if (aa.length === 0 || ab.length === 0) return;
  const falseAlarm = clopperPearson(count(aa, "regressed"), aa.length);
  const detection = clopperPearson(count(ab, "regressed"), ab.length);
  const aaInconclusive = clopperPearson(count(aa, "inconclusive"), aa.length);
  const abInconclusive = clopperPearson(count(ab, "inconclusive"), ab.length);
  const pass = falseAlarm.rate <= 0.05 && falseAlarm.high <= 0.1 && detection.rate >= 0.9;
  console.log(`${label}, ${statistic}`);
  console.log(
    `  A/A false alarms ${formatProportion(falseAlarm).padEnd(28)} A/A inconclusive ${formatProportion(aaInconclusive).padEnd(28)} (unchanged ${count(aa, "unchanged")}, improved ${count(aa, "improved")})`,
  );
  console.log(
    `  A/B detections   ${formatProportion(detection).padEnd(28)} A/B inconclusive ${formatProportion(abInconclusive).padEnd(28)} (unchanged ${count(ab, "unchanged")}, improved ${count(ab, "improved")})`,
  );
  console.log(`  acceptance (false alarms ≤ 5% with upper ≤ 10%, detections ≥ 90%): ${pass ? "PASS" : "FAIL"}`);
  rows.push({ label, statistic, falseAlarm, detection, aaInconclusive, abInconclusive, pass });
};
const cross = comparisons.filter((c) => c.mode === "cross");
const interleaved = comparisons.filter((c) => c.mode === "interleaved");
for (const statistic of Object.keys(STATISTICS) as StatisticName[]) {
  console.log("");
  line("raw cross-run (no drift control)", cross, statistic, true);
  line("control-normalised cross-run", cross, statistic, false);
  line("interleaved (bench compare --interleave)", interleaved, statistic, false);
}
for (const statistic of Object.keys(STATISTICS) as StatisticName[]) {
  const controls = cross.map((c) => c.outcomes[statistic].controlRatio).filter((r): r is number => r !== null);
  if (controls.length === 0) continue;
  const moves = controls.map((r) => Math.abs(r - 1));
  console.log(
    `\ndrift control between paired runs (${statistic}): median |move| ${(median(moves) * 100).toFixed(1)}%, largest ${(Math.max(...moves) * 100).toFixed(1)}%; machine changed in ${cross.filter((c) => c.outcomes[statistic].machineChanged).length}/${cross.length} comparisons`,
  );
}
console.log(`runs and sittings: ${dir}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ threshold, extraWork, rows, comparisons }, null, 2));
