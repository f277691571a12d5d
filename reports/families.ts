// Technique families in the report (LoRA-like, orthogonal, Kronecker, vector-based, mixtures, quantised): each result's
// family comes from its technique's registry family (src/techniques/families.ts), so a new technique of a known family
// is grouped without an edit here; a technique the registry no longer knows is "other".
import type { ReportResult } from "./data.js";
import { getTechnique } from "../src/techniques/registry.js";
import { TECHNIQUE_FAMILIES, reportFamily, type ReportFamily } from "../src/techniques/families.js";

/** A markdown table cell (as export.ts writes them; kept here so that export.ts can import this file without a cycle). */
function markdownCell(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\|/g, "\\|")
    .replace(/[\r\n]+/g, " ");
}

export function familyOf(r: Pick<ReportResult, "caseDetails">): ReportFamily {
  const technique = (r.caseDetails as { technique?: { kind?: string; config?: { peft_type?: unknown } } }).technique;
  try {
    return technique?.kind ? reportFamily(getTechnique(technique.kind).family, technique) : "other";
  } catch {
    return "other";
  }
}

/** Markdown: per family, its techniques (labels as the cases name them) and how many of their cases completed. */
export function familiesMarkdown(results: ReportResult[]): string[] {
  const byFamily = new Map<ReportFamily, { techniques: Set<string>; cases: number; completed: number }>();
  for (const r of results) {
    const family = familyOf(r);
    const entry = byFamily.get(family) ?? { techniques: new Set<string>(), cases: 0, completed: 0 };
    entry.techniques.add(r.technique);
    entry.cases++;
    if (r.status === "completed") entry.completed++;
    byFamily.set(family, entry);
  }
  if (byFamily.size === 0) return [];
  const lines = [
    "### Techniques by family",
    "",
    "| family | techniques | cases | completed |",
    "| --- | --- | ---: | ---: |",
  ];
  for (const family of TECHNIQUE_FAMILIES) {
    const entry = byFamily.get(family);
    if (!entry) continue;
    lines.push(
      `| ${family} | ${markdownCell([...entry.techniques].sort().join(", "))} | ${entry.cases} | ${entry.completed} |`,
    );
  }
  lines.push("");
  return lines;
}
