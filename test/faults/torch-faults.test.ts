// Faults of the torch runner's Python worker (docs/reliability.md): it dies mid-request, writes garbage, or is orphaned.
import { describe } from "vitest";
import { faultTests } from "./fault-tests.js";

describe("bench under torch worker faults", () => {
  faultTests(["torch-worker", "torch-kill-9"]);
});
