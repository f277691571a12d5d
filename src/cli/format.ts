// Terminal output of the CLI: progress lines and tables.
import type { Case } from "../suite/case.js";
import type { CaseSummary } from "../run/execute.js";

export function formatProgress(s: CaseSummary, index: number, total: number): string {
  const counter = `[${String(index + 1).padStart(String(total).length)}/${total}]`;
  if (s.status !== "completed") return `${counter} ${s.status.padEnd(11)} ${s.case.name} — ${s.reason}`;
  return `${counter} completed   ${s.case.name}  p50 ${formatMs(s.p50Ms)} [${formatMs(s.p50LowMs)}, ${formatMs(s.p50HighMs)}]  ${formatRate(s.tokensPerS)}${s.flags?.length ? `  ⚠ ${s.flags.join(", ")}` : ""}`;
}

export function formatSummaryTable(summaries: CaseSummary[]): string {
  const header = ["case", "status", "p50 ms", "95% CI", "tok/s", "peak RSS", "flags"];
  const rows = summaries.map((s) => [
    s.case.name,
    s.status,
    s.status === "completed" ? formatNumber(s.p50Ms) : "",
    s.status === "completed" ? `[${formatNumber(s.p50LowMs)}, ${formatNumber(s.p50HighMs)}]` : "",
    s.status === "completed" ? formatNumber(s.tokensPerS) : "",
    s.status === "completed" ? formatBytes(s.peakRssBytes) : "",
    s.status === "completed" ? (s.flags ?? []).join(",") : (s.reason ?? "").slice(0, 80),
  ]);
  const counts = new Map<string, number>();
  for (const s of summaries) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  return `${table(header, rows)}\n${[...counts].map(([k, v]) => `${v} ${k}`).join(", ")}`;
}

export function formatCaseList(suiteName: string, cases: Case[]): string {
  return `${suiteName}: ${cases.length} case(s)\n${table(
    ["id", "case"],
    cases.map((c) => [c.id, c.name]),
  )}`;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "─".repeat(w))), ...rows.map(line)].join("\n");
}

function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`;
}

function formatRate(tokensPerS: number | null | undefined): string {
  return tokensPerS ? `${formatNumber(tokensPerS)} tok/s` : "";
}

export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined) return "—";
  if (Math.abs(x) >= 1000) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toPrecision(3);
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
