// `bench report`'s static site: a pure function of ReportData to files. index.html (leaderboards, Pareto fronts,
// trends, versus paper) carries compact per-case rows inlined as JSON; case.html is one page for every case, which
// loads its case's chunk (data/cases-NNN.js) by a script tag. vega, vega-lite and vega-embed are copied next to
// the pages, so the site works from file:// and from any static host, without a CDN or fetch.
import { modeComparison, type ModeCell } from "./modes.js";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { build } from "esbuild";
import type { ReportData } from "./data.js";
import { fromRoot } from "../src/paths.js";
import { escapeHtml, page, STYLES, VENDOR_SCRIPTS } from "./html.js";
import {
  buildIndexModel,
  caseChunks,
  chunkFileName,
  packIndexModel,
  runLabel,
  type IndexModel,
  type VersusRow,
} from "./model.js";
import { formatPlain } from "./format.js";
import { toCsv, toJson, toMarkdown } from "./export.js";

export interface GenerateOptions {
  /** Also write results.md, results.csv and results.json next to the pages (default true). */
  exports?: boolean;
}

export interface GenerateResult {
  outDir: string;
  files: string[];
  cases: number;
  results: number;
}

const require = createRequire(import.meta.url);
const VENDOR_SOURCES: Record<(typeof VENDOR_SCRIPTS)[number], [pkg: string, file: string]> = {
  "vega.min.js": ["vega", "build/vega.min.js"],
  "vega-lite.min.js": ["vega-lite", "build/vega-lite.min.js"],
  "vega-embed.min.js": ["vega-embed", "build/vega-embed.min.js"],
};

/** A package's folder: its "exports" hide build/, so walk up from its entry point to its package.json. */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === name)
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the folder of ${name}`);
    dir = parent;
  }
}

let bundles: Promise<{ index: string; case: string }> | undefined;

/** The pages' scripts, bundled once per process from reports/client/*.ts (they share rank/format code with Node). */
function clientBundles(): Promise<{ index: string; case: string }> {
  bundles ??= (async () => {
    // From the project root rather than import.meta.url, so that a bundled CLI (scripts/bundle.mjs) finds them too.
    const bundle = async (entry: string) => {
      const out = await build({
        entryPoints: [fromRoot("reports", "client", entry)],
        bundle: true,
        write: false,
        format: "iife",
        target: "es2020",
        minify: true,
        legalComments: "none",
      });
      return out.outputFiles[0].text;
    };
    const [index, casePage] = await Promise.all([bundle("index-page.ts"), bundle("case-page.ts")]);
    return { index, case: casePage };
  })();
  return bundles;
}

export async function generateReport(
  data: ReportData,
  outDir: string,
  options: GenerateOptions = {},
): Promise<GenerateResult> {
  const files: string[] = [];
  const write = (name: string, text: string) => {
    writeFileSync(join(outDir, name), text);
    files.push(name);
  };
  mkdirSync(join(outDir, "assets"), { recursive: true });
  mkdirSync(join(outDir, "data"), { recursive: true });
  for (const file of VENDOR_SCRIPTS) {
    const [pkg, path] = VENDOR_SOURCES[file];
    copyFileSync(join(packageDir(pkg), path), join(outDir, "assets", file));
    files.push(`assets/${file}`);
  }
  write("assets/report.css", STYLES);
  const scripts = await clientBundles();
  write("assets/index.js", scripts.index);
  write("assets/case.js", scripts.case);

  const model = buildIndexModel(data);
  write(
    "index.html",
    page({
      title: model.title,
      body: indexBody(model, options.exports !== false),
      data: packIndexModel(model),
      script: "index.js",
    }),
  );
  const runs = data.runs.map((run) => ({ ...model.runs.find((r) => r.id === run.id)!, env: run.env }));
  write(
    "case.html",
    page({
      title: model.title,
      body: caseBody(model),
      data: { title: model.title, runs, caseChunks: model.caseChunks },
      script: "case.js",
    }),
  );
  for (const [chunk, entries] of caseChunks(data, model.caseChunks))
    // A script file, not markup: plain JSON is valid JavaScript there, no `<` escaping needed.
    write(`data/${chunkFileName(chunk)}`, `effbenchChunk(${JSON.stringify(entries)});\n`);

  if (options.exports !== false) {
    write("results.md", toMarkdown(data, { model }));
    write("results.csv", toCsv(data));
    write("results.json", toJson(data));
  }
  return { outDir, files, cases: model.rows.length, results: data.results.length };
}

function header(model: IndexModel): string {
  const runs = model.runs.filter((r) => r.resultCount > 0);
  const suites = [...new Set(runs.map((r) => r.suiteName))];
  return `<header class="top"><h1>${escapeHtml(model.title)}</h1>
<div class="meta">${runs.length} run${runs.length === 1 ? "" : "s"} (${suites.map(escapeHtml).join(", ") || "none"}) · ${model.rows.length} cases · generated ${escapeHtml(model.generatedAt)} by effbench</div></header>`;
}

const SYNTHETIC_BANNER = `<div class="synthetic" role="note"><strong>Synthetic data.</strong> Some results in this database were written by a fixture generator (their details say <code>synthetic: true</code>); they are not measurements.</div>`;

function indexBody(model: IndexModel, exports: boolean): string {
  const sections = [
    `<a href="#leaderboards">Leaderboards</a>`,
    `<a href="#pareto">Pareto fronts</a>`,
    `<a href="#trends">Trends</a>`,
    model.versus ? `<a href="#versus">Versus paper</a>` : "",
    `<a href="#runs">Runs</a>`,
    exports ? `<a href="#downloads">Downloads</a>` : "",
  ];
  return `${header(model)}
<main>
${model.synthetic ? SYNTHETIC_BANNER : ""}
<nav class="toc">${sections.filter(Boolean).join("")}</nav>
<noscript><p>The leaderboards and charts need JavaScript; ${exports ? `<a href="results.md">results.md</a> has the same leaderboards as text.` : ""}</p></noscript>
<div class="filters" id="filters" aria-label="filters"></div>
<p class="note">Ranks: a case's rank is 1 + the number of cases in its comparison group (same scenario and workload) whose whole 95% CI is better than its own; cases whose CIs overlap share a rank (shown as “=n”). A metric that was not measured shows “—” with the reason, never 0.</p>
<div id="leaderboards"></div>
<section id="pareto"></section>
<section id="trends"></section>
${modesSection(model.rows)}
${model.versus ? versusSection(model.versus) : ""}
${runsSection(model)}
${exports ? `<section id="downloads"><h2>Downloads</h2><p><a href="results.md">results.md</a> (markdown, for a PR comment) · <a href="results.csv">results.csv</a> · <a href="results.json">results.json</a></p></section>` : ""}
</main>`;
}

function caseBody(model: IndexModel): string {
  return `${header(model)}
<main>
${model.synthetic ? SYNTHETIC_BANNER : ""}
<noscript><p>The case page needs JavaScript.</p></noscript>
<div id="case"><p class="note">Loading…</p></div>
</main>`;
}

function ratioText(ratio: number, low: number | null, high: number | null): string {
  const ci =
    low !== null && high !== null ? ` <span class="ci">[${formatPlain(low)}, ${formatPlain(high)}]</span>` : "";
  return `×${formatPlain(ratio)}${ci}`;
}

function versusSection(rows: VersusRow[]): string {
  const measured = rows.filter((r) => r.pairs.length > 0);
  const body = rows
    .flatMap((r) => {
      const paper =
        r.paperValue === null
          ? "direction only"
          : `×${formatPlain(r.paperValue)} <span class="ci">(${escapeHtml(r.valueKind)})</span>`;
      const claim = `<td title="${escapeHtml(r.citation)}">${escapeHtml(r.claim)}<div class="reason">${escapeHtml(r.citation)}</div></td>`;
      if (r.pairs.length === 0)
        return [
          `<tr class="greyed">${claim}<td>${escapeHtml(r.numerator)} ÷ ${escapeHtml(r.denominator)}</td><td>${escapeHtml(r.paperMetric)}</td><td class="num">${paper}</td><td class="num">—</td><td class="reason">${escapeHtml(r.missing ?? "")}</td></tr>`,
        ];
      return r.pairs.map(
        (p) =>
          `<tr${p.notComparable ? ` class="greyed"` : ""}>${claim}<td><a href="case.html#${encodeURIComponent(p.numeratorId)}">${escapeHtml(p.numeratorCase)}</a> ÷ <a href="case.html#${encodeURIComponent(p.denominatorId)}">${escapeHtml(p.denominatorCase)}</a></td><td>${escapeHtml(r.paperMetric)} ↔ ${escapeHtml(p.metric)}</td><td class="num">${paper}</td><td class="num">${ratioText(p.ratio, p.ciLow, p.ciHigh)}</td><td class="reason">${p.notComparable ? `not comparable: ${escapeHtml(p.notComparable)}` : "comparable regime"}</td></tr>`,
      );
    })
    .join("\n");
  return `<section id="versus"><h2>Versus paper</h2>
<p class="blurb">Papers' ratios (datasets/references) beside ours, for pairs measured on the same model, scenario, workload, runner and device. ${measured.length} of ${rows.length} reference ratios have a measured pair here. Our CI is the interval quotient of the two CIs (conservative). Greyed rows: the regime differs (device, scenario or model scale), so the ratios are not comparable.</p>
<details${measured.length > 0 ? " open" : ""}><summary>${rows.length} reference ratios</summary>
<table><thead><tr><th>claim</th><th>ours (numerator ÷ denominator)</th><th>metric</th><th>paper</th><th>ours [CI]</th><th>comparability</th></tr></thead><tbody>
${body}
</tbody></table></details></section>`;
}

function modesSection(rows: IndexModel["rows"]): string {
  const { modes, rows: table } = modeComparison(rows);
  if (table.length === 0) return "";
  const cell = (c: ModeCell | undefined) =>
    !c
      ? `<td class="num">—</td><td class="num"></td>`
      : `<td class="num"><a href="case.html#${encodeURIComponent(c.id)}">${c.p50Ms === null ? "—" : `${formatPlain(c.p50Ms)} ms`}</a>${c.busy !== null ? ` <span class="ci">busy ${(c.busy * 100).toFixed(0)}%</span>` : ""}</td><td class="num">${c.vsBase === null ? "" : `×${formatPlain(c.vsBase)}`}</td>`;
  const body = table
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.group)}</td><td>${escapeHtml(r.technique)}</td>${modes.map((m) => cell(r.cells[m])).join("")}</tr>`,
    )
    .join("\n");
  return `<section id="modes"><h2>Execution modes</h2>
<p class="blurb">The same cases in each execution mode: p50 latency, the GPU-busy share, and the ratio to the base in the same mode. Eager includes Python dispatch; cuda-graph replays the captured kernels, so its technique/base ratio is closer to the kernels' own.</p>
<table><thead><tr><th>model · group · runner · device</th><th>technique</th>${modes.map((m) => `<th>${escapeHtml(m)} p50</th><th>÷ base</th>`).join("")}</tr></thead><tbody>
${body}
</tbody></table></section>`;
}

function runsSection(model: IndexModel): string {
  const rows = model.runs
    .map(
      (r) =>
        `<tr><td>${escapeHtml(runLabel({ id: r.id, startedAt: r.startedAt, gitCommit: r.gitCommit }))}</td><td>${escapeHtml(r.suiteName)}</td><td>${escapeHtml(r.status)}</td><td class="num">${r.resultCount}</td><td>${escapeHtml(r.hostname ?? "")}</td><td>${escapeHtml(r.gitCommit ?? "")}</td></tr>`,
    )
    .join("\n");
  return `<section id="runs"><h2>Runs</h2><table><thead><tr><th>run</th><th>suite</th><th>status</th><th>results</th><th>host</th><th>commit</th></tr></thead><tbody>
${rows}
</tbody></table></section>`;
}
