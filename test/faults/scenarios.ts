// The fault scenarios (docs/reliability.md), shared by the vitest files in test/faults/ and `npm run test:faults`, which
// prints their table. Each scenario injects a fault into the real `bench` CLI, then checks what a user relies on:
// what was recorded is still there, the message is clear (no stack trace), the exit code is right, the run goes
// on, and no process is left behind. `rows lost` counts rows that existed (or that bench reported as recorded)
// before the fault and are missing after it.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  chmodSync,
  openSync,
  writeSync,
  closeSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { serveCrash, serveStreamFaults } from "./serve-scenarios.js";
import { execFileSync } from "node:child_process";
import type { ResultPromise } from "execa";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { Connection } from "../../src/store/sqlite.js";
import {
  fileHash,
  hasStackTrace,
  integrityCheck,
  markedProcesses,
  newMarker,
  ORT_CHILD,
  pythonAvailable,
  resultRows,
  rowsLostBetween,
  runBench,
  runStatuses,
  settle,
  sleep,
  startBench,
  tableCounts,
  tempDir,
  tinySuite,
  TORCH_WORKER,
  TINY_MODEL,
  TINY_PROTOCOL,
  waitForNoProcesses,
  waitForProcess,
  waitForProgress,
} from "./harness.js";
import { Tally, tail, type FaultOutcome, type FaultScenario } from "./tally.js";

export { Tally, tail, type FaultOutcome, type FaultScenario };

/** Kills bench with SIGKILL and checks that its children go by themselves within `graceMs`, counted from the kill
 * (not from bench's exit as execa sees it: an orphan that inherited bench's stdout keeps that pipe open). Leftovers
 * are killed afterwards so that the scenario ends either way. */
async function killBenchAndCheckOrphans(t: Tally, child: ResultPromise, marker: string, graceMs = 2500): Promise<void> {
  child.kill("SIGKILL");
  const killedAt = Date.now();
  const left = await waitForNoProcesses(marker, ORT_CHILD, graceMs);
  t.expectNoOrphans(left, `ort child ${graceMs / 1000} s after bench was killed`);
  if (left.length === 0)
    t.note(`${t.outcome.fault}: the ort child was gone ${Date.now() - killedAt} ms after bench was killed`);
  for (const pid of left) process.kill(pid, "SIGKILL");
  await child;
}

// ---------------------------------------------------------------------------------------------------------------
// A seed database: two completed cases, copied for every scenario that must prove a fault leaves records intact.

let seed: Promise<string> | undefined;

export function seedDatabase(): Promise<string> {
  seed ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-faults-seed-"));
    const db = join(dir, "seed.db");
    const result = await runBench(["run", tinySuite(dir, { name: "faults-seed" }), "--db", db], {
      marker: newMarker("seed"),
    });
    if (result.exitCode !== 0) throw new Error(`seeding ${db} failed (exit ${result.exitCode}): ${result.stderr}`);
    return db;
  })();
  return seed;
}

/** Removes the seed database (the next scenario that needs one makes it again). */
export async function removeSeedDatabase(): Promise<void> {
  if (!seed) return;
  const db = await seed.catch(() => undefined);
  seed = undefined;
  if (db) rmSync(dirname(db), { recursive: true, force: true });
}

async function seededCopy(
  dir: string,
  name = "results.db",
): Promise<{ db: string; counts: Record<string, number>; hash: string }> {
  const db = join(dir, name);
  copyFileSync(await seedDatabase(), db);
  return { db, counts: await tableCounts(db), hash: fileHash(db) };
}

/** The recorded rows and the file must be as before; returns the rows lost. */
async function expectUntouched(
  t: Tally,
  db: string,
  before: { counts: Record<string, number>; hash: string },
  sameBytes: boolean,
): Promise<void> {
  if (sameBytes) t.expect(fileHash(db) === before.hash, `${db} byte for byte unchanged`, () => "a different hash");
  try {
    const after = await tableCounts(db);
    t.lost(rowsLostBetween(before.counts, after));
    t.expect(
      JSON.stringify(after) === JSON.stringify(before.counts),
      "the same row counts",
      () => `${JSON.stringify(before.counts)} → ${JSON.stringify(after)}`,
    );
  } catch (error) {
    // The file no longer opens: everything in it is lost.
    t.lost(Object.values(before.counts).reduce((a, b) => a + b, 0));
    t.expect(false, `${db} still readable`, () => (error as Error).message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Processes: kill -9, runner children that crash, hang or grow, Ctrl-C.

const killMidRun: FaultScenario = {
  id: "kill-9-mid-run",
  fault: "bench killed -9 mid-run",
  behaviour:
    "a bench killed with -9 after two cases keeps them, the DB passes integrity_check, and --resume finishes the rest once each",
  timeoutMs: 120_000,
  async run() {
    const t = new Tally(this.fault);
    await t.inject("kill -9", async () => {
      // --resume trusts the config hash, which includes the code version (git commit, dirty or not): when another
      // commit lands in this checkout between the kill and the resume, everything rightly runs again. Try again then.
      for (let attempt = 1; ; attempt++) {
        const scratch = new Tally(this.fault);
        let sameCode = true;
        await scratch.inject("kill -9", async () => {
          sameCode = await killThenResume(scratch);
        });
        if (!sameCode && attempt < 3) {
          t.note(
            `${this.fault}: the code version changed between the kill and --resume (a commit landed); tried again`,
          );
          continue;
        }
        t.absorb(scratch.outcome);
        return;
      }
    });
    return t.outcome;
  },
};

/** Kills bench after two completed cases, then resumes; false when the code version changed in between. */
async function killThenResume(t: Tally): Promise<boolean> {
  const dir = tempDir("kill9");
  const db = join(dir, "r.db");
  const suite = tinySuite(dir, { workloads: ["k1", "k2", "k3", "k4", "k5"] });
  const marker = newMarker("kill9");
  const child = startBench(["run", suite, "--db", db], { marker });
  const reported = await waitForProgress(child, 2, /\bcompleted\b/);
  await killBenchAndCheckOrphans(t, child, marker);
  t.expect((await integrityCheck(db)) === "ok", "PRAGMA integrity_check = ok", () => "not ok");
  const before = await resultRows(db);
  const completedBefore = before.filter((r) => r.status === "completed");
  t.lost(reported.length - completedBefore.length);
  t.expect(
    completedBefore.length >= reported.length,
    `the ${reported.length} cases reported completed in the DB`,
    () => `${completedBefore.length}`,
  );

  const resumed = await runBench(["run", suite, "--db", db, "--resume"], { marker });
  const versions = await codeVersions(db);
  if (new Set(versions).size > 1) return false;
  t.expect(resumed.exitCode === 0, "--resume exits 0", () => `${resumed.exitCode}: ${tail(resumed.stderr)}`);
  const statuses = await runStatuses(db);
  t.expect(
    statuses[0] === "interrupted" && /run 1 was left `running`.*marked interrupted/.test(resumed.stdout),
    "the killed run marked interrupted by the next run, which says so",
    () => `${JSON.stringify(statuses)}: ${tail(resumed.stdout)}`,
  );
  const skipped = (resumed.stdout.match(/^\[\d+\/5\] skipped/gm) ?? []).length;
  t.expect(
    skipped === completedBefore.length,
    `--resume to skip the ${completedBefore.length} completed cases`,
    () => `${skipped} skipped`,
  );
  const after = (await resultRows(db)).filter((r) => r.status === "completed");
  const perHash = new Map<string, number>();
  for (const r of after) perHash.set(r.configHash, (perHash.get(r.configHash) ?? 0) + 1);
  t.expect(perHash.size === 5, "5 distinct cases completed", () => `${perHash.size}`);
  t.expect(
    [...perHash.values()].every((n) => n === 1),
    "one completed result per case (no duplicates)",
    () => JSON.stringify([...perHash.values()]),
  );
  t.expect(
    after.every((r) => r.samples > 0),
    "samples for every completed result",
  );
  return true;
}

async function codeVersions(db: string): Promise<string[]> {
  const connection = await Connection.open(db, { readonly: true });
  try {
    return (await connection.all<{ code_version: string }>("SELECT code_version FROM runs ORDER BY id")).map(
      (r) => r.code_version,
    );
  } finally {
    await connection.close();
  }
}

interface ChildFault {
  kind: "segv" | "exit" | "throw" | "hang" | "alloc";
  fault: string;
  status: "failed" | "timed-out";
  reason: RegExp;
}

const CHILD_FAULTS: ChildFault[] = [
  { kind: "segv", fault: "ort child segfaults", status: "failed", reason: /killed by SIGSEGV/ },
  { kind: "exit", fault: "ort child exits non-zero", status: "failed", reason: /exited with code 3/ },
  { kind: "throw", fault: "ort child throws", status: "failed", reason: /injected fault/ },
  {
    kind: "hang",
    fault: "ort child hangs past --case-timeout",
    status: "timed-out",
    reason: /case timeout of 3000 ms/,
  },
  {
    kind: "alloc",
    fault: "ort child exceeds --case-memory",
    status: "failed",
    reason: /exceeded the memory cap: RSS \d+ MiB > 600 MiB/,
  },
];

function childFaultScenario(f: ChildFault): FaultScenario {
  return {
    id: `ort-${f.kind}`,
    fault: f.fault,
    behaviour: `an ort child that ${f.fault.replace("ort child ", "")} is recorded ${f.status} with the reason, the next case runs, and no child is left`,
    timeoutMs: 60_000,
    async run() {
      const t = new Tally(this.fault);
      await t.inject(f.kind, async () => {
        const dir = tempDir(`child-${f.kind}`);
        const db = join(dir, "r.db");
        const marker = newMarker(f.kind);
        const result = await runBench(
          [
            "run",
            tinySuite(dir, { workloads: ["fault", "ok"] }),
            "--db",
            db,
            "--case-timeout",
            "3s",
            "--case-memory",
            "600MiB",
          ],
          {
            marker,
            env: { EFFBENCH_TEST_FAULT: f.kind, EFFBENCH_TEST_FAULT_FILTER: "fault" },
          },
        );
        t.expectCleanFailure(result, [1], /1 completed/);
        t.expectNoOrphans(await waitForNoProcesses(marker, ORT_CHILD), "ort child");
        const rows = await resultRows(db);
        t.lost(2 - rows.length);
        const faulty = rows.find((r) => r.caseName.includes("fault"));
        const ok = rows.find((r) => r.caseName.includes("ok"));
        t.expect(faulty?.status === f.status, `the faulty case recorded ${f.status}`, () => `${faulty?.status}`);
        t.expect(f.reason.test(faulty?.reason ?? ""), `its reason to match ${f.reason}`, () => `${faulty?.reason}`);
        t.expect(
          ok?.status === "completed" && ok.samples > 0,
          "the next case completed with samples",
          () => `${ok?.status}`,
        );
      });
      return t.outcome;
    },
  };
}

const killDuringHang: FaultScenario = {
  id: "kill-9-during-hang",
  fault: "bench killed -9 during a hanging case",
  behaviour:
    "the ort child of a bench killed with -9, while the child starts or while it hangs, exits by itself within 2.5 s",
  timeoutMs: 60_000,
  async run() {
    const t = new Tally(this.fault);
    // While the child is still loading its modules (the parent dies before the child's parent watch exists), and
    // once it hangs in the measured code.
    for (const [label, afterStartMs] of [
      ["kill -9 while the child starts", 0],
      ["kill -9 while the child hangs", 2500],
    ] as const)
      await t.inject(label, async () => {
        const dir = tempDir("kill9-hang");
        const db = join(dir, "r.db");
        const marker = newMarker("hang");
        const child = startBench(
          ["run", tinySuite(dir, { workloads: ["fault", "ok"] }), "--db", db, "--case-timeout", "60s"],
          {
            marker,
            env: { EFFBENCH_TEST_FAULT: "hang", EFFBENCH_TEST_FAULT_FILTER: "fault" },
          },
        );
        const pid = await waitForProcess(marker, ORT_CHILD);
        if (!t.expect(pid !== undefined, "an ort child to start"))
          return void (await killBenchAndCheckOrphans(t, child, marker));
        await sleep(afterStartMs);
        t.expect(markedProcesses(marker, ORT_CHILD).includes(pid!), "the child still running before the kill");
        await killBenchAndCheckOrphans(t, child, marker);
        t.expect((await integrityCheck(db)) === "ok", "PRAGMA integrity_check = ok");
      });
    return t.outcome;
  },
};

const ctrlC: FaultScenario = {
  id: "sigint",
  fault: "Ctrl-C (SIGINT) mid-run, once and twice",
  behaviour:
    "Ctrl-C stops after the current case (twice: aborts it unrecorded), keeps what completed, prints the resume command and exits 1",
  timeoutMs: 60_000,
  async run() {
    const t = new Tally(this.fault);
    for (const presses of [1, 2])
      await t.inject(presses === 1 ? "one SIGINT to the foreground process group" : "two SIGINTs", async () => {
        const dir = tempDir("sigint");
        const db = join(dir, "r.db");
        const suite = tinySuite(dir, { workloads: ["c1", "c2", "c3", "c4", "c5"] });
        const marker = newMarker("sigint");
        // Its own process group, signalled as a whole: what a terminal does on Ctrl-C.
        const child = startBench(["run", suite, "--db", db], { marker, detached: true });
        await waitForProgress(child, 1, /\bcompleted\b/);
        // Signalled once the next case's child runs in its own session. A Ctrl-C in the instant a child is being
        // spawned reaches the child too, which then dies of SIGINT and the case is recorded failed: a known race
        // (docs/reliability.md), left out here because it cannot be hit reliably.
        await waitForProcess(marker, ORT_CHILD, 10_000);
        await sleep(300);
        for (let i = 0; i < presses; i++) {
          process.kill(-child.pid!, "SIGINT");
          await sleep(100);
        }
        const result = await settle(child);
        t.expect(result.exitCode === 1, "exit code 1", () => `${result.exitCode ?? result.signal}`);
        t.expect(
          result.stdout.includes(`resume with: bench run ${suite} --db ${db} --resume`),
          "the resume command",
          () => tail(result.stdout),
        );
        t.expect(!hasStackTrace(result.stdout + result.stderr), "no stack trace");
        const printed = (result.stdout.match(/^\[\d+\/5\] completed/gm) ?? []).length;
        const rows = await resultRows(db);
        t.lost(printed - rows.filter((r) => r.status === "completed").length);
        t.expect(
          rows.length === printed && rows.every((r) => r.status === "completed"),
          `the ${printed} cases printed as completed, and only those, recorded completed`,
          () => JSON.stringify(rows.map((r) => `${r.status}: ${r.reason}`)),
        );
        // Once: the case in flight finishes (2 completed; 3 if it had finished before the signal on a fast machine).
        // Twice: it is aborted and not recorded (1 completed, or 2).
        t.expect(
          printed >= 3 - presses && printed <= 4 - presses,
          `${3 - presses} case(s) completed`,
          () => `${printed} of 5 ran`,
        );
        const statuses = await runStatuses(db);
        t.expect(statuses[0] === "interrupted", "the run marked interrupted", () => JSON.stringify(statuses));
        t.expectNoOrphans(await waitForNoProcesses(marker, ORT_CHILD), "ort child");
      });
    return t.outcome;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// The torch runner: its Python worker serves many cases, so a worker that dies or breaks the protocol must fail
// only the case in flight; the runner starts a new worker for the next one.

const noPython = () => (pythonAvailable() ? undefined : "no .venv with torch (scripts/setup-python.sh)");

const torchWorkerFaults: FaultScenario = {
  id: "torch-worker",
  fault: "torch worker dies mid-request / garbage on stdout",
  behaviour:
    "a torch worker that dies mid-request or prints garbage fails only that case with a clear reason, and the next case proceeds",
  timeoutMs: 180_000,
  unavailable: noPython,
  async run() {
    const t = new Tally(this.fault);
    const dir = tempDir("torch");
    const db = join(dir, "r.db");
    const marker = newMarker("torch");
    // One run, two faults (worker.py's per-name list): a worker restart each, not a torch import per scenario.
    const suite = tinySuite(dir, { runner: "torch", workloads: ["crash", "fine1", "garble", "fine2"] });
    const result = await runBench(["run", suite, "--db", db, "--case-timeout", "120s"], {
      marker,
      env: { EFFBENCH_TEST_FAULT: "exit=crash,garbage=garble" },
      timeoutMs: 170_000,
    });
    const rows = await resultRows(db).catch(() => []);
    const byWorkload = (w: string) => rows.find((r) => r.caseName.includes(` ${w} `));
    for (const [label, faulty, next, reason] of [
      ["worker dies mid-request", "crash", "fine1", /the torch worker exited with code 3/],
      ["garbage on stdout", "garble", "fine2", /not protocol JSON \("this is not JSON"\)/],
    ] as const)
      await t.inject(label, async () => {
        t.expect(!hasStackTrace(result.stdout + result.stderr), "no stack trace", () => tail(result.stderr));
        const bad = byWorkload(faulty);
        const ok = byWorkload(next);
        t.expect(
          bad?.status === "failed" && reason.test(bad.reason ?? ""),
          `the ${faulty} case failed with a reason matching ${reason}`,
          () => `${bad?.status}: ${bad?.reason}`,
        );
        t.expect(
          ok?.status === "completed" && ok.samples > 0,
          `the ${next} case completed with samples`,
          () => `${ok?.status}: ${ok?.reason}`,
        );
      });
    t.lost(4 - rows.length);
    if (result.exitCode !== 1)
      t.outcome.problems.push(`expected exit code 1 — saw ${result.exitCode ?? result.signal}: ${tail(result.stderr)}`);
    const left = await waitForNoProcesses(marker, TORCH_WORKER);
    if (left.length) t.outcome.problems.push(`expected no torch worker left running — saw pids ${left.join(", ")}`);
    return t.outcome;
  },
};

const killDuringTorchHang: FaultScenario = {
  id: "torch-kill-9",
  fault: "bench killed -9 while the torch worker hangs",
  behaviour: "the torch worker of a bench killed with -9 during a hanging case exits by itself within 2.5 s",
  timeoutMs: 120_000,
  unavailable: noPython,
  async run() {
    const t = new Tally(this.fault);
    await t.inject("kill -9 while the worker hangs", async () => {
      const dir = tempDir("torch-kill9");
      const marker = newMarker("torch-hang");
      const child = startBench(
        [
          "run",
          tinySuite(dir, { runner: "torch", workloads: ["stuck"] }),
          "--db",
          join(dir, "r.db"),
          "--case-timeout",
          "120s",
        ],
        {
          marker,
          env: { EFFBENCH_TEST_FAULT: "hang=stuck" },
          timeoutMs: 110_000,
        },
      );
      // The serving worker, not the probe (`worker.py --hello`, which comes and goes first).
      const pid = await waitForProcess(marker, TORCH_WORKER, 60_000, "--hello");
      if (!t.expect(pid !== undefined, "a torch worker serving the case")) {
        child.kill("SIGKILL");
        await child;
        return;
      }
      await sleep(1000);
      child.kill("SIGKILL");
      const left = await waitForNoProcesses(marker, TORCH_WORKER, 2500);
      t.expectNoOrphans(left, "torch worker 2.5 s after bench was killed");
      for (const p of left) process.kill(p, "SIGKILL");
      await child;
    });
    return t.outcome;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// The store: concurrent writers, files it must refuse, a read-only directory, a full disk.

const concurrentWriters: FaultScenario = {
  id: "concurrent-writers",
  fault: "two bench run on one DB at once",
  behaviour: "two bench processes writing one new DB at once both record every case",
  timeoutMs: 90_000,
  async run() {
    const t = new Tally(this.fault);
    await t.inject("two writers", async () => {
      const dir = tempDir("concurrent");
      const db = join(dir, "shared.db");
      const a = tinySuite(dir, { file: "a.ts", name: "faults-a", workloads: ["a1", "a2", "a3"] });
      const b = tinySuite(dir, { file: "b.ts", name: "faults-b", workloads: ["b1", "b2", "b3"] });
      const marker = newMarker("concurrent");
      const [ra, rb] = await Promise.all([
        runBench(["run", a, "--db", db], { marker }),
        runBench(["run", b, "--db", db], { marker }),
      ]);
      for (const [name, r] of [
        ["a", ra],
        ["b", rb],
      ] as const)
        t.expect(r.exitCode === 0, `writer ${name} exits 0`, () => `${r.exitCode}: ${tail(r.stderr)}`);
      const rows = await resultRows(db);
      const completed = rows.filter((r) => r.status === "completed" && r.samples > 0);
      t.lost(6 - completed.length);
      t.expect(completed.length === 6, "6 completed results with samples", () => `${completed.length}`);
      t.expect(
        JSON.stringify(await runStatuses(db)) === '["completed","completed"]',
        "two completed runs",
        () => "other run statuses",
      );
      t.expect((await integrityCheck(db)) === "ok", "PRAGMA integrity_check = ok");
    });
    return t.outcome;
  },
};

async function withDbVariant(
  t: Tally,
  label: string,
  damage: (db: string) => Promise<void> | void,
  expected: { exitCodes: number[]; message: RegExp },
): Promise<void> {
  await t.inject(label, async () => {
    const dir = tempDir("db");
    const db = join(dir, "results.db");
    copyFileSync(await seedDatabase(), db);
    await damage(db);
    const hash = fileHash(db);
    const size = statSync(db).size;
    const result = await runBench(["run", tinySuite(dir), "--db", db], { marker: newMarker("db") });
    t.expectCleanFailure(result, expected.exitCodes, expected.message);
    t.expect(
      fileHash(db) === hash && statSync(db).size === size,
      `${label}: the file unchanged`,
      () => "it was written to",
    );
  });
}

const newerSchema: FaultScenario = {
  id: "schema-too-new",
  fault: "DB from a newer schema version",
  behaviour: "a DB written by a newer effbench is refused with exit 2 and a clear message, and left as it was",
  timeoutMs: 60_000,
  async run() {
    const t = new Tally(this.fault);
    await t.inject("user_version 99", async () => {
      const dir = tempDir("schema");
      const db = join(dir, "results.db");
      copyFileSync(await seedDatabase(), db);
      const connection = await Connection.open(db);
      await connection.exec("PRAGMA user_version = 99");
      await connection.close();
      const before = { counts: await tableCounts(db), hash: fileHash(db) };
      const result = await runBench(["run", tinySuite(dir), "--db", db], { marker: newMarker("schema") });
      t.expectCleanFailure(result, [2], /schema version 99.*newer effbench/);
      await expectUntouched(t, db, before, true);
    });
    return t.outcome;
  },
};

const corruptDb: FaultScenario = {
  id: "corrupt-db",
  fault: "truncated or corrupt DB file",
  behaviour:
    "a truncated, overwritten or non-SQLite DB file is refused with exit 2 and a clear message, and not written to",
  timeoutMs: 90_000,
  async run() {
    const t = new Tally(this.fault);
    const corrupt = { exitCodes: [2], message: /corrupt|malformed|not an SQLite database/ };
    await withDbVariant(t, "truncated to half", (db) => truncateSync(db, Math.floor(statSync(db).size / 2)), corrupt);
    await withDbVariant(t, "truncated to 100 bytes", (db) => truncateSync(db, 100), corrupt);
    await withDbVariant(t, "random bytes", (db) => writeFileSync(db, randomBytes(64 * 1024)), {
      exitCodes: [2],
      message: /not an SQLite database/,
    });
    await withDbVariant(
      t,
      "schema page overwritten",
      (db) => {
        // Page 1 holds the schema after the 100-byte header: garbage there makes every table unknown.
        const fd = openSync(db, "r+");
        writeSync(fd, randomBytes(3000), 0, 3000, 100);
        closeSync(fd);
      },
      corrupt,
    );
    return t.outcome;
  },
};

const corruptDataPage: FaultScenario = {
  id: "corrupt-data-page",
  fault: "corrupt page inside the DB (old samples)",
  behaviour: "a DB whose oldest samples page is damaged is refused with exit 2 before bench appends to it",
  timeoutMs: 60_000,
  async run() {
    const t = new Tally(this.fault);
    // A bad sector under old data: the header and schema are fine, so only a check of the pages finds it; a bench
    // that appends to such a file spreads the damage and hides it behind new results.
    await withDbVariant(
      t,
      "first samples leaf page overwritten",
      async (db) => {
        const connection = await Connection.open(db, { readonly: true });
        const page = await connection.get<{ pageno: number; size: number }>(
          "SELECT pageno, (SELECT page_size FROM pragma_page_size) AS size FROM dbstat WHERE name = 'samples' AND pagetype = 'leaf' ORDER BY path LIMIT 1",
        );
        await connection.close();
        if (!page) throw new Error("the seed DB has no samples leaf page");
        const fd = openSync(db, "r+");
        writeSync(fd, randomBytes(page.size), 0, page.size, (page.pageno - 1) * page.size);
        closeSync(fd);
      },
      { exitCodes: [2], message: /corrupt|malformed/ },
    );
    return t.outcome;
  },
};

/** Mounts a tmpfs (root only): the honest way to get a read-only or a full filesystem. */
function mountTmpfs(dir: string, sizeBytes: number): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes}`, "tmpfs", dir], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

function unmount(dir: string): void {
  try {
    execFileSync("umount", [dir], { stdio: "pipe" });
  } catch {
    // not mounted
  }
}

const readOnlyDir: FaultScenario = {
  id: "read-only-dir",
  fault: "read-only directory for --db",
  behaviour:
    "a --db in a read-only directory, new or existing, gives exit 2 and a clear message and leaves the file as it was",
  timeoutMs: 60_000,
  async run() {
    const t = new Tally(this.fault);
    const dir = tempDir("readonly");
    const mountPoint = join(dir, "ro");
    mkdirSync(mountPoint);
    const seedDb = await seedDatabase();
    // Root ignores permission bits, so as root the directory is a read-only tmpfs; otherwise chmod 555 does it.
    const asRoot = process.getuid?.() === 0;
    const mounted = asRoot && mountTmpfs(mountPoint, 4 * 2 ** 20);
    try {
      const existing = join(mountPoint, "results.db");
      copyFileSync(seedDb, existing);
      const before = { counts: await tableCounts(existing), hash: fileHash(existing) };
      if (mounted) {
        execFileSync("mount", ["-o", "remount,ro", mountPoint]);
        t.note("read-only: a tmpfs remounted ro (root ignores permission bits)");
      } else if (!asRoot) {
        chmodSync(existing, 0o444);
        chmodSync(mountPoint, 0o555);
        t.note("read-only: chmod 555 on the directory, 444 on the file");
      } else {
        t.note("read-only: cannot be simulated (root, and mount is refused)");
        return t.outcome;
      }
      const suite = tinySuite(dir);
      for (const [label, db] of [
        ["new file", join(mountPoint, "new.db")],
        ["existing file", existing],
      ] as const)
        await t.inject(label, async () => {
          const result = await runBench(["run", suite, "--db", db], { marker: newMarker("ro") });
          t.expectCleanFailure(result, [2], /read-only|cannot open|readonly|permission/i);
        });
      await expectUntouched(t, existing, before, true);
    } finally {
      if (mounted) unmount(mountPoint);
      else chmodSync(mountPoint, 0o755);
    }
    return t.outcome;
  },
};

const fullDisk: FaultScenario = {
  id: "full-disk",
  fault: "full disk",
  behaviour: "a full disk gives a clear message and a non-zero exit, and what was recorded before stays intact",
  timeoutMs: 90_000,
  async run() {
    const t = new Tally(this.fault);
    const dir = tempDir("full");
    const seedDb = await seedDatabase();
    const suite = tinySuite(dir, { workloads: ["f1", "f2", "f3"] });
    // Counted on the seed, not on a copy: opening a copy would leave a -shm file beside it, which a closed DB does
    // not have and which bench would then not need to create on the full disk.
    const before = { counts: await tableCounts(seedDb), hash: fileHash(seedDb) };
    const expectRecordsKept = async (db: string) => {
      t.expect((await integrityCheck(db)) === "ok", "PRAGMA integrity_check = ok once space is back");
      // The run may begin (a `runs` row) or record a case before the disk fills; nothing before it may go.
      const after = await tableCounts(db);
      t.lost(rowsLostBetween(before.counts, after));
      t.expect(
        after.results >= before.counts.results,
        "no result lost",
        () => `${JSON.stringify(before.counts)} → ${JSON.stringify(after)}`,
      );
    };

    const mountPoint = join(dir, "small");
    mkdirSync(mountPoint);
    if (mountTmpfs(mountPoint, statSync(seedDb).size + 2 * 2 ** 20)) {
      t.note("full disk: a tmpfs of the seed DB's size + 2 MiB, filled with a filler file");
      try {
        // Free space left after the filler: none at all (the WAL index cannot be created), then a little.
        for (const [label, freeBytes] of [
          ["no space left", 0],
          ["48 KiB left", 48 * 1024],
        ] as const)
          await t.inject(label, async () => {
            const db = join(mountPoint, "results.db");
            const filler = join(mountPoint, "filler");
            for (const file of [filler, db, `${db}-wal`, `${db}-shm`]) rmSync(file, { force: true });
            copyFileSync(seedDb, db);
            fill(filler, freeBytes, mountPoint);
            const result = await runBench(["run", suite, "--db", db], { marker: newMarker("full") });
            t.expectCleanFailure(result, [1, 2], /disk is full|disk may be full/);
            rmSync(filler, { force: true });
            await expectRecordsKept(db);
          });
      } finally {
        unmount(mountPoint);
      }
    } else t.note("full disk: mount refused here (not root), so only the file-size limit is simulated");

    // Everywhere, root or not: a file-size limit (RLIMIT_FSIZE) at the DB's current size, so that the run starts
    // and a write fails once a case's rows make the file grow (SQLite sees EFBIG, an I/O error).
    await t.inject("file-size limit reached mid-run", async () => {
      const db = join(dir, "limited.db");
      copyFileSync(seedDb, db);
      const result = await runBench(["run", suite, "--db", db], {
        marker: newMarker("fsize"),
        wrapper: ["prlimit", `--fsize=${statSync(db).size}`],
      });
      t.expectCleanFailure(result, [1, 2], /disk is full|disk may be full/);
      await expectRecordsKept(db);
    });
    return t.outcome;
  },
};

/** Writes a file until the filesystem has about `leaveBytes` free. */
function fill(path: string, leaveBytes: number, mountPoint: string): void {
  const fd = openSync(path, "w");
  try {
    const chunk = Buffer.alloc(64 * 1024, 1);
    for (;;) {
      const free = freeBytes(mountPoint);
      if (free <= leaveBytes) break;
      const size = Math.min(chunk.length, free - leaveBytes);
      try {
        writeSync(fd, chunk, 0, size);
      } catch {
        break; // ENOSPC
      }
    }
  } finally {
    closeSync(fd);
  }
}

function freeBytes(mountPoint: string): number {
  const out = execFileSync("df", ["-B1", "--output=avail", mountPoint], { encoding: "utf8" });
  return Number(out.trim().split("\n").pop());
}

// ---------------------------------------------------------------------------------------------------------------
// Malformed suites: each refused with exit 2 and a message, before the DB is touched.

function badSuiteScenario(
  id: string,
  fault: string,
  source: string,
  message: RegExp,
  extraArgs: string[] = [],
): FaultScenario {
  return {
    id,
    fault,
    behaviour: `a suite with ${fault.replace(/^suite: /, "")} is refused with exit 2 and a clear message, and the DB is not touched`,
    timeoutMs: 90_000,
    async run() {
      const t = new Tally(this.fault);
      await t.inject(id, async () => {
        const dir = tempDir(id);
        const before = await seededCopy(dir);
        const suite = join(dir, "bad.ts");
        writeFileSync(suite, source);
        const result = await runBench(["run", suite, "--db", before.db, ...extraArgs], {
          marker: newMarker(id),
          timeoutMs: 60_000,
        });
        t.expectCleanFailure(result, [2], message);
        await expectUntouched(t, before.db, before, true);
      });
      return t.outcome;
    },
  };
}

const suiteHeader = `import { defineSuite } from "effbench";\n`;

const syntaxError = badSuiteScenario(
  "suite-syntax",
  "suite: syntax error",
  `${suiteHeader}export default defineSuite({ name: "broken", models: [{ name: "m", layers: 1,, }] ;\n`,
  /bad\.ts: the suite file does not compile/,
);

const wrongTypes = badSuiteScenario(
  "suite-types",
  "suite: wrong types",
  `${suiteHeader}export default defineSuite({ name: "typed", models: [{ name: "m", layers: "two", hidden: 64, heads: 4, ffn: 128, vocab: 97 }] as any,
  scenarios: ["prefill"], workloads: [{ promptTokens: -3 }], protocol: ${TINY_PROTOCOL} });\n`,
  /bad\.ts › models\[0\]\.layers[\s\S]*bad\.ts › workloads\[0\]\.promptTokens/,
);

const unknownTechnique = badSuiteScenario(
  "suite-technique",
  "suite: unknown technique",
  `${suiteHeader}export default defineSuite({ name: "tech", models: [${TINY_MODEL}], techniques: [{ kind: "lorra", rank: 8 }] as any,
  scenarios: ["prefill"], workloads: [{ promptTokens: 8 }], protocol: ${TINY_PROTOCOL} });\n`,
  /bad\.ts › techniques\[0\][\s\S]*lorra/,
);

/** 200 layers of hidden 16384 with a 128k vocabulary: ~2.3 TiB of fp32 weights. Refused before any process starts
 * (recorded `unsupported` with the numbers; `--strict` makes that exit 1). `--case-memory` is a safety net only, so
 * that a harness without the up-front refusal fails this test instead of exhausting the machine. */
const absurdSize: FaultScenario = {
  id: "suite-absurd-size",
  fault: "suite: model that cannot fit in memory",
  behaviour:
    "a model that cannot fit in memory is refused up front with the numbers, exit 1 under --strict, and what was recorded stays",
  timeoutMs: 90_000,
  async run() {
    const t = new Tally(this.fault);
    await t.inject("2.3 TiB of weights", async () => {
      const dir = tempDir("absurd");
      const before = await seededCopy(dir);
      const suite = join(dir, "huge.ts");
      writeFileSync(
        suite,
        `${suiteHeader}export default defineSuite({ name: "huge", models: [{ name: "huge", layers: 200, hidden: 16384, heads: 128, kvHeads: 8, ffn: 53248, vocab: 128256 }],
  scenarios: ["prefill"], workloads: [{ promptTokens: 16 }], protocol: ${TINY_PROTOCOL} });\n`,
      );
      const marker = newMarker("absurd");
      const result = await runBench(["run", suite, "--db", before.db, "--strict", "--case-memory", "1GiB"], {
        marker,
        timeoutMs: 60_000,
      });
      const refusal = /does not fit in memory: needs about [\d.]+ GiB .*this machine has [\d.]+ GiB/;
      t.expectCleanFailure(result, [1], refusal);
      const after = await tableCounts(before.db);
      t.lost(rowsLostBetween(before.counts, after));
      const rows = await resultRows(before.db);
      const huge = rows.find((r) => r.caseName.startsWith("huge"));
      t.expect(
        huge?.status === "unsupported" && refusal.test(huge.reason ?? ""),
        "the case recorded unsupported with the numbers",
        () => `${huge?.status}: ${huge?.reason}`,
      );
      t.expect(
        after.results === before.counts.results + 1 && after.samples === before.counts.samples,
        "one more result and no samples (nothing ran)",
        () => JSON.stringify(after),
      );
    });
    return t.outcome;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Hostile strings in a suite reach the HTML report as text, never as markup or script.

const HOSTILE = {
  suite: "s</script><script>alert('suite')</script>",
  model: "m<img src=x onerror=alert('model')>",
  workload: `w"'><svg onload=alert('workload')>`,
};

const hostileReport: FaultScenario = {
  id: "report-hostile-strings",
  fault: "hostile strings in the HTML report",
  behaviour: "suite, model and workload names made of HTML and script reach the report as text and execute nothing",
  timeoutMs: 120_000,
  async run() {
    const t = new Tally(this.fault);
    await t.inject("names with <script>, onerror and onload", async () => {
      const dir = tempDir("report");
      const db = join(dir, "r.db");
      const suite = join(dir, "hostile.ts");
      writeFileSync(
        suite,
        `${suiteHeader}export default defineSuite({ name: ${JSON.stringify(HOSTILE.suite)},
  models: [{ ...${TINY_MODEL}, name: ${JSON.stringify(HOSTILE.model)} }],
  scenarios: ["prefill"], workloads: [{ name: ${JSON.stringify(HOSTILE.workload)}, promptTokens: 8 }], protocol: ${TINY_PROTOCOL} });\n`,
      );
      const marker = newMarker("report");
      const ran = await runBench(["run", suite, "--db", db], { marker });
      if (!t.expect(ran.exitCode === 0, "the hostile suite runs", () => tail(ran.stderr))) return;
      const site = join(dir, "site");
      const reported = await runBench(["report", db, "-o", site], { marker });
      if (!t.expect(reported.exitCode === 0, "bench report exits 0", () => tail(reported.stderr))) return;
      // Static: no page carries a payload as markup (inline data included). The data chunks under data/ are scripts
      // loaded by src, where the names sit inside JSON string literals: markup there is inert text.
      for (const file of siteFiles(site).filter((f) => f.endsWith(".html")))
        for (const payload of ["<script>alert(", "<img src=x onerror", "<svg onload"]) {
          const text = readFileSync(file, "utf8");
          t.expect(!text.includes(payload), `${file.slice(site.length + 1)} without the raw ${payload}`);
        }
      // Live, where Chromium is installed: the pages show the names as text and open no dialog.
      const { CHROMIUM_PATH, ChromiumSession } = await import("../../reports/browser-check.js");
      if (!existsSync(CHROMIUM_PATH)) return t.note(`hostile strings: ${CHROMIUM_PATH} missing, static check only`);
      const [caseId = ""] = await caseIds(db);
      const browser = await ChromiumSession.launch();
      try {
        for (const page of [join(site, "index.html"), `${join(site, "case.html")}#${caseId}`]) {
          const seen = await browser.check(page);
          t.expect(seen.dialogs.length === 0, `no dialog on ${page.slice(site.length + 1)}`, () =>
            JSON.stringify(seen.dialogs),
          );
          t.expect(seen.pageErrors.length === 0, `no page error on ${page.slice(site.length + 1)}`, () =>
            JSON.stringify(seen.pageErrors),
          );
          t.expect(seen.text.includes(HOSTILE.model), `the model name shown as text on ${page.slice(site.length + 1)}`);
        }
      } finally {
        await browser.close();
      }
    });
    return t.outcome;
  },
};

function siteFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

async function caseIds(db: string): Promise<string[]> {
  const connection = await Connection.open(db, { readonly: true });
  try {
    return (await connection.all<{ id: string }>("SELECT id FROM cases")).map((r) => r.id);
  } finally {
    await connection.close();
  }
}

export const scenarios: FaultScenario[] = [
  killMidRun,
  ...CHILD_FAULTS.map(childFaultScenario),
  killDuringHang,
  ctrlC,
  torchWorkerFaults,
  killDuringTorchHang,
  concurrentWriters,
  syntaxError,
  wrongTypes,
  unknownTechnique,
  absurdSize,
  newerSchema,
  corruptDb,
  corruptDataPage,
  readOnlyDir,
  fullDisk,
  hostileReport,
  serveCrash,
  serveStreamFaults,
];

export function scenario(id: string): FaultScenario {
  const found = scenarios.find((s) => s.id === id);
  if (!found) throw new Error(`no fault scenario "${id}"`);
  return found;
}
