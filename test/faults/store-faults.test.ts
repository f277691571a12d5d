// Faults of the results file (docs/reliability.md): concurrent writers, a newer schema, corrupt files, a read-only
// directory, a full disk.
import { describe } from "vitest";
import { faultTests } from "./fault-tests.js";

describe("bench under results-file faults", () => {
  faultTests(["concurrent-writers", "schema-too-new", "corrupt-db", "corrupt-data-page", "read-only-dir", "full-disk"]);
});
