// `npm run bench:report`: times `bench report` on 10,000 cases × 3 repeats and Chromium's time to the index page's
// first rendered chart. The database is SYNTHETIC (reports/synthetic.ts: invented values, written through the
// store API, marked synthetic in every row); only the report's speed is measured here, nothing about models.
//
//   npm run bench:report [-- --db /tmp/report-10k.db] [-- --keep]
//
// --db reuses (or creates) that fixture file; without it a temporary one is written and removed. Targets: generation
// (read the store + write the site and its exports) < 5 s, first chart < 3 s.
import "../runners/index.js"; // registers the built-in runners, as the CLI does
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openStore } from "../src/store/store.js";
import { loadReportData } from "../reports/data.js";
import { generateReport } from "../reports/site.js";
import { allReferences } from "../datasets/references/index.js";
import { writeSyntheticStore } from "../reports/synthetic.js";
import { ChromiumSession } from "../reports/browser-check.js";
import { median } from "../src/measure/stats.js";

const GENERATION_TARGET_MS = 5000;
const FIRST_CHART_TARGET_MS = 3000;
const ROUNDS = 3;
// 10 models × 10 techniques × 4 scenarios × 25 workloads = 10,000 cases, 3 repeats of 20 iterations each.
const FIXTURE = {
  models: 10,
  techniques: 10,
  workloads: 25,
  scenarios: ["prefill", "decode", "generate", "train-step"] as Array<"prefill" | "decode" | "generate" | "train-step">,
  repeats: 3,
  iterations: 20,
  samplerPoints: 20,
};

const { values } = parseArgs({ options: { db: { type: "string" }, keep: { type: "boolean" } } });
const work = mkdtempSync(join(tmpdir(), "effbench-bench-report-"));
const dbPath = values.db ?? join(work, "synthetic-10k.db");
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const sizeOf = (path: string): number =>
  statSync(path).isDirectory()
    ? readdirSync(path).reduce((sum, f) => sum + sizeOf(join(path, f)), 0)
    : statSync(path).size;

try {
  console.log(
    `machine: ${availableParallelism()} CPUs, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
  );
  if (!existsSync(dbPath)) {
    const started = performance.now();
    const written = await writeSyntheticStore(dbPath, FIXTURE);
    console.log(
      `fixture: ${written.cases} synthetic cases × ${FIXTURE.repeats} repeats written through the store API in ${seconds(performance.now() - started)} → ${dbPath} (${(sizeOf(dbPath) / 2 ** 20).toFixed(0)} MiB)`,
    );
  } else console.log(`fixture: reusing ${dbPath}`);

  const generation: number[] = [];
  const site = join(work, "site");
  for (let round = 1; round <= ROUNDS; round++) {
    rmSync(site, { recursive: true, force: true });
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const store = await openStore(dbPath, { readonly: true });
    const data = await loadReportData(store, { references: allReferences() });
    await store.close();
    const loadedMs = performance.now() - started;
    const result = await generateReport(data, site);
    const totalMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    generation.push(totalMs);
    console.log(
      `generation ${round}/${ROUNDS}: ${seconds(totalMs)} (read the store ${seconds(loadedMs)}, write ${result.files.length} files ${seconds(totalMs - loadedMs)}; CPU ${seconds((cpu.user + cpu.system) / 1000)} incl. SQLite threads) — ${result.cases} cases, ${result.results} results${round === 1 ? " (cold: includes bundling the page scripts)" : ""}`,
    );
  }
  console.log(
    `site: index.html ${(sizeOf(join(site, "index.html")) / 2 ** 20).toFixed(1)} MiB, data/ ${(sizeOf(join(site, "data")) / 2 ** 20).toFixed(1)} MiB, exports ${((sizeOf(join(site, "results.json")) + sizeOf(join(site, "results.csv"))) / 2 ** 20).toFixed(1)} MiB`,
  );

  const firstChart: number[] = [];
  const browser = await ChromiumSession.launch();
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const page = await browser.check(join(site, "index.html"), { timeoutMs: 60_000 });
      if (page.firstChartMs === null || page.renderedCharts !== page.charts || page.consoleErrors.length > 0)
        throw new Error(
          `the index did not render cleanly: ${page.renderedCharts}/${page.charts} charts, errors ${JSON.stringify(page.consoleErrors)}`,
        );
      firstChart.push(page.firstChartMs);
      console.log(
        `Chromium ${round}/${ROUNDS}: first chart rendered ${seconds(page.firstChartMs)} after navigation start (${page.charts} charts, all rendered)`,
      );
    }
  } finally {
    await browser.close();
  }

  const generationMs = median(generation);
  const firstChartMs = median(firstChart);
  const verdict = (ms: number, target: number) =>
    ms < target ? `< ${seconds(target)} ✓` : `OVER the ${seconds(target)} target`;
  console.log(
    `\nreport generation (median of ${ROUNDS}): ${seconds(generationMs)} ${verdict(generationMs, GENERATION_TARGET_MS)}`,
  );
  console.log(
    `first chart in Chromium (median of ${ROUNDS}): ${seconds(firstChartMs)} ${verdict(firstChartMs, FIRST_CHART_TARGET_MS)}`,
  );
  process.exitCode = generationMs < GENERATION_TARGET_MS && firstChartMs < FIRST_CHART_TARGET_MS ? 0 : 1;
} finally {
  if (values.keep) console.log(`kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
