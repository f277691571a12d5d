// Vega-Lite specs of every chart of the site, as pure functions of already-scaled values. The browser bundle calls
// them (after a filter) and hands the result to vega-embed; tests compile them with vega-lite in Node.
import type { Better } from "./metrics.js";

// Kept structural rather than importing vega-lite's TopLevelSpec type: its full type drags the whole vega type graph into
// the browser bundle's type check, and these literals are validated by compiling them in test/reports/specs.test.ts.
export type VegaLiteSpec = Record<string, unknown>;

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const FONT = { font: "system-ui, sans-serif", labelFontSize: 11, titleFontSize: 12 };
const CONFIG = { view: { stroke: null }, axis: FONT, legend: FONT, title: { font: FONT.font, fontSize: 13 } };

export interface LeaderboardPoint {
  name: string;
  value: number;
  low: number | null;
  high: number | null;
  rank: string;
  flagged: boolean;
}

/** Dot with its CI as a rule, one line per case, best first. */
export function leaderboardSpec(values: LeaderboardPoint[], axisTitle: string, better: Better): VegaLiteSpec {
  const y = {
    field: "name",
    type: "nominal",
    title: null,
    sort: { field: "value", order: better === "lower" ? "ascending" : "descending" },
    axis: { labelLimit: 360 },
  };
  const tooltip = [
    { field: "rank", title: "rank" },
    { field: "name", title: "case" },
    { field: "value", title: axisTitle, format: ".4~g" },
    { field: "low", title: "CI low", format: ".4~g" },
    { field: "high", title: "CI high", format: ".4~g" },
  ];
  return {
    $schema: SCHEMA,
    config: CONFIG,
    width: 520,
    height: { step: 18 },
    data: {
      values: values.map((v) => ({
        ...v,
        low: v.low ?? v.value,
        high: v.high ?? v.value,
        validity: v.flagged ? "flagged" : "no flags",
      })),
    },
    encoding: { y },
    layer: [
      {
        mark: { type: "rule", strokeWidth: 2, opacity: 0.6 },
        encoding: {
          x: { field: "low", type: "quantitative", scale: { zero: false }, title: axisTitle },
          x2: { field: "high" },
          color: { value: "#8aa4d6" },
        },
      },
      {
        mark: { type: "point", filled: true, size: 60 },
        encoding: {
          x: { field: "value", type: "quantitative" },
          color: {
            field: "validity",
            type: "nominal",
            scale: { domain: ["no flags", "flagged"], range: ["#2f6fdb", "#d08700"] },
            legend: { title: "validity", orient: "bottom" },
          },
          tooltip,
        },
      },
    ],
  };
}

export interface ParetoPoint {
  name: string;
  x: number;
  y: number;
  front: boolean;
}

/** Scatter of every case, the front's points highlighted and joined by a step line. */
export function paretoSpec(values: ParetoPoint[], xTitle: string, yTitle: string): VegaLiteSpec {
  const data = values.map((v) => ({ ...v, on: v.front ? "Pareto front" : "dominated" }));
  const front = data.filter((v) => v.front).sort((a, b) => a.x - b.x);
  const x = { field: "x", type: "quantitative", title: xTitle, scale: { zero: false } };
  const y = { field: "y", type: "quantitative", title: yTitle, scale: { zero: false } };
  return {
    $schema: SCHEMA,
    config: CONFIG,
    width: 520,
    height: 320,
    layer: [
      {
        data: { values: front },
        mark: { type: "line", interpolate: "step-after", color: "#2f6fdb", opacity: 0.5 },
        encoding: { x, y },
      },
      {
        data: { values: data },
        mark: { type: "point", filled: true },
        encoding: {
          x,
          y,
          color: {
            field: "on",
            type: "nominal",
            scale: { domain: ["Pareto front", "dominated"], range: ["#2f6fdb", "#b9c0ca"] },
            legend: { title: null, orient: "bottom" },
          },
          size: { condition: { test: "datum.front", value: 70 }, value: 25 },
          tooltip: [
            { field: "name", title: "case" },
            { field: "x", title: xTitle, format: ".4~g" },
            { field: "y", title: yTitle, format: ".4~g" },
          ],
        },
      },
    ],
  };
}

export interface TrendDatum {
  series: string;
  run: string;
  order: number;
  value: number;
  low: number;
  high: number;
}

/** A line per case across runs, with its CI as a band. */
export function trendSpec(values: TrendDatum[], yTitle: string): VegaLiteSpec {
  const x = {
    field: "run",
    type: "ordinal",
    title: "run",
    sort: { field: "order" },
    axis: { labelAngle: -30, labelLimit: 160 },
  };
  const color = {
    field: "series",
    type: "nominal",
    title: "case",
    legend: { orient: "bottom", columns: 1, labelLimit: 480 },
  };
  return {
    $schema: SCHEMA,
    config: CONFIG,
    width: 560,
    height: 280,
    data: { values },
    encoding: { x, color },
    layer: [
      {
        mark: { type: "area", opacity: 0.18 },
        encoding: {
          y: { field: "low", type: "quantitative", title: yTitle, scale: { zero: false } },
          y2: { field: "high" },
        },
      },
      {
        mark: { type: "line", point: true },
        encoding: {
          y: { field: "value", type: "quantitative" },
          tooltip: [
            { field: "series" },
            { field: "run" },
            { field: "value", format: ".4~g" },
            { field: "low", format: ".4~g" },
            { field: "high", format: ".4~g" },
          ],
        },
      },
    ],
  };
}

/** Histogram of raw per-iteration values, stacked by repeat (process). */
export function distributionSpec(values: Array<{ repeat: string; value: number }>, xTitle: string): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    config: CONFIG,
    width: 520,
    height: 200,
    data: { values },
    mark: { type: "bar", tooltip: true },
    encoding: {
      x: { field: "value", type: "quantitative", bin: { maxbins: 40 }, title: xTitle },
      y: { aggregate: "count", type: "quantitative", title: "iterations" },
      color: { field: "repeat", type: "nominal", title: "repeat", legend: { orient: "bottom" } },
    },
  };
}

/** A sampler series over the measure window, one line per repeat. */
export function samplerSpec(
  values: Array<{ repeat: string; t: number; value: number | null }>,
  yTitle: string,
): VegaLiteSpec {
  return {
    $schema: SCHEMA,
    config: CONFIG,
    width: 520,
    height: 180,
    data: { values },
    mark: { type: "line", tooltip: true, interpolate: "step-after" },
    encoding: {
      x: { field: "t", type: "quantitative", title: "ms since the measure window opened" },
      y: { field: "value", type: "quantitative", title: yTitle, scale: { zero: false } },
      color: { field: "repeat", type: "nominal", title: "repeat", legend: { orient: "bottom" } },
    },
  };
}

export interface RoutingCell {
  router: string;
  order: number;
  expert: number;
  tokens: number;
  load: number;
}

/**
 * Heatmap of token-expert assignments: a row per router (MoE layer, or a MoLE router per layer × projection) from the
 * bottom layer down the page, a column per expert, colour = load relative to the router's mean (1 = balanced). Cells
 * carry their counts as text while they are wide enough to read; routers with fewer experts have fewer cells.
 */
export function routingHeatmapSpec(values: RoutingCell[], experts: number, routers: number): VegaLiteSpec {
  const cellWidth = Math.max(3, Math.min(28, Math.floor(900 / Math.max(1, experts))));
  const rowHeight = routers <= 40 ? 18 : routers <= 120 ? 12 : 8;
  const maxLoad = values.reduce((m, v) => Math.max(m, v.load), 1);
  // Ordinal axes do not thin their labels: with 64 or 256 experts, label every 4th to 16th.
  const labelEvery = experts <= 32 ? 1 : experts <= 64 ? 4 : experts <= 128 ? 8 : 16;
  const tooltip = [
    { field: "router", title: "router" },
    { field: "expert", title: "expert" },
    { field: "tokens", title: "token-expert assignments" },
    { field: "load", title: "load (× mean)", format: ".3~f" },
  ];
  const rect = {
    mark: { type: "rect", stroke: "#ffffff", strokeWidth: cellWidth >= 8 ? 0.5 : 0 },
    encoding: {
      color: {
        field: "load",
        type: "quantitative",
        title: "load (× mean)",
        scale: { scheme: "blues", domainMin: 0 },
        legend: { orient: "right" },
      },
      tooltip,
    },
  };
  const text = {
    mark: { type: "text", fontSize: 9 },
    encoding: {
      text: { field: "tokens", type: "quantitative" },
      // Dark cells get white text; the threshold sits where the blues scheme turns dark.
      color: { condition: { test: `datum.load > ${0.55 * maxLoad}`, value: "#ffffff" }, value: "#1f2733" },
      tooltip,
    },
  };
  return {
    $schema: SCHEMA,
    config: CONFIG,
    width: { step: cellWidth },
    height: { step: rowHeight },
    data: { values },
    encoding: {
      x: {
        field: "expert",
        type: "ordinal",
        title: "expert",
        axis: {
          labelAngle: 0,
          ...(labelEvery > 1
            ? { values: Array.from({ length: Math.ceil(experts / labelEvery) }, (_, i) => i * labelEvery) }
            : {}),
        },
      },
      y: {
        field: "router",
        type: "ordinal",
        title: null,
        sort: { field: "order", op: "min", order: "ascending" },
        axis: { labelLimit: 220 },
      },
    },
    layer: cellWidth >= 20 && rowHeight >= 12 ? [rect, text] : [rect],
  };
}
