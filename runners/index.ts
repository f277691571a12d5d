// The built-in runners, registered once: the CLI (the composition root) imports this before validating any suite.
import { registerRunner, runnerNames } from "../src/runner/registry.js";
import { ortRunnerDefinition } from "./ort/index.js";
import { torchRunnerDefinition } from "./torch/index.js";
import { llamacppRunnerDefinition } from "./llamacpp/index.js";
import { serveRunnerDefinition } from "./serve/index.js";

/** Registers the built-in runners (idempotent: a second call does nothing). */
export function registerBuiltinRunners(): void {
  if (runnerNames().includes(ortRunnerDefinition.name)) return;
  registerRunner(ortRunnerDefinition);
  registerRunner(torchRunnerDefinition);
  registerRunner(llamacppRunnerDefinition);
  registerRunner(serveRunnerDefinition);
}

registerBuiltinRunners();
