// A serving point's measures from its request rows: the series (TTFT, TPOT, ITL, E2E per request) whose percentiles
// and CIs over repeats the core computes, and the point's scalars — achieved request rate, output tokens/s,
// goodput under the SLO, error rate and the client's send lag.
import type { RequestRow, SampleSeries, ScalarMeasure } from "../../src/runner/contract.js";
import { percentile } from "../../src/measure/stats.js";
import type { ServeSettings } from "./settings.js";

/** Send lag above this says the client, not the server, may have shaped the point. */
export const SEND_LAG_LIMIT_MS = 1;

export function pointSeries(rows: RequestRow[], gapsMs: number[]): SampleSeries[] {
  const ok = rows.filter((r) => r.status === "ok");
  const values = (pick: (r: RequestRow) => number | null) => ok.map(pick).filter((v): v is number => v !== null);
  return [
    { metric: "ttft_ms", unit: "ms", values: values((r) => r.ttftMs) },
    { metric: "tpot_ms", unit: "ms", values: values((r) => r.tpotMs) },
    { metric: "itl_ms", unit: "ms", values: gapsMs },
    { metric: "e2e_ms", unit: "ms", values: values((r) => r.e2eMs) },
  ].filter((s) => s.values.length > 0);
}

export function pointScalars(rows: RequestRow[], windowMs: number, settings: ServeSettings): ScalarMeasure[] {
  const ok = rows.filter((r) => r.status === "ok");
  const seconds = windowMs / 1000;
  const outputTokens = ok.reduce((sum, r) => sum + (r.outputTokens ?? 0), 0);
  const missingUsage = ok.filter((r) => r.outputTokens === null).length;
  const lagP99 = percentile(
    rows.map((r) => r.sendLagMs),
    99,
  );
  const scalars: ScalarMeasure[] = [
    { metric: "requests", unit: "count", value: rows.length },
    {
      metric: "request_rate",
      unit: "req/s",
      value: seconds > 0 ? ok.length / seconds : null,
      reason: "empty window",
      label: "completed requests ÷ first intended send to last end of stream",
    },
    missingUsage > 0
      ? {
          metric: "output_tokens_per_s",
          unit: "tok/s",
          value: null,
          reason: `${missingUsage} request(s) ended without usage: the server reported no token counts`,
        }
      : {
          metric: "output_tokens_per_s",
          unit: "tok/s",
          value: seconds > 0 ? outputTokens / seconds : null,
          reason: "empty window",
          label: "usage.completion_tokens summed ÷ window",
        },
    {
      metric: "error_rate",
      unit: "ratio",
      value: rows.length ? (rows.length - ok.length) / rows.length : null,
      reason: "no requests",
    },
    { metric: "timeouts", unit: "count", value: rows.filter((r) => r.status === "timeout").length },
    {
      metric: "send_lag_p99_ms",
      unit: "ms",
      value: Number.isFinite(lagP99) ? lagP99 : null,
      reason: "no requests",
      label: "actual − intended send time, client side",
    },
  ];
  if (!settings.slo)
    scalars.push({
      metric: "goodput",
      unit: "req/s",
      value: null,
      reason: "no serve.slo in the suite: goodput needs { ttftMs, tpotMs }",
    });
  else {
    const { ttftMs, tpotMs } = settings.slo;
    // A one-token output has no TPOT: it meets the SLO on TTFT alone.
    const good = ok.filter((r) => r.ttftMs !== null && r.ttftMs <= ttftMs && (r.tpotMs === null || r.tpotMs <= tpotMs));
    scalars.push({
      metric: "goodput",
      unit: "req/s",
      value: seconds > 0 ? good.length / seconds : null,
      reason: "empty window",
      label: `requests per second with TTFT ≤ ${ttftMs} ms and TPOT ≤ ${tpotMs} ms`,
    });
  }
  return scalars.map((s) => (s.value !== null ? { ...s, reason: undefined } : s));
}
