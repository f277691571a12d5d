// Opens the generated site in Debian's headless Chromium from file:// (scripts/setup.sh installs /usr/bin/chromium).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChromiumSession, CHROMIUM_PATH } from "../../reports/browser-check.js";
import { generateReport } from "../../reports/site.js";
import { reportCommand } from "../../reports/command.js";
import { allReferences } from "../../datasets/references/index.js";
import { routingReportData, servingReportData, syntheticReportData, tempDir } from "./helpers.js";

const SUITE_NAME = "<script>alert(1)</script>";

describe.skipIf(!existsSync(CHROMIUM_PATH))("the generated site in Chromium", () => {
  let browser: ChromiumSession;
  let site: string;
  let caseIds: { completed: string; failed: string; multiRun: string };

  beforeAll(async () => {
    // Three runs, so that trends exist; 2 models × 8 techniques × 3 scenarios × 2 workloads = 96 cases, some failed.
    const { data } = await syntheticReportData(
      {
        suiteName: SUITE_NAME,
        models: 2,
        techniques: 8,
        workloads: 2,
        runs: 3,
        scenarios: ["prefill", "decode", "train-step"],
      },
      allReferences(),
    );
    site = tempDir("report-site");
    await generateReport(data, site);
    const completed = data.results.find((r) => r.status === "completed")!;
    const failed = data.results.find((r) => r.status === "failed");
    caseIds = { completed: completed.caseId, failed: failed?.caseId ?? "", multiRun: completed.caseId };
    browser = await ChromiumSession.launch();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("renders every chart of the index from file:// with no console error, and saves a screenshot", async () => {
    const screenshotPath = join(tempDir("report-screenshot"), "index.png");
    const page = await browser.check(join(site, "index.html"), { screenshotPath });
    // Six leaderboards (the fixture writes a value in every family), four Pareto charts (compression: weight bytes vs
    // KL among them), one trend.
    expect(page.charts).toBe(11);
    expect(page.renderedCharts).toBe(page.charts);
    expect(page.consoleErrors).toEqual([]);
    expect(page.pageErrors).toEqual([]);
    expect(page.failedRequests).toEqual([]);
    expect(page.firstChartMs).not.toBeNull();
    expect(statSync(screenshotPath).size).toBeGreaterThan(10_000);
  });

  it("shows a suite name containing <script> as text and runs no injected script", async () => {
    const page = await browser.check(join(site, "index.html"));
    expect(page.title).toContain(SUITE_NAME);
    expect(page.text).toContain(SUITE_NAME);
    // The page's own five scripts (data, vega, vega-lite, vega-embed, index.js) and nothing else.
    expect(page.scriptCount).toBe(5);
    expect(page.dialogs).toEqual([]);
    const html = readFileSync(join(site, "index.html"), "utf8");
    expect(html).not.toContain("<script>alert(1)</script>");
  });

  it("filters every leaderboard by technique and re-renders its charts", async () => {
    let techniques: string[] = [];
    const page = await browser.check(join(site, "index.html"), {
      interact: async (p) => {
        const techniqueSelect = (await p.$$(".filters select"))[1];
        await techniqueSelect.select("int8");
        techniques = await p.$$eval("table.board tbody tr td:nth-child(4)", (cells) =>
          cells.map((c) => c.textContent ?? ""),
        );
      },
    });
    expect(techniques.length).toBeGreaterThan(0);
    expect(new Set(techniques)).toEqual(new Set(["int8"]));
    expect(page.text).toMatch(/\d+ of 96 cases/);
    expect(page.renderedCharts).toBe(page.charts);
    expect(page.consoleErrors).toEqual([]);
  });

  it("renders a case page with its sample distribution, sampler series and trends", async () => {
    const page = await browser.check(`${join(site, "case.html")}#${caseIds.completed}`);
    // latency histogram, one sampler series, and trends of latency, throughput and peak RSS across the three runs.
    expect(page.charts).toBeGreaterThanOrEqual(4);
    expect(page.renderedCharts).toBe(page.charts);
    expect(page.consoleErrors).toEqual([]);
    expect(page.pageErrors).toEqual([]);
    expect(page.text).toContain("Resolved configuration");
    expect(page.text).toContain("synthetic fixture: no NVML device");
  });

  it("renders a failed case's page with its reason and no chart of samples it does not have", async () => {
    expect(caseIds.failed).not.toBe("");
    const page = await browser.check(`${join(site, "case.html")}#${caseIds.failed}`);
    expect(page.text).toContain("synthetic: worker exited with code 1");
    expect(page.text).toContain("No per-iteration samples were recorded");
    expect(page.consoleErrors).toEqual([]);
  });

  it("says so when the case id is unknown", async () => {
    const page = await browser.check(`${join(site, "case.html")}#000000000000`);
    expect(page.text).toContain("No case with id “000000000000”");
    expect(page.consoleErrors).toEqual([]);
  });

  it("loads vendored scripts only from files next to the page", () => {
    const html = readFileSync(join(site, "index.html"), "utf8");
    expect(html).not.toMatch(/https?:\/\/[^"']*\.js/);
    expect(readdirSync(join(site, "assets")).sort()).toEqual([
      "case.js",
      "index.js",
      "report.css",
      "vega-embed.min.js",
      "vega-lite.min.js",
      "vega.min.js",
    ]);
  });
});

describe.skipIf(!existsSync(CHROMIUM_PATH))("routing in the site of a real MoE and MoLE run", () => {
  let browser: ChromiumSession;
  let site: string;
  let ids: Record<"moe" | "mola" | "dense" | "loramoe", string>;

  beforeAll(async () => {
    const { data } = await routingReportData();
    site = tempDir("report-routing-site");
    await generateReport(data, site, { exports: false });
    const id = (model: string, technique: string) =>
      data.results.find(
        (r) =>
          r.model === model &&
          r.name.includes(` ${technique} `) &&
          r.workloadLabel.startsWith("zipf") &&
          r.runner === "ort",
      )!.caseId;
    ids = {
      moe: id("tiny-moe-cap", "base"),
      mola: id("tiny-dense", "mola"),
      dense: id("tiny-dense", "base"),
      loramoe: id("tiny-dense", "loramoe"),
    };
    browser = await ChromiumSession.launch();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  const heatmapCells = async (p: import("puppeteer-core").Page) =>
    p.$$eval(".chart svg", (svgs) =>
      svgs.map((svg) => svg.querySelectorAll('[aria-roledescription="rect mark container"] path').length),
    );

  it("draws a MoE case's heatmap with its dropped assignments and the workload's skew", async () => {
    let cells: number[] = [];
    const page = await browser.check(`${join(site, "case.html")}#${ids.moe}`, {
      interact: async (p) => void (cells = await heatmapCells(p)),
    });
    expect(page.renderedCharts).toBe(page.charts);
    expect(page.consoleErrors).toEqual([]);
    expect(page.text).toMatch(/\nRouting\n/);
    // 2 layers × 32 tokens × top-2 = 128 assignments.
    expect(page.text).toMatch(/dropped token-expert assignments\s+\d+ of 128 \([\d.]+%; capacity factor 1\)/);
    expect(page.text).toContain("Zipf(s = 1.5)");
    expect(page.text).toMatch(/active parameters per token, as routed\s+[\d.]+k \(params_active/);
    // 2 layers × 8 experts.
    expect(cells).toContain(16);
  });

  it("draws a MoLA case's heatmap per router (layer × projection)", async () => {
    let cells: number[] = [];
    const page = await browser.check(`${join(site, "case.html")}#${ids.mola}`, {
      interact: async (p) => void (cells = await heatmapCells(p)),
    });
    expect(page.renderedCharts).toBe(page.charts);
    expect(page.consoleErrors).toEqual([]);
    expect(page.text).toContain("layer 1 · q_proj");
    expect(page.text).not.toContain("dropped token-expert assignments");
    expect(cells).toContain(7 * 3 + 7 * 4);
  });

  it("shows no routing section, and no empty chart, for a dense model or dense soft routing", async () => {
    for (const id of [ids.dense, ids.loramoe]) {
      const page = await browser.check(`${join(site, "case.html")}#${id}`);
      expect(page.text).toContain("Resolved configuration");
      expect(page.text).not.toMatch(/\nRouting\n/);
      expect(page.text).not.toContain("Token-expert assignments");
      expect(page.renderedCharts).toBe(page.charts);
    }
  });

  it("ranks routing max/mean load on the index's routing leaderboard", async () => {
    const page = await browser.check(join(site, "index.html"));
    expect(page.text).toContain("Routing (MoE & mixtures of LoRA experts) leaderboard");
    expect(page.text).toContain("routing max/mean load (routing_max_mean_load)");
    expect(page.renderedCharts).toBe(page.charts);
    expect(page.consoleErrors).toEqual([]);
  });
});

describe.skipIf(!existsSync(CHROMIUM_PATH) || !existsSync(".venv/bin/python"))("the site of a real serving run", () => {
  let browser: ChromiumSession;
  let site: string;
  let caseId: string;

  beforeAll(async () => {
    const { data } = await servingReportData();
    site = tempDir("report-serve-site");
    await generateReport(data, site);
    caseId = data.results.find((r) => r.status === "completed" && r.requests?.length)!.caseId;
    browser = await ChromiumSession.launch();
  }, 400_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("draws latency against achieved rate per technique and goodput bars on the index", async () => {
    let marks = { sweep: 0, goodput: 0 };
    const page = await browser.check(join(site, "index.html"), {
      interact: async (p) => {
        marks = await p.evaluate(() => ({
          sweep: document.querySelectorAll("#serving-sweep [aria-roledescription='line mark container'] path").length,
          goodput: document.querySelectorAll("#serving-goodput [aria-roledescription='rect mark container'] path")
            .length,
        }));
      },
    });
    expect(page.text).toContain("Serving under load");
    expect(page.renderedCharts).toBe(page.charts);
    expect(page.consoleErrors).toEqual([]);
    expect(page.pageErrors).toEqual([]);
    // 4 panels (TTFT/TPOT × p50/p99) × 2 techniques × 2 load kinds; a bar per case.
    expect(marks.sweep).toBe(16);
    expect(marks.goodput).toBe(4);
  });

  it("draws every request of a point on its case page", async () => {
    let points = 0;
    const page = await browser.check(`${join(site, "case.html")}#${caseId}`, {
      interact: async (p) => {
        points = await p.evaluate(
          () => document.querySelectorAll("#requests-chart [aria-roledescription='symbol mark container'] path").length,
        );
      },
    });
    expect(page.text).toContain("4 requests (every one is a row of serve_requests)");
    expect(page.renderedCharts).toBe(page.charts);
    expect(page.consoleErrors).toEqual([]);
    // TTFT and end-to-end for each of the 4 requests.
    expect(points).toBe(8);
  });
});

// Real-hardware databases returned by scripts/gpu-smoke.sh (README.md § GPUs, CI and clusters), when this checkout has them.
const gpuFixtures = existsSync(join(import.meta.dirname, "../fixtures/gpu"))
  ? readdirSync(join(import.meta.dirname, "../fixtures/gpu"))
      .filter((f) => f.endsWith(".db"))
      .map((f) => join(import.meta.dirname, "../fixtures/gpu", f))
  : [];

describe.skipIf(!existsSync(CHROMIUM_PATH) || gpuFixtures.length === 0)("the site of a real GPU run", () => {
  it.each(gpuFixtures)("renders %s with GPU energy per token and every chart", async (dbPath) => {
    const site = tempDir("report-gpu-site");
    const line = await reportCommand(dbPath, site);
    expect(line).toMatch(/index\.html/);
    const browser = await ChromiumSession.launch();
    try {
      const page = await browser.check(join(site, "index.html"));
      expect(page.charts).toBeGreaterThan(0);
      expect(page.renderedCharts).toBe(page.charts);
      expect(page.consoleErrors).toEqual([]);
      expect(page.text).not.toContain("Synthetic data");
      // NVML's energy counter: a measured J/token value in the energy leaderboard.
      expect(page.text).toMatch(/\d J\/tok/);
    } finally {
      await browser.close();
    }
  });
});
