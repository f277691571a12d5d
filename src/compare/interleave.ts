// `bench compare --interleave <base> <head> <suite.ts>`: runs two code versions of effbench (git refs checked out
// into temporary worktrees, or two checkout directories) alternately, case process by case process, in one sitting
// (ABBA order), then compares them — a drifting machine reaches both sides alike. Each side is its own checkout's
// `bench run`; they take turns through files (src/run/turns.ts).
import { execa, execaNode, type ResultPromise } from "execa";
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fromRoot } from "../paths.js";
import { DRIFT_CONTROL_VARIABLE } from "../run/drift-control.js";
import { finishedFile, TURN_POLL_MS, turnFile, TURNS_DIR_VARIABLE, TURNS_SIDE_VARIABLE } from "../run/turns.js";
import { CompareError } from "./compare.js";
import { compareMessages } from "./messages.js";

export interface InterleaveSide {
  /** A file-name-safe label: "base", "head". */
  name: string;
  /** The effbench checkout whose `bin/bench.js run` measures this side. */
  checkout: string;
  /** Extra environment of this side's run (test-only knobs such as EFFBENCH_TEST_EXTRA_WORK). */
  env?: Record<string, string>;
}

export interface SittingResult {
  /** Each side's results database, in the order of `sides`. */
  databases: string[];
  /** Each side's `bench run` exit code (1: a case failed, still comparable). */
  exitCodes: number[];
  /** Case processes each side ran. */
  processes: number[];
  wallS: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The order of round r: ABBA — forwards on even rounds, backwards on odd ones, so each side goes first alike. */
export function roundOrder(sides: number, round: number): number[] {
  const forwards = Array.from({ length: sides }, (_, i) => i);
  return round % 2 === 0 ? forwards : forwards.reverse();
}

/** The inherited environment without effbench's own variables (EFFBENCH_ROOT would point a side at this checkout). */
function sideEnvironment(side: InterleaveSide, turnsDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("EFFBENCH_")) env[key] = value;
  return {
    ...env,
    ...side.env,
    [TURNS_DIR_VARIABLE]: turnsDir,
    [TURNS_SIDE_VARIABLE]: side.name,
    [DRIFT_CONTROL_VARIABLE]: "off",
  };
}

/**
 * Runs the suite once per side, all sides started together and then handed the turn one case process at a time.
 * Databases go to `workDir` (<side>.db). Throws CompareError when a side cannot take part.
 */
export async function runInterleavedSitting(
  sides: InterleaveSide[],
  suitePath: string,
  workDir: string,
  options: { log?: (line: string) => void; extraArgs?: string[] } = {},
): Promise<SittingResult> {
  for (const side of sides)
    if (!existsSync(join(side.checkout, "src/run/turns.ts")))
      throw new CompareError(compareMessages.predatesInterleave(side.name, side.checkout));
  const turnsDir = mkdtempSync(join(workDir, "turns-"));
  const started = performance.now();
  const databases = sides.map((s) => join(workDir, `${s.name}.db`));
  const stderr = sides.map(() => "");
  const exited = sides.map(() => false);
  const children: ResultPromise[] = sides.map((side, i) => {
    const child = execaNode(
      join(side.checkout, "bin/bench.js"),
      ["run", resolve(suitePath), "--db", databases[i]!, ...(options.extraArgs ?? [])],
      {
        cwd: side.checkout,
        env: sideEnvironment(side, turnsDir),
        extendEnv: false,
        reject: false,
        stdout: "ignore",
        stderr: "pipe",
      },
    );
    child.stderr?.on("data", (chunk: Buffer) => (stderr[i] = (stderr[i] + chunk.toString()).slice(-2000)));
    void child.then(() => (exited[i] = true));
    return child;
  });
  const turn = sides.map(() => 0);
  const done = sides.map(() => false);
  const isOver = (i: number) => done[i] || existsSync(finishedFile(turnsDir, sides[i]!.name)) || exited[i];
  try {
    for (let round = 0; !done.every(Boolean); round++) {
      for (const i of roundOrder(sides.length, round)) {
        if (done[i]) continue;
        const name = sides[i]!.name;
        // Wait until this side is ready for its next process (or has nothing left to run).
        while (!existsSync(turnFile(turnsDir, name, "ready", turn[i]!))) {
          if (isOver(i)) {
            done[i] = true;
            break;
          }
          await sleep(TURN_POLL_MS);
        }
        if (done[i]) continue;
        writeFileSync(turnFile(turnsDir, name, "go", turn[i]!), "");
        while (
          !existsSync(turnFile(turnsDir, name, "done", turn[i]!)) &&
          !existsSync(turnFile(turnsDir, name, "ready", turn[i]! + 1)) &&
          !isOver(i)
        )
          await sleep(TURN_POLL_MS);
        turn[i]!++;
        options.log?.(`${name} process ${turn[i]} done`);
      }
    }
    const results = await Promise.all(children);
    const exitCodes = results.map((r) => r.exitCode ?? 1);
    exitCodes.forEach((code, i) => {
      if (code !== 0 && code !== 1)
        throw new CompareError(compareMessages.sideFailed(sides[i]!.name, sides[i]!.checkout, code, stderr[i]!.trim()));
    });
    return { databases, exitCodes, processes: turn, wallS: (performance.now() - started) / 1000 };
  } finally {
    for (const child of children) if (!child.killed && child.exitCode === null) child.kill();
    rmSync(turnsDir, { recursive: true, force: true });
  }
}

/** A directory is used as a checkout; anything else is a git ref of this effbench checkout, checked out for the sitting. */
export async function resolveCheckout(
  ref: string,
  name: string,
  workDir: string,
): Promise<{ checkout: string; cleanup: () => Promise<void> }> {
  if (existsSync(ref) && statSync(ref).isDirectory()) {
    if (!existsSync(join(ref, "bin/bench.js"))) throw new CompareError(compareMessages.notACheckout(ref));
    return { checkout: resolve(ref), cleanup: async () => {} };
  }
  const repo = fromRoot();
  const commit = await execa("git", ["-C", repo, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`], {
    reject: false,
  });
  if (commit.exitCode !== 0) throw new CompareError(compareMessages.unknownRef(ref, repo));
  const checkout = join(workDir, `checkout-${name}`);
  const added = await execa(
    "git",
    ["-C", repo, "worktree", "add", "--detach", checkout, String(commit.stdout).trim()],
    {
      reject: false,
    },
  );
  if (added.exitCode !== 0) throw new CompareError(compareMessages.worktreeFailed(ref, String(added.stderr).trim()));
  // The checkout shares this one's installed dependencies (and the Python env, the native build, when present).
  for (const shared of ["node_modules", ".venv", "native/build"])
    if (existsSync(fromRoot(shared)) && !existsSync(join(checkout, shared)))
      symlinkSync(fromRoot(shared), join(checkout, shared), "dir");
  return {
    checkout,
    cleanup: async () => {
      await execa("git", ["-C", repo, "worktree", "remove", "--force", checkout], { reject: false });
    },
  };
}

/** The whole of `--interleave`: resolve both refs, run the sitting, leave the databases in a fresh directory. */
export async function interleave(
  baseRef: string,
  headRef: string,
  suitePath: string,
  options: { log?: (line: string) => void; workDir?: string } = {},
): Promise<SittingResult & { workDir: string }> {
  if (!existsSync(suitePath)) throw new CompareError(compareMessages.suiteMissing(suitePath));
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), "effbench-interleave-"));
  const base = await resolveCheckout(baseRef, "base", workDir);
  try {
    const head = await resolveCheckout(headRef, "head", workDir);
    try {
      const result = await runInterleavedSitting(
        [
          { name: "base", checkout: base.checkout },
          { name: "head", checkout: head.checkout },
        ],
        suitePath,
        workDir,
        options,
      );
      return { ...result, workDir };
    } finally {
      await head.cleanup();
    }
  } finally {
    await base.cleanup();
  }
}
