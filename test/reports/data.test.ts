import { describe, expect, it } from "vitest";
import { openStore } from "../../src/store/store.js";
import { bulkRead } from "../../reports/bulk-read.js";
import { compactSeries, deviceOf, MAX_SAMPLES_PER_REPEAT } from "../../reports/data.js";
import {
  buildIndexModel,
  caseChunks,
  chunkOf,
  packRows,
  unpackChunk,
  unpackRows,
  versusPaper,
  latestResults,
} from "../../reports/model.js";
import { syntheticReportData } from "./helpers.js";
import type { ReportReference } from "../../reports/data.js";

/** Deep equality with numbers equal within 1e-14 relative: SQLite writes a REAL as text with 15 significant digits. */
function expectNear(actual: unknown, expected: unknown, path = "$"): void {
  if (typeof expected === "number" && typeof actual === "number") {
    if (Math.abs(actual - expected) > 1e-14 * Math.abs(expected)) expect.fail(`${path}: ${actual} ≠ ${expected}`);
    return;
  }
  if (expected && typeof expected === "object" && actual && typeof actual === "object") {
    expect(Object.keys(actual).sort(), path).toEqual(Object.keys(expected).sort());
    for (const key of Object.keys(expected))
      expectNear(
        (actual as Record<string, unknown>)[key],
        (expected as Record<string, unknown>)[key],
        `${path}.${key}`,
      );
    return;
  }
  expect(actual, path).toEqual(expected);
}

describe("bulkRead", () => {
  it("returns what the store's per-row API returns: results, metrics, flags, samples and sampler series", async () => {
    const { dbPath } = await syntheticReportData({ models: 2, techniques: 3, workloads: 2, runs: 2 });
    const store = await openStore(dbPath, { readonly: true });
    try {
      const bulk = await bulkRead(dbPath);
      const rows = await store.loadResults();
      expectNear(bulk.results, rows);
      for (const row of rows) {
        const processes = await store.loadSampleProcesses(row.resultId, "latency_ms");
        const fromBulk = bulk.samples.get("latency_ms")?.get(row.resultId) ?? [];
        expectNear(fromBulk, processes);
        const series = await store.loadSamplerSeries(row.resultId);
        const bulkSeries = bulk.samplerSeries.get(row.resultId) ?? [];
        expectNear(bulkSeries, series);
      }
    } finally {
      await store.close();
    }
  });

  it("keeps only one run's rows when asked", async () => {
    const { dbPath } = await syntheticReportData({ models: 1, techniques: 2, workloads: 1, runs: 2 });
    const bulk = await bulkRead(dbPath, { runId: 2 });
    expect(bulk.results.length).toBeGreaterThan(0);
    expect(new Set(bulk.results.map((r) => r.runId))).toEqual(new Set([2]));
    const ids = new Set(bulk.results.map((r) => r.resultId));
    for (const id of bulk.samples.get("latency_ms")!.keys()) expect(ids.has(id)).toBe(true);
  });
});

describe("loadReportData and the index model", () => {
  it("keeps a null metric null with its reason, in the index rows too", async () => {
    const { data } = await syntheticReportData({ models: 1, techniques: 2, workloads: 1 });
    const completed = data.results.find((r) => r.status === "completed")!;
    expect(completed.metrics.find((m) => m.name === "gpu_amu_bytes")).toMatchObject({
      value: null,
      reason: "synthetic fixture: no NVML device",
    });
    const row = buildIndexModel(data).rows.find((r) => r.id === completed.caseId)!;
    expect(row.m.gpu_amu_bytes).toEqual([null, "synthetic fixture: no NVML device"]);
  });

  it("ranks only the latest result of each case and draws trends from cases seen in two runs", async () => {
    const { data } = await syntheticReportData({ models: 1, techniques: 2, workloads: 1, runs: 3 });
    const model = buildIndexModel(data);
    expect(model.rows.length).toBe(data.results.length / 3);
    expect(new Set(model.rows.map((r) => r.run))).toEqual(new Set([3]));
    const completedCases = new Set(
      latestResults(data)
        .filter((r) => r.status === "completed")
        .map((r) => r.caseId),
    );
    expect(new Set(model.trends.map((p) => p[0]))).toEqual(completedCases);
    expect(model.synthetic).toBe(true);
  });

  it("packs index rows and case chunks losslessly up to display precision", async () => {
    const { data } = await syntheticReportData({ models: 2, techniques: 3, workloads: 1 });
    const model = buildIndexModel(data);
    expect(unpackRows(JSON.parse(JSON.stringify(packRows(model.rows))))).toEqual(model.rows);
    const chunks = caseChunks(data, 3);
    for (const result of data.results) {
      const chunk = JSON.parse(JSON.stringify(chunks.get(chunkOf(result.caseId, 3))!));
      const entry = unpackChunk(chunk)[result.caseId];
      const back = entry.results.find((r) => r.resultId === result.resultId)!;
      expect(back.config).toEqual(result.config);
      expect(back.metrics.map((m) => m.name)).toEqual(result.metrics.map((m) => m.name));
      back.metrics.forEach((m, i) =>
        m.value === null
          ? expect(result.metrics[i].value).toBeNull()
          : expect(Math.abs(m.value - result.metrics[i].value!)).toBeLessThanOrEqual(
              1e-5 * Math.abs(result.metrics[i].value!),
            ),
      );
    }
  });

  it("summarises a long repeat by evenly spaced quantiles and keeps its true count", () => {
    const long = Array.from({ length: 10 * MAX_SAMPLES_PER_REPEAT }, (_, i) => i);
    const series = compactSeries("latency_ms", [long, [1, 2, 3]]);
    expect(series.counts).toEqual([long.length, 3]);
    expect(series.processes[0]).toHaveLength(MAX_SAMPLES_PER_REPEAT);
    expect(series.processes[0][0]).toBe(0);
    expect(series.processes[0][MAX_SAMPLES_PER_REPEAT - 1]).toBe(long.length - 1);
    expect(series.processes[1]).toEqual([1, 2, 3]);
  });

  it("names the device from the run's environment", () => {
    const key = (deviceClass: string) => JSON.stringify({ runner: "x", deviceClass });
    expect(deviceOf(key("cpu"), { cpu: { manufacturer: "Intel", brand: "Xeon" } })).toBe("cpu · Intel Xeon");
    expect(deviceOf(key("cuda"), { gpus: [{ model: "Matrox" }, { model: "NVIDIA H100 80GB HBM3" }] })).toBe(
      "cuda · NVIDIA H100 80GB HBM3",
    );
    // torch.device "auto": the device the worker resolved and recorded in the result's settings names it.
    expect(deviceOf(key("auto"), { cpu: { manufacturer: "AMD", brand: "EPYC" } }, { device: "cpu" })).toBe(
      "cpu · AMD EPYC",
    );
    expect(deviceOf(key("auto"), { gpus: [{ model: "NVIDIA H200" }] }, { device: "cuda:0" })).toBe(
      "cuda · NVIDIA H200",
    );
  });
});

describe("versusPaper", () => {
  const reference = (over: Partial<ReportReference>): ReportReference =>
    ({
      id: "test-int4-base-weight-bytes",
      claim: "int4 stores about a sixth of the fp32 bytes",
      metric: "weight_bytes",
      paperMetric: "weights (GB)",
      numerator: { technique: "int4" },
      denominator: { technique: "base" },
      paperValue: 0.16,
      valueKind: "approximate",
      regime: { device: "any", precision: "int4 vs fp32", scale: "7B", scenario: "inference" },
      citation: { source: "a test", section: "none" },
      confidence: "test",
      paper: "A test paper",
      ...over,
    }) as ReportReference;

  it("puts our ratio for the same model, scenario and workload beside the paper's", async () => {
    const { data } = await syntheticReportData({ models: 1, techniques: 8, workloads: 1, scenarios: ["prefill"] });
    const [row] = versusPaper([reference({})], latestResults(data));
    expect(row.pairs.length).toBeGreaterThan(0);
    const pair = row.pairs[0];
    const latest = latestResults(data);
    const bytes = (id: string) =>
      latest.find((r) => r.caseId === id)!.metrics.find((m) => m.name === "weight_bytes")!.value!;
    expect(pair.ratio).toBeCloseTo(bytes(pair.numeratorId) / bytes(pair.denominatorId), 12);
    expect(pair.ratio).toBeLessThan(0.5);
    expect(pair.notComparable).toBeNull();
  });

  it("greys a ratio measured in another regime and says why", async () => {
    const { data } = await syntheticReportData({ models: 1, techniques: 8, workloads: 1, scenarios: ["prefill"] });
    const [row] = versusPaper(
      [reference({ regime: { device: "NVIDIA H100", precision: "int4", scale: "7B", scenario: "inference" } })],
      latestResults(data),
    );
    expect(row.pairs[0].notComparable).toMatch(/paper measured on NVIDIA H100; ours on cpu/);
  });

  it("on CPU puts the worker's time-averaged RSS in for AMU, greyed as the CPU analogue", async () => {
    const { data } = await syntheticReportData({ models: 1, techniques: 8, workloads: 1, scenarios: ["prefill"] });
    const latest = latestResults(data);
    const [row] = versusPaper([reference({ metric: "amu_bytes", paperMetric: "AMU (GB)" })], latest);
    expect(row.pairs.length).toBeGreaterThan(0);
    const pair = row.pairs[0];
    expect(pair.metric).toBe("cpu_rss_avg_bytes");
    const rss = (id: string) =>
      latest.find((r) => r.caseId === id)!.metrics.find((m) => m.name === "cpu_rss_avg_bytes")!.value!;
    expect(pair.ratio).toBeCloseTo(rss(pair.numeratorId) / rss(pair.denominatorId), 12);
    expect(pair.notComparable).toMatch(/CPU analogue of AMU/);
  });

  it("says what is missing when no pair was measured", async () => {
    const { data } = await syntheticReportData({ models: 1, techniques: 2, workloads: 1, scenarios: ["prefill"] });
    const [row] = versusPaper([reference({})], latestResults(data));
    expect(row.pairs).toEqual([]);
    expect(row.missing).toMatch(/no completed int4/);
  });
});
