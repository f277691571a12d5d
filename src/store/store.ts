// The results store (docs/store.md): one SQLite file in WAL mode keeps every run, raw sample, metric and validity
// flag. One `BEGIN IMMEDIATE` transaction per case, so a killed run loses at most the case in flight, and
// writers in other processes (shards on one machine) wait for each other instead of losing rows.
import { metricFromColumns, resultFromRow } from "./rows.js";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import type { Case } from "../suite/case.js";
import type { ValidityRecord } from "../measure/validity.js";
import { StoreError, storeMessages } from "./errors.js";
import {
  MIGRATIONS,
  OLDEST_READABLE_VERSION,
  SCHEMA_VERSION,
  SERVE_REQUEST_PHASE_VERSION,
  SERVE_REQUESTS_VERSION,
} from "./schema.js";
import type { RequestRow } from "../runner/contract.js";

const SERVE_REQUEST_COLUMNS = [
  "result_id",
  "repeat",
  "request",
  "adapter",
  "intended_ms",
  "sent_ms",
  "send_lag_ms",
  "status",
  "http_status",
  "error",
  "ttft_ms",
  "tpot_ms",
  "e2e_ms",
  "itl_count",
  "itl_mean_ms",
  "itl_p50_ms",
  "itl_p99_ms",
  "itl_max_ms",
  "prompt_tokens",
  "output_tokens",
  "intended_prompt_tokens",
  "intended_output_tokens",
  "phase",
] as const;
/** The columns a schema-4 shard has (the last three came with schema 5). */
const SERVE_REQUEST_COLUMNS_V4 = SERVE_REQUEST_COLUMNS.slice(0, -3);
import { BUSY_TIMEOUT_MS, Connection, isBusy, MAX_SQL_VARIABLES, type SqlValue } from "./sqlite.js";
import { copyShardControls, insertControl, selectControls, type ControlRecord, type ControlRow } from "./controls.js";

export { StoreError, type StoreErrorCode } from "./errors.js";
export { SCHEMA_VERSION } from "./schema.js";
export type { ValidityRecord } from "../measure/validity.js";
export type { ControlRecord, ControlRow } from "./controls.js";

/** Rows per multi-row INSERT: hundreds per statement, far below SQLite's 32,766-parameter limit. */
export const INSERT_BATCH_ROWS = 500;
/** BEGIN IMMEDIATE is retried this many times after SQLite's own busy wait (BUSY_TIMEOUT_MS) runs out. */
export const BUSY_RETRIES = 5;

export type ResultStatus = "completed" | "failed" | "timed-out" | "unsupported";
export type RunStatus = "running" | "completed" | "interrupted" | "failed";

export interface RunInfo {
  suiteName: string;
  suitePath: string;
  suiteHash: string;
  resolvedSuite: unknown;
  gitCommit: string | null;
  codeVersion: string;
  argv: string[];
}

export interface MetricRecord {
  name: string;
  /** `null` when not measured; `reason` then says why. */
  value: number | null;
  unit: string;
  ciLow?: number | null;
  ciHigh?: number | null;
  reason?: string;
  /** How to read the number (e.g. "PCU: … a duty cycle"). */
  label?: string;
}

/** Per-iteration values of one metric in one repeat (process). */
export interface SampleRecord {
  repeat: number;
  metric: string;
  values: number[];
}

/** A sampler time series of one repeat: `tMs[i]` is when `values[i]` was read (ms since the window opened). */
export interface SamplerSeriesRecord {
  repeat: number;
  metric: string;
  tMs: number[];
  values: Array<number | null>;
}

export interface ResultRecord {
  case: Case;
  status: ResultStatus;
  /** Required unless completed. */
  reason?: string;
  startedAt: string;
  finishedAt: string;
  repeats: number;
  settings?: Record<string, unknown>;
  details?: Record<string, unknown>;
  samples: SampleRecord[];
  samplerSeries?: SamplerSeriesRecord[];
  metrics: MetricRecord[];
  validity: ValidityRecord[];
  /** Per-request rows of a serving case (table serve_requests), kept for failed cases too. */
  requests?: Array<RequestRow & { repeat: number }>;
}

export interface RunRow {
  id: number;
  uuid: string;
  startedAt: string;
  finishedAt: string | null;
  suiteName: string;
  suitePath: string;
  suiteHash: string;
  gitCommit: string | null;
  codeVersion: string;
  argv: string[];
  hostname: string | null;
  /** The bench process that wrote the run (null for runs written before schema 2, or merged). */
  pid: number | null;
  status: RunStatus;
  /** The shard file a merged run came from, and its id there. */
  mergedFrom: string | null;
  originalId: number | null;
  resultCount: number;
}

export interface ResultRow {
  resultId: number;
  runId: number;
  caseId: string;
  caseKey: string;
  caseName: string;
  model: string;
  technique: string;
  scenario: string;
  runner: string;
  workload: Record<string, unknown>;
  /** The model and technique configs in full. */
  caseDetails: Record<string, unknown>;
  configHash: string;
  status: ResultStatus;
  reason: string | null;
  startedAt: string;
  finishedAt: string;
  repeats: number;
  config: Record<string, unknown> | null;
  settings: Record<string, unknown> | null;
  details: Record<string, unknown> | null;
  metrics: MetricRecord[];
  validity: ValidityRecord[];
}

export interface SampleRow {
  repeat: number;
  metric: string;
  iteration: number;
  value: number;
}

export interface ResultFilter {
  runId?: number;
  caseId?: string;
  status?: ResultStatus;
}

export interface OpenOptions {
  /** Open without writing: no migration, no WAL switch (for report, compare, export). */
  readonly?: boolean;
}

/** Opens (creating and migrating when writable) a results database. */
export async function openStore(path: string, options: OpenOptions = {}): Promise<Store> {
  if (options.readonly && !existsSync(path))
    throw new StoreError("cannot-open", storeMessages.cannotOpen(path, "no such file"));
  const connection = await Connection.open(path, options);
  try {
    await prepareConnection(connection, options);
  } catch (error) {
    await connection.close().catch(() => undefined);
    throw error;
  }
  return new Store(connection, Boolean(options.readonly));
}

async function prepareConnection(connection: Connection, options: OpenOptions): Promise<void> {
  // The first read of the header: a file that is not SQLite fails here with SQLITE_NOTADB; reading the schema
  // page then catches a corrupt first page (SQLITE_CORRUPT) before anything is written.
  // Version and tables in one statement, one snapshot: another process may be migrating a new file right now, and
  // two separate reads could see its tables without its version ("not a store").
  const snapshot = await connection.get<{ version: number; tables: number }>(
    "SELECT (SELECT user_version FROM pragma_user_version) AS version, (SELECT count(*) FROM sqlite_master WHERE type = 'table') AS tables",
  );
  const version = snapshot?.version ?? 0;
  const tables = snapshot?.tables ?? 0;
  if (version > SCHEMA_VERSION)
    throw new StoreError("schema-too-new", storeMessages.schemaTooNew(connection.path, version, SCHEMA_VERSION));
  if (options.readonly) {
    if (version === 0) throw new StoreError("not-a-store", storeMessages.notAStore(connection.path));
    if (version < OLDEST_READABLE_VERSION)
      throw new StoreError("schema-too-old", storeMessages.schemaTooOld(connection.path, version, SCHEMA_VERSION));
    await connection.exec("PRAGMA foreign_keys = ON");
    return;
  }
  if (version === 0 && tables > 0) throw new StoreError("not-a-store", storeMessages.notAStore(connection.path));
  // Before appending, make sure the file is sound: a damaged page under old results would otherwise take new
  // ones with it. quick_check reads every page (about a second per 150 MB).
  if (version > 0) {
    const check = await connection
      .get<{ quick_check: string }>("PRAGMA quick_check(1)")
      .catch((error: Error) => ({ quick_check: error.message }));
    if (check?.quick_check !== "ok")
      throw new StoreError(
        "corrupt",
        storeMessages.corrupt(connection.path, `integrity check: ${check?.quick_check ?? "no answer"}`),
      );
  }
  await retryBusy(() => connection.exec("PRAGMA journal_mode = WAL"));
  await connection.exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL");
  if (version < SCHEMA_VERSION) await migrate(connection);
}

async function userVersion(connection: Connection): Promise<number> {
  const row = await connection.get<{ user_version: number }>("PRAGMA user_version");
  return row?.user_version ?? 0;
}

/** Tables in the file: a user_version of 0 with tables in it is somebody else's database, not to be added to. */
async function tableCount(connection: Connection): Promise<number> {
  const row = await connection.get<{ count: number }>(
    "SELECT count(*) AS count FROM sqlite_master WHERE type = 'table'",
  );
  return row?.count ?? 0;
}

/** Applies the missing migrations in one write transaction; a concurrent opener waits, then finds them applied. */
async function migrate(connection: Connection): Promise<void> {
  await withTransaction(connection, async () => {
    const version = await userVersion(connection);
    if (version > SCHEMA_VERSION)
      throw new StoreError("schema-too-new", storeMessages.schemaTooNew(connection.path, version, SCHEMA_VERSION));
    for (let next = version; next < SCHEMA_VERSION; next++) {
      await connection.exec(MIGRATIONS[next]);
      await connection.exec(`PRAGMA user_version = ${next + 1}`);
    }
  });
}

/** Whether a process with this pid exists (signal 0 checks without sending; EPERM means it exists, as another user's). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function retryBusy<T>(action: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      if (!isBusy(error) || attempt >= BUSY_RETRIES) throw error;
      await sleep(50 * 2 ** attempt + Math.random() * 50);
    }
  }
}

async function withTransaction<T>(connection: Connection, body: () => Promise<T>): Promise<T> {
  // IMMEDIATE takes the write lock up front: a deferred transaction that reads first and writes later can fail
  // with SQLITE_BUSY in the middle (lock upgrade), which a busy timeout does not cover.
  await retryBusy(() => connection.exec("BEGIN IMMEDIATE"));
  try {
    const result = await body();
    await retryBusy(() => connection.exec("COMMIT"));
    return result;
  } catch (error) {
    await connection.exec("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));
const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));
const finiteOrNull = (x: number | null | undefined): number | null =>
  x === undefined || x === null || !Number.isFinite(x) ? null : x;

/** Inserts rows with as many per statement as fit the batch (never above SQLite's parameter limit). */
async function insertBatched(
  connection: Connection,
  table: string,
  columns: string[],
  rows: SqlValue[][],
): Promise<void> {
  const perStatement = Math.min(INSERT_BATCH_ROWS, Math.floor(MAX_SQL_VARIABLES / columns.length));
  const tuple = `(${columns.map(() => "?").join(", ")})`;
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    await connection.run(
      `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${chunk.map(() => tuple).join(", ")}`,
      chunk.flat(),
    );
  }
}

export class Store {
  /** Serialises this object's operations: a transaction must not interleave with another on one connection. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly connection: Connection,
    readonly readonly: boolean,
  ) {}

  get path(): string {
    return this.connection.path;
  }

  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError("closed", storeMessages.closed(this.path)));
    const next = this.queue.then(operation, operation);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private transaction<T>(body: () => Promise<T>): Promise<T> {
    return this.exclusive(() => withTransaction(this.connection, body));
  }

  async beginRun(info: RunInfo): Promise<number> {
    return this.transaction(async () => {
      const { lastId } = await this.connection.run(
        `INSERT INTO runs (uuid, started_at, suite_name, suite_path, suite_hash, resolved_suite_json, git_commit, code_version, argv_json, hostname, pid, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running')`,
        [
          randomUUID(),
          new Date().toISOString(),
          info.suiteName,
          info.suitePath,
          info.suiteHash,
          json(info.resolvedSuite) ?? "null",
          info.gitCommit,
          info.codeVersion,
          JSON.stringify(info.argv),
          hostname(),
          process.pid,
        ],
      );
      return lastId;
    });
  }

  /**
   * Marks as `interrupted` this host's runs still `running` whose bench process no longer exists (killed with -9,
   * by the OOM killer, a node pre-empted: nothing could finish them). Their results stay. Runs of other hosts,
   * merged runs and runs without a pid are left alone: their process cannot be checked from here. Returns their ids.
   */
  async interruptOrphanRuns(): Promise<number[]> {
    return this.transaction(async () => {
      const rows = await this.connection.all<{ id: number; pid: number }>(
        "SELECT id, pid FROM runs WHERE status = 'running' AND pid IS NOT NULL AND merged_from IS NULL AND hostname = ?",
        [hostname()],
      );
      const orphans = rows.filter((r) => !processExists(r.pid)).map((r) => r.id);
      for (const id of orphans)
        await this.connection.run("UPDATE runs SET status = 'interrupted', finished_at = ? WHERE id = ?", [
          new Date().toISOString(),
          id,
        ]);
      return orphans;
    });
  }

  /** Machine and environment facts of a run, one row per top-level key (a later call replaces a key). */
  async recordEnv(runId: number, env: Record<string, unknown>): Promise<void> {
    await this.transaction(async () => {
      await this.requireRun(runId);
      const rows = Object.entries(env).map(([key, value]) => [runId, key, json(value) ?? "null"]);
      const perStatement = Math.floor(INSERT_BATCH_ROWS / 3);
      for (let start = 0; start < rows.length; start += perStatement) {
        const chunk = rows.slice(start, start + perStatement);
        await this.connection.run(
          `INSERT OR REPLACE INTO env (run_id, key, value_json) VALUES ${chunk.map(() => "(?, ?, ?)").join(", ")}`,
          chunk.flat(),
        );
      }
    });
  }

  /** Stores one case's result with its samples, metrics and validity in one transaction; returns the result id. */
  async recordResult(runId: number, record: ResultRecord): Promise<number> {
    validateRecord(record);
    return this.transaction(async () => {
      await this.requireRun(runId);
      const c = record.case;
      await this.connection.run(
        `INSERT INTO cases (id, case_key, name, model, technique, scenario, workload_json, runner, details_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET case_key = excluded.case_key, name = excluded.name, model = excluded.model,
           technique = excluded.technique, scenario = excluded.scenario, workload_json = excluded.workload_json,
           runner = excluded.runner, details_json = excluded.details_json`,
        [
          c.id,
          c.caseKey,
          c.name,
          c.model.name,
          c.technique.kind,
          c.scenario,
          JSON.stringify(c.workload),
          c.runner,
          JSON.stringify({ model: c.model, technique: c.technique }),
        ],
      );
      // Stored as the suite gave it: the runner's settings under its name.
      const config = { protocol: c.protocol, [c.runner]: c.settings };
      const { lastId: resultId } = await this.connection.run(
        `INSERT INTO results (run_id, case_id, config_hash, status, reason, started_at, finished_at, repeats, config_json, settings_json, details_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          runId,
          c.id,
          c.configHash,
          record.status,
          record.reason ?? null,
          record.startedAt,
          record.finishedAt,
          record.repeats,
          json(config),
          json(record.settings),
          json(record.details),
        ],
      );
      const samples: SqlValue[][] = [];
      for (const series of record.samples)
        series.values.forEach((value, iteration) =>
          samples.push([resultId, series.repeat, series.metric, iteration, value]),
        );
      await insertBatched(this.connection, "samples", ["result_id", "repeat", "metric", "iteration", "value"], samples);

      await insertBatched(
        this.connection,
        "serve_requests",
        [...SERVE_REQUEST_COLUMNS],
        (record.requests ?? []).map((r) => [
          resultId,
          r.repeat,
          r.request,
          r.adapter,
          r.intendedMs,
          r.sentMs,
          r.sendLagMs,
          r.status,
          r.httpStatus,
          r.error,
          finiteOrNull(r.ttftMs),
          finiteOrNull(r.tpotMs),
          r.e2eMs,
          r.itl?.count ?? null,
          r.itl?.meanMs ?? null,
          r.itl?.p50Ms ?? null,
          r.itl?.p99Ms ?? null,
          r.itl?.maxMs ?? null,
          r.promptTokens,
          r.outputTokens,
          r.intendedPromptTokens ?? null,
          r.intendedOutputTokens ?? null,
          r.phase ?? null,
        ]),
      );

      const samplerRows: SqlValue[][] = [];
      for (const series of record.samplerSeries ?? [])
        series.values.forEach((value, seq) =>
          samplerRows.push([resultId, series.repeat, series.metric, seq, series.tMs[seq], finiteOrNull(value)]),
        );
      await insertBatched(
        this.connection,
        "sampler_samples",
        ["result_id", "repeat", "metric", "seq", "t_ms", "value"],
        samplerRows,
      );

      await insertBatched(
        this.connection,
        "metrics",
        ["result_id", "name", "value", "unit", "ci_low", "ci_high", "reason", "label"],
        record.metrics.map((m) => {
          const value = finiteOrNull(m.value);
          // A statistic that came out NaN (e.g. the CV of one value) is not measured: say so rather than store NaN.
          const reason =
            m.reason ?? (value === null ? `not computable: the statistic is ${m.value} for these samples` : null);
          return [
            resultId,
            m.name,
            value,
            m.unit,
            finiteOrNull(m.ciLow),
            finiteOrNull(m.ciHigh),
            reason,
            m.label ?? null,
          ];
        }),
      );
      await insertBatched(
        this.connection,
        "validity",
        ["result_id", "flag", "detail"],
        record.validity.map((v) => [resultId, v.flag, v.detail]),
      );
      return resultId;
    });
  }

  async finishRun(runId: number, status: Exclude<RunStatus, "running">): Promise<void> {
    await this.transaction(async () => {
      const { changes } = await this.connection.run("UPDATE runs SET finished_at = ?, status = ? WHERE id = ?", [
        new Date().toISOString(),
        status,
        runId,
      ]);
      if (changes === 0) throw new StoreError("unknown-run", storeMessages.unknownRun(this.path, runId));
    });
  }

  /** configHashes with a completed result, in any run (what `--resume` skips). */
  async completedConfigHashes(): Promise<Set<string>> {
    const rows = await this.exclusive(() =>
      this.connection.all<{ config_hash: string }>(
        "SELECT DISTINCT config_hash FROM results WHERE status = 'completed'",
      ),
    );
    return new Set(rows.map((r) => r.config_hash));
  }

  async listRuns(): Promise<RunRow[]> {
    const rows = await this.exclusive(() =>
      this.connection.all<Record<string, unknown>>(
        `SELECT runs.*, (SELECT count(*) FROM results WHERE results.run_id = runs.id) AS result_count FROM runs ORDER BY runs.id`,
      ),
    );
    return rows.map((r) => ({
      id: r.id as number,
      uuid: r.uuid as string,
      startedAt: r.started_at as string,
      finishedAt: r.finished_at as string | null,
      suiteName: r.suite_name as string,
      suitePath: r.suite_path as string,
      suiteHash: r.suite_hash as string,
      gitCommit: r.git_commit as string | null,
      codeVersion: r.code_version as string,
      argv: JSON.parse(r.argv_json as string) as string[],
      hostname: r.hostname as string | null,
      pid: (r.pid as number | null | undefined) ?? null,
      status: r.status as RunStatus,
      mergedFrom: r.merged_from as string | null,
      originalId: r.original_id as number | null,
      resultCount: r.result_count as number,
    }));
  }

  /** The resolved suite a run was planned from. */
  async loadResolvedSuite(runId: number): Promise<unknown> {
    const row = await this.exclusive(() =>
      this.connection.get<{ resolved_suite_json: string }>("SELECT resolved_suite_json FROM runs WHERE id = ?", [
        runId,
      ]),
    );
    if (!row) throw new StoreError("unknown-run", storeMessages.unknownRun(this.path, runId));
    return JSON.parse(row.resolved_suite_json);
  }

  async loadEnv(runId: number): Promise<Record<string, unknown>> {
    const rows = await this.exclusive(() =>
      this.connection.all<{ key: string; value_json: string }>(
        "SELECT key, value_json FROM env WHERE run_id = ? ORDER BY key",
        [runId],
      ),
    );
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value_json)]));
  }

  /** Results with their case, metrics and validity joined, in the order they were recorded. */
  async loadResults(filter: ResultFilter = {}): Promise<ResultRow[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.runId !== undefined) (where.push("results.run_id = ?"), params.push(filter.runId));
    if (filter.caseId !== undefined) (where.push("results.case_id = ?"), params.push(filter.caseId));
    if (filter.status !== undefined) (where.push("results.status = ?"), params.push(filter.status));
    const clause = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
    const { results, metrics, validity } = await this.exclusive(async () => ({
      results: await this.connection.all<Record<string, unknown>>(
        `SELECT results.*, cases.case_key, cases.name AS case_name, cases.model, cases.technique, cases.scenario, cases.runner,
                cases.workload_json, cases.details_json AS case_details_json
         FROM results JOIN cases ON cases.id = results.case_id ${clause} ORDER BY results.id`,
        params,
      ),
      metrics: await this.connection.all<Record<string, unknown>>(
        `SELECT metrics.* FROM metrics JOIN results ON results.id = metrics.result_id ${clause} ORDER BY metrics.rowid`,
        params,
      ),
      validity: await this.connection.all<Record<string, unknown>>(
        `SELECT validity.* FROM validity JOIN results ON results.id = validity.result_id ${clause} ORDER BY validity.rowid`,
        params,
      ),
    }));
    const metricsByResult = groupBy(metrics, (m) => m.result_id as number);
    const validityByResult = groupBy(validity, (v) => v.result_id as number);
    return results.map((r) =>
      resultFromRow(
        r,
        parse,
        (metricsByResult.get(r.id as number) ?? []).map((m) =>
          metricFromColumns(
            m.name as string,
            m.value as number | null,
            m.unit as string,
            m.ci_low as number | null,
            m.ci_high as number | null,
            m.reason as string | null,
            m.label as string | null,
          ),
        ),
        (validityByResult.get(r.id as number) ?? []).map((v) => ({
          flag: v.flag as string,
          detail: v.detail as string,
        })),
      ),
    );
  }

  /** Raw per-iteration samples of a result, ordered by metric, repeat and iteration. */
  async loadSamples(resultId: number, metric?: string): Promise<SampleRow[]> {
    const sql = `SELECT repeat, metric, iteration, value FROM samples WHERE result_id = ?${metric === undefined ? "" : " AND metric = ?"} ORDER BY metric, repeat, iteration`;
    return this.exclusive(() =>
      this.connection.all<SampleRow>(sql, metric === undefined ? [resultId] : [resultId, metric]),
    );
  }

  /** One metric's samples of every result at once, grouped by result then repeat (for reports over many cases). */
  async loadAllSampleProcesses(metric: string): Promise<Map<number, number[][]>> {
    const rows = await this.exclusive(() =>
      this.connection.all<{ result_id: number; repeat: number; value: number }>(
        "SELECT result_id, repeat, value FROM samples WHERE metric = ? ORDER BY result_id, repeat, iteration",
        [metric],
      ),
    );
    const out = new Map<number, number[][]>();
    for (const row of rows) {
      let processes = out.get(row.result_id);
      if (!processes) out.set(row.result_id, (processes = []));
      (processes[row.repeat] ??= []).push(row.value);
    }
    return out;
  }

  /** One metric's samples grouped by repeat (process): the input of the hierarchical bootstrap. */
  async loadSampleProcesses(resultId: number, metric: string): Promise<number[][]> {
    const processes: number[][] = [];
    for (const row of await this.loadSamples(resultId, metric)) (processes[row.repeat] ??= []).push(row.value);
    return processes.filter((p) => p !== undefined);
  }

  async loadSamplerSeries(resultId: number, metric?: string): Promise<SamplerSeriesRecord[]> {
    const sql = `SELECT repeat, metric, t_ms, value FROM sampler_samples WHERE result_id = ?${metric === undefined ? "" : " AND metric = ?"} ORDER BY metric, repeat, seq`;
    const rows = await this.exclusive(() =>
      this.connection.all<{ repeat: number; metric: string; t_ms: number; value: number | null }>(
        sql,
        metric === undefined ? [resultId] : [resultId, metric],
      ),
    );
    const series = new Map<string, SamplerSeriesRecord>();
    for (const row of rows) {
      const key = `${row.metric}\u0000${row.repeat}`;
      let entry = series.get(key);
      if (!entry) series.set(key, (entry = { repeat: row.repeat, metric: row.metric, tMs: [], values: [] }));
      entry.tMs.push(row.t_ms);
      entry.values.push(row.value);
    }
    return [...series.values()];
  }

  /**
   * Copies every run of another results file that this one lacks (matched by run uuid, so merging a shard twice
   * changes nothing), with its env, cases, results, samples, metrics and validity; results get new ids. A merged
   * run remembers the file it came from and its id there.
   */
  async mergeFrom(inputPath: string): Promise<MergeInputSummary> {
    await checkShard(inputPath);
    return this.exclusive(async () => {
      // ATTACH cannot run inside a transaction; DETACH follows whatever happens.
      await this.connection.run("ATTACH DATABASE ? AS shard", [inputPath]);
      try {
        return await withTransaction(this.connection, () => this.copyShard(inputPath));
      } finally {
        await this.connection.run("DETACH DATABASE shard");
      }
    });
  }

  private async copyShard(inputPath: string): Promise<MergeInputSummary> {
    const db = this.connection;
    const version = (await db.get<{ user_version: number }>("PRAGMA shard.user_version"))?.user_version ?? 0;
    // Older shards merge as they are: the columns copied below exist since schema 1 (runs.pid is not copied).
    if (version < OLDEST_READABLE_VERSION || version > SCHEMA_VERSION)
      throw new StoreError("schema-mismatch", storeMessages.schemaMismatch(inputPath, version, SCHEMA_VERSION));
    const shardRuns = await db.all<{ id: number; uuid: string }>("SELECT id, uuid FROM shard.runs ORDER BY id");
    const known = new Set((await db.all<{ uuid: string }>("SELECT uuid FROM main.runs")).map((r) => r.uuid));
    const summary: MergeInputSummary = { path: inputPath, runsAdded: 0, runsSkipped: 0, resultsAdded: 0 };
    // Result ids of the shard shift past every id here, so that each child row follows its result.
    const offset = (await db.get<{ top: number }>("SELECT COALESCE(MAX(id), 0) AS top FROM main.results"))!.top;
    const runColumns =
      "uuid, started_at, finished_at, suite_name, suite_path, suite_hash, resolved_suite_json, git_commit, code_version, argv_json, hostname, status";
    const resultColumns =
      "run_id, case_id, config_hash, status, reason, started_at, finished_at, repeats, config_json, settings_json, details_json";
    const ofRun = "IN (SELECT id FROM shard.results WHERE run_id = ?)";
    for (const run of shardRuns) {
      if (known.has(run.uuid)) {
        summary.runsSkipped++;
        continue;
      }
      const { lastId: runId } = await db.run(
        `INSERT INTO main.runs (${runColumns}, merged_from, original_id)
         SELECT ${runColumns}, COALESCE(merged_from, ?), COALESCE(original_id, id) FROM shard.runs WHERE id = ?`,
        [inputPath, run.id],
      );
      await db.run(
        "INSERT INTO main.env (run_id, key, value_json) SELECT ?, key, value_json FROM shard.env WHERE run_id = ?",
        [runId, run.id],
      );
      // A case id names what is measured: one already here describes the same case.
      await db.run(
        `INSERT OR IGNORE INTO main.cases SELECT * FROM shard.cases WHERE id IN (SELECT case_id FROM shard.results WHERE run_id = ?)`,
        [run.id],
      );
      const { changes } = await db.run(
        `INSERT INTO main.results (id, ${resultColumns}) SELECT id + ?, ?, ${resultColumns.replace("run_id, ", "")} FROM shard.results WHERE run_id = ?`,
        [offset, runId, run.id],
      );
      await db.run(
        `INSERT INTO main.samples (result_id, repeat, metric, iteration, value) SELECT result_id + ?, repeat, metric, iteration, value FROM shard.samples WHERE result_id ${ofRun}`,
        [offset, run.id],
      );
      await db.run(
        `INSERT INTO main.sampler_samples (result_id, repeat, metric, seq, t_ms, value) SELECT result_id + ?, repeat, metric, seq, t_ms, value FROM shard.sampler_samples WHERE result_id ${ofRun}`,
        [offset, run.id],
      );
      await db.run(
        `INSERT INTO main.metrics (result_id, name, value, unit, ci_low, ci_high, reason, label) SELECT result_id + ?, name, value, unit, ci_low, ci_high, reason, label FROM shard.metrics WHERE result_id ${ofRun} ORDER BY rowid`,
        [offset, run.id],
      );
      await db.run(
        `INSERT INTO main.validity (result_id, flag, detail) SELECT result_id + ?, flag, detail FROM shard.validity WHERE result_id ${ofRun} ORDER BY rowid`,
        [offset, run.id],
      );
      if (version >= SERVE_REQUESTS_VERSION) {
        const columns = version >= SERVE_REQUEST_PHASE_VERSION ? SERVE_REQUEST_COLUMNS : SERVE_REQUEST_COLUMNS_V4;
        await db.run(
          `INSERT INTO main.serve_requests (${columns.join(", ")}) SELECT result_id + ?, ${columns.slice(1).join(", ")} FROM shard.serve_requests WHERE result_id ${ofRun}`,
          [offset, run.id],
        );
      }
      await copyShardControls(db, run.id, runId);
      summary.runsAdded++;
      summary.resultsAdded += changes;
    }
    return summary;
  }

  /** Stores one process of the run's drift control (src/run/drift-control.ts); returns its id. */
  async recordControl(runId: number, record: ControlRecord): Promise<number> {
    return this.transaction(async () => {
      await this.requireRun(runId);
      return insertControl(this.connection, runId, record);
    });
  }

  /** The drift-control processes of these runs (every run when absent); none in a file older than schema 3. */
  async loadControls(runIds?: number[]): Promise<ControlRow[]> {
    return this.exclusive(() => selectControls(this.connection, runIds));
  }

  /** Waits for pending operations, then closes the connection; a second call does nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    const pending = this.queue;
    this.closed = true;
    await pending;
    await this.connection.close();
  }

  private async requireRun(runId: number): Promise<void> {
    const row = await this.connection.get<{ id: number }>("SELECT id FROM runs WHERE id = ?", [runId]);
    if (!row) throw new StoreError("unknown-run", storeMessages.unknownRun(this.path, runId));
  }
}

export interface MergeInputSummary {
  path: string;
  runsAdded: number;
  /** Runs already present (same uuid): merging a shard twice changes nothing. */
  runsSkipped: number;
  resultsAdded: number;
}

/** An input of a merge must be an effbench database of this schema version or an older one; says why not otherwise. */
async function checkShard(path: string): Promise<void> {
  if (!existsSync(path)) throw new StoreError("cannot-open", storeMessages.cannotOpen(path, "no such file"));
  const connection = await Connection.open(path, { readonly: true });
  try {
    const version = await userVersion(connection);
    await tableCount(connection); // a damaged schema page fails here, as in openStore
    if (version === 0) throw new StoreError("not-a-store", storeMessages.notAStore(path));
    // Older shards merge as they are: the columns copied below exist since schema 1 (runs.pid is not copied).
    if (version < OLDEST_READABLE_VERSION || version > SCHEMA_VERSION)
      throw new StoreError("schema-mismatch", storeMessages.schemaMismatch(path, version, SCHEMA_VERSION));
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** `bench merge out.db a.db b.db`: joins shard databases into one (created if missing); idempotent. */
export async function mergeStores(outPath: string, inputs: string[]): Promise<MergeInputSummary[]> {
  const store = await openStore(outPath);
  try {
    const summaries: MergeInputSummary[] = [];
    for (const input of inputs) summaries.push(await store.mergeFrom(input));
    return summaries;
  } finally {
    await store.close();
  }
}

function groupBy<T>(rows: T[], key: (row: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

/** Refuses a record that would store something misleading, before any row is written. */
function validateRecord(record: ResultRecord): void {
  const name = record.case.name;
  if (record.status !== "completed" && !record.reason)
    throw new StoreError("invalid-record", storeMessages.statusWithoutReason(name, record.status));
  for (const m of record.metrics)
    if (m.value === null && !m.reason)
      throw new StoreError("invalid-record", storeMessages.nullWithoutReason(name, m.name));
  for (const series of record.samples)
    series.values.forEach((value, index) => {
      if (typeof value !== "number" || !Number.isFinite(value))
        throw new StoreError(
          "invalid-record",
          storeMessages.nonFiniteSample(name, series.metric, series.repeat, index, value),
        );
    });
  for (const series of record.samplerSeries ?? [])
    if (series.tMs.length !== series.values.length)
      throw new StoreError("invalid-record", storeMessages.seriesLengths(name, series.metric));
}

export { BUSY_TIMEOUT_MS };
