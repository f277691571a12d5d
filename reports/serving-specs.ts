// Charts of serving points (the serve runner): latency against the achieved request rate, one line per technique and
// load kind, TTFT and TPOT at p50 and p99; goodput bars per point; a case's per-request distribution.
import type { VegaLiteSpec } from "./specs.js";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const FONT = { font: "system-ui, sans-serif", labelFontSize: 11, titleFontSize: 12 };
const CONFIG = { view: { stroke: null }, axis: FONT, legend: FONT, header: FONT };

export interface ServingPoint {
  name: string;
  technique: string;
  /** "open loop" or "closed loop". */
  load: string;
  /** The point as the case names it: "4 req/s poisson" or "concurrency 2". */
  point: string;
  rate: number;
  /** e.g. "TTFT p50". */
  metric: string;
  value: number;
}

/** Latency vs achieved request rate: a panel per latency metric, a line per technique (dashed for closed loop). */
export function servingSweepSpec(values: ServingPoint[]): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    config: CONFIG,
    data: { values },
    facet: { field: "metric", type: "nominal", title: null, sort: ["TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99"] },
    columns: 2,
    resolve: { scale: { y: "independent" } },
    spec: {
      width: 260,
      height: 170,
      mark: { type: "line", point: true, tooltip: true },
      encoding: {
        x: { field: "rate", type: "quantitative", title: "achieved requests/s", scale: { zero: false } },
        y: { field: "value", type: "quantitative", title: "ms", scale: { zero: false } },
        color: { field: "technique", type: "nominal", title: "technique", legend: { orient: "bottom" } },
        strokeDash: { field: "load", type: "nominal", title: "load", legend: { orient: "bottom" } },
        order: { field: "rate", type: "quantitative" },
        detail: { field: "load", type: "nominal" },
        tooltip: [
          { field: "name", title: "case" },
          { field: "rate", title: "achieved req/s", format: ".3~g" },
          { field: "value", title: "ms", format: ".4~g" },
        ],
      },
    },
  };
}

export interface GoodputBar {
  name: string;
  technique: string;
  point: string;
  goodput: number;
  rate: number;
}

/** Goodput (requests/s within the SLO) beside the achieved rate, grouped by point, a bar per technique. */
export function goodputSpec(values: GoodputBar[], slo: string): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    config: CONFIG,
    width: 520,
    height: 220,
    data: { values },
    mark: { type: "bar", tooltip: true },
    encoding: {
      x: { field: "point", type: "nominal", title: "load point", axis: { labelAngle: 0 } },
      xOffset: { field: "technique" },
      y: { field: "goodput", type: "quantitative", title: `goodput, req/s (${slo})` },
      color: { field: "technique", type: "nominal", title: "technique", legend: { orient: "bottom" } },
      tooltip: [
        { field: "name", title: "case" },
        { field: "goodput", title: "goodput req/s", format: ".3~g" },
        { field: "rate", title: "achieved req/s", format: ".3~g" },
      ],
    },
  };
}

export interface RequestDatum {
  repeat: string;
  sentS: number;
  metric: string;
  ms: number;
  status: string;
}

/**
 * Every request of a point: TTFT and E2E against its send time, a mark per request (failed ones outlined red,
 * cancelled ones grey).
 */
export function requestsSpec(values: RequestDatum[]): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    config: CONFIG,
    width: 520,
    height: 220,
    data: { values },
    mark: { type: "point", filled: true, tooltip: true },
    encoding: {
      x: { field: "sentS", type: "quantitative", title: "sent, s from the point's start" },
      y: { field: "ms", type: "quantitative", title: "ms" },
      color: { field: "metric", type: "nominal", title: null, legend: { orient: "bottom" } },
      shape: { field: "repeat", type: "nominal", title: "repeat", legend: { orient: "bottom" } },
      stroke: {
        condition: [
          { test: "datum.status === 'cancelled'", value: "#7f7f7f" },
          { test: "datum.status !== 'ok'", value: "#d62728" },
        ],
        value: null,
      },
    },
  };
}
