// Malformed suites (docs/reliability.md): each refused with a clear message before anything runs, the DB untouched.
import { describe } from "vitest";
import { faultTests } from "./fault-tests.js";

describe("bench given malformed suites", () => {
  faultTests(["suite-syntax", "suite-types", "suite-technique", "suite-absurd-size"]);
});
