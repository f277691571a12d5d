// The drift control in the report (docs/protocol.md, "Machine-drift control"): per run and control, the median of
// its per-iteration times with the range of its processes' medians, and which cases it went with — so that the
// trends chart can show the machine beside the cases: a night where everything moved with the control is the machine.
import type { ControlRow } from "../src/store/store.js";
import { median } from "../src/measure/stats.js";

/** One run's control: [control key, run id, median ms, lowest process median, highest process median, processes]. */
export type ControlPoint = [
  control: string,
  runId: number,
  value: number,
  low: number,
  high: number,
  processes: number,
];

export interface ControlTrends {
  points: ControlPoint[];
  /** caseId → the control key its processes were followed by. */
  caseControl: Record<string, string>;
}

export function controlTrends(rows: ControlRow[], caseIdOfKey: Map<string, string>): ControlTrends {
  const groups = new Map<string, ControlRow[]>();
  const caseControl: Record<string, string> = {};
  for (const row of rows) {
    if (row.caseKey !== null) {
      const caseId = caseIdOfKey.get(row.caseKey);
      if (caseId !== undefined) caseControl[caseId] = row.control;
    }
    if (row.status !== "completed" || row.valuesMs.length === 0) continue;
    const key = `${row.runId}\u0000${row.control}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const round = (x: number) => Number(x.toPrecision(4));
  const points: ControlPoint[] = [...groups.values()].map((list) => {
    const medians = list.map((r) => median(r.valuesMs));
    return [
      list[0]!.control,
      list[0]!.runId,
      round(median(list.flatMap((r) => r.valuesMs))),
      round(Math.min(...medians)),
      round(Math.max(...medians)),
      list.length,
    ];
  });
  return { points, caseControl };
}
