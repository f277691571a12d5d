// One leaderboard: the rows of a comparison group ranked on one metric, then those without a value. Shared by the
// browser (after each filter) and the markdown export. Free of Node imports.
import type { CompactMetric, IndexRow } from "./model.js";
import type { Better, MetricInfo } from "./metrics.js";
import { rankByConfidence } from "./rank.js";

export interface RankedRow {
  row: IndexRow;
  rank: number;
  tie: boolean;
}

export interface Leaderboard {
  ranked: RankedRow[];
  /** In the group but without a value: null metric (with its reason) or a result that did not complete. */
  unranked: IndexRow[];
}

export const valueOf = (m: CompactMetric | undefined): number | null => (m && m[0] !== null ? m[0] : null);

export const rankText = (r: { rank: number; tie: boolean }): string => (r.tie ? `=${r.rank}` : String(r.rank));

/** A row belongs on a metric's leaderboard when its scenario is in scope and it has the metric or did not complete. */
export function onBoard(row: IndexRow, info: MetricInfo): boolean {
  if (info.scenarios && !info.scenarios.includes(row.scenario)) return false;
  return row.m[info.name] !== undefined || row.status !== "completed";
}

/**
 * Flags that say a result's memory is not the case's own (a worker shared by cases on a GPU, process memory read from
 * the whole device): such a row is never ranked on a memory metric, only listed with the unranked ones.
 */
export const MEMORY_FLAGS = ["memory-not-isolated", "process-memory-from-device"];
const MEMORY_METRIC = /memory|amu|rss/;

export const memoryFlagged = (row: IndexRow, metric: string): boolean =>
  MEMORY_METRIC.test(metric) && row.flags.some((f) => MEMORY_FLAGS.includes(f));

export function leaderboard(rows: readonly IndexRow[], metric: string, better: Better): Leaderboard {
  const valued = rows.filter(
    (r) => r.status === "completed" && valueOf(r.m[metric]) !== null && !memoryFlagged(r, metric),
  );
  const ranks = rankByConfidence(
    valued.map((r) => {
      const m = r.m[metric] as [number, number | null, number | null];
      return { value: m[0], ciLow: m[1], ciHigh: m[2] };
    }),
    better,
  );
  const sign = better === "lower" ? 1 : -1;
  const ranked = valued
    .map((row, i) => ({ row, rank: ranks[i].rank, tie: ranks[i].tie }))
    .sort(
      (a, b) =>
        a.rank - b.rank ||
        sign * (valueOf(a.row.m[metric])! - valueOf(b.row.m[metric])!) ||
        a.row.name.localeCompare(b.row.name),
    );
  const set = new Set(valued);
  return { ranked, unranked: rows.filter((r) => !set.has(r)) };
}

/** Comparison groups of a metric's rows, most ranked rows first (groups with nothing measured last). */
export function groupsOf(rows: readonly IndexRow[], info: MetricInfo): Array<[group: string, ranked: number]> {
  const counts = new Map<string, number>();
  for (const r of rows) {
    if (!onBoard(r, info)) continue;
    const measured = r.status === "completed" && valueOf(r.m[info.name]) !== null ? 1 : 0;
    counts.set(r.group, (counts.get(r.group) ?? 0) + measured);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
