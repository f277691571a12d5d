// The routing section of MoE and MoLE case pages and the routing leaderboard, on what a real CPU run stored
// (a run of test/reports/routing-suite.ts made by the tests, test/reports/helpers.ts).
import { beforeAll, describe, expect, it } from "vitest";
import type { ReportData, ReportResult } from "../../reports/data.js";
import { compactRoutingDetails, heatmapCells, routingView, skewText } from "../../reports/routing.js";
import { routingHeatmapSpec, type VegaLiteSpec } from "../../reports/specs.js";
import { buildIndexModel, caseChunks, chunkOf, unpackChunk } from "../../reports/model.js";
import { METRIC_FAMILIES } from "../../reports/metrics.js";
import { toMarkdown } from "../../reports/export.js";
import { renderSvg, routingReportData } from "./helpers.js";

let data: ReportData;
beforeAll(async () => {
  ({ data } = await routingReportData());
});

const result = (technique: RegExp, model: string, workload: string, runner = "ort"): ReportResult => {
  const r = data.results.find(
    (x) => x.model === model && technique.test(x.name) && x.workloadLabel.startsWith(workload) && x.runner === runner,
  );
  if (!r) throw new Error(`the fixture has no ${technique} ${model} ${workload} ${runner} result`);
  return r;
};
const metric = (r: ReportResult, name: string) => r.metrics.find((m) => m.name === name)?.value;
const viewOf = (r: ReportResult) => routingView(r.details, r.caseDetails, r.workload);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe("routingView", () => {
  it("reads a MoE result's per-layer histograms, with dropped assignments under its capacity factor and the workload's skew", () => {
    const r = result(/ base /, "tiny-moe-cap", "zipf");
    const view = viewOf(r)!;
    expect(view.kind).toBe("moe");
    expect(view.routers.map((x) => x.label)).toEqual(["layer 0", "layer 1"]);
    // Every token chose top-2 of 8 experts in each layer: a histogram sums to tokens × k.
    for (const router of view.routers) {
      expect(router.tokensPerExpert).toHaveLength(8);
      expect(sum(router.tokensPerExpert)).toBe(view.tokens * 2);
      expect(router.topK).toBe(2);
    }
    expect(view.capacityFactor).toBe(1);
    expect(view.droppedAssignments).toBe(metric(r, "routing_dropped_tokens"));
    expect(view.droppedAssignments).toBeGreaterThan(0);
    expect(sum(view.routers.map((x) => x.droppedAssignments!))).toBe(view.droppedAssignments);
    expect(view.maxMeanLoad).toBeCloseTo(metric(r, "routing_max_mean_load")!, 12);
    expect(view.cv).toBeCloseTo(metric(r, "routing_cv")!, 12);
    expect(view.routingSkew).toBe(1.5);
    expect(skewText(view.routingSkew)).toContain("Zipf(s = 1.5)");
    expect(viewOf(result(/ base /, "tiny-moe-cap", "uniform"))!.routingSkew).toBe(0);
  });

  it("reads MoLA's per-linear routers as layer × projection, each layer with its own expert count and nothing dropped", () => {
    const view = viewOf(result(/ mola /, "tiny-dense", "uniform"))!;
    expect(view.kind).toBe("mole");
    // expertsPerLayerGroup [3, 4] over 2 layers, all seven linears of each layer routed (3 and 4 > top-2: a choice).
    expect(view.routers).toHaveLength(14);
    expect(view.routers.slice(0, 7).map((x) => x.label)).toEqual(
      ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"].map((p) => `layer 0 · ${p}`),
    );
    expect(view.routers.slice(0, 7).every((x) => x.tokensPerExpert.length === 3)).toBe(true);
    expect(view.routers.slice(7).every((x) => x.tokensPerExpert.length === 4 && x.layer === 1)).toBe(true);
    for (const router of view.routers) expect(sum(router.tokensPerExpert)).toBe(view.tokens * 2);
    expect(view.maxExperts).toBe(4);
    expect(view.droppedAssignments).toBeNull();
    expect(view.capacityFactor).toBeNull();
    expect(heatmapCells(view)).toHaveLength(7 * 3 + 7 * 4);
  });

  it("reads the torch runner's routing (its own routing pass) in the same shape", () => {
    const moe = result(/ base /, "tiny-moe-cap", "zipf", "torch");
    const view = viewOf(moe)!;
    expect(view.routers.map((x) => [x.label, x.tokensPerExpert.length, sum(x.tokensPerExpert)])).toEqual([
      ["layer 0", 8, 64],
      ["layer 1", 8, 64],
    ]);
    expect(view.droppedAssignments).toBe(metric(moe, "routing_dropped_tokens"));
    const mola = viewOf(result(/ mola /, "tiny-dense", "zipf", "torch"))!;
    expect(mola.routers.map((x) => x.label)).toEqual(
      viewOf(result(/ mola /, "tiny-dense", "zipf"))!.routers.map((x) => x.label),
    );
    expect(viewOf(result(/ base /, "tiny-dense", "zipf", "torch"))).toBeNull();
  });

  it("reads MixLoRA's FFN router per layer", () => {
    const r = result(/ mixlora /, "tiny-dense", "zipf");
    const view = viewOf(r)!;
    expect(view.kind).toBe("mole");
    expect(view.routers.map((x) => [x.label, x.tokensPerExpert.length])).toEqual([
      ["layer 0", 4],
      ["layer 1", 4],
    ]);
    expect(view.maxMeanLoad).toBeCloseTo(metric(r, "routing_max_mean_load")!, 12);
  });

  it("gives nothing for a dense model, dense soft routing (LoRAMoE) or a case that did not run", () => {
    expect(viewOf(result(/ base /, "tiny-dense", "uniform"))).toBeNull();
    expect(viewOf(result(/ loramoe /, "tiny-dense", "uniform"))).toBeNull();
    const unsupported = result(/ mixlora /, "tiny-moe-cap", "uniform");
    expect(unsupported.status).toBe("unsupported");
    expect(viewOf(unsupported)).toBeNull();
    expect(
      routingView({ routing: { tokens: 4, layers: [{ layer: 0, tokensPerExpert: "not counts" }] } }, {}, {}),
    ).toBeNull();
  });
});

describe("the routing heatmap", () => {
  it("draws a cell per router and expert, with its count as text, and compiles in vega-lite", async () => {
    const view = viewOf(result(/ base /, "tiny-moe-cap", "zipf"))!;
    const cells = heatmapCells(view);
    expect(cells).toHaveLength(16);
    // load is relative to the router's mean: a balanced expert is 1.
    expect(
      cells.find((c) => c.router === "layer 0" && c.tokens === view.routers[0].tokensPerExpert[0])!.load,
    ).toBeCloseTo(view.routers[0].tokensPerExpert[0] / 8, 3);
    const svg = await renderSvg(routingHeatmapSpec(cells, view.maxExperts, view.routers.length));
    expect(svg).toContain('aria-roledescription="rect mark container"');
    expect(svg).toContain('aria-roledescription="text mark container"');
    expect(svg).toContain("layer 1");
    expect(svg).toContain(">24<");
  });

  it("drops the count labels and thins the expert axis when 64 or 256 experts make the cells narrow", () => {
    const cell = [{ router: "layer 0", order: 0, expert: 0, tokens: 3, load: 1 }];
    const axisValues = (spec: VegaLiteSpec) =>
      (spec.encoding as { x: { axis: { values?: number[] } } }).x.axis.values ?? null;
    const wide = routingHeatmapSpec(cell, 64, 1);
    expect((wide.layer as unknown[]).length).toBe(1);
    expect((wide.width as { step: number }).step).toBeLessThan(20);
    expect(axisValues(wide)).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60]);
    const widest = routingHeatmapSpec(cell, 256, 58);
    expect((widest.width as { step: number }).step * 256).toBeLessThanOrEqual(900);
    expect(axisValues(widest)).toHaveLength(16);
    expect(axisValues(routingHeatmapSpec(cell, 8, 2))).toBeNull();
  });
});

describe("routing in the site's data", () => {
  it("reaches the case page through the chunk's details, counts exact and loads at 6 significant digits", () => {
    const r = result(/ mola /, "tiny-dense", "zipf");
    const model = buildIndexModel(data);
    const chunk = caseChunks(data, model.caseChunks).get(chunkOf(r.caseId, model.caseChunks))!;
    const entry = unpackChunk(chunk)[r.caseId]!.results[0]!;
    const fromChunk = routingView(entry.details, entry.caseDetails, entry.workload)!;
    const stored = viewOf(r)!;
    expect(fromChunk.routers.map((x) => [x.label, x.tokensPerExpert])).toEqual(
      stored.routers.map((x) => [x.label, x.tokensPerExpert]),
    );
    for (const [i, router] of fromChunk.routers.entries()) {
      expect(router.cv).toBeCloseTo(stored.routers[i]!.cv, 5);
      expect(String(router.cv).replace(/^0\.0*/, "").length).toBeLessThanOrEqual(6);
    }
    expect(fromChunk.maxMeanLoad).toBeCloseTo(stored.maxMeanLoad, 5);
    // The chunk carries the routing once, in the details: no more than the stored JSON.
    expect(JSON.stringify(entry.details).length).toBeLessThan(JSON.stringify(r.details).length);
  });

  it("leaves details without routing as they are", () => {
    const details = { modelBytes: 1, cv: 0.123456789 };
    expect(compactRoutingDetails(details)).toBe(details);
    expect(compactRoutingDetails(null)).toBeNull();
  });

  it("puts routing max/mean load, CV and dropped assignments on a leaderboard that a dense-only report does not draw", () => {
    const family = METRIC_FAMILIES.find((f) => f.id === "routing")!;
    expect(family.optional).toBe(true);
    expect(family.metrics.map((m) => m.name)).toEqual([
      "routing_max_mean_load",
      "routing_cv",
      "routing_dropped_tokens",
      "routing_lru_hit_c4",
      "routing_srp_m16",
      "routing_active_experts_mean",
      "adapter_flops_per_token_routed",
    ]);
    const model = buildIndexModel(data);
    const routed = model.rows.filter((row) => row.m.routing_max_mean_load !== undefined);
    // ort: MoE base ×2, MixLoRA ×2, MoLA ×2; torch: MoE base, MoLA — not the dense base, LoRAMoE or the unsupported cases.
    expect(routed.map((row) => row.name).sort()).toEqual(
      data.results
        .filter((x) => viewOf(x) !== null)
        .map((x) => x.name)
        .sort(),
    );
    expect(routed).toHaveLength(8);
    expect(toMarkdown(data)).toContain("### Routing (MoE & mixtures of LoRA experts): routing max/mean load");
  });
});
