// scripts/slurm-array.sh without a cluster: bash parses it, its array tasks run real shards (SLURM's variables
// set by hand) into node-local files copied to the results folder, the merge mode joins them, and `submit` asks
// sbatch (a stand-in on PATH that records its arguments) for the array and a merge job depending on it.
import { execa } from "execa";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import sqlite3 from "@vscode/sqlite3";
import { describe, expect, it } from "vitest";
import { writeTinySuite } from "../support/tiny-suite.js";

const SCRIPT = resolve("scripts/slurm-array.sh");

function count(path: string, query: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const db = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (error) => {
      if (error) return reject(error);
      db.get(query, (err, row) => db.close(() => (err ? reject(err) : resolvePromise((row as { n: number }).n))));
    });
  });
}

describe("scripts/slurm-array.sh", () => {
  it("is valid bash and declares a job array with one GPU per task", async () => {
    const syntax = await execa("bash", ["-n", SCRIPT], { reject: false });
    expect(syntax.exitCode, syntax.stderr).toBe(0);
    const text = readFileSync(SCRIPT, "utf8");
    expect(text).toMatch(/^#SBATCH --array=1-\d+$/m);
    expect(text).toMatch(/^#SBATCH --gres=gpu:1$/m);
  });

  it("runs each array task's shard into a local file, copies it to the results folder, and merges them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-slurm-"));
    const suite = writeTinySuite(dir, { name: "slurm-tiny" });
    const results = join(dir, "results");
    const local = join(dir, "node-local");
    mkdirSync(local);
    const env = {
      SUITE: suite,
      RESULTS_DIR: results,
      TMPDIR: local,
      SLURM_ARRAY_JOB_ID: "4242",
      SLURM_ARRAY_TASK_COUNT: "2",
    };
    for (const task of ["1", "2"]) {
      const shard = await execa("bash", [SCRIPT], { env: { ...env, SLURM_ARRAY_TASK_ID: task }, reject: false });
      expect(shard.exitCode, shard.stderr + shard.stdout).toBe(0);
      expect(shard.stdout).toContain(`shard ${task}/2`);
      expect(shard.stdout).toContain(join(local, `effbench-4242-${task}`, `shard-${task}.db`));
      expect(
        await count(
          join(results, "4242", `shard-${task}.db`),
          "SELECT count(*) AS n FROM results WHERE status = 'completed'",
        ),
      ).toBe(1);
    }
    const merged = await execa("bash", [SCRIPT, "merge"], {
      env: { ...env, RUN_NAME: "4242", SHARDS: "2" },
      reject: false,
    });
    // The report step needs the report module (reports/); the merged file is saved before it runs.
    const mergedDb = join(results, "4242", "merged.db");
    expect(existsSync(mergedDb), merged.stderr).toBe(true);
    expect(await count(mergedDb, "SELECT count(*) AS n FROM results")).toBe(2);
    expect(await count(mergedDb, "SELECT count(*) AS n FROM runs")).toBe(2);
    if (existsSync(resolve("reports/command.ts"))) {
      expect(merged.exitCode, merged.stderr).toBe(0);
      expect(existsSync(join(results, "4242", "site", "index.html"))).toBe(true);
    }

    // A resubmitted task with the same RUN_NAME resumes from its copied file: nothing runs twice.
    const again = await execa("bash", [SCRIPT], {
      env: { ...env, SLURM_ARRAY_JOB_ID: "4343", RUN_NAME: "4242", SLURM_ARRAY_TASK_ID: "1" },
      reject: false,
    });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/skipped/);
    expect(await count(join(results, "4242", "shard-1.db"), "SELECT count(*) AS n FROM results")).toBe(1);
  }, 90_000);

  it("submits the array and a merge job that waits for all of it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-slurm-"));
    const log = join(dir, "sbatch.log");
    const sbatch = join(dir, "sbatch");
    // A stand-in sbatch: records its arguments, answers --parsable with a job id.
    writeFileSync(
      sbatch,
      `#!/usr/bin/env bash\nprintf '%s\\n' "$*" >> "${log}"\nif grep -q -- '--array' <<< "$*"; then echo "1001;cluster"; else echo 1002; fi\n`,
    );
    chmodSync(sbatch, 0o755);
    const submitted = await execa("bash", [SCRIPT, "submit"], {
      env: { PATH: `${dir}:${process.env.PATH}`, SHARDS: "6", RESULTS_DIR: join(dir, "r") },
      reject: false,
    });
    expect(submitted.exitCode, submitted.stderr).toBe(0);
    const [array, merge] = readFileSync(log, "utf8").trim().split("\n");
    expect(array).toMatch(/--parsable --array=1-6 .*scripts\/slurm-array\.sh$/);
    expect(merge).toMatch(/--dependency=afterany:1001 /);
    expect(merge).toContain("RUN_NAME=1001,SHARDS=6");
    expect(merge).toMatch(/--wrap=bash '.*scripts\/slurm-array\.sh' merge$/);
    expect(submitted.stdout).toContain("submitted shards: job 1001 (array 1-6); merge: job 1002");
  });
});
