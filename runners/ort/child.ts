// One repeat of one case, in its own process (so repeats capture between-process variance): build the graph, create the session,
// warm up, measure, and send the raw per-iteration samples to the parent over IPC.
import * as ort from "onnxruntime-node";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Case } from "../../src/suite/case.js";
import type { RepeatOutcome, SampleSeries, ScalarMeasure } from "../../src/runner/contract.js";
import { prepareOrtCase } from "./prepare.js";
import { measureLoop } from "../shared/measure-loop.js";
import { readPeakRssBytes, resetPeakRss } from "../shared/proc.js";
import { dieWithParent } from "../shared/parent-watch.js";
import { caseFidelity } from "./case-fidelity.js";
import { routingMeasures } from "./routing.js";
import { ORT_CACHE_DIR_VARIABLE } from "./cache-dir.js";
import type { OrtSettings } from "./settings.js";

export type ChildMessage =
  | { type: "ready" }
  | { type: "window"; phase: "measure-start" | "measure-end" }
  | { type: "result"; outcome: RepeatOutcome };

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

// Children die with their parent: the IPC channel closes when the parent exits, and a watch thread covers a
// main thread stuck in native code.
process.on("disconnect", () => process.exit(70));
if (process.send) dieWithParent();

async function main(): Promise<void> {
  const c = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Case;
  const repeat = Number(process.argv[3] ?? 0);
  const outcome = await runOrtRepeat(c, repeat).catch((error: unknown) => ({
    status: "failed" as const,
    reason: error instanceof Error ? error.message : String(error),
  }));
  await send({ type: "result", outcome });
  process.disconnect();
}

/** Test-only fault injection (test/faults, test/e2e): EFFBENCH_TEST_FAULT=throw|exit|segv|hang|alloc, limited to
 * cases whose name contains EFFBENCH_TEST_FAULT_FILTER when set. Never set in real runs. */
function injectTestFault(c: Case): void {
  const fault = process.env.EFFBENCH_TEST_FAULT;
  if (!fault) return;
  const filter = process.env.EFFBENCH_TEST_FAULT_FILTER;
  if (filter && !c.name.includes(filter)) return;
  if (fault === "throw") throw new Error("injected fault (EFFBENCH_TEST_FAULT=throw)");
  if (fault === "exit") process.exit(3);
  if (fault === "segv") process.kill(process.pid, "SIGSEGV");
  if (fault === "hang") while (true) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  if (fault === "alloc") {
    const hog: Buffer[] = [];
    while (true) hog.push(Buffer.alloc(64 * 2 ** 20, 1));
  }
}

/** Test-only slowdown (npm run bench:gate, docs/ci.md): EFFBENCH_TEST_EXTRA_WORK=0.10 makes each timed iteration
 * spin the CPU, after session.run, for 10% of that run's own time — real extra work that keeps the caseKey, so the
 * regression gate can be checked against a known slowdown. Never set in real runs; recorded in the settings. */
function testExtraWorkFraction(): number | undefined {
  const text = process.env.EFFBENCH_TEST_EXTRA_WORK;
  if (!text) return undefined;
  const fraction = Number(text);
  if (!(fraction > 0 && fraction < 10))
    throw new Error(`EFFBENCH_TEST_EXTRA_WORK: expected a fraction such as 0.10, got "${text}"`);
  return fraction;
}

function withTestExtraWork(run: () => Promise<unknown>, fraction: number | undefined): () => Promise<unknown> {
  if (fraction === undefined) return run;
  return async () => {
    const start = performance.now();
    const output = await run();
    const end = performance.now();
    const until = end + (end - start) * fraction;
    while (performance.now() < until); // busy on purpose: CPU work, not a sleep
    return output;
  };
}

/** The runner's cache directory, or (run by hand) a private one removed when this process exits. */
function modelCacheDir(): string {
  const shared = process.env[ORT_CACHE_DIR_VARIABLE];
  if (shared) return shared;
  const own = join(tmpdir(), `effbench-ort-cache-${process.pid}`); // created only if a model is cached
  process.once("exit", () => rmSync(own, { recursive: true, force: true }));
  return own;
}

export async function runOrtRepeat(c: Case, repeat: number): Promise<RepeatOutcome> {
  injectTestFault(c);
  const settings = c.settings as OrtSettings;
  const prepared = await prepareOrtCase(c, repeat, { cacheDir: modelCacheDir() });
  // A model just built held its synthesised weights in this process: let them go before ORT maps the files
  // (the runner starts children with --expose-gc).
  if (prepared.builtExternalData) (globalThis as { gc?: () => void }).gc?.();
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [settings.executionProvider],
    intraOpNumThreads: settings.intraOpThreads,
    interOpNumThreads: settings.interOpThreads,
    graphOptimizationLevel: settings.graphOptimizationLevel,
    executionMode: "sequential",
    extra: {
      session: {
        "intra_op.allow_spinning": settings.allowSpinning ? "1" : "0",
        "inter_op.allow_spinning": settings.allowSpinning ? "1" : "0",
      },
    },
  };
  const session = prepared.modelPath
    ? await ort.InferenceSession.create(prepared.modelPath, options)
    : await ort.InferenceSession.create(prepared.modelBytes, options);
  const feeds = prepared.feeds;
  const extraWork = testExtraWorkFraction();
  const fetches = prepared.fetches; // MoE: the routing outputs are not fetched on the timed path
  const run = withTestExtraWork(() => (fetches ? session.run(feeds, fetches) : session.run(feeds)), extraWork);

  resetPeakRss();
  await send({ type: "ready" });
  const { latencyMs, windowMs } = await measureLoop(run, c.protocol, {
    onMeasureStart: () => send({ type: "window", phase: "measure-start" }),
  });
  await send({ type: "window", phase: "measure-end" });
  const peakRssBytes = readPeakRssBytes();

  const series: SampleSeries[] = [{ metric: "latency_ms", unit: "ms", values: latencyMs }];
  const scalars: ScalarMeasure[] = [
    peakRssBytes === null
      ? { metric: "peak_rss_bytes", unit: "B", value: null, reason: "/proc/self/status not readable" }
      : { metric: "peak_rss_bytes", unit: "B", value: peakRssBytes },
  ];
  const routing = c.model.moe || prepared.fetches ? routingMeasures(c, await session.run(feeds)) : undefined; // MoE and MoLE, off the timed path
  if (routing) scalars.push(...routing.scalars);
  await session.release();
  // Fidelity once per case (repeat 0), after the timed window.
  if (repeat === 0 && c.technique.kind !== "base") {
    try {
      scalars.push(...(await caseFidelity(c, options)));
    } catch (error) {
      scalars.push({
        metric: "rel_l2_error",
        unit: "ratio",
        value: null,
        reason: `fidelity not computed: ${(error as Error).message}`,
      });
    }
  }
  return {
    status: "completed",
    series,
    scalars,
    tokensPerIteration: prepared.tokensPerIteration,
    measureWindowMs: windowMs,
    settings: {
      executionProvider: settings.executionProvider,
      intraOpThreads: settings.intraOpThreads,
      interOpThreads: settings.interOpThreads,
      allowSpinning: settings.allowSpinning,
      graphOptimizationLevel: settings.graphOptimizationLevel,
      onnxruntime: ort.env.versions.common,
      ...prepared.settings,
      ...(extraWork !== undefined ? { testExtraWork: extraWork } : {}),
    },
    details: routing ? { ...prepared.details, routing: routing.details } : prepared.details,
  };
}

if (process.send) await main();
else {
  // Run by hand for debugging: node --import tsx runners/ort/child.ts case.json
  const c = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Case;
  writeFileSync(1, JSON.stringify(await runOrtRepeat(c, 0)) + "\n");
}
