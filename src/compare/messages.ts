// The texts of `bench compare` (what, where, how to fix), kept together as the store keeps its own.

export const compareMessages = {
  onlyInHead: "only in head: a new case, nothing to compare against",
  onlyInBase: "only in base: the case was not run in head (removed, filtered out, or its shard is missing)",
  settingsDiffer: (side: "base" | "head", own: string, other: string[]) =>
    `only in ${side} with ${own}; the ${side === "base" ? "head" : "base"} ran this case with ${other.join(" / ")} — not compared, since other runner settings measure something else (run both sides with the same settings)`,
  notCompleted: (side: "base" | "head", status: string, reason: string | null) =>
    `${side} result is ${status}${reason ? `: ${reason}` : ""}`,
  noSamples: (side: "base" | "head", metric: string, available: string[]) =>
    `${side} result has no "${metric}" samples${available.length > 0 ? ` (it has: ${available.join(", ")}) — pick one with --metric` : ""}`,
  tooFewProcesses: (base: number, head: number, needed: number) =>
    `${base} base / ${head} head process(es): at least ${needed} per side are needed to know the between-process variance — run the suite with protocol.repeats ≥ ${needed} (5 recommended)`,
  unknownRun: (path: string, runId: number) =>
    `${path}: no run with id ${runId} — list the runs with: sqlite3 ${path} "select id, started_at, suite_name from runs"`,
  badThreshold: (text: string) => `--threshold: expected a relative change such as 5% or 0.05, got "${text}"`,
  badStatistic: (text: string) => `--statistic: expected median or a percentile such as p10, got "${text}"`,
  badInteger: (option: string, text: string) => `${option}: expected a positive integer, got "${text}"`,
  missingDatabases:
    "bench compare: missing the databases — bench compare <base.db> <head.db>, or bench compare <results.db> --base-run <id> --head-run <id>",
  tooManyDatabases: (count: number) =>
    `bench compare: expected one or two databases, got ${count} — bench compare <base.db> <head.db>`,
  oneDatabaseNeedsRuns: (path: string, runs: number[]) =>
    `${path}: one database needs two runs to compare, and it has ${runs.length} with results${runs.length > 0 ? ` (${runs.join(", ")})` : ""} — pass a second database, or --base-run and --head-run`,
  sameRun: (runId: number) => `--base-run and --head-run are both run ${runId}: compare two different runs`,
  predatesInterleave: (side: string, checkout: string) =>
    `--interleave: the ${side} checkout (${checkout}) predates interleaved runs (it has no src/run/turns.ts), so its processes cannot take turns — pick a later ref, or compare two databases of separate runs instead (bench compare base.db head.db)`,
  sideFailed: (side: string, checkout: string, code: number, stderr: string) =>
    `--interleave: the ${side} side's bench run (${checkout}) exited with code ${code}${stderr ? `: ${stderr}` : ""}`,
  notACheckout: (dir: string) =>
    `--interleave: ${dir} is a directory but not an effbench checkout (no bin/bench.js) — pass a checkout directory or a git ref`,
  unknownRef: (ref: string, repo: string) =>
    `--interleave: "${ref}" is neither a directory nor a git ref of ${repo} — pass a branch, tag or commit (git log --oneline), or a checkout directory`,
  worktreeFailed: (ref: string, why: string) =>
    `--interleave: could not check out ${ref} into a temporary worktree: ${why}`,
  suiteMissing: (path: string) => `--interleave: suite file not found: ${path}`,
  interleaveArguments: (count: number) =>
    `--interleave takes three arguments, got ${count} — bench compare --interleave <base-ref> <head-ref> <suite.ts>`,
  interleavedNote:
    "interleaved: base and head processes alternated one by one in one sitting (ABBA), so a drifting machine reaches both alike; no drift control is applied",
  noControl: (side: "base" | "head", why: string) =>
    why === "none"
      ? `drift is not controlled: the ${side} run has no drift-control measurements (a database written before effbench measured one, or a run with --control-interval off) — a machine that changed between the runs reads as a code change`
      : `drift is not controlled: the ${side} run's control was not measured (${why})`,
  controlsDiffer: (base: string, head: string) =>
    `drift is not controlled: base and head ran different controls ("${base}" vs "${head}": other thread counts or devices)`,
  controlNotComparable: "the drift control could not be compared (too few control processes)",
  controlMoved: (ratio: number) =>
    `the drift control moved ${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(1)}% between the runs`,
  hostChanged: (base: string[], head: string[]) => `the host changed (${base.join(", ")} → ${head.join(", ")})`,
  cpuChanged: (base: string[], head: string[]) => `the CPU changed (${base.join(", ")} → ${head.join(", ")})`,
  deviceChanged: (base: string[], head: string[]) =>
    `the control's device changed (${base.join(", ")} → ${head.join(", ")})`,
  normalised: (count: number) =>
    `drift control: ${count} case(s) normalised — each case's head/base ratio is divided by that of the fixed control workload measured between the same runs' processes, the two CIs combined on the log scale (docs/protocol.md)`,
  machineChangedNote: (count: number) =>
    `machine changed for ${count} case(s): the control moved beyond the threshold or the host/device differs; their verdicts use the normalised ratio with a widened interval`,
  formatsExclusive: "--json and --markdown are exclusive: pick one output format",
} as const;
