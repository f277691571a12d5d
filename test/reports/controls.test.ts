// The drift control in the report's model: per run and control, the median of its iterations and the range of its
// processes' medians, and which control each case went with (what the trends chart draws beside the cases).
import { describe, expect, it } from "vitest";
import { controlTrends } from "../../reports/controls.js";
import type { ControlRow } from "../../src/store/store.js";

const row = (
  id: number,
  runId: number,
  valuesMs: number[],
  status: ControlRow["status"] = "completed",
): ControlRow => ({
  id,
  runId,
  control: "ort cpu: test control",
  caseKey: "key-a",
  measuredAt: "2026-01-01T00:00:00.000Z",
  status,
  valuesMs,
  ...(status === "completed" ? {} : { reason: "the control process exited with code 3" }),
});

describe("controlTrends", () => {
  it("one point per run and control; failed processes left out; the case mapped to its control", () => {
    const trends = controlTrends(
      [row(1, 1, [1, 2, 3]), row(2, 1, [5, 6, 7]), row(3, 2, [2, 2, 2]), row(4, 2, [], "failed")],
      new Map([["key-a", "case-a"]]),
    );
    expect(trends.points).toEqual([
      ["ort cpu: test control", 1, 4, 2, 6, 2],
      ["ort cpu: test control", 2, 2, 2, 2, 1],
    ]);
    expect(trends.caseControl).toEqual({ "case-a": "ort cpu: test control" });
  });
});
