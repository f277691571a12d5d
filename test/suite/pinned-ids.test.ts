// Case ids and config hashes are what `--resume`, `bench compare` and merged shards match results by: a refactor must
// not change them. Pinned from the code before the runner contract moved into the core, with a fixed code version.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { fromRoot } from "../../src/paths.js";

const pinned = JSON.parse(readFileSync(fromRoot("test/fixtures/pinned-case-ids.json"), "utf8")) as Record<
  string,
  Array<{ id: string; configHash: string; name: string }>
>;

describe("case identity is stable", () => {
  for (const [suite, expected] of Object.entries(pinned))
    it(`${suite}: the same ids and config hashes`, async () => {
      const loaded = await loadSuite(fromRoot(suite));
      const cases = planSuite(loaded.suite, { codeVersion: "pinned" });
      expect(cases.map((c) => ({ id: c.id, configHash: c.configHash, name: c.name }))).toEqual(expected);
    });
});
