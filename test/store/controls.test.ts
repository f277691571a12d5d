// The drift control's store tables (schema 3): a schema-2 file still reads (no control) and migrates when written;
// control rows round-trip, refuse a failure without a reason, and follow their run through `bench merge`.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sqlite3 from "@vscode/sqlite3";
import { describe, expect, it } from "vitest";
import { mergeStores, openStore, SCHEMA_VERSION } from "../../src/store/store.js";
import { runInfo } from "./fixtures.js";

function rawSql(path: string, sql: string): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, (error) => {
      if (error) return reject(error);
      db.all(sql, (err, rows) => db.close(() => (err ? reject(err) : resolve(rows as Array<Record<string, unknown>>))));
    });
  });
}

const tempDb = (name = "x.db") => join(mkdtempSync(join(tmpdir(), "effbench-controls-")), name);
const control = "ort cpu: test control, 1 intra-op thread(s)";

describe("drift-control tables", () => {
  it("a schema-2 file reads with no control, and a writer migrates it to the current schema", async () => {
    const path = tempDb();
    const store = await openStore(path);
    await store.beginRun(runInfo);
    await store.close();
    await rawSql(path, "DROP TABLE control_samples");
    await rawSql(path, "DROP TABLE control_processes");
    await rawSql(path, "DROP TABLE serve_requests");
    await rawSql(path, "PRAGMA user_version = 2");

    const reader = await openStore(path, { readonly: true });
    expect(await reader.loadControls()).toEqual([]);
    await reader.close();

    const writer = await openStore(path);
    expect((await rawSql(path, "PRAGMA user_version"))[0]!.user_version).toBe(SCHEMA_VERSION);
    await writer.recordControl(1, {
      control,
      caseKey: "k",
      measuredAt: "2026-01-01T00:00:00.000Z",
      status: "completed",
      valuesMs: [1.5, 1.25, 1.75],
      settings: { intraOpThreads: 1 },
    });
    await writer.recordControl(1, {
      control,
      caseKey: "k",
      measuredAt: "2026-01-01T00:00:01.000Z",
      status: "failed",
      reason: "the control process exited with code 3",
      valuesMs: [],
    });
    await expect(
      writer.recordControl(1, { control, caseKey: null, measuredAt: "x", status: "unsupported", valuesMs: [] }),
    ).rejects.toThrow(/needs a reason/);
    const rows = await writer.loadControls([1]);
    await writer.close();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      runId: 1,
      control,
      caseKey: "k",
      status: "completed",
      valuesMs: [1.5, 1.25, 1.75],
    });
    expect(rows[0]!.settings).toEqual({ intraOpThreads: 1 });
    expect(rows[1]).toMatchObject({ status: "failed", reason: "the control process exited with code 3", valuesMs: [] });
  });

  it("bench merge copies each run's control rows, with their samples", async () => {
    const shards = [tempDb("a.db"), tempDb("b.db")];
    for (const [i, path] of shards.entries()) {
      const store = await openStore(path);
      const runId = await store.beginRun(runInfo);
      for (let p = 0; p < 2; p++)
        await store.recordControl(runId, {
          control,
          caseKey: null,
          measuredAt: "2026-01-01T00:00:00.000Z",
          status: "completed",
          valuesMs: [i + 1, i + 1.5, i + p],
        });
      await store.finishRun(runId, "completed");
      await store.close();
    }
    const out = tempDb("merged.db");
    await mergeStores(out, shards);
    await mergeStores(out, shards); // idempotent: nothing copied twice
    const store = await openStore(out, { readonly: true });
    const rows = await store.loadControls();
    await store.close();
    expect(rows.map((r) => [r.runId, r.valuesMs])).toEqual([
      [1, [1, 1.5, 0]],
      [1, [1, 1.5, 1]],
      [2, [2, 2.5, 1]],
      [2, [2, 2.5, 2]],
    ]);
  });
});
