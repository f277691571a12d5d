// Turns fault scenarios into vitest tests: each must survive every injection and lose no row.
import { afterAll, expect, it } from "vitest";
import { removeTempDirs } from "./harness.js";
import { removeSeedDatabase, scenario } from "./scenarios.js";

export function faultTests(ids: string[]): void {
  afterAll(() => removeSeedDatabase());
  for (const id of ids) {
    const s = scenario(id);
    const skip = s.unavailable?.();
    it.skipIf(Boolean(skip))(s.behaviour, { timeout: s.timeoutMs }, async () => {
      const outcome = await s.run();
      expect(outcome.problems).toEqual([]);
      expect(outcome.injected).toBeGreaterThan(0);
      expect(outcome.survived).toBe(outcome.injected);
      expect(outcome.rowsLost).toBe(0);
      removeTempDirs(); // kept when the test failed, to look at
    });
  }
}
