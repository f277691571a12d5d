// Vitest setup: registers the built-in runners, as the CLI does, so that tests may validate and plan suites.
import "../../runners/index.js";
