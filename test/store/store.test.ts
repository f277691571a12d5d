import { mkdtempSync, openSync, readFileSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import sqlite3 from "@vscode/sqlite3";
import { describe, expect, it } from "vitest";
import { openStore, SCHEMA_VERSION, StoreError, type ResultRecord } from "../../src/store/store.js";
import { completedRecord, plannedCases, runInfo } from "./fixtures.js";

const tempDb = (name = "results.db") => join(mkdtempSync(join(tmpdir(), "effbench-store-")), name);

/** Runs raw SQL on a file with the driver directly, as another tool (or another effbench version) would. */
function rawSql(path: string, sql: string): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolvePromise, reject) => {
    const db = new sqlite3.Database(path, (error) => {
      if (error) return reject(error);
      db.all(sql, (err, rows) =>
        db.close(() => (err ? reject(err) : resolvePromise(rows as Array<Record<string, unknown>>))),
      );
    });
  });
}

async function storeError(promise: Promise<unknown>): Promise<StoreError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    return error as StoreError;
  }
  throw new Error("expected a StoreError");
}

describe("openStore", () => {
  it("creates every table on an empty file, in WAL mode, at the current schema version", async () => {
    const path = tempDb();
    const store = await openStore(path);
    await store.close();
    const tables = (await rawSql(path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).map(
      (r) => r.name,
    );
    expect(tables).toEqual([
      "cases",
      "control_processes",
      "control_samples",
      "env",
      "metrics",
      "results",
      "runs",
      "sampler_samples",
      "samples",
      "serve_requests",
      "validity",
    ]);
    expect((await rawSql(path, "PRAGMA user_version"))[0].user_version).toBe(SCHEMA_VERSION);
    expect((await rawSql(path, "PRAGMA journal_mode"))[0].journal_mode).toBe("wal");
  });

  it("migrates a zero-byte file and reopens a migrated one unchanged", async () => {
    const path = tempDb();
    writeFileSync(path, "");
    await (await openStore(path)).close();
    const store = await openStore(path);
    expect(await store.listRuns()).toEqual([]);
    await store.close();
    expect((await rawSql(path, "PRAGMA user_version"))[0].user_version).toBe(SCHEMA_VERSION);
  });

  it("refuses a database from a newer effbench with a typed error that says to upgrade", async () => {
    const path = tempDb();
    await (await openStore(path)).close();
    await rawSql(path, `PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    for (const readonly of [false, true]) {
      const error = await storeError(openStore(path, { readonly }));
      expect(error.code).toBe("schema-too-new");
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(`schema version ${SCHEMA_VERSION + 1}`);
      expect(error.message).toContain("upgrade effbench");
    }
  });

  it("refuses a file that is not SQLite", async () => {
    const path = tempDb();
    writeFileSync(path, "name,latency_ms\nx,1.5\n".repeat(200));
    const error = await storeError(openStore(path));
    expect(error.code).toBe("not-sqlite");
    expect(error.message).toMatch(/results\.db: not an SQLite database .* — pass a results \.db file/);
    expect(readFileSync(path, "utf8")).toContain("name,latency_ms"); // untouched
  });

  it("reports a database whose schema page is damaged as corrupt", async () => {
    const path = tempDb();
    const store = await openStore(path);
    await store.beginRun(runInfo);
    await store.close();
    await rawSql(path, "PRAGMA wal_checkpoint(TRUNCATE)");
    // Keep SQLite's 100-byte header, overwrite the rest of page 1 (the schema's b-tree) with garbage.
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(1000, 0xa5), 0, 1000, 100);
    closeSync(fd);
    const error = await storeError(openStore(path));
    expect(error.code).toBe("corrupt");
    expect(error.message).toContain(".recover");
  });

  it("refuses somebody else's SQLite database instead of adding tables to it", async () => {
    const path = tempDb();
    await rawSql(path, "CREATE TABLE photos (id INTEGER PRIMARY KEY)");
    expect((await storeError(openStore(path))).code).toBe("not-a-store");
    expect((await storeError(openStore(path, { readonly: true }))).code).toBe("not-a-store");
  });

  it("opens read-only without creating a missing file", async () => {
    const path = tempDb("missing.db");
    const error = await storeError(openStore(path, { readonly: true }));
    expect(error.code).toBe("cannot-open");
    expect(error.message).toContain("missing.db");
  });

  it("refuses writes through a read-only store", async () => {
    const path = tempDb();
    await (await openStore(path)).close();
    const store = await openStore(path, { readonly: true });
    expect((await storeError(store.beginRun(runInfo))).code).toBe("read-only");
    await store.close();
  });
});

describe("Store", () => {
  it("reads back a run with two results exactly as written", async () => {
    const path = tempDb();
    const [prefill, decode] = plannedCases();
    const store = await openStore(path);
    const runId = await store.beginRun(runInfo);
    await store.recordEnv(runId, { cpu: { brand: "Test CPU", cores: 2 }, node: "v20.20.2" });
    const completed = completedRecord(prefill!);
    const failed: ResultRecord = {
      case: decode!,
      status: "failed",
      reason: "repeat 2/2: worker exited with code 1",
      startedAt: "2026-01-01T00:00:06.000Z",
      finishedAt: "2026-01-01T00:00:07.000Z",
      repeats: 1,
      samples: [],
      metrics: [],
      validity: [],
    };
    const completedId = await store.recordResult(runId, completed);
    const failedId = await store.recordResult(runId, failed);
    await store.finishRun(runId, "completed");
    await store.close();

    const reader = await openStore(path, { readonly: true });
    const runs = await reader.listRuns();
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      id: runId,
      suiteName: "store-test",
      suiteHash: "abc123",
      gitCommit: "0123456789abcdef",
      argv: runInfo.argv,
      status: "completed",
      resultCount: 2,
      mergedFrom: null,
    });
    expect(runs[0].uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(runs[0].finishedAt).not.toBeNull();
    expect(await reader.loadResolvedSuite(runId)).toEqual(runInfo.resolvedSuite);
    expect(await reader.loadEnv(runId)).toEqual({ cpu: { brand: "Test CPU", cores: 2 }, node: "v20.20.2" });

    const results = await reader.loadResults({ runId });
    expect(results.map((r) => r.resultId)).toEqual([completedId, failedId]);
    const [a, b] = results;
    expect(a).toMatchObject({
      caseId: prefill!.id,
      caseKey: prefill!.caseKey,
      caseName: prefill!.name,
      model: "tiny",
      technique: "base",
      scenario: "prefill",
      runner: "ort",
      workload: JSON.parse(JSON.stringify(prefill!.workload)),
      configHash: prefill!.configHash,
      status: "completed",
      reason: null,
      startedAt: completed.startedAt,
      finishedAt: completed.finishedAt,
      repeats: 2,
      settings: completed.settings,
      details: completed.details,
    });
    expect(a.caseDetails).toEqual(JSON.parse(JSON.stringify({ model: prefill!.model, technique: prefill!.technique })));
    expect(a.config).toEqual(JSON.parse(JSON.stringify({ protocol: prefill!.protocol, ort: prefill!.settings })));
    expect(a.metrics).toEqual(completed.metrics);
    expect(a.validity).toEqual(completed.validity);
    expect(b).toMatchObject({
      caseId: decode!.id,
      status: "failed",
      reason: failed.reason,
      repeats: 1,
      metrics: [],
      validity: [],
      settings: null,
    });

    const samples = await reader.loadSamples(completedId, "latency_ms");
    expect(samples).toHaveLength(100);
    expect(samples[0]).toEqual({
      repeat: 0,
      metric: "latency_ms",
      iteration: 0,
      value: completed.samples[0].values[0],
    });
    expect(await reader.loadSampleProcesses(completedId, "latency_ms")).toEqual(completed.samples.map((s) => s.values));
    expect(await reader.loadSamplerSeries(completedId)).toEqual(completed.samplerSeries);
    expect(await reader.completedConfigHashes()).toEqual(new Set([prefill!.configHash]));
    expect(await reader.loadResults({ status: "failed" })).toHaveLength(1);
    await reader.close();
  });

  it("rejects a null metric without a reason and writes nothing of that result", async () => {
    const store = await openStore(tempDb());
    const runId = await store.beginRun(runInfo);
    const record = completedRecord(plannedCases()[0]!);
    record.metrics.push({ name: "tokens_per_s", value: null, unit: "tok/s" });
    const error = await storeError(store.recordResult(runId, record));
    expect(error.code).toBe("invalid-record");
    expect(error.message).toContain('metric "tokens_per_s" has no value and no reason');
    expect(await store.loadResults()).toEqual([]);
    await store.close();
  });

  it("stores a NaN statistic as null with the reason, never as a number", async () => {
    const store = await openStore(tempDb());
    const runId = await store.beginRun(runInfo);
    const record = completedRecord(plannedCases()[0]!);
    record.metrics = [{ name: "latency_cv", value: NaN, unit: "ratio" }];
    await store.recordResult(runId, record);
    const [metric] = (await store.loadResults())[0].metrics;
    expect(metric).toEqual({
      name: "latency_cv",
      value: null,
      unit: "ratio",
      reason: "not computable: the statistic is NaN for these samples",
    });
    await store.close();
  });

  it("rejects non-finite samples and a failed result without a reason", async () => {
    const store = await openStore(tempDb());
    const runId = await store.beginRun(runInfo);
    const record = completedRecord(plannedCases()[0]!);
    record.samples[1].values[3] = Infinity;
    expect((await storeError(store.recordResult(runId, record))).message).toContain(
      "latency_ms[repeat 1][3] is Infinity",
    );
    const failed = { ...completedRecord(plannedCases()[0]!), status: "failed" as const };
    expect((await storeError(store.recordResult(runId, failed))).message).toContain("a failed result needs a reason");
    await store.close();
  });

  it("rolls back the whole case when a row fails half-way", async () => {
    const path = tempDb();
    const store = await openStore(path);
    const runId = await store.beginRun(runInfo);
    const record = completedRecord(plannedCases()[0]!);
    record.metrics.push({ ...record.metrics[0] }); // duplicate (result_id, name): the metrics insert fails after the samples
    await expect(store.recordResult(runId, record)).rejects.toThrow(/UNIQUE constraint failed: metrics/);
    await store.close();
    for (const table of ["cases", "results", "samples", "sampler_samples", "metrics", "validity"])
      expect((await rawSql(path, `SELECT count(*) AS n FROM ${table}`))[0].n, table).toBe(0);
  });

  it("refuses a result for a run that does not exist", async () => {
    const store = await openStore(tempDb());
    expect((await storeError(store.recordResult(42, completedRecord(plannedCases()[0]!)))).code).toBe("unknown-run");
    expect((await storeError(store.finishRun(42, "completed"))).code).toBe("unknown-run");
    await store.close();
  });

  it("stores 20,000 samples of one result in batched inserts", async () => {
    const path = tempDb();
    const store = await openStore(path);
    const runId = await store.beginRun(runInfo);
    const record = completedRecord(plannedCases()[0]!, 4, 5000);
    const started = performance.now();
    const resultId = await store.recordResult(runId, record);
    const elapsedMs = performance.now() - started;
    const samples = await store.loadSamples(resultId);
    expect(samples).toHaveLength(20_000);
    expect(await store.loadSampleProcesses(resultId, "latency_ms")).toEqual(record.samples.map((s) => s.values));
    await store.close();
    console.log(`recordResult with 20,000 samples: ${elapsedMs.toFixed(0)} ms`);
  });

  it("upserts a case recorded again under a new name", async () => {
    const store = await openStore(tempDb());
    const runId = await store.beginRun(runInfo);
    const c = plannedCases()[0]!;
    await store.recordResult(runId, completedRecord(c));
    await store.recordResult(runId, completedRecord({ ...c, name: "renamed" }));
    const results = await store.loadResults();
    expect(results.map((r) => r.caseName)).toEqual(["renamed", "renamed"]);
    await store.close();
  });

  it("keeps every row when two stores on one file write interleaved", async () => {
    const path = tempDb();
    const [first, second] = await Promise.all([openStore(path), openStore(path)]);
    const cases = plannedCases();
    const [runA, runB] = await Promise.all([first.beginRun(runInfo), second.beginRun(runInfo)]);
    const writes: Array<Promise<number>> = [];
    for (let i = 0; i < 20; i++) {
      writes.push(first.recordResult(runA, completedRecord(cases[i % 2]!, 2, 200, i)));
      writes.push(second.recordResult(runB, completedRecord(cases[(i + 1) % 2]!, 2, 200, i)));
    }
    const ids = await Promise.all(writes);
    expect(new Set(ids).size).toBe(40);
    await Promise.all([first.close(), second.close()]);
    expect((await rawSql(path, "SELECT run_id, count(*) AS n FROM results GROUP BY run_id")).map((r) => r.n)).toEqual([
      20, 20,
    ]);
    expect((await rawSql(path, "SELECT count(*) AS n FROM samples"))[0].n).toBe(40 * 400);
    expect((await rawSql(path, "SELECT count(*) AS n FROM metrics"))[0].n).toBe(40 * 3);
  });

  it("keeps every row when two processes write the same file at once", async () => {
    const path = tempDb();
    const writer = resolve("test/store/concurrent-writer.ts");
    const startAt = String(Date.now() + 2000);
    await Promise.all(
      [0, 1].map((salt) => execa("node", ["--import", "tsx", writer, path, "60", String(salt), startAt])),
    );
    const store = await openStore(path, { readonly: true });
    const runs = await store.listRuns();
    expect(runs.map((r) => [r.status, r.resultCount])).toEqual([
      ["completed", 60],
      ["completed", 60],
    ]);
    await store.close();
    expect((await rawSql(path, "SELECT count(*) AS n FROM samples"))[0].n).toBe(120 * 600);
    // The writers' transactions interleaved (otherwise this test would prove nothing): in commit order the run
    // switches many times.
    const order = (await rawSql(path, "SELECT run_id FROM results ORDER BY id")).map((r) => r.run_id);
    const switches = order.filter((runId, i) => i > 0 && runId !== order[i - 1]).length;
    expect(switches).toBeGreaterThan(10);
  });
});

describe("runs left running by a bench process killed hard", () => {
  it("are marked interrupted by the next writer on the same host, keeping their results; live and foreign runs stay running", async () => {
    const path = tempDb();
    const store = await openStore(path);
    const [c] = plannedCases();
    const orphan = await store.beginRun(runInfo);
    await store.recordResult(orphan, completedRecord(c!));
    const alive = await store.beginRun(runInfo); // this process: still alive
    const foreign = await store.beginRun(runInfo);
    // A pid that certainly no longer exists: a child that has exited and been reaped.
    const child = execa("true");
    const deadPid = child.pid!;
    await child;
    await rawSql(path, `UPDATE runs SET pid = ${deadPid} WHERE id IN (${orphan}, ${foreign})`);
    await rawSql(path, `UPDATE runs SET hostname = 'another-host' WHERE id = ${foreign}`);
    expect(await store.interruptOrphanRuns()).toEqual([orphan]);
    const runs = await store.listRuns();
    const status = (id: number) => runs.find((r) => r.id === id)!;
    expect(status(orphan)).toMatchObject({ status: "interrupted", resultCount: 1 });
    expect(status(orphan).finishedAt).not.toBeNull();
    expect(status(alive)).toMatchObject({ status: "running", pid: process.pid });
    expect(status(foreign).status).toBe("running");
    expect(await store.interruptOrphanRuns()).toEqual([]);
    await store.close();
  });

  it("a schema-1 file (before runs.pid) still opens read-only, and a writer migrates it", async () => {
    const path = tempDb();
    const store = await openStore(path);
    await store.beginRun(runInfo);
    await store.close();
    await rawSql(path, "ALTER TABLE runs DROP COLUMN pid");
    await rawSql(path, "DROP TABLE control_samples");
    await rawSql(path, "DROP TABLE control_processes");
    await rawSql(path, "DROP TABLE serve_requests");
    await rawSql(path, "PRAGMA user_version = 1");
    const reader = await openStore(path, { readonly: true });
    expect((await reader.listRuns())[0]).toMatchObject({ pid: null, status: "running" });
    await reader.close();
    await (await openStore(path)).close();
    expect((await rawSql(path, "PRAGMA user_version"))[0].user_version).toBe(SCHEMA_VERSION);
    expect((await rawSql(path, "SELECT pid FROM runs"))[0]).toEqual({ pid: null });
    expect(await rawSql(path, "SELECT count(*) AS n FROM serve_requests")).toEqual([{ n: 0 }]);
  });
});
