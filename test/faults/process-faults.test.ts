// Faults of processes (docs/reliability.md): bench killed -9, ort children that crash, hang or outgrow their cap, Ctrl-C.
import { describe } from "vitest";
import { faultTests } from "./fault-tests.js";

describe("bench under process faults", () => {
  faultTests([
    "kill-9-mid-run",
    "ort-segv",
    "ort-exit",
    "ort-throw",
    "ort-hang",
    "ort-alloc",
    "kill-9-during-hang",
    "sigint",
  ]);
});
