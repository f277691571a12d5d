// The one mapping from the store's SQL rows to records: a result row (joined with its case) and a metric row. The
// store's own reads and the report's bulk reader (which groups metrics in SQL for speed) both build records here.
import type { MetricRecord, ResultRow } from "./store.js";

/** A metric record from its columns: absent CI bounds, reason and label are left out, never stored as null. */
export function metricFromColumns(
  name: string,
  value: number | null,
  unit: string,
  ciLow: number | null,
  ciHigh: number | null,
  reason: string | null,
  label: string | null,
): MetricRecord {
  const metric: MetricRecord = { name, value, unit };
  if (ciLow !== null) metric.ciLow = ciLow;
  if (ciHigh !== null) metric.ciHigh = ciHigh;
  if (reason !== null) metric.reason = reason;
  if (label !== null) metric.label = label;
  return metric;
}

/**
 * A result record from a `results.* JOIN cases` row (case columns: case_key, case_name, model, technique, scenario,
 * runner, workload_json, case_details_json); `parse` parses JSON columns (the bulk reader passes a caching parser).
 */
export function resultFromRow(
  r: Record<string, unknown>,
  parse: <T>(text: string | null) => T | null,
  metrics: MetricRecord[],
  validity: Array<{ flag: string; detail: string }>,
): ResultRow {
  return {
    resultId: r.id as number,
    runId: r.run_id as number,
    caseId: r.case_id as string,
    caseKey: r.case_key as string,
    caseName: r.case_name as string,
    model: r.model as string,
    technique: r.technique as string,
    scenario: r.scenario as string,
    runner: r.runner as string,
    workload: parse<Record<string, unknown>>(r.workload_json as string)!,
    caseDetails: parse<Record<string, unknown>>(r.case_details_json as string)!,
    configHash: r.config_hash as string,
    status: r.status as ResultRow["status"],
    reason: r.reason as string | null,
    startedAt: r.started_at as string,
    finishedAt: r.finished_at as string,
    repeats: r.repeats as number,
    config: parse(r.config_json as string | null),
    settings: parse(r.settings_json as string | null),
    details: parse(r.details_json as string | null),
    metrics,
    validity,
  };
}
