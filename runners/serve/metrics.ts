// A serving point's measures from its request rows: the series (TTFT, TPOT, ITL, E2E per completed request; cancelled
// ones never count) whose percentiles and CIs over repeats the core computes, and the point's scalars — achieved
// request rate, output tokens/s and goodput over the point's window, error rate, the client's send lag, and for a
// duration-bound point the requests completed in the window, drained after it and cancelled.
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

export interface RateWindow {
  kind: "duration" | "span";
  ms: number;
}

export function pointScalars(rows: RequestRow[], window: RateWindow, settings: ServeSettings): ScalarMeasure[] {
  const duration = window.kind === "duration";
  const cancelled = rows.filter((r) => r.phase === "cancelled").length;
  const attempted = rows.length - cancelled;
  const completed = rows.filter((r) => r.status === "ok");
  // Rates over a duration count the requests that completed within it (drained ones ended after it).
  const ok = duration ? completed.filter((r) => r.phase === "window") : completed;
  const seconds = window.ms / 1000;
  const windowLabel = duration
    ? `the ${seconds} s duration from the point's start (requests completed within it; drained and cancelled ones not counted)`
    : settings.durationS !== undefined
      ? `from the first intended send to the last end of stream (the request cap ran out within the ${settings.durationS} s duration)`
      : "from the first intended send to the last end of stream";
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
      label: `completed requests ÷ window, ${windowLabel}`,
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
          label: `usage.completion_tokens summed ÷ window, ${windowLabel}`,
        },
    {
      metric: "error_rate",
      unit: "ratio",
      // Cancelled requests were stopped by the client: neither errors nor part of the denominator.
      value: attempted ? (attempted - completed.length) / attempted : null,
      reason: "no requests",
      ...(cancelled ? { label: "failed or timed-out requests ÷ requests not cancelled" } : {}),
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
  // A duration-bound point counts its requests by phase, whichever window its rates are over.
  if (settings.durationS !== undefined)
    scalars.push(
      {
        metric: "completed_in_window",
        unit: "count",
        value: completed.filter((r) => r.phase === "window").length,
        label: `requests that completed within the ${settings.durationS} s duration`,
      },
      {
        metric: "drained",
        unit: "count",
        value: rows.filter((r) => r.phase === "drained").length,
        label: "requests in flight when the duration ended that were waited for (ended after it, any status)",
      },
      {
        metric: "cancelled",
        unit: "count",
        value: cancelled,
        label: "requests in flight when the duration ended that were cancelled (excluded from latency statistics)",
      },
    );
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
      label: `requests per second with TTFT ≤ ${ttftMs} ms and TPOT ≤ ${tpotMs} ms, window ${windowLabel}`,
    });
  }
  return scalars.map((s) => (s.value !== null ? { ...s, reason: undefined } : s));
}
