// `bench compare` as plain functions the CLI calls: options → parsed arguments → exit code
// (0 no regression, 1 a regression beyond the threshold — or, with --strict, a base case missing in head —, 2 usage).
import { PROTOCOL_DEFAULTS } from "../measure/protocol.js";
import {
  compareStores,
  CompareError,
  DEFAULT_METRIC,
  DEFAULT_THRESHOLD,
  runsWithResults,
  type CompareReport,
} from "./compare.js";
import { toJson, toMarkdown, toText } from "./format.js";
import { interleave } from "./interleave.js";
import { compareMessages } from "./messages.js";

/** The options of `bench compare`, in the shape of the CLI's option specs (node:util parseArgs). */
export const compareCommandOptions = {
  threshold: {
    type: "string",
    description: `relative change that counts, e.g. 5% or 0.05 (default ${DEFAULT_THRESHOLD * 100}%)`,
  },
  metric: { type: "string", description: `per-iteration sample series to compare (default ${DEFAULT_METRIC})` },
  "base-run": {
    type: "string",
    description: "compare only this run of the base database (run ids: sqlite3 x.db 'select id from runs')",
  },
  "head-run": { type: "string", description: "compare only this run of the head database" },
  json: { type: "boolean", description: "print the comparison as JSON" },
  markdown: { type: "boolean", description: "print a markdown summary (for a PR comment or $GITHUB_STEP_SUMMARY)" },
  strict: { type: "boolean", description: "also exit 1 when a case completed in base has no completed result in head" },
  resamples: { type: "string", description: `bootstrap resamples (default ${PROTOCOL_DEFAULTS.bootstrapResamples})` },
  seed: { type: "string", description: `bootstrap seed (default ${PROTOCOL_DEFAULTS.seed})` },
  statistic: {
    type: "string",
    description:
      "the per-side statistic compared: median (default) or a low percentile such as p10, which moves less with other work on a shared machine",
  },
  interleave: {
    type: "boolean",
    description:
      "run two code versions (git refs or checkout directories) alternately, process by process, on a suite, and compare them",
  },
} as const;

export const compareCommandSummary =
  "compare two result databases (or two runs of one) case by case; exit 1 on a regression";
export const compareCommandUsage =
  "<base.db> <head.db> [--threshold 5%] [--metric latency_ms] [--json | --markdown] [--strict]\n       bench compare <results.db> [--base-run <id>] [--head-run <id>]\n       bench compare --interleave <base-ref> <head-ref> <suite.ts>";

export interface CompareCommandArgs {
  basePath: string;
  headPath: string;
  baseRun?: number;
  headRun?: number;
  threshold: number;
  metric: string;
  format: "text" | "markdown" | "json";
  strict: boolean;
  resamples: number;
  seed: number;
  /** The compared statistic as a percentile (50: the median). */
  percentile: number;
  /** --interleave: basePath and headPath are refs or checkouts, measured on this suite in one sitting. */
  interleaveSuite?: string;
}

/** "5%" → 0.05, "0.05" → 0.05; a bare "5" is refused (5 or 5%? the user says which). */
export function parseThreshold(text: string): number {
  const trimmed = text.trim();
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(trimmed);
  const value = percent ? Number(percent[1]) / 100 : /^\d*\.\d+$|^0$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!(value > 0 && value < 10)) throw new CompareError(compareMessages.badThreshold(text));
  return value;
}

/** "median" → 50, "p10" → 10. */
export function parseStatistic(text: string | undefined): number {
  if (text === undefined || text === "median") return 50;
  const match = /^p(\d{1,2})$/.exec(text.trim());
  if (!match || Number(match[1]) < 1) throw new CompareError(compareMessages.badStatistic(text));
  return Number(match[1]);
}

function parsePositiveInteger(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CompareError(compareMessages.badInteger(option, String(value)));
  return n;
}

/** Turns the parsed CLI values and positionals into arguments; throws CompareError (exit 2) for a usage error. */
export function parseCompareArgs(values: Record<string, unknown>, positionals: string[]): CompareCommandArgs {
  if (values.interleave && positionals.length !== 3)
    throw new CompareError(compareMessages.interleaveArguments(positionals.length));
  if (positionals.length === 0) throw new CompareError(compareMessages.missingDatabases);
  if (positionals.length > 2 && !values.interleave)
    throw new CompareError(compareMessages.tooManyDatabases(positionals.length));
  if (values.json && values.markdown) throw new CompareError(compareMessages.formatsExclusive);
  const args: CompareCommandArgs = {
    basePath: positionals[0]!,
    headPath: positionals[1] ?? positionals[0]!,
    threshold: values.threshold === undefined ? DEFAULT_THRESHOLD : parseThreshold(String(values.threshold)),
    metric: (values.metric as string | undefined) ?? DEFAULT_METRIC,
    format: values.json ? "json" : values.markdown ? "markdown" : "text",
    strict: Boolean(values.strict),
    resamples: parsePositiveInteger("--resamples", values.resamples) ?? PROTOCOL_DEFAULTS.bootstrapResamples,
    seed: parsePositiveInteger("--seed", values.seed) ?? PROTOCOL_DEFAULTS.seed,
    percentile: parseStatistic(values.statistic as string | undefined),
  };
  const baseRun = parsePositiveInteger("--base-run", values["base-run"]);
  const headRun = parsePositiveInteger("--head-run", values["head-run"]);
  if (values.interleave) args.interleaveSuite = positionals[2]!;
  if (baseRun !== undefined) args.baseRun = baseRun;
  if (headRun !== undefined) args.headRun = headRun;
  return args;
}

/**
 * One database and not both runs given: head defaults to its newest run with results and base to the one before
 * (the previous nightly appended to the same file).
 */
async function defaultRuns(args: CompareCommandArgs): Promise<CompareCommandArgs> {
  if (args.basePath !== args.headPath || (args.baseRun !== undefined && args.headRun !== undefined)) return args;
  const runs = await runsWithResults(args.basePath);
  const headRun = args.headRun ?? runs.filter((r) => r !== args.baseRun).at(-1);
  const baseRun = args.baseRun ?? runs.filter((r) => r < (headRun ?? Infinity)).at(-1);
  if (headRun === undefined || baseRun === undefined)
    throw new CompareError(compareMessages.oneDatabaseNeedsRuns(args.basePath, runs));
  return { ...args, baseRun, headRun };
}

/** The exit code of a comparison: 1 on a regression (and, when strict, on a base case without a completed head result). */
export function exitCodeOf(report: CompareReport, strict: boolean): number {
  if (report.summary.regressed > 0) return 1;
  if (
    strict &&
    report.cases.some(
      (c) => c.base?.status === "completed" && (c.verdict === "only-in-base" || c.verdict === "not-comparable"),
    )
  )
    return 1;
  return 0;
}

/** Runs `bench compare`; prints the report to `write` (stdout by default) and returns the exit code. */
export async function compareCommand(
  args: CompareCommandArgs,
  write: (text: string) => void = (t) => process.stdout.write(t),
): Promise<number> {
  if (args.interleaveSuite !== undefined) return interleaveCommand(args, write);
  const resolved = await defaultRuns(args);
  if (resolved.basePath === resolved.headPath && resolved.baseRun === resolved.headRun)
    throw new CompareError(compareMessages.sameRun(resolved.baseRun!));
  const report = await compareStores(
    { path: resolved.basePath, ...(resolved.baseRun !== undefined ? { runId: resolved.baseRun } : {}) },
    { path: resolved.headPath, ...(resolved.headRun !== undefined ? { runId: resolved.headRun } : {}) },
    {
      threshold: resolved.threshold,
      metric: resolved.metric,
      resamples: resolved.resamples,
      seed: resolved.seed,
      percentile: resolved.percentile,
    },
  );
  write(
    resolved.format === "json" ? toJson(report) : resolved.format === "markdown" ? toMarkdown(report) : toText(report),
  );
  return exitCodeOf(report, resolved.strict);
}

/** `--interleave`: one sitting of both code versions, then the comparison of its two databases. */
async function interleaveCommand(args: CompareCommandArgs, write: (text: string) => void): Promise<number> {
  process.stderr.write(
    `interleaving ${args.basePath} (base) and ${args.headPath} (head) on ${args.interleaveSuite}…\n`,
  );
  const sitting = await interleave(args.basePath, args.headPath, args.interleaveSuite!);
  process.stderr.write(
    `${sitting.processes.join(" + ")} processes alternated in ${sitting.wallS.toFixed(0)} s; databases: ${sitting.databases.join(", ")}\n`,
  );
  const report = await compareStores(
    { path: sitting.databases[0]! },
    { path: sitting.databases[1]! },
    {
      threshold: args.threshold,
      metric: args.metric,
      resamples: args.resamples,
      seed: args.seed,
      percentile: args.percentile,
      interleaved: true,
    },
  );
  write(args.format === "json" ? toJson(report) : args.format === "markdown" ? toMarkdown(report) : toText(report));
  return exitCodeOf(report, args.strict);
}
