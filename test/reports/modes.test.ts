// The report's execution-mode table (eager and cuda-graph side by side, technique/base in each mode) and the memory
// leaderboard, which never ranks a result whose memory is flagged as not the case's own.
import { describe, expect, it } from "vitest";
import { modeComparison } from "../../reports/modes.js";
import { leaderboard } from "../../reports/leaderboard.js";
import type { IndexRow } from "../../reports/model.js";

const row = (name: string, technique: string, p50: number, extra: Partial<IndexRow> = {}): IndexRow => ({
  id: name,
  run: 1,
  name,
  model: "llama-8b",
  technique,
  scenario: "decode",
  workload: "latency b1 p512",
  runner: "torch",
  device: "cuda",
  group: "decode · latency b1 p512",
  status: "completed",
  reason: null,
  flags: [],
  m: { latency_p50_ms: [p50, null, null], gpu_busy_fraction: [0.25, null, null] },
  ...extra,
});

describe("execution modes in the report", () => {
  it("puts each technique's eager and cuda-graph p50 side by side with its ratio to the base of the same mode", () => {
    const rows = [
      row("llama-8b · base · decode · latency b1 p512 · torch", "base", 26.8),
      row("llama-8b · base · decode · latency b1 p512 · torch · cuda-graph", "base", 7.0),
      row("llama-8b · lora r16 · decode · latency b1 p512 · torch", "lora", 49.0),
      row("llama-8b · lora r16 · decode · latency b1 p512 · torch · cuda-graph", "lora", 9.45),
    ];
    const { modes, rows: table } = modeComparison(rows);
    expect(modes).toEqual(["eager", "cuda-graph"]);
    const lora = table.find((r) => r.technique === "lora r16")!;
    expect(lora.cells.eager!.vsBase).toBeCloseTo(49.0 / 26.8, 12);
    expect(lora.cells["cuda-graph"]!.vsBase).toBeCloseTo(9.45 / 7.0, 12);
    expect(table.find((r) => r.technique === "base")!.cells.eager!.vsBase).toBeNull();
  });

  it("has no table when every result ran eager", () => {
    expect(modeComparison([row("a · base · decode · b1 · torch", "base", 1)]).rows).toEqual([]);
  });

  it("never ranks memory flagged as not the case's own, and still ranks it on latency", () => {
    const mem = (name: string, bytes: number, flags: string[] = []) =>
      row(name, "base", 1, { flags, m: { gpu_amu_bytes: [bytes, null, null], latency_p50_ms: [1, null, null] } });
    const rows = [mem("a", 3e9), mem("b", 1e9, ["memory-not-isolated"]), mem("c", 2e9)];
    const board = leaderboard(rows, "gpu_amu_bytes", "lower");
    expect(board.ranked.map((r) => r.row.name)).toEqual(["c", "a"]);
    expect(board.unranked.map((r) => r.name)).toEqual(["b"]);
    expect(leaderboard(rows, "latency_p50_ms", "lower").ranked).toHaveLength(3);
  });
});
