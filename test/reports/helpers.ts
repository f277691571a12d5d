// A small synthetic results database written through the real store API (reports/synthetic.ts marks its rows as
// synthetic), loaded back as ReportData: the input of the report tests.
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../src/store/store.js";
import { loadReportData, type ReportData, type ReportReference } from "../../reports/data.js";
import { writeSyntheticStore, type SyntheticOptions } from "../../reports/synthetic.js";

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `effbench-${prefix}-`));
}

export async function syntheticReportData(options: SyntheticOptions = {}, references?: ReportReference[]): Promise<{ data: ReportData; dbPath: string }> {
  const dbPath = join(tempDir("report-db"), "results.db");
  await writeSyntheticStore(dbPath, options);
  const store = await openStore(dbPath, { readonly: true });
  try {
    return { data: await loadReportData(store, { references }), dbPath };
  } finally {
    await store.close();
  }
}

/** A real CPU run of test/reports/routing-suite.ts (tiny MoE with a capacity factor, MixLoRA, MoLA, LoRAMoE). */
export const ROUTING_DB = join(import.meta.dirname, "fixtures", "routing.db");

/** The routing fixture loaded as ReportData, from a copy (opening a database may leave -wal/-shm files beside it). */
export async function routingReportData(): Promise<{ data: ReportData; dbPath: string }> {
  const dbPath = join(tempDir("report-routing"), "routing.db");
  copyFileSync(ROUTING_DB, dbPath);
  const store = await openStore(dbPath, { readonly: true });
  try {
    return { data: await loadReportData(store), dbPath };
  } finally {
    await store.close();
  }
}
