// A small synthetic results database written through the real store API (reports/synthetic.ts marks its rows as
// synthetic), loaded back as ReportData: the input of the report tests.
import { mkdtempSync } from "node:fs";
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
