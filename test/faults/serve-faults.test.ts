// Faults of the serve runner: a managed transformers serve killed mid-point; a hung and a malformed stream.
import { describe } from "vitest";
import { faultTests } from "./fault-tests.js";

describe("bench under serving faults", () => {
  faultTests(["serve-crash", "serve-stream"]);
});
