// Execution modes side by side (eager, cuda-graph, compile): for each model, scenario, workload and device, every
// technique's p50 and its ratio to the base in the same mode — so LoRA/base under dispatch (eager) sits beside
// LoRA/base with the dispatch removed (cuda-graph). Free of Node imports.
import type { IndexRow } from "./model.js";

export const MODES = ["eager", "cuda-graph", "compile"] as const;

/** The mode a row ran in: the case name's last part when it is a non-default mode, else eager. */
export const modeOf = (row: Pick<IndexRow, "name">): string => {
  const last = row.name.split(" · ").at(-1)!;
  return (MODES as readonly string[]).includes(last) ? last : "eager";
};

export interface ModeCell {
  id: string;
  p50Ms: number | null;
  /** p50 ÷ the base's p50 in the same mode; null for the base itself or without both. */
  vsBase: number | null;
  busy: number | null;
}

export interface ModeRow {
  group: string;
  technique: string;
  cells: Record<string, ModeCell | undefined>;
}

/** Rows with more than one mode in their group; empty when every result ran eager. */
export function modeComparison(rows: readonly IndexRow[]): { modes: string[]; rows: ModeRow[] } {
  const p50 = (r: IndexRow) => (r.status === "completed" ? (r.m.latency_p50_ms?.[0] ?? null) : null);
  const key = (r: IndexRow) => `${r.model} · ${r.group} · ${r.runner} · ${r.device}`;
  const present = new Set(rows.map(modeOf));
  if (present.size < 2) return { modes: [], rows: [] };
  const modes = MODES.filter((m) => present.has(m));
  const base = new Map<string, IndexRow>();
  for (const r of rows) if (r.technique === "base") base.set(`${key(r)}\u0000${modeOf(r)}`, r);
  const out = new Map<string, ModeRow>();
  for (const r of rows) {
    const id = `${key(r)}\u0000${r.technique}\u0000${r.name.split(" · ")[1]}`;
    const row = out.get(id) ?? { group: key(r), technique: r.name.split(" · ")[1] ?? r.technique, cells: {} };
    const b = base.get(`${key(r)}\u0000${modeOf(r)}`);
    const own = p50(r);
    const theirs = b ? p50(b) : null;
    row.cells[modeOf(r)] = {
      id: r.id,
      p50Ms: own,
      vsBase: r.technique !== "base" && own !== null && theirs ? own / theirs : null,
      busy: r.m.gpu_busy_fraction?.[0] ?? null,
    };
    out.set(id, row);
  }
  return { modes: [...modes], rows: [...out.values()].filter((r) => Object.keys(r.cells).length > 1) };
}
