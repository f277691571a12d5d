// The outputs of `bench compare`: a markdown summary for a PR comment or a job summary, a terminal table, and JSON.
import { table } from "../cli/format.js";
import { equivalenceConfidence, type CaseComparison, type CaseVerdict, type CompareReport } from "./compare.js";

/** What a reader must see first: regressions, then what could not be decided, then the rest. */
const VERDICT_ORDER: CaseVerdict[] = [
  "regressed",
  "not-comparable",
  "inconclusive",
  "only-in-base",
  "improved",
  "only-in-head",
  "unchanged",
];

function ordered(cases: CaseComparison[]): CaseComparison[] {
  return [...cases].sort(
    (a, b) => VERDICT_ORDER.indexOf(a.verdict) - VERDICT_ORDER.indexOf(b.verdict) || (b.ratio ?? 0) - (a.ratio ?? 0),
  );
}

/** Four significant digits, no exponent for everyday magnitudes. */
export function formatValue(x: number | null): string {
  if (x === null) return "—";
  if (x === 0) return "0";
  const digits = Math.max(0, 3 - Math.floor(Math.log10(Math.abs(x))));
  return x.toFixed(Math.min(digits, 6));
}

function formatRatio(c: CaseComparison): string {
  return c.ratio === null ? "—" : c.ratio.toFixed(3);
}

function formatCi(c: CaseComparison): string {
  return c.low === null || c.high === null ? "—" : `[${c.low.toFixed(3)}, ${c.high.toFixed(3)}]`;
}

function formatChange(c: CaseComparison): string {
  if (c.ratio === null) return "—";
  const pct = (c.ratio - 1) * 100;
  return `${pct >= 0 ? "+" : ""}${pct.toFixed(1)}%`;
}

/** The verdict as shown: a machine change is said beside it (the ratio is then the normalised one, widened). */
function verdictText(c: CaseComparison): string {
  return c.drift?.machineChanged ? `${c.verdict}, machine changed` : c.verdict;
}

function notes(c: CaseComparison): string {
  const parts: string[] = [];
  if (c.drift?.machineChangedBecause) parts.push(c.drift.machineChangedBecause);
  if (c.drift && c.drift.controlRatio !== null && c.drift.raw.ratio !== null)
    parts.push(
      `normalised by the control ×${(1 / c.drift.controlRatio).toFixed(3)} (raw ${formatChange({ ratio: c.drift.raw.ratio } as CaseComparison)} ${c.drift.raw.verdict})`,
    );
  if (c.reason) parts.push(c.reason);
  const flags = [
    ...new Set([...(c.base?.flags ?? []).map((f) => `base ${f}`), ...(c.head?.flags ?? []).map((f) => `head ${f}`)]),
  ];
  if (flags.length > 0) parts.push(`flags: ${flags.join(", ")}`);
  return parts.join("; ");
}

export function summaryLine(report: CompareReport): string {
  const s = report.summary;
  const parts = [
    `${s.regressed} regressed`,
    `${s.improved} improved`,
    `${s.unchanged} unchanged`,
    `${s.inconclusive} inconclusive`,
  ];
  if (s.notComparable) parts.push(`${s.notComparable} not comparable`);
  if (s.onlyInBase) parts.push(`${s.onlyInBase} only in base`);
  if (s.onlyInHead) parts.push(`${s.onlyInHead} only in head`);
  return `${parts.join(", ")} of ${s.total} case(s)`;
}

function settingsLine(report: CompareReport): string {
  const direction = report.lowerIsBetter ? "lower is better" : "higher is better";
  return `metric ${report.metric} (${direction}), threshold ${(report.threshold * 100).toFixed(1).replace(/\.0$/, "")}%, ${Math.round(report.confidence * 100)}% CI of the ratio of ${report.percentile === undefined || report.percentile === 50 ? "medians" : `p${report.percentile}s`} head/base by a hierarchical bootstrap (${report.resamples} resamples, processes as the unit, seed ${report.seed}${report.smallSampleCorrection ? ", widened for few processes" : ""})`;
}

function sideLine(label: string, side: CompareReport["base"]): string {
  const runs =
    side.runIds.length === 0 ? "no results" : `run${side.runIds.length > 1 ? "s" : ""} ${side.runIds.join(", ")}`;
  return `${label}: ${side.path} (${side.runId === null ? "latest result per case, " : ""}${runs})`;
}

/** Beyond this many unchanged cases, the markdown folds them into a <details> block. */
export const MARKDOWN_UNFOLDED_UNCHANGED = 10;

const escapeCell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** A GitHub-flavoured markdown summary: one table row per case, regressions first. Plain text, no emoji. */
export function toMarkdown(report: CompareReport): string {
  const s = report.summary;
  const headline =
    s.regressed > 0
      ? `**Regression: ${s.regressed} case(s) slower than the threshold**`
      : "No regression beyond the threshold";
  const lines = [
    `### effbench compare: ${summaryLine(report)}`,
    "",
    headline,
    "",
    `- ${sideLine("base", report.base)}`,
    `- ${sideLine("head", report.head)}`,
    `- ${settingsLine(report)}`,
    ...(report.drift?.notes ?? []).map((n) => `- ${n}`),
    "",
  ];
  const header = [
    `| case | verdict | base median | head median | change | head/base | ${Math.round(report.confidence * 100)}% CI | processes (base/head) | notes |`,
    "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |",
  ];
  const row = (c: CaseComparison) => {
    const verdict = c.verdict === "regressed" ? `**${verdictText(c)}**` : verdictText(c);
    const processes = `${c.base?.processes ?? "—"}/${c.head?.processes ?? "—"}`;
    return `| ${escapeCell(c.caseName)} | ${verdict} | ${formatValue(c.base?.median ?? null)} | ${formatValue(c.head?.median ?? null)} | ${formatChange(c)} | ${formatRatio(c)} | ${formatCi(c)} | ${processes} | ${escapeCell(notes(c))} |`;
  };
  const all = ordered(report.cases);
  const unchanged = all.filter((c) => c.verdict === "unchanged");
  // A long list of unchanged cases would bury the few that matter in a PR comment: fold them away.
  if (unchanged.length > MARKDOWN_UNFOLDED_UNCHANGED) {
    const rest = all.filter((c) => c.verdict !== "unchanged");
    if (rest.length > 0) lines.push(...header, ...rest.map(row), "");
    lines.push(
      `<details><summary>${unchanged.length} unchanged case(s)</summary>`,
      "",
      ...header,
      ...unchanged.map(row),
      "",
      "</details>",
    );
  } else lines.push(...header, ...all.map(row));
  lines.push(
    "",
    `regressed: the whole CI is above 1 and the change exceeds the threshold; improved: the mirror image; unchanged: the ${Math.round(equivalenceConfidence(report.confidence) * 100)}% interval lies within the threshold (two one-sided tests); inconclusive: too noisy to decide at this threshold (more repeats narrow the CI).`,
  );
  return lines.join("\n") + "\n";
}

/** The terminal table. */
export function toText(report: CompareReport): string {
  const header = ["case", "verdict", "base", "head", "change", "95% CI", "notes"];
  header[5] = `${Math.round(report.confidence * 100)}% CI`;
  const rows = ordered(report.cases).map((c) => [
    c.caseName,
    verdictText(c),
    formatValue(c.base?.median ?? null),
    formatValue(c.head?.median ?? null),
    formatChange(c),
    formatCi(c),
    notes(c).slice(0, 160),
  ]);
  return (
    [
      sideLine("base", report.base),
      sideLine("head", report.head),
      settingsLine(report),
      ...(report.drift?.notes ?? []),
      "",
      table(header, rows),
      "",
      summaryLine(report),
    ].join("\n") + "\n"
  );
}

/** The report as JSON for machines: every number that could not be computed is null, never NaN or 0. */
export function toJson(report: CompareReport): string {
  return JSON.stringify(report, null, 2) + "\n";
}
