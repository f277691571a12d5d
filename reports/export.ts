// The report's text exports: markdown (a PR comment or $GITHUB_STEP_SUMMARY), CSV (one row per result, a column
// triple per metric) and JSON (everything but the raw samples, which stay in the database).
import type { ReportData, ReportResult } from "./data.js";
import { buildIndexModel, isSynthetic, type IndexModel, type IndexRow, latestResults } from "./model.js";
import { familiesMarkdown, familyOf } from "./families.js";
import { METRIC_FAMILIES } from "./metrics.js";
import { groupsOf, leaderboard, onBoard, rankText } from "./leaderboard.js";
import { formatCi, formatValue } from "./format.js";

export interface MarkdownOptions {
  /** Rows per group (default 10): a PR comment must stay readable (and under GitHub's 65,536 characters). */
  top?: number;
  /** Comparison groups per leaderboard (default 4, the largest). */
  groups?: number;
  /** The index model when the caller built it already (generateReport), to aggregate once. */
  model?: IndexModel;
}

/** Text for a markdown table cell: HTML and pipes escaped (GitHub renders inline HTML), one line. */
export function markdownCell(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\|/g, "\\|")
    .replace(/[\r\n]+/g, " ");
}

function metricText(row: IndexRow, metric: string, unit: string): string {
  const m = row.m[metric];
  if (!m) return "";
  if (m[0] === null) return `— (${markdownCell(m[1])})`;
  const ci = formatCi(m[0], m[1], m[2], unit);
  return `${formatValue(m[0], unit)}${ci ? ` ${ci}` : ""}`;
}

const flagsText = (row: IndexRow) =>
  row.status !== "completed" ? row.status : row.flags.length === 0 ? "✓" : `⚠ ${row.flags.join(", ")}`;

export function toMarkdown(data: ReportData, options: MarkdownOptions = {}): string {
  const top = options.top ?? 10;
  const maxGroups = options.groups ?? 4;
  const model = options.model ?? buildIndexModel(data);
  const lines: string[] = [];
  const runs = model.runs.filter((r) => r.resultCount > 0);
  const statusCounts = new Map<string, number>();
  for (const row of model.rows) statusCounts.set(row.status, (statusCounts.get(row.status) ?? 0) + 1);
  lines.push(`## ${markdownCell(model.title)}`, "");
  lines.push(
    `${runs.length} run${runs.length === 1 ? "" : "s"} · ${model.rows.length} cases (${[...statusCounts].map(([s, n]) => `${n} ${s}`).join(", ") || "none"}) · latest result per case`,
    "",
  );
  if (model.synthetic)
    lines.push("> **Synthetic data:** some results were written by a fixture generator, not measured.", "");
  lines.push(
    "Ranks: 1 + the cases of the same scenario and workload whose whole 95% CI is better; overlapping CIs share a rank (=n). — is not measured (reason given), never 0.",
    "",
  );

  for (const family of METRIC_FAMILIES) {
    const info = family.metrics.find((i) =>
      model.rows.some((r) => onBoard(r, i) && r.m[i.name] !== undefined && r.m[i.name][0] !== null),
    );
    if (!info) continue;
    const groups = groupsOf(model.rows, info).filter(([, ranked]) => ranked > 0);
    const unit = model.units[info.name] ?? "";
    lines.push(`### ${family.title}: ${info.title} (\`${info.name}\`, ${info.better} is better)`, "");
    if (groups.length > maxGroups)
      lines.push(`The ${maxGroups} groups with most results of ${groups.length}; the site has all of them.`, "");
    lines.push("| group | rank | case | value [95% CI] | validity |", "| --- | ---: | --- | ---: | --- |");
    for (const [group, count] of groups.slice(0, maxGroups)) {
      const board = leaderboard(
        model.rows.filter((r) => r.group === group && onBoard(r, info)),
        info.name,
        info.better,
      );
      for (const r of board.ranked.slice(0, top))
        lines.push(
          `| ${markdownCell(group)} | ${rankText(r)} | ${markdownCell(r.row.name)} | ${metricText(r.row, info.name, unit)} | ${markdownCell(flagsText(r.row))} |`,
        );
      if (count > top) lines.push(`| ${markdownCell(group)} | | … ${count - top} more | | |`);
    }
    lines.push("");
  }

  lines.push(...familiesMarkdown(latestResults(data)));
  const notCompleted = model.rows.filter((r) => r.status !== "completed");
  if (notCompleted.length > 0) {
    lines.push(`### Not completed (${notCompleted.length})`, "", "| case | status | reason |", "| --- | --- | --- |");
    for (const r of notCompleted.slice(0, 20))
      lines.push(`| ${markdownCell(r.name)} | ${r.status} | ${markdownCell(r.reason ?? "")} |`);
    if (notCompleted.length > 20) lines.push(`| … ${notCompleted.length - 20} more | | |`);
    lines.push("");
  }
  const flagCounts = new Map<string, number>();
  for (const r of model.rows) for (const flag of r.flags) flagCounts.set(flag, (flagCounts.get(flag) ?? 0) + 1);
  if (flagCounts.size > 0)
    lines.push(
      `Validity flags: ${[...flagCounts]
        .sort((a, b) => b[1] - a[1])
        .map(([f, n]) => `${f} × ${n}`)
        .join(", ")}.`,
      "",
    );
  return lines.join("\n");
}

// ── CSV ──────────────────────────────────────────────────────────────────────────────────────────

function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return String(value);
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const CASE_COLUMNS = [
  "run_id",
  "result_id",
  "case_id",
  "case_name",
  "model",
  "technique",
  "technique_family",
  "scenario",
  "workload",
  "runner",
  "device",
  "status",
  "reason",
  "repeats",
  "validity_flags",
  "synthetic",
] as const;

/**
 * One row per result; per metric the columns `<metric>`, `<metric>_ci_low`, `<metric>_ci_high` and `<metric>_unit`,
 * plus `<metric>_reason` (why it is empty) for metrics that were not measured somewhere. An empty cell is never 0.
 */
export function toCsv(data: ReportData): string {
  const names = [...new Set(data.results.flatMap((r) => r.metrics.map((m) => m.name)))].sort();
  const withReason = new Set(data.results.flatMap((r) => r.metrics.filter((m) => m.value === null).map((m) => m.name)));
  const header: string[] = [...CASE_COLUMNS];
  for (const n of names)
    header.push(n, `${n}_ci_low`, `${n}_ci_high`, `${n}_unit`, ...(withReason.has(n) ? [`${n}_reason`] : []));
  const lines = [header.map(csvField).join(",")];
  for (const r of data.results) {
    const byName = new Map(r.metrics.map((m) => [m.name, m]));
    const cells: unknown[] = [
      r.runId,
      r.resultId,
      r.caseId,
      r.name,
      r.model,
      r.technique,
      familyOf(r),
      r.scenario,
      r.workloadLabel,
      r.runner,
      r.device,
      r.status,
      r.reason,
      r.repeats,
      r.validity.map((v) => v.flag).join(" "),
      isSynthetic(r),
    ];
    for (const n of names) {
      const m = byName.get(n);
      cells.push(m?.value, m?.ciLow, m?.ciHigh, m?.unit);
      if (withReason.has(n)) cells.push(m?.value === null ? m.reason : null);
    }
    lines.push(cells.map(csvField).join(","));
  }
  return lines.join("\n") + "\n";
}

// ── JSON ─────────────────────────────────────────────────────────────────────────────────────────

/**
 * ReportData as JSON without raw samples and sampler series (they stay in the database; the case page has them).
 * A metric's absent CI, reason or label is left out rather than written as null; `value` is always there (null when
 * not measured, with its reason).
 */
export function toJson(data: ReportData): string {
  const results = data.results.map(({ samples: _samples, samplerSeries: _series, metrics, ...rest }: ReportResult) => ({
    ...rest,
    techniqueFamily: familyOf(rest),
    metrics: metrics.map(({ name, value, unit, ciLow, ciHigh, reason, label }) => {
      const metric: Record<string, unknown> = { name, value, unit };
      if (ciLow !== null) metric.ciLow = ciLow;
      if (ciHigh !== null) metric.ciHigh = ciHigh;
      if (reason !== null) metric.reason = reason;
      if (label !== null) metric.label = label;
      return metric;
    }),
  }));
  return (
    JSON.stringify({
      title: data.title,
      generatedAt: data.generatedAt,
      runs: data.runs,
      results,
      references: data.references ?? [],
    }) + "\n"
  );
}
