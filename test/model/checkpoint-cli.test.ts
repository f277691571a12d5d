// A checkpoint suite through the real CLI: a suite in its own folder names a transformers-written checkpoint and a
// text by relative paths; `bench inspect` reads config.json only, `bench run` times it and stores fidelity with
// the perplexity of the technique's model and of the base, and where the weights came from.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { openStore } from "../../src/store/store.js";
import { writeCheckpoints, type CheckpointFixture } from "./checkpoint-fixtures.js";

let root: string;
let fixture: CheckpointFixture;

beforeAll(() => {
  let fixtures: CheckpointFixture[];
  ({ root, fixtures } = writeCheckpoints([
    { name: "tiny-llama", arch: "llama", dtype: "bfloat16", tie: false, maxShardBytes: 150_000, tokenizer: true },
  ]));
  fixture = fixtures[0]!;
  writeFileSync(
    join(root, "suite.ts"),
    `import { defineSuite } from "effbench";
export default defineSuite({
  name: "checkpoint-cli",
  models: [{ checkpoint: "./tiny-llama", perplexityText: "./text.txt" }],
  techniques: [{ kind: "base" }, { kind: "dora", rank: 4, targets: "all-linear", base: "int4" }],
  scenarios: ["decode"],
  workloads: [{ promptTokens: 16 }],
  protocol: { repeats: 1, minMeasureMs: 20, minIterations: 3, warmupMaxMs: 20, warmupMinIterations: 1 },
});
`,
  );
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const bench = (...args: string[]) => execa("node", [resolve("bin/bench.js"), ...args], { reject: false });

describe("a checkpoint suite on the command line", () => {
  it("bench inspect shows the checkpoint's architecture and transformers' parameter count from config.json", async () => {
    const result = await bench("inspect", join(root, "suite.ts"), "--json");
    expect(result.exitCode, result.stderr).toBe(0);
    const rows = JSON.parse(result.stdout) as { name: string; totalParams: number }[];
    expect(rows.find((r) => r.name.includes("base"))!.totalParams).toBe(fixture.params);
  });

  it("bench run stores the perplexity of the technique's model and of the base, and the weights' source", async () => {
    const db = join(root, "results.db");
    const result = await bench("run", join(root, "suite.ts"), "--db", db);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    const store = await openStore(db, { readonly: true });
    try {
      const results = await store.loadResults();
      expect(results.map((r) => r.status)).toEqual(["completed", "completed"]);
      const dora = results.find((r) => r.technique === "dora")!;
      const metric = (name: string) => dora.metrics.find((m) => m.name === name);
      expect(Math.abs(metric("perplexity_base")!.value! / fixture.perplexity! - 1)).toBeLessThan(1e-3);
      expect(metric("perplexity")!.value).toBeGreaterThan(1);
      expect(metric("perplexity")!.value).not.toBe(metric("perplexity_base")!.value);
      expect(metric("rel_l2_error")!.value).toBeGreaterThan(0);
      expect(dora.settings).toMatchObject({
        weightsSource: { checkpoint: { path: fixture.dir, dtypes: ["BF16"] }, convertedTo: "float32" },
      });
    } finally {
      await store.close();
    }
  });
});
