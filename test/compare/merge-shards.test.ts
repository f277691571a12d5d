// Shards and merge (docs/ci.md), through the real CLI: a suite run as 4 shards and merged equals the unsharded run in
// case set and row counts; merging again changes nothing; a shard killed after its first case and rerun with
// --resume completes without duplicate rows.
import sqlite3 from "@vscode/sqlite3";
import { execa } from "execa";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { compareStores } from "../../src/compare/compare.js";
import { writeTinySuite } from "../support/tiny-suite.js";

const bench = resolve("bin/bench.js");
const REPEATS = 1; // one process per case keeps the test short; row counts scale with it
const ITERATIONS = 8;

/** Six cases; minIterations = maxIterations makes every repeat store exactly ITERATIONS samples. */
function suite(dir: string): string {
  return writeTinySuite(dir, {
    file: "shards.ts",
    name: "shards",
    workloads: [
      { batch: 1, promptTokens: 8 },
      { batch: 1, promptTokens: 16 },
      { batch: 2, promptTokens: 8 },
    ],
    protocol: {
      repeats: REPEATS,
      minMeasureMs: 1,
      minIterations: ITERATIONS,
      maxIterations: ITERATIONS,
      warmupMinIterations: 2,
      warmupMaxMs: 20,
    },
  });
}

function sql<T = Record<string, unknown>>(path: string, query: string): Promise<T[]> {
  return new Promise((resolvePromise, reject) => {
    const db = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (error) => {
      if (error) return reject(error);
      db.all(query, (err, rows) => db.close(() => (err ? reject(err) : resolvePromise(rows as T[]))));
    });
  });
}

const count = async (path: string, table: string) =>
  (await sql<{ n: number }>(path, `SELECT count(*) AS n FROM ${table}`))[0]!.n;

/** Row counts that do not depend on timing noise (validity flags and sampler rows do, so they are left out). */
async function stableCounts(path: string) {
  return {
    cases: await count(path, "cases"),
    results: await count(path, "results"),
    completed: (await sql<{ n: number }>(path, "SELECT count(*) AS n FROM results WHERE status = 'completed'"))[0]!.n,
    samples: await count(path, "samples"),
    metrics: await count(path, "metrics"),
  };
}

const caseKeys = async (path: string) =>
  (await sql<{ case_key: string }>(path, "SELECT case_key FROM cases ORDER BY case_key")).map((r) => r.case_key);

async function run(args: string[]) {
  const result = await execa("node", [bench, "run", ...args], { reject: false });
  expect(result.exitCode, result.stderr + result.stdout).toBe(0);
  return result;
}

describe("shards, merge and resume through the CLI", () => {
  it("merges 4 shards into the unsharded run's case set and row counts, and a second merge changes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-shards-"));
    const suitePath = suite(dir);
    const whole = join(dir, "whole.db");
    await run([suitePath, "--db", whole]);
    const shards = [1, 2, 3, 4].map((i) => join(dir, `shard-${i}.db`));
    // Shards run side by side, as on four machines (each writes its own file).
    await Promise.all(shards.map((db, i) => run([suitePath, "--shard", `${i + 1}/4`, "--db", db])));
    const perShard = await Promise.all(shards.map((db) => count(db, "results")));
    expect(perShard.every((n) => n >= 1)).toBe(true); // 6 cases over 4 shards: none is empty

    const merged = join(dir, "merged.db");
    const first = await execa("node", [bench, "merge", merged, ...shards], { reject: false });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(await caseKeys(merged)).toEqual(await caseKeys(whole));
    const wholeCounts = await stableCounts(whole);
    expect(wholeCounts).toEqual({
      cases: 6,
      results: 6,
      completed: 6,
      samples: 6 * REPEATS * ITERATIONS,
      metrics: wholeCounts.metrics,
    });
    expect(await stableCounts(merged)).toEqual(wholeCounts);
    expect(await count(merged, "runs")).toBe(4);

    const before = {
      ...(await stableCounts(merged)),
      runs: 4,
      validity: await count(merged, "validity"),
      sampler: await count(merged, "sampler_samples"),
      env: await count(merged, "env"),
    };
    const second = await execa("node", [bench, "merge", merged, ...shards, shards[0]!], { reject: false });
    expect(second.exitCode, second.stderr).toBe(0);
    expect({
      ...(await stableCounts(merged)),
      runs: await count(merged, "runs"),
      validity: await count(merged, "validity"),
      sampler: await count(merged, "sampler_samples"),
      env: await count(merged, "env"),
    }).toEqual(before);

    // The merged file and the unsharded one compare case for case: nothing is missing on either side.
    const report = await compareStores({ path: whole }, { path: merged }, { resamples: 200 });
    expect(report.summary.total).toBe(6);
    expect(report.summary.onlyInBase + report.summary.onlyInHead + report.summary.notComparable).toBe(0);
  }, 120_000);

  it("resumes a shard killed after its first case without duplicating rows", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-resume-"));
    const suitePath = suite(dir);
    const db = join(dir, "shard-1.db");
    // Shard 1 of 2 holds 3 of the 6 cases: SIGKILL the bench process as soon as it reports the first one.
    const child = execa("node", [bench, "run", suitePath, "--shard", "1/2", "--db", db], {
      reject: false,
      buffer: false,
    });
    let killedAfter = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      if (!killedAfter && /\[1\/3\] completed/.test(text)) {
        killedAfter = text;
        child.kill("SIGKILL");
      }
    });
    const killed = await child;
    expect(killed.signal).toBe("SIGKILL");
    expect(killedAfter).not.toBe("");
    const afterKill = await stableCounts(db);
    expect(afterKill.completed).toBeGreaterThanOrEqual(1);
    expect(afterKill.completed).toBeLessThan(3);
    expect((await sql<{ status: string }>(db, "SELECT status FROM runs"))[0]!.status).toBe("running"); // killed: never finished

    const resumed = await run([suitePath, "--shard", "1/2", "--db", db, "--resume"]);
    expect(resumed.stdout).toMatch(/skipped/);
    const perCase = await sql<{ case_id: string; n: number }>(
      db,
      "SELECT case_id, count(*) AS n FROM results WHERE status = 'completed' GROUP BY case_id",
    );
    expect(perCase).toHaveLength(3);
    expect(perCase.every((r) => r.n === 1)).toBe(true);
    const final = await stableCounts(db);
    expect(final).toEqual({
      cases: 3,
      results: 3,
      completed: 3,
      samples: 3 * REPEATS * ITERATIONS,
      metrics: final.metrics,
    });
    // No sample rows belong to a result that does not exist (nothing half-written by the killed run).
    expect(
      (
        await sql<{ n: number }>(
          db,
          "SELECT count(*) AS n FROM samples WHERE result_id NOT IN (SELECT id FROM results)",
        )
      )[0]!.n,
    ).toBe(0);

    // Resuming a finished shard runs nothing and adds no result.
    await run([suitePath, "--shard", "1/2", "--db", db, "--resume"]);
    expect(await stableCounts(db)).toEqual(final);
  }, 120_000);
});
