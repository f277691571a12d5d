// Which Python interpreter a runner with a Python side uses: the one the user named, else the project's .venv, else
// python3 on PATH. Shared by every runner that starts Python (torch worker, a managed server…).
import { existsSync } from "node:fs";
import { fromRoot } from "../../src/paths.js";
import type { RunnerOptions } from "../../src/runner/contract.js";

export interface InterpreterCandidate {
  python: string;
  /** Where it came from: "--python", "BENCH_PYTHON", ".venv", "python3". */
  source: string;
}

/** The interpreters to try, in order: `--python`, BENCH_PYTHON, the project's .venv, python3 on PATH. */
export function interpreterCandidates(
  options: RunnerOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): InterpreterCandidate[] {
  // An interpreter the user named is the only one tried: silently falling back would measure another install.
  if (options.python) return [{ python: options.python, source: "--python" }];
  if (env.BENCH_PYTHON) return [{ python: env.BENCH_PYTHON, source: "BENCH_PYTHON" }];
  const candidates: InterpreterCandidate[] = [];
  const venv = fromRoot(".venv/bin/python");
  if (existsSync(venv)) candidates.push({ python: venv, source: ".venv" });
  candidates.push({ python: "python3", source: "python3" });
  return candidates;
}
