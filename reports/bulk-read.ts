// Reads every result, metric, flag, raw sample and sampler reading of a results file in a few aggregated queries.
// The store's per-row API (loadResults, loadSampleProcesses, loadSamplerSeries) builds one JS object per SQLite row,
// which for 10,000 cases × 3 repeats is seconds of work (about 5 µs a row, a million rows); here SQLite concatenates
// each repeat's values into one string and each result's metrics into one JSON array (SQLite writes a REAL as text
// with 15 significant digits: a relative difference below 1e-14, far below any measurement's resolution),
// on three read-only connections at once. The tables are the public schema of docs/store.md; test/reports/data.test.ts
// checks that what this returns equals what the store API returns.
import { metricFromColumns, resultFromRow } from "../src/store/rows.js";
import type { MetricRecord, ResultRow, SamplerSeriesRecord } from "../src/store/store.js";
import { Connection } from "../src/store/sqlite.js";

export interface BulkRead {
  results: ResultRow[];
  /** metric → result id → values per repeat (process). */
  samples: Map<string, Map<number, number[][]>>;
  samplerSeries: Map<number, SamplerSeriesRecord[]>;
  /** Per-request rows of serve results (empty for files older than the serve_requests table). */
  requests: Map<number, ServeRequestPoint[]>;
}

/** One request of a serving point as the case page plots it: [repeat, sent ms, TTFT ms, E2E ms, status]. */
export type ServeRequestPoint = [repeat: number, sentMs: number, ttftMs: number | null, e2eMs: number, status: string];

/**
 * JSON.parse with a cache by text: most results of a run share their config and settings, so they share one object
 * (parsed once; reports/model.ts pools the chunk files' objects by identity). Callers must not mutate the objects.
 */
function parser(): <T>(text: string | null) => T | null {
  const cache = new Map<string, unknown>();
  return <T>(text: string | null): T | null => {
    if (text === null) return null;
    let value = cache.get(text);
    if (value === undefined) cache.set(text, (value = JSON.parse(text)));
    return value as T;
  };
}
const numbers = (text: string | null): number[] => (text === null || text === "" ? [] : text.split(",").map(Number));

export async function bulkRead(
  path: string,
  options: { runId?: number; samplerSeries?: boolean } = {},
): Promise<BulkRead> {
  const where = options.runId === undefined ? "" : `WHERE run_id = ${Number(options.runId)}`;
  const ofResults =
    options.runId === undefined
      ? ""
      : `WHERE result_id IN (SELECT id FROM results WHERE run_id = ${Number(options.runId)})`;
  const connections = await Promise.all([0, 1, 2].map(() => Connection.open(path, { readonly: true })));
  try {
    const [results, samples, samplerSeries] = await Promise.all([
      readResults(connections[0], where, ofResults),
      readSamples(connections[1], ofResults),
      options.samplerSeries === false
        ? Promise.resolve(new Map<number, SamplerSeriesRecord[]>())
        : readSamplerSeries(connections[2], ofResults),
    ]);
    const requests = await readServeRequests(connections[0], ofResults);
    return { results, samples, samplerSeries, requests };
  } finally {
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
  }
}

async function readResults(connection: Connection, where: string, ofResults: string): Promise<ResultRow[]> {
  const rows = await connection.all<Record<string, unknown>>(
    `SELECT results.*, cases.case_key, cases.name AS case_name, cases.model, cases.technique, cases.scenario, cases.runner,
            cases.workload_json, cases.details_json AS case_details_json
     FROM results JOIN cases ON cases.id = results.case_id ${where.replace("run_id", "results.run_id")} ORDER BY results.id`,
  );
  // Metrics in insertion order (rowid), as the store returns them.
  const metricRows = await connection.all<{ result_id: number; m: string }>(
    `SELECT result_id, json_group_array(json_array(name, value, unit, ci_low, ci_high, reason, label)) AS m
     FROM (SELECT * FROM metrics ${ofResults} ORDER BY result_id, rowid) GROUP BY result_id`,
  );
  const validityRows = await connection.all<{ result_id: number; flag: string; detail: string }>(
    `SELECT result_id, flag, detail FROM validity ${ofResults} ORDER BY rowid`,
  );
  const metrics = new Map<number, MetricRecord[]>();
  for (const row of metricRows)
    metrics.set(
      row.result_id,
      (
        JSON.parse(row.m) as Array<
          [string, number | null, string, number | null, number | null, string | null, string | null]
        >
      ).map((columns) => metricFromColumns(...columns)),
    );
  const validity = new Map<number, Array<{ flag: string; detail: string }>>();
  for (const v of validityRows) {
    const list = validity.get(v.result_id) ?? [];
    list.push({ flag: v.flag, detail: v.detail });
    validity.set(v.result_id, list);
  }
  const parse = parser();
  return rows.map((r) =>
    resultFromRow(r, parse, metrics.get(r.id as number) ?? [], validity.get(r.id as number) ?? []),
  );
}

async function readSamples(connection: Connection, ofResults: string): Promise<BulkRead["samples"]> {
  // GROUP BY the primary key's prefix: SQLite scans the table in key order (no temporary sort), so each group's values
  // arrive in iteration order (test/reports/data.test.ts checks the result against the store's ORDER BY reads).
  const rows = await connection.all<{ result_id: number; metric: string; repeat: number; v: string }>(
    `SELECT result_id, metric, repeat, group_concat(value) AS v FROM samples ${ofResults} GROUP BY result_id, metric, repeat`,
  );
  const out: BulkRead["samples"] = new Map();
  for (const row of rows) {
    let byResult = out.get(row.metric);
    if (!byResult) out.set(row.metric, (byResult = new Map()));
    let processes = byResult.get(row.result_id);
    if (!processes) byResult.set(row.result_id, (processes = []));
    processes[row.repeat] = numbers(row.v);
  }
  return out;
}

async function readSamplerSeries(connection: Connection, ofResults: string): Promise<BulkRead["samplerSeries"]> {
  // In key order as for samples; NULL readings (unavailable) become empty fields, so that t and v stay aligned.
  const rows = await connection.all<{ result_id: number; metric: string; repeat: number; t: string; v: string }>(
    `SELECT result_id, metric, repeat, group_concat(t_ms) AS t, group_concat(coalesce(value, '')) AS v
     FROM sampler_samples ${ofResults} GROUP BY result_id, metric, repeat`,
  );
  const out: BulkRead["samplerSeries"] = new Map();
  for (const row of rows) {
    const list = out.get(row.result_id) ?? [];
    list.push({
      repeat: row.repeat,
      metric: row.metric,
      tMs: numbers(row.t),
      values: row.v.split(",").map((x) => (x === "" ? null : Number(x))),
    });
    out.set(row.result_id, list);
  }
  return out;
}

async function readServeRequests(connection: Connection, ofResults: string): Promise<BulkRead["requests"]> {
  const out: BulkRead["requests"] = new Map();
  const table = await connection.get<{ n: number }>(
    "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'serve_requests'",
  );
  if (!table?.n) return out;
  // A request cancelled at the end of a duration-bound point (schema 5's phase) reads as `cancelled`, not failed.
  const phase = await connection.get<{ n: number }>(
    "SELECT count(*) AS n FROM pragma_table_info('serve_requests') WHERE name = 'phase'",
  );
  const status = phase?.n ? "CASE WHEN phase = 'cancelled' THEN 'cancelled' ELSE status END AS status" : "status";
  const rows = await connection.all<{
    result_id: number;
    repeat: number;
    sent_ms: number;
    ttft_ms: number | null;
    e2e_ms: number;
    status: string;
  }>(
    `SELECT result_id, repeat, sent_ms, ttft_ms, e2e_ms, ${status} FROM serve_requests ${ofResults} ORDER BY result_id, repeat, request`,
  );
  for (const r of rows) {
    const list = out.get(r.result_id) ?? [];
    list.push([r.repeat, r.sent_ms, r.ttft_ms, r.e2e_ms, r.status]);
    out.set(r.result_id, list);
  }
  return out;
}
