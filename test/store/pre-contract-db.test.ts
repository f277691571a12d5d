// A results database written by the code before the runner contract moved into the core (the quick suite's four
// "short" cases, committed as a fixture) still merges and reports: the stored config keeps each runner's settings
// under its name, and reports read the device from the case key.
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fromRoot } from "../../src/paths.js";
import { main } from "../../src/cli/main.js";
import { mergeStores, openStore } from "../../src/store/store.js";
import { loadReportData } from "../../reports/data.js";

const fixture = fromRoot("test/fixtures/dbs/pre-runner-contract.db");
const dir = mkdtempSync(join(tmpdir(), "effbench-pre-contract-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a database written before the runner contract", () => {
  it("merges with a new one and reports", async () => {
    const old = join(dir, "old.db");
    copyFileSync(fixture, old);
    const merged = join(dir, "merged.db");
    await mergeStores(merged, [old]);
    const store = await openStore(merged);
    try {
      const results = await store.loadResults();
      expect(results).toHaveLength(4);
      expect(results.every((r) => r.status === "completed")).toBe(true);
      const data = await loadReportData(store);
      expect(data.results.map((r) => r.device.split(" · ")[0])).toEqual(["cpu", "cpu", "cpu", "cpu"]);
    } finally {
      await store.close();
    }
    expect(await main(["report", merged, "-o", join(dir, "site")])).toBe(0);
    expect(existsSync(join(dir, "site", "index.html"))).toBe(true);
  });
});
