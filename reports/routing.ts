// The routing section of a case page (docs/moe.md, docs/mole.md): what a MoE or mixture-of-LoRA-experts result stored in
// `details.routing` (src/model/moe-routing.ts: per-layer histograms; src/model/mole-routing.ts: per-router
// histograms, `router_indices.{layer}[.{projection}]`), read into one shape for the heatmap and the per-router table.
// The page reads it from the details the chunk already carries, so the chunk files grow by nothing.
// Shared by the Node side (tests) and the browser bundle, so it must stay free of Node imports.
import type { RoutingCell } from "./specs.js";

export interface RouterLoad {
  /** "layer 3" (a MoE layer or MixLoRA's FFN router) or "layer 3 · q_proj" (MoLA's and SMoRA's per-linear routers). */
  label: string;
  layer: number;
  /** The adapted projection of a per-linear router; null for a layer-level router. */
  projection: string | null;
  /** Token-expert assignments per expert (sums to tokens × k). */
  tokensPerExpert: number[];
  /** Experts each token chose at this router (assignments ÷ tokens). */
  topK: number;
  maxMeanLoad: number;
  cv: number;
  /** Assignments over an expert's capacity; null when the model sets no capacity factor (nothing can be dropped). */
  droppedAssignments: number | null;
}

export interface RoutingView {
  /** "moe": the model's own expert layers; "mole": a mixture of LoRA experts' routers. */
  kind: "moe" | "mole";
  /** Tokens routed in the pass that was recorded (one timed iteration). */
  tokens: number;
  routers: RouterLoad[];
  /** Means over routers, as stored with the result (routing_max_mean_load, routing_cv). */
  maxMeanLoad: number;
  cv: number;
  /** Sum over layers; null without a capacity factor. */
  droppedAssignments: number | null;
  /** The MoE block's capacity factor (case details), null when none is set. */
  capacityFactor: number | null;
  /** The workload's routing skew (0 = the router weights' own routing, s > 0 = Zipf s); null when the workload has none. */
  routingSkew: number | null;
  /** The largest expert count of any router (the heatmap's width). */
  maxExperts: number;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const isCounts = (x: unknown): x is number[] =>
  Array.isArray(x) && x.length > 0 && x.every((v) => typeof v === "number" && Number.isFinite(v) && v >= 0);
const finite = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

function loadOf(counts: number[]): { maxMeanLoad: number; cv: number } {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  if (mean === 0) return { maxMeanLoad: NaN, cv: NaN };
  const variance = counts.reduce((a, c) => a + (c - mean) ** 2, 0) / counts.length;
  return { maxMeanLoad: Math.max(...counts) / mean, cv: Math.sqrt(variance) / mean };
}

/**
 * The routing a result recorded, or null when it has none (a dense model, dense soft routing such as LoRAMoE,
 * a failed case, or details of another shape): the page then shows no routing section at all.
 */
export function routingView(
  details: Record<string, unknown> | null,
  caseDetails: Record<string, unknown> | null,
  workload: Record<string, unknown> | null,
): RoutingView | null {
  const routing = details?.routing;
  if (!isRecord(routing)) return null;
  const tokens = finite(routing.tokens);
  if (tokens === null || tokens <= 0) return null;
  const model = isRecord(caseDetails?.model) ? caseDetails.model : {};
  const capacityFactor = isRecord(model.moe) ? finite(model.moe.capacityFactor) : null;
  const routingSkew = finite(workload?.routingSkew);
  const routers: RouterLoad[] = [];
  let kind: RoutingView["kind"];
  if (Array.isArray(routing.layers)) {
    kind = "moe";
    for (const l of routing.layers) {
      if (!isRecord(l) || !isCounts(l.tokensPerExpert) || finite(l.layer) === null) return null;
      const load = loadOf(l.tokensPerExpert);
      routers.push({
        label: `layer ${l.layer}`,
        layer: l.layer as number,
        projection: null,
        tokensPerExpert: l.tokensPerExpert,
        topK: l.tokensPerExpert.reduce((a, b) => a + b, 0) / tokens,
        maxMeanLoad: finite(l.maxMeanLoad) ?? load.maxMeanLoad,
        cv: finite(l.cv) ?? load.cv,
        // Not stored ⇒ not known (null), never 0.
        droppedAssignments: capacityFactor === null ? null : finite(l.droppedAssignments),
      });
    }
  } else if (Array.isArray(routing.routers)) {
    kind = "mole";
    for (const r of routing.routers) {
      if (!isRecord(r) || !isCounts(r.tokensPerExpert) || typeof r.router !== "string") return null;
      // `router_indices.{layer}` or `router_indices.{layer}.{projection}` (the graphs' routing output names).
      const [, layerText, ...rest] = r.router.split(".");
      const layer = finite(r.layer) ?? Number(layerText);
      const projection = rest.length > 0 ? rest.join(".") : null;
      const load = loadOf(r.tokensPerExpert);
      routers.push({
        label: projection ? `layer ${layer} · ${projection}` : `layer ${layer}`,
        layer,
        projection,
        tokensPerExpert: r.tokensPerExpert,
        topK: r.tokensPerExpert.reduce((a, b) => a + b, 0) / tokens,
        maxMeanLoad: finite(r.maxMeanLoad) ?? load.maxMeanLoad,
        cv: finite(r.cv) ?? load.cv,
        droppedAssignments: null,
      });
    }
  } else return null;
  if (routers.length === 0) return null;
  // Bottom layer first; a layer's projections in the order of a transformer block.
  routers.sort(
    (a, b) =>
      a.layer - b.layer ||
      projectionOrder(a.projection) - projectionOrder(b.projection) ||
      (a.projection ?? "").localeCompare(b.projection ?? ""),
  );
  const mean = (f: (r: RouterLoad) => number) => routers.reduce((s, r) => s + f(r), 0) / routers.length;
  // A layer whose count was not stored makes the total unknown (null), never a smaller sum.
  const dropped =
    kind === "moe" && capacityFactor !== null && routers.every((r) => r.droppedAssignments !== null)
      ? routers.reduce((s, r) => s + r.droppedAssignments!, 0)
      : null;
  return {
    kind,
    tokens,
    routers,
    maxMeanLoad: finite(routing.maxMeanLoad) ?? mean((r) => r.maxMeanLoad),
    cv: finite(routing.cv) ?? mean((r) => r.cv),
    droppedAssignments: dropped,
    capacityFactor,
    routingSkew,
    maxExperts: Math.max(...routers.map((r) => r.tokensPerExpert.length)),
  };
}

const PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
const projectionOrder = (p: string | null) =>
  p === null ? -1 : PROJECTIONS.indexOf(p) < 0 ? PROJECTIONS.length : PROJECTIONS.indexOf(p);

/** One cell per router and expert it has (a router with fewer experts, e.g. MoLA's lower layers, has fewer cells). */
export function heatmapCells(view: RoutingView): RoutingCell[] {
  return view.routers.flatMap((r, order) => {
    const mean = r.tokensPerExpert.reduce((a, b) => a + b, 0) / r.tokensPerExpert.length;
    return r.tokensPerExpert.map((tokens, expert) => ({
      router: r.label,
      order,
      expert,
      tokens,
      load: mean > 0 ? Math.round((tokens / mean) * 1000) / 1000 : 0,
    }));
  });
}

/** The workload's routingSkew in words (src/model/moe.ts routerSkewBias: a Zipf(s) prior added to the router logits). */
export function skewText(routingSkew: number | null): string {
  if (routingSkew === null) return "not set by the workload";
  return routingSkew === 0
    ? "0 — no bias: the seeded router weights' own (near-uniform) routing"
    : `${routingSkew} — a Zipf(s = ${routingSkew}) logit bias on every router`;
}

/**
 * details with the floats of `details.routing` (per-router max/mean load and CV, their means) at 6 significant
 * digits, as every other value of a chunk: the case page prints 3, and a 60-layer model has hundreds of them.
 * Counts stay exact. Other details, and details without routing, are returned as they are (the same object).
 */
export function compactRoutingDetails(details: Record<string, unknown> | null): Record<string, unknown> | null {
  const routing = details?.routing;
  if (!isRecord(routing)) return details;
  const six = (x: unknown) =>
    typeof x === "number" && Number.isFinite(x) && !Number.isInteger(x) ? Number(x.toPrecision(6)) : x;
  const entry = (e: unknown) => (isRecord(e) ? { ...e, maxMeanLoad: six(e.maxMeanLoad), cv: six(e.cv) } : e);
  const compact: Record<string, unknown> = { ...routing, maxMeanLoad: six(routing.maxMeanLoad), cv: six(routing.cv) };
  if (Array.isArray(routing.layers)) compact.layers = routing.layers.map(entry);
  if (Array.isArray(routing.routers)) compact.routers = routing.routers.map(entry);
  return { ...details, routing: compact };
}

export interface LocalityView {
  source: string;
  sequences: number;
  tokensPerSequence: number;
  /** Rows: metric label and its value per MoE layer (mean over sequences) and the mean over layers. */
  layers: number[];
  rows: { metric: string; perLayer: number[]; mean: number }[];
}

/**
 * The routing locality a MoE prefill stored (`details.routing.locality`, src/model/routing-locality.ts): SRP per
 * segment length, SCH per segment length × cache size, LRU hit rate per cache size; null when there is none.
 */
export function localityView(details: Record<string, unknown> | null): LocalityView | null {
  const routing = details?.routing;
  if (!isRecord(routing) || !isRecord(routing.locality)) return null;
  const l = routing.locality;
  if (!Array.isArray(l.layers) || l.layers.length === 0 || !l.layers.every(isRecord)) return null;
  const layers = l.layers as Record<string, unknown>[];
  const keys = (field: string) => (isRecord(layers[0]![field]) ? Object.keys(layers[0]![field] as object) : []);
  const rows: LocalityView["rows"] = [];
  const add = (field: string, key: string, metric: string) => {
    const perLayer = layers.map((layer) => finite((layer[field] as Record<string, unknown> | undefined)?.[key]) ?? NaN);
    rows.push({ metric, perLayer, mean: perLayer.reduce((a, b) => a + b, 0) / perLayer.length });
  };
  for (const m of keys("srp")) add("srp", m, `SRP, segments of ${m}`);
  for (const key of keys("sch")) {
    const [, m, c] = /^m(\d+)\.c(\d+)$/.exec(key) ?? [];
    add("sch", key, `SCH, ${c} cached experts, ${m}-token lookahead`);
  }
  for (const c of keys("lru")) add("lru", c, `LRU hit rate, ${c} cached experts`);
  return {
    source: typeof l.source === "string" ? l.source : "",
    sequences: finite(l.sequences) ?? 0,
    tokensPerSequence: finite(l.tokensPerSequence) ?? 0,
    layers: layers.map((layer) => finite(layer.layer) ?? NaN),
    rows,
  };
}
