// A small synthetic results database written through the real store API (reports/synthetic.ts marks its rows as
// synthetic), loaded back as ReportData: the input of the report tests.
import { copyFileSync, existsSync, mkdtempSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { compile } from "vega-lite";
import { parse, View } from "vega";
import type { VegaLiteSpec } from "../../reports/specs.js";
import { openStore } from "../../src/store/store.js";
import { loadReportData, type ReportData, type ReportReference } from "../../reports/data.js";
import { writeSyntheticStore, type SyntheticOptions } from "../../reports/synthetic.js";

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `effbench-${prefix}-`));
}

export async function syntheticReportData(
  options: SyntheticOptions = {},
  references?: ReportReference[],
): Promise<{ data: ReportData; dbPath: string }> {
  const dbPath = join(tempDir("report-db"), "results.db");
  await writeSyntheticStore(dbPath, options);
  const store = await openStore(dbPath, { readonly: true });
  try {
    return { data: await loadReportData(store, { references }), dbPath };
  } finally {
    await store.close();
  }
}

/**
 * A real CPU run of test/reports/routing-suite.ts (tiny MoE with a capacity factor, MixLoRA, MoLA, LoRAMoE; ort and
 * torch), made by the code under test — never a stale committed file. Made once per test run (test files run one
 * after another in forks of the same vitest process, so the cache is keyed by that parent's pid), in about 30 s.
 */
async function routingDb(): Promise<string> {
  const cached = join(tmpdir(), `effbench-routing-fixture-${process.ppid}.db`);
  if (existsSync(cached)) return cached;
  const dir = tempDir("routing-fixture");
  const db = join(dir, "routing.db");
  const result = await execa(
    "node",
    [resolve("bin/bench.js"), "run", resolve("test/reports/routing-suite.ts"), "--db", db],
    { reject: false },
  );
  if (result.exitCode !== 0)
    throw new Error(`the routing fixture run failed (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`);
  renameSync(db, cached);
  return cached;
}

/** The routing fixture loaded as ReportData, from a copy (opening a database may leave -wal/-shm files beside it). */
export async function routingReportData(): Promise<{ data: ReportData; dbPath: string }> {
  const dbPath = join(tempDir("report-routing"), "routing.db");
  copyFileSync(await routingDb(), dbPath);
  const store = await openStore(dbPath, { readonly: true });
  try {
    return { data: await loadReportData(store), dbPath };
  } finally {
    await store.close();
  }
}

/** A real run of test/reports/serve-suite.ts against transformers serve, loaded as ReportData (made once per test run). */
export async function servingReportData(): Promise<{ data: ReportData; dbPath: string }> {
  const cached = join(tmpdir(), `effbench-serve-fixture-${process.ppid}.db`);
  if (!existsSync(cached)) {
    const db = join(tempDir("serve-fixture"), "serve.db");
    const result = await execa(
      "node",
      [resolve("bin/bench.js"), "run", resolve("test/reports/serve-suite.ts"), "--db", db],
      {
        reject: false,
      },
    );
    if (result.exitCode !== 0)
      throw new Error(`the serving fixture run failed (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`);
    renameSync(db, cached);
  }
  const dbPath = join(tempDir("report-serve"), "serve.db");
  copyFileSync(cached, dbPath);
  const store = await openStore(dbPath, { readonly: true });
  try {
    return { data: await loadReportData(store), dbPath };
  } finally {
    await store.close();
  }
}

/** A Vega-Lite spec compiled and rendered to SVG in Node (no browser). */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const { spec: vega } = compile(spec as unknown as Parameters<typeof compile>[0]);
  const view = new View(parse(vega), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
