// What the fault scenarios share: tiny suites, running the real `bench` CLI, reading a results file without
// changing it, finding a run's processes in /proc, and a small tally of what each injected fault did.
import { execa, type ResultPromise } from "execa";
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromRoot } from "../../src/paths.js";
import { Connection } from "../../src/store/sqlite.js";

export const benchPath = fromRoot("bin/bench.js");

/** The protocol of every fault suite: one repeat, a few iterations, so that a case costs well under a second. */
export const TINY_PROTOCOL = "{ repeats: 1, minMeasureMs: 50, minIterations: 5, warmupMaxMs: 50 }";
export const TINY_MODEL = `{ name: "micro", layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97 }`;

/** A tiny ort suite with one prefill case per workload name; names become part of the case names (fault filters). */
export function tinySuite(
  dir: string,
  options: { file?: string; name?: string; workloads?: string[]; runner?: "ort" | "torch"; extra?: string } = {},
): string {
  const workloads = (options.workloads ?? ["ok1", "ok2"]).map(
    (name, i) => `{ name: "${name}", batch: 1, promptTokens: ${8 + 4 * i} }`,
  );
  const path = join(dir, options.file ?? "tiny.ts");
  writeFileSync(
    path,
    `import { defineSuite } from "effbench";
export default defineSuite({
  name: "${options.name ?? "faults-tiny"}",
  models: [${TINY_MODEL}],
  scenarios: ["prefill"],
  workloads: [${workloads.join(", ")}],
  runners: ["${options.runner ?? "ort"}"],
  protocol: ${TINY_PROTOCOL},
  ${options.extra ?? ""}
});
`,
  );
  return path;
}

const tempDirs: string[] = [];

export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `effbench-faults-${label}-`));
  tempDirs.push(dir);
  return dir;
}

/** Removes the scenarios' temporary directories (kept when a scenario failed, to look at). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Every bench process a scenario starts carries this variable, so that its processes can be told from other
 * benchmarks running on the same machine (children inherit the environment). */
export const MARKER_VARIABLE = "EFFBENCH_FAULT_MARKER";

export function newMarker(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

export interface BenchResult {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface BenchOptions {
  marker: string;
  env?: Record<string, string>;
  /** A safety net, not part of the fault: the scenario fails if bench runs longer. */
  timeoutMs?: number;
  /** Its own process group, as a terminal's foreground job (for SIGINT to the group). */
  detached?: boolean;
  /** A command that runs bench, e.g. ["prlimit", "--fsize=1000"]. */
  wrapper?: string[];
}

export function startBench(args: string[], options: BenchOptions): ResultPromise<{ reject: false; all: false }> {
  const [command, ...prefix] = [...(options.wrapper ?? []), "node"];
  return execa(command!, [...prefix, benchPath, ...args], {
    reject: false,
    env: { ...process.env, [MARKER_VARIABLE]: options.marker, ...options.env },
    extendEnv: false,
    timeout: options.timeoutMs ?? 90_000,
    detached: options.detached ?? false,
    stdin: "ignore",
  }) as unknown as ResultPromise<{ reject: false; all: false }>;
}

export async function runBench(args: string[], options: BenchOptions): Promise<BenchResult> {
  return settle(startBench(args, options));
}

export async function settle(child: ResultPromise): Promise<BenchResult> {
  const result = await child;
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: String(result.stdout ?? ""),
    stderr: String(result.stderr ?? ""),
    timedOut: result.timedOut,
  };
}

/** Resolves when bench's stdout has printed `count` progress lines whose status matches (`[2/5] completed …`). */
export function waitForProgress(
  child: ResultPromise,
  count: number,
  status = /completed|failed|timed-out/,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    let buffered = "";
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const line of parts)
        if (/^\[\d+\/\d+\] /.test(line) && status.test(line)) {
          lines.push(line);
          if (lines.length >= count) {
            child.stdout!.off("data", onData);
            resolve(lines);
          }
        }
    };
    child.stdout!.on("data", onData);
    void child.then(() => reject(new Error(`bench exited after ${lines.length} of ${count} progress lines`)));
  });
}

/** A stack trace in CLI output: what a user must never see for a fault or bad input. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .*(:\d+:\d+\)?|\(native\)|<anonymous>)$/m.test(text);
}

export function fileHash(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export const RESULT_TABLES = [
  "runs",
  "env",
  "cases",
  "results",
  "samples",
  "sampler_samples",
  "metrics",
  "validity",
  "serve_requests",
] as const;

/** Opens a results file read-only through the project's own driver (nothing is written to it). */
async function withReadonly<T>(db: string, body: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.open(db, { readonly: true });
  try {
    return await body(connection);
  } finally {
    await connection.close();
  }
}

export async function tableCounts(db: string): Promise<Record<string, number>> {
  return withReadonly(db, async (c) => {
    const counts: Record<string, number> = {};
    for (const table of RESULT_TABLES)
      counts[table] = (await c.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))!.n;
    return counts;
  });
}

export async function integrityCheck(db: string): Promise<string> {
  return withReadonly(db, async (c) =>
    (await c.all<{ integrity_check: string }>("PRAGMA integrity_check")).map((r) => r.integrity_check).join("; "),
  );
}

export interface ResultSummaryRow {
  id: number;
  caseName: string;
  configHash: string;
  status: string;
  reason: string | null;
  runId: number;
  samples: number;
}

export async function resultRows(db: string): Promise<ResultSummaryRow[]> {
  return withReadonly(db, (c) =>
    c.all<ResultSummaryRow>(
      `SELECT results.id, cases.name AS caseName, results.config_hash AS configHash, results.status, results.reason, results.run_id AS runId,
              (SELECT count(*) FROM samples WHERE samples.result_id = results.id) AS samples
       FROM results JOIN cases ON cases.id = results.case_id ORDER BY results.id`,
    ),
  );
}

export async function runStatuses(db: string): Promise<string[]> {
  return withReadonly(db, async (c) =>
    (await c.all<{ status: string }>("SELECT status FROM runs ORDER BY id")).map((r) => r.status),
  );
}

/** Rows that were in `before` and are not in `after`, over every table. */
export function rowsLostBetween(before: Record<string, number>, after: Record<string, number>): number {
  return RESULT_TABLES.reduce((lost, table) => lost + Math.max(0, (before[table] ?? 0) - (after[table] ?? 0)), 0);
}

/** PIDs of live processes started under `marker` whose command line contains `commandPart` (and not `exclude`). */
export function markedProcesses(marker: string, commandPart: string, exclude?: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "latin1");
      if (!environ.split("\0").includes(`${MARKER_VARIABLE}=${marker}`)) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0").join(" ");
      const state = /^State:\s+(\w)/m.exec(readFileSync(`/proc/${entry}/status`, "latin1"))?.[1];
      if (cmdline.includes(commandPart) && !(exclude && cmdline.includes(exclude)) && state !== "Z")
        found.push(Number(entry));
    } catch {
      // exited while we looked, or not ours to read
    }
  }
  return found;
}

/** Waits until no process of `marker` matches (children notice a dead parent within ~200 ms; allow `graceMs`). */
export async function waitForNoProcesses(marker: string, commandPart: string, graceMs = 2500): Promise<number[]> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = markedProcesses(marker, commandPart);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(100);
  }
}

export async function waitForProcess(
  marker: string,
  commandPart: string,
  timeoutMs = 30_000,
  exclude?: string,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [pid] = markedProcesses(marker, commandPart, exclude);
    if (pid !== undefined) return pid;
    await sleep(50);
  }
  return undefined;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const ORT_CHILD = "runners/ort/child.ts";
export const TORCH_WORKER = "runners/torch/worker.py";

export function pythonAvailable(): string | undefined {
  const venv = fromRoot(".venv/bin/python");
  return existsSync(venv) ? venv : undefined;
}
