import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sqlite3 from "@vscode/sqlite3";
import { describe, expect, it } from "vitest";
import { mergeStores, openStore, SCHEMA_VERSION, StoreError } from "../../src/store/store.js";
import { completedRecord, plannedCases, runInfo } from "./fixtures.js";

function rawSql(path: string, sql: string): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, (error) => {
      if (error) return reject(error);
      db.all(sql, (err, rows) => db.close(() => (err ? reject(err) : resolve(rows as Array<Record<string, unknown>>))));
    });
  });
}

/** A shard with one finished run of `results` completed results (sample values shifted by `salt`). */
async function writeShard(dir: string, name: string, results: number, salt: number): Promise<string> {
  const path = join(dir, name);
  const store = await openStore(path);
  const runId = await store.beginRun({ ...runInfo, argv: ["run", "--shard", name] });
  await store.recordEnv(runId, { host: name });
  const cases = plannedCases();
  for (let i = 0; i < results; i++)
    await store.recordResult(runId, completedRecord(cases[i % cases.length]!, 2, 30, salt + i));
  await store.finishRun(runId, "completed");
  await store.close();
  return path;
}

const counts = async (path: string) =>
  Object.fromEntries(
    await Promise.all(
      ["runs", "env", "cases", "results", "samples", "sampler_samples", "metrics", "validity"].map(async (t) => [
        t,
        (await rawSql(path, `SELECT count(*) AS n FROM ${t}`))[0].n,
      ]),
    ),
  );

/** Every result's case, metrics, validity and samples, keyed by the run's uuid: what a merge must preserve. */
async function contents(path: string) {
  const store = await openStore(path, { readonly: true });
  const uuidOf = new Map((await store.listRuns()).map((r) => [r.id, r.uuid]));
  const out = [];
  for (const r of await store.loadResults())
    out.push({
      run: uuidOf.get(r.runId),
      caseKey: r.caseKey,
      metrics: r.metrics,
      validity: r.validity,
      samples: await store.loadSampleProcesses(r.resultId, "latency_ms"),
      series: await store.loadSamplerSeries(r.resultId),
    });
  await store.close();
  return out;
}

describe("mergeStores", () => {
  it("joins shards into one database with every row, and merging them again changes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-merge-"));
    const a = await writeShard(dir, "a.db", 3, 0);
    const b = await writeShard(dir, "b.db", 2, 100);
    const out = join(dir, "merged.db");
    const first = await mergeStores(out, [a, b]);
    expect(first.map((s) => [s.runsAdded, s.runsSkipped, s.resultsAdded])).toEqual([
      [1, 0, 3],
      [1, 0, 2],
    ]);
    const [ca, cb] = [await counts(a), await counts(b)];
    const merged = await counts(out);
    for (const table of ["runs", "env", "results", "samples", "sampler_samples", "metrics", "validity"])
      expect(merged[table], table).toBe(ca[table] + cb[table]);
    expect(merged.cases).toBe(2); // both shards measured the same two cases
    expect(await contents(out)).toEqual([...(await contents(a)), ...(await contents(b))]);

    const again = await mergeStores(out, [a, b, a]);
    expect(again.map((s) => [s.runsAdded, s.runsSkipped])).toEqual([
      [0, 1],
      [0, 1],
      [0, 1],
    ]);
    expect(await counts(out)).toEqual(merged);
  });

  it("keeps provenance: each merged run names its shard file and its id there, through a second merge", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-merge-"));
    const a = await writeShard(dir, "a.db", 1, 0);
    await writeShard(dir, "b.db", 1, 0).then((b) => mergeStores(join(dir, "ab.db"), [b]));
    const out = join(dir, "all.db");
    await mergeStores(out, [a, join(dir, "ab.db")]);
    const store = await openStore(out, { readonly: true });
    const runs = await store.listRuns();
    expect(runs.map((r) => [r.mergedFrom, r.originalId, r.argv.at(-1)])).toEqual([
      [a, 1, "a.db"],
      [join(dir, "b.db"), 1, "b.db"],
    ]);
    expect(await store.loadEnv(runs[1].id)).toEqual({ host: "b.db" });
    await store.close();
  });

  it("gives merged results fresh ids after the ones already there", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-merge-"));
    const out = await writeShard(dir, "out.db", 2, 0);
    const b = await writeShard(dir, "b.db", 2, 50);
    await mergeStores(out, [b]);
    const ids = (await rawSql(out, "SELECT id FROM results ORDER BY id")).map((r) => r.id);
    expect(ids).toEqual([1, 2, 3, 4]);
    expect((await contents(out)).slice(2)).toEqual(await contents(b));
  });

  it("refuses a shard of another schema version, naming the file and both versions, and writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-merge-"));
    const a = await writeShard(dir, "a.db", 1, 0);
    const newer = await writeShard(dir, "newer.db", 1, 0);
    await rawSql(newer, `PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    const out = join(dir, "merged.db");
    const error = await mergeStores(out, [newer, a]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe("schema-mismatch");
    expect((error as StoreError).message).toContain(
      `newer.db: shard has schema version ${SCHEMA_VERSION + 1}, but this effbench merges versions 1 to ${SCHEMA_VERSION} — it was written by a newer effbench: upgrade effbench here to merge it`,
    );
    expect((await counts(out)).runs).toBe(0);
  });

  it("refuses an input that is not an effbench database", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-merge-"));
    const text = join(dir, "notes.db");
    writeFileSync(text, "not a database at all ".repeat(50));
    const error = await mergeStores(join(dir, "out.db"), [text]).catch((e: unknown) => e);
    expect((error as StoreError).code).toBe("not-sqlite");
    const missing = await mergeStores(join(dir, "out.db"), [join(dir, "missing.db")]).catch((e: unknown) => e);
    expect((missing as StoreError).code).toBe("cannot-open");
  });

  it("merges serve request rows from schema-5 and schema-4 shards (the latter's intended lengths and phase NULL)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-merge-serve-"));
    const row = {
      request: 0,
      adapter: null,
      intendedMs: 0,
      sentMs: 0.1,
      sendLagMs: 0.1,
      status: "error" as const,
      httpStatus: 200,
      error: "cancelled: in flight when the point's duration ended",
      ttftMs: 3,
      tpotMs: null,
      e2eMs: 9,
      itl: null,
      promptTokens: null,
      outputTokens: null,
      intendedPromptTokens: 17,
      intendedOutputTokens: 5,
      phase: "cancelled" as const,
      repeat: 0,
    };
    const shard = async (name: string) => {
      const path = join(dir, name);
      const store = await openStore(path);
      const runId = await store.beginRun({ ...runInfo, argv: ["run", "--shard", name] });
      await store.recordResult(runId, { ...completedRecord(plannedCases()[0]!, 1, 3, 0), requests: [row] });
      await store.finishRun(runId, "completed");
      await store.close();
      return path;
    };
    const v5 = await shard("v5.db");
    const v4 = await shard("v4.db");
    for (const column of ["intended_prompt_tokens", "intended_output_tokens", "phase"])
      await rawSql(v4, `ALTER TABLE serve_requests DROP COLUMN ${column}`);
    await rawSql(v4, "PRAGMA user_version = 4");
    await mergeStores(join(dir, "out.db"), [v5, v4]);
    expect(
      await rawSql(
        join(dir, "out.db"),
        "SELECT intended_prompt_tokens AS p, intended_output_tokens AS o, phase, error FROM serve_requests ORDER BY result_id",
      ),
    ).toEqual([
      { p: 17, o: 5, phase: "cancelled", error: row.error },
      { p: null, o: null, phase: null, error: row.error },
    ]);
  });
});
