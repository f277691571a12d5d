// Hostile input reaching the HTML report (docs/reliability.md): user strings are escaped; the report never executes input.
import { describe } from "vitest";
import { faultTests } from "./fault-tests.js";

describe("the report given hostile names", () => {
  faultTests(["report-hostile-strings"]);
});
