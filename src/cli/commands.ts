// Each command: its options, and a run function that calls the library and prints. The CLI is the composition root:
// it registers the built-in runners (runners/index.ts) and loads the report and the ort exporter on demand.
import { writeFileSync } from "node:fs";
import { loadSuite } from "../suite/loader.js";
import { planSuite } from "../suite/planner.js";
import { UsageError, messages } from "../messages.js";
import { codeVersion, gitCommit, readEnvironment } from "../run/environment.js";
import { executeCases, type CaseSummary } from "../run/execute.js";
import type { Peaks } from "../measure/result-metrics.js";
import type { GpuCalibration } from "../runner/contract.js";
import {
  compareCommand,
  compareCommandOptions,
  compareCommandSummary,
  compareCommandUsage,
  parseCompareArgs,
} from "../compare/command.js";
import { RunnerPool, getRunnerDefinition, runnerDefinitions, runnerNames } from "../runner/registry.js";
import "../../runners/index.js";
import { driftControlOf, parseControlInterval, runHooks } from "../run/run-hooks.js";
import { mergeStores, openStore } from "../store/store.js";
import { parseBytes, parseDurationMs } from "./units.js";
import { parseShard, shardCases } from "../suite/shard.js";
import { parseScale, type Scale } from "../model/scale.js";
import { formatSummaryTable, formatProgress, formatCaseList, formatNumber, formatBytes, table } from "./format.js";

type OptionSpec = {
  type: "string" | "boolean";
  short?: string;
  description?: string;
  multiple?: boolean;
  default?: string | boolean;
};
export interface Command {
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

const dbOption: OptionSpec = { type: "string", description: "SQLite results file (default results.db)" };
const scaleOptionSpec: OptionSpec = {
  type: "string",
  description:
    "scale every model down: tiny, small or a width factor in (0, 1] (recorded; the report marks scaled results)",
};
const filterOption: OptionSpec = { type: "string", description: "only cases whose id or name contains every term" };

function requireSuite(cmd: string, positionals: string[]): string {
  const path = positionals[0];
  if (!path) throw new UsageError(messages.missingArgument(cmd, "the suite file (e.g. suites/quick.ts)"));
  return path;
}

export const commands: Record<string, Command> = {
  run: {
    summary: "run a suite's cases and store every sample in SQLite",
    usage: "<suite.ts> [--db results.db] [--filter terms] [--resume] [--json] [--strict]",
    options: {
      db: dbOption,
      filter: filterOption,
      resume: { type: "boolean", description: "skip cases already completed with the same config hash" },
      scale: scaleOptionSpec,
      shard: { type: "string", description: "run shard i of n (e.g. 2/4): a deterministic, cost-balanced split" },
      json: { type: "boolean", description: "print the summary as JSON on stdout" },
      strict: { type: "boolean", description: "exit 1 when a case is unsupported on this machine" },
      python: { type: "string", description: "Python interpreter for the torch runner" },
      "case-timeout": {
        type: "string",
        description: "per repeat of a case, e.g. 90s or 5m (default: the suite's protocol.caseTimeoutMs)",
      },
      "case-memory": {
        type: "string",
        description: "RSS cap of a case's worker process tree, e.g. 4GiB (an RSS watchdog)",
      },
      "control-interval": {
        type: "string",
        description:
          "machine-drift control: least time between two of its processes, e.g. 30s (default 0: after every case process), or off",
      },
    },
    async run(values, positionals) {
      const suitePath = requireSuite("run", positionals);
      const controlIntervalMs = parseControlInterval(values["control-interval"] as string | undefined);
      const caseTimeoutMs = values["case-timeout"]
        ? parseDurationMs("--case-timeout", values["case-timeout"] as string)
        : undefined;
      const memoryCapBytes = values["case-memory"]
        ? parseBytes("--case-memory", values["case-memory"] as string)
        : undefined;
      const loaded = await loadSuite(suitePath);
      const commit = gitCommit();
      const planned = planSuite(loaded.suite, {
        codeVersion: codeVersion(commit),
        filter: values.filter as string | undefined,
        scale: scaleOption(values),
      });
      const cases = values.shard ? shardCases(planned, parseShard(values.shard as string)) : planned;
      const dbPath = (values.db as string | undefined) ?? "results.db";
      const store = await openStore(dbPath);
      const runners = new RunnerPool({ python: values.python as string | undefined });
      const json = Boolean(values.json);
      const log = (line: string) => (json ? process.stderr : process.stdout).write(line + "\n");

      const controller = new AbortController();
      let stopRequested = false;
      const onSigint = () => {
        if (!stopRequested) {
          stopRequested = true;
          log("\nstopping after the current case (Ctrl-C again to abort it)…");
        } else controller.abort();
      };
      process.on("SIGINT", onSigint);
      process.on("SIGTERM", onSigint);
      let summaries: CaseSummary[] = [];
      let runId = 0;
      try {
        const skip = values.resume ? await store.completedConfigHashes() : undefined;
        const peaks = await latestCalibration(store);
        for (const orphan of await store.interruptOrphanRuns())
          log(
            `run ${orphan} was left \`running\` by a bench process that no longer exists: marked interrupted (its results stay; --resume runs the rest)`,
          );
        runId = await store.beginRun({
          suiteName: loaded.suite.name,
          suitePath: loaded.displayPath,
          suiteHash: loaded.suiteHash,
          resolvedSuite: loaded.suite,
          gitCommit: commit,
          codeVersion: codeVersion(commit),
          argv: process.argv.slice(2),
        });
        const environment = await readEnvironment();
        log(`effbench ${loaded.suite.name}: ${cases.length} case(s) → ${dbPath} (run ${runId})`);
        const { finish, ...repeatHooks } = runHooks({
          store,
          runId,
          controlIntervalMs,
          controlFor: (c) => driftControlOf(c, { python: values.python as string | undefined }),
          signal: controller.signal,
        });
        summaries = await executeCases(cases, {
          ...repeatHooks,
          store,
          runId,
          runners,
          skipConfigHashes: skip,
          signal: controller.signal,
          shouldStop: () => stopRequested,
          caseTimeoutMs,
          memoryCapBytes,
          peaks,
          onCaseEnd: (summary, index, total) => log(formatProgress(summary, index, total)),
        }).finally(finish);
        await store.recordEnv(runId, { ...environment, runners: runners.probes() });
        const interrupted = stopRequested || controller.signal.aborted;
        await store.finishRun(runId, interrupted ? "interrupted" : "completed");
        log("");
        log(formatSummaryTable(summaries));
        if (json) process.stdout.write(JSON.stringify(summaries.map(summaryJson), null, 2) + "\n");
        log(`\nresults: ${dbPath} (run ${runId}) — query with: sqlite3 ${dbPath} "select * from metrics limit 5"`);
        if (interrupted) {
          log(messages.interrupted(loaded.displayPath, dbPath));
          return 1;
        }
        const failed = summaries.some((s) => s.status === "failed" || s.status === "timed-out");
        const unsupported = summaries.some((s) => s.status === "unsupported");
        return failed || (values.strict && unsupported) ? 1 : 0;
      } finally {
        process.off("SIGINT", onSigint);
        process.off("SIGTERM", onSigint);
        await runners.close();
        await store.close();
      }
    },
  },

  list: {
    summary: "list the cases a suite plans, with their ids",
    usage: "<suite.ts> [--filter terms] [--scale tiny] [--estimate] [--json]",
    options: {
      filter: filterOption,
      estimate: { type: "boolean", description: "estimate each case's and the suite's run time" },
      json: { type: "boolean", description: "print JSON" },
      scale: scaleOptionSpec,
    },
    async run(values, positionals) {
      const loaded = await loadSuite(requireSuite("list", positionals));
      const cases = planFor(loaded.suite, values);
      if (values.estimate) {
        const { estimateCases, DEFAULT_THROUGHPUTS } = await import("../suite/estimate.js");
        const estimates = estimateCases(cases);
        const total = estimates.reduce((sum, e) => sum + e.totalS, 0);
        if (values.json)
          console.log(JSON.stringify({ totalS: total, assumptions: DEFAULT_THROUGHPUTS, cases: estimates }, null, 2));
        else {
          console.log(
            table(
              ["id", "case", "iteration", "case total"],
              estimates.map((e) => [
                e.id,
                e.name,
                e.unsupported ? "—" : `${(e.iterationS * 1000).toPrecision(3)} ms`,
                e.unsupported ? `unsupported: ${e.unsupported}` : `${e.totalS.toFixed(1)} s`,
              ]),
            ),
          );
          console.log(
            `\nestimated total: ${(total / 60).toFixed(1)} min for ${cases.length} case(s) — assuming sustained CPU ${DEFAULT_THROUGHPUTS.cpu.flopsPerS / 1e9} GFLOP/s, ${DEFAULT_THROUGHPUTS.cpu.bytesPerS / 1e9} GB/s; GPU ${DEFAULT_THROUGHPUTS.cuda.flopsPerS / 1e12} TFLOP/s, ${DEFAULT_THROUGHPUTS.cuda.bytesPerS / 1e12} TB/s; start-up, model build, warm-up bound and the protocol's minimum measure time per repeat`,
          );
        }
        return 0;
      }
      if (values.json)
        console.log(
          JSON.stringify(
            cases.map((c) => ({ id: c.id, name: c.name, caseKey: JSON.parse(c.caseKey), configHash: c.configHash })),
            null,
            2,
          ),
        );
      else console.log(formatCaseList(loaded.suite.name, cases));
      return 0;
    },
  },

  env: {
    summary: "print what this machine is and which runners it supports",
    usage: "[--json]",
    options: {
      json: { type: "boolean", description: "print JSON" },
      python: { type: "string", description: "Python interpreter for the torch runner" },
    },
    async run(values) {
      const runners = new RunnerPool({ python: values.python as string | undefined });
      try {
        for (const name of runnerNames()) await runners.get(name);
        const env: Record<string, unknown> = { ...(await readEnvironment()), runners: runners.probes() };
        delete (env.cpu as { flags?: string }).flags;
        if (values.json) console.log(JSON.stringify(env, null, 2));
        else console.log(formatEnvironment(env));
        return 0;
      } finally {
        await runners.close();
      }
    },
  },

  export: {
    summary:
      "write the exact artifact a case runs — the ort runner's ONNX graph (open it in Netron, time it with another tool)",
    usage: "<suite.ts> --case <id> [--scale tiny] -o model.onnx",
    options: {
      case: { type: "string", description: "case id from `bench list` (with the same --scale)" },
      output: { type: "string", short: "o", description: "output .onnx path" },
      scale: {
        type: "string",
        description: "scale every model down as `run` and `list` do: tiny, small or a width factor in (0, 1]",
      },
    },
    async run(values, positionals) {
      const loaded = await loadSuite(requireSuite("export", positionals));
      if (!values.case) throw new UsageError(messages.missingArgument("export", "--case <id>"));
      if (!values.output) throw new UsageError(messages.missingArgument("export", "-o <file.onnx>"));
      // The scale changes the case ids (the model becomes "<model>@<scale>"), so it must be the one `bench list` was given.
      const c = planSuite(loaded.suite, { codeVersion: codeVersion(), scale: scaleOption(values) }).find((x) =>
        x.id.startsWith(values.case as string),
      );
      if (!c) throw new UsageError(messages.caseNotFound(values.case as string));
      const definition = getRunnerDefinition(c.runner);
      if (!definition.exportCase)
        throw new UsageError(
          `bench export: ${c.name}: the ${c.runner} runner has nothing to export — pick a case of a runner that does (${runnerDefinitions()
            .filter((d) => d.exportCase)
            .map((d) => d.name)
            .join(", ")}) from \`bench list\``,
        );
      // What the runner refuses (a scenario it has no graph for, a technique it cannot apply) is a usage error here.
      let exported: { bytes: Uint8Array; summary: string };
      try {
        exported = await definition.exportCase(c);
      } catch (error) {
        throw new UsageError(`bench export: ${c.name}: ${error instanceof Error ? error.message : String(error)}`);
      }
      writeFileSync(values.output as string, exported.bytes);
      console.log(
        `${c.name}\n→ ${values.output} (${(exported.bytes.byteLength / 1e6).toFixed(1)} MB); ${exported.summary}`,
      );
      return 0;
    },
  },
};

export const CALIBRATION_SUITE_NAME = "(calibrate)";

Object.assign(commands, {
  inspect: {
    summary:
      "per case: parameters (total, trainable, active per token), weight and adapter bytes, FLOPs per token — nothing is run",
    usage: "<suite.ts> [--filter terms] [--json]",
    options: {
      filter: filterOption,
      json: { type: "boolean", description: "print JSON" },
      scale: scaleOptionSpec,
      python: { type: "string", description: "Python interpreter for the torch runner (counts only it can give)" },
    },
    async run(values, positionals) {
      const loaded = await loadSuite(requireSuite("inspect", positionals));
      const cases = planFor(loaded.suite, values);
      const { inspectCase, withRunnerCounts } = await import("../inspect.js");
      // Counts only a runner can give (peft tuners without a formula, transformers-config models) come from it.
      const runners = new RunnerPool({ python: values.python as string | undefined });
      let rows;
      try {
        rows = await withRunnerCounts(cases, cases.map(inspectCase), (name) => runners.get(name));
      } finally {
        await runners.close();
      }
      if (values.json) {
        console.log(JSON.stringify(rows, null, 2));
        return 0;
      }
      const count = (n: number | null) =>
        n === null ? "—" : n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : String(n);
      console.log(
        table(
          [
            "id",
            "case",
            "params",
            "trainable",
            "active/token",
            "weights",
            "adapter",
            "prefill FLOP/tok",
            "decode FLOP/tok",
          ],
          rows.map((r) => [
            r.id,
            r.name,
            count(r.totalParams),
            count(r.trainableParams),
            count(r.activeParamsPerToken),
            formatBytes(r.weightBytes),
            formatBytes(r.adapterBytes),
            count(r.prefillFlopsPerToken),
            count(r.decodeFlopsPerToken),
          ]),
        ),
      );
      return 0;
    },
  },

  report: {
    summary: "render the results as a self-contained HTML leaderboard (or markdown, CSV, JSON)",
    usage: "<results.db> [-o site/] [--format html|markdown|csv|json] [--title text]",
    options: {
      output: {
        type: "string",
        short: "o",
        description: "output folder (default site/; '-' prints markdown/csv/json to stdout)",
      },
      format: {
        type: "string",
        description: "html (default: the site plus results.md/.csv/.json), markdown, csv or json",
      },
      title: { type: "string", description: "page title (default: the suites' names)" },
    },
    async run(values, positionals) {
      const db = positionals[0];
      if (!db) throw new UsageError(messages.missingArgument("report", "the results database (e.g. results.db)"));
      const format = (values.format as string | undefined) ?? "html";
      if (!["html", "markdown", "csv", "json"].includes(format))
        throw new UsageError(messages.badOption("--format", `expected html, markdown, csv or json, got "${format}"`));
      const { reportCommand } = await import("../../reports/command.js");
      const line = await reportCommand(db, (values.output as string | undefined) ?? "site", {
        format,
        title: values.title as string | undefined,
      });
      if (line) console.log(line);
      return 0;
    },
  },

  compare: {
    summary: compareCommandSummary,
    usage: compareCommandUsage,
    options: compareCommandOptions as unknown as Record<string, OptionSpec>,
    async run(values, positionals) {
      return compareCommand(parseCompareArgs(values, positionals));
    },
  },

  merge: {
    summary: "join result databases (shards) into one; merging the same shard twice changes nothing",
    usage: "<out.db> <a.db> [b.db …]",
    options: {},
    async run(_values, positionals) {
      const [out, ...inputs] = positionals;
      if (!out || inputs.length === 0)
        throw new UsageError(messages.missingArgument("merge", "the output and at least one input database"));
      const summaries = await mergeStores(out, inputs);
      for (const s of summaries) console.log(JSON.stringify(s));
      console.log(`merged ${inputs.length} database(s) → ${out}`);
      return 0;
    },
  },

  calibrate: {
    summary: "measure this machine's peak GEMM FLOP/s and memory bandwidth (for MFU and MBU), and store them",
    usage: "[--db results.db] [--threads n] [--python path] [--gpu-only] [--json]",
    options: {
      db: dbOption,
      threads: { type: "string", description: "threads (default 1, as the ort runner's default)" },
      python: { type: "string", description: "interpreter for the GPU calibration (torch), as bench run's --python" },
      "gpu-only": { type: "boolean", description: "calibrate the GPUs only (no CPU GEMM through onnxruntime)" },
      json: { type: "boolean", description: "print JSON" },
    },
    async run(values) {
      const threads = values.threads ? Number(values.threads) : 1;
      if (!Number.isInteger(threads) || threads < 1)
        throw new UsageError(messages.badOption("--threads", `expected a positive integer, got "${values.threads}"`));
      // Imported only when used: the GPU bundle stubs onnxruntime, which the CPU calibration needs.
      const result = values["gpu-only"]
        ? undefined
        : await (await import("../measure/calibrate.js")).calibrate({ threads });
      // The GPUs the torch runner sees: copy bandwidth and bf16 GEMM peak per device UUID (MBU/MFU, decode floor).
      const gpu = await calibrateGpus(values.python as string | undefined);
      const dbPath = (values.db as string | undefined) ?? "results.db";
      const store = await openStore(dbPath);
      try {
        const runId = await store.beginRun({
          suiteName: CALIBRATION_SUITE_NAME,
          suitePath: "",
          suiteHash: "",
          resolvedSuite: null,
          gitCommit: gitCommit(),
          codeVersion: codeVersion(),
          argv: process.argv.slice(2),
        });
        await store.recordEnv(runId, { ...(result ? { calibration: result } : {}), gpuCalibration: gpu });
        await store.finishRun(runId, "completed");
      } finally {
        await store.close();
      }
      if (values.json) console.log(JSON.stringify({ ...result, gpuCalibration: gpu }, null, 2));
      else {
        if (result)
          console.log(
            `${result.cpuModel}, ${threads} thread(s): peak GEMM ${formatNumber(result.gemm.peakFlopsPerS / 1e9)} GFLOP/s, copy bandwidth ${formatNumber(result.memory.peakBytesPerS / 1e9)} GB/s → stored in ${dbPath}; later runs report MFU and MBU against it`,
          );
        for (const g of gpu.gpus)
          console.log(
            `${g.name} (${g.uuid}): copy bandwidth ${formatNumber(g.copyBytesPerS / 1e9)} GB/s, bf16 GEMM ${formatNumber(g.bf16FlopsPerS / 1e12)} TFLOP/s`,
          );
        if (gpu.gpus.length === 0) console.log(`no GPU calibrated: ${gpu.reason}`);
      }
      return 0;
    },
  },
} satisfies Record<string, Command>);

/** Each accelerator's copy bandwidth and bf16 GEMM peak, through the runners that can see one; none with the reasons. */
async function calibrateGpus(python: string | undefined): Promise<{ gpus: GpuCalibration[]; reason?: string }> {
  const gpus: GpuCalibration[] = [];
  const reasons: string[] = [];
  for (const name of runnerNames()) {
    const definition = getRunnerDefinition(name);
    if (!definition.calibrateGpus) continue;
    try {
      const result = await definition.calibrateGpus(python ? { python } : {});
      gpus.push(...result.gpus);
      if (result.reason) reasons.push(`${name}: ${result.reason}`);
    } catch (error) {
      reasons.push(`${name}: the GPU calibration failed: ${(error as Error).message}`);
    }
  }
  return gpus.length > 0 ? { gpus } : { gpus, reason: reasons.join("; ") || "no runner calibrates accelerators" };
}

/** The newest `bench calibrate` result stored in this DB for this CPU, if any, and the newest per GPU UUID. */
async function latestCalibration(store: Awaited<ReturnType<typeof openStore>>): Promise<Peaks | undefined> {
  const { cpus } = await import("node:os");
  const runs = (await store.listRuns())
    .filter((r) => r.suiteName === CALIBRATION_SUITE_NAME && r.status === "completed")
    .reverse();
  let cpu: Omit<Peaks, "gpus" | "cpuCalibrated"> | undefined;
  const gpus: NonNullable<Peaks["gpus"]> = {};
  for (const run of runs) {
    const env = (await store.loadEnv(run.id)) as {
      calibration?: {
        cpuModel: string;
        threads: number;
        gemm: { peakFlopsPerS: number };
        memory: { peakBytesPerS: number };
      };
    };
    const c = env.calibration;
    const source = `bench calibrate, run ${run.id} (${run.startedAt})`;
    for (const g of (env as { gpuCalibration?: { gpus: GpuCalibration[] } }).gpuCalibration?.gpus ?? [])
      if (g.uuid && !gpus[g.uuid])
        gpus[g.uuid] = { copyBytesPerS: g.copyBytesPerS, bf16FlopsPerS: g.bf16FlopsPerS, name: g.name, source };
    if (!cpu && c && c.cpuModel === (cpus()[0]?.model ?? "unknown"))
      cpu = {
        cpuThreads: c.threads,
        cpuFlopsPerS: c.gemm.peakFlopsPerS,
        cpuBytesPerS: c.memory.peakBytesPerS,
        source,
      };
  }
  if (!cpu && Object.keys(gpus).length === 0) return undefined;
  return {
    ...(cpu ?? { cpuThreads: 0, cpuFlopsPerS: 0, cpuBytesPerS: 0, source: "" }),
    cpuCalibrated: cpu !== undefined,
    gpus,
  };
}

/** The cases `list` and `inspect` show: the suite planned with `--filter` and `--scale` as given. */
function planFor(suite: Parameters<typeof planSuite>[0], values: Record<string, unknown>) {
  return planSuite(suite, {
    codeVersion: codeVersion(),
    filter: values.filter as string | undefined,
    scale: scaleOption(values),
  });
}

function scaleOption(values: Record<string, unknown>): Scale | undefined {
  if (values.scale === undefined) return undefined;
  try {
    return parseScale(values.scale as string);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function summaryJson(s: CaseSummary) {
  return {
    id: s.case.id,
    name: s.case.name,
    status: s.status,
    reason: s.reason,
    p50Ms: s.p50Ms,
    p50CiMs: [s.p50LowMs, s.p50HighMs],
    tokensPerS: s.tokensPerS,
    peakRssBytes: s.peakRssBytes,
    flags: s.flags,
  };
}

function formatEnvironment(env: Record<string, unknown>): string {
  const cpu = env.cpu as { brand: string; cores: number };
  const runners = env.runners as Record<string, { available: boolean; reason?: string; info: Record<string, unknown> }>;
  const lines = [
    `cpu      ${cpu.brand} (${cpu.cores} logical cores)`,
    `memory   ${((env.memoryBytes as number) / 2 ** 30).toFixed(1)} GiB`,
    `os       ${(env.os as { distro: string; kernel: string }).distro}, kernel ${(env.os as { kernel: string }).kernel}`,
    `node     ${env.node}`,
    `effbench ${env.effbench} (${env.gitCommit ?? "not a git checkout"})`,
  ];
  for (const [name, probe] of Object.entries(runners))
    lines.push(
      `runner   ${name.padEnd(6)} ${probe.available ? `available ${JSON.stringify(probe.info)}` : `unavailable: ${probe.reason}`}`,
    );
  return lines.join("\n");
}
