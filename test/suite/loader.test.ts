import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSuite } from "../../src/suite/loader.js";
import { planSuite, filterCases } from "../../src/suite/planner.js";
import { parseShard, shardCases } from "../../src/suite/shard.js";
import { UsageError } from "../../src/messages.js";

const model = `{ name: "m", layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97 }`;

function writeSuite(body: string, name = "s.ts"): string {
  const dir = mkdtempSync(join(tmpdir(), "effbench-suite-"));
  const path = join(dir, name);
  writeFileSync(path, `import { defineSuite } from "effbench";\n${body}`);
  return path;
}

async function loadError(path: string): Promise<string> {
  try {
    await loadSuite(path);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error("expected the suite to be rejected");
}

describe("suite loader", () => {
  it("fills every default into the resolved suite", async () => {
    const loaded = await loadSuite(
      writeSuite(
        `export default defineSuite({ name: "x", models: [${model}], scenarios: ["prefill"], workloads: [{ promptTokens: 8 }] });`,
      ),
    );
    expect(loaded.suite.runners).toEqual(["ort"]);
    expect(loaded.suite.techniques).toEqual([{ kind: "base" }]);
    expect(loaded.suite.protocol.repeats).toBeGreaterThan(0);
    expect(loaded.suite.workloads[0]).toMatchObject({ batch: 1, promptTokens: 8, newTokens: 1 });
    expect(loaded.suiteHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("names the file, the path and the value of a wrong field", async () => {
    const message = await loadError(
      writeSuite(
        `export default defineSuite({ name: "x", models: [{ ...${model}, heads: 0 }], scenarios: ["prefill"], workloads: [{ promptTokens: 8 }] });`,
        "bad.ts",
      ),
    );
    expect(message).toMatch(/bad\.ts › models\[0\]\.heads: .*got 0/);
  });

  it("rejects an unknown top-level key and says how to fix it", async () => {
    const message = await loadError(
      writeSuite(
        `export default { name: "x", modles: [], models: [${model}], scenarios: ["prefill"], workloads: [{ promptTokens: 8 }] };`,
      ),
    );
    expect(message).toMatch(/modles/);
    expect(message).toMatch(/modles: unknown field — did you mean "models"\?/);
  });

  it("rejects an unknown technique with the known kinds", async () => {
    const message = await loadError(
      writeSuite(
        `export default { name: "x", models: [${model}], techniques: [{ kind: "lorax" }], scenarios: ["prefill"], workloads: [{ promptTokens: 8 }] };`,
      ),
    );
    expect(message).toMatch(/techniques\[0\]\.kind/);
  });

  it("reports a syntax error with its line", async () => {
    const message = await loadError(writeSuite(`export default defineSuite({ name: "x", models: [ });`));
    expect(message).toMatch(/does not compile/);
    expect(message).toMatch(/s\.ts:2:\d+/);
  });

  it("reports a missing default export", async () => {
    expect(await loadError(writeSuite(`export const suite = 1;`))).toMatch(/no default export/);
  });

  it("lets a suite import JSON relative to itself", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effbench-suite-"));
    mkdirSync(join(dir, "data"));
    writeFileSync(
      join(dir, "data", "model.json"),
      JSON.stringify({ name: "j", layers: 1, hidden: 64, heads: 4, ffn: 128, vocab: 97 }),
    );
    const path = join(dir, "s.ts");
    writeFileSync(
      path,
      `import { defineSuite } from "effbench";\nimport m from "./data/model.json";\nexport default defineSuite({ name: "x", models: [m], scenarios: ["prefill"], workloads: [{ promptTokens: 8 }] });`,
    );
    expect((await loadSuite(path)).suite.models[0]!.name).toBe("j");
  });
});

describe("planner", () => {
  async function plan(filter?: string) {
    const loaded = await loadSuite(
      writeSuite(
        `export default defineSuite({ name: "x", models: [${model}], scenarios: ["prefill", "decode"], workloads: [{ promptTokens: 8 }, { batch: 4, promptTokens: 16 }] });`,
      ),
    );
    return planSuite(loaded.suite, { codeVersion: "test", filter });
  }

  it("expands the matrix into cases with stable ids and hashes", async () => {
    const [a, b] = [await plan(), await plan()];
    expect(a).toHaveLength(4);
    expect(new Set(a.map((c) => c.id)).size).toBe(4);
    expect(a.map((c) => c.configHash)).toEqual(b.map((c) => c.configHash));
  });

  it("changes the config hash but not the case key when the code version changes", async () => {
    const loaded = await loadSuite(
      writeSuite(
        `export default defineSuite({ name: "x", models: [${model}], scenarios: ["prefill"], workloads: [{ promptTokens: 8 }] });`,
      ),
    );
    const [v1] = planSuite(loaded.suite, { codeVersion: "1" });
    const [v2] = planSuite(loaded.suite, { codeVersion: "2" });
    expect(v1!.caseKey).toBe(v2!.caseKey);
    expect(v1!.configHash).not.toBe(v2!.configHash);
  });

  it("filters by every term and refuses a filter that matches nothing", async () => {
    expect((await plan("decode b4")).map((c) => c.scenario)).toEqual(["decode"]);
    const all = await plan();
    expect(() => filterCases(all, "nothing-like-this")).toThrow(/matched none of the 4/);
  });

  it("splits cases into disjoint shards that cover the plan", async () => {
    const all = await plan();
    const shards = [1, 2, 3].map((i) => shardCases(all, parseShard(`${i}/3`)));
    expect(
      shards
        .flat()
        .map((c) => c.id)
        .sort(),
    ).toEqual(all.map((c) => c.id).sort());
    expect(() => parseShard("4/3")).toThrow(/1 ≤ i ≤ n/);
  });

  it("leaves out the cases an exclude entry matches on every field it gives, by model name, technique kind or name, workload name", async () => {
    const moe = `{ name: "moe", layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 32, vocab: 97, moe: { experts: 4, topK: 2 } }`;
    const loaded = await loadSuite(
      writeSuite(`export default defineSuite({ name: "x", models: [${model}, ${moe}],
        techniques: [{ kind: "base" }, { kind: "lora", name: "my-lora" }, { kind: "int4" }],
        scenarios: ["prefill", "decode"], workloads: [{ name: "w1", promptTokens: 8 }, { name: "w2", promptTokens: 16 }],
        exclude: [{ model: "moe", technique: ["my-lora", "int4"] }, { workload: "w2", scenario: "decode" }] });`),
    );
    const cases = planSuite(loaded.suite, { codeVersion: "test" });
    // 2 models × 3 techniques × 2 scenarios × 2 workloads = 24; minus moe × {lora, int4} (8), minus decode × w2 on what is left (4).
    expect(cases).toHaveLength(12);
    expect(cases.some((c) => c.model.name === "moe" && c.technique.kind !== "base")).toBe(false);
    expect(cases.some((c) => c.scenario === "decode" && c.workload.name === "w2")).toBe(false);
    expect(cases.filter((c) => c.model.name === "moe")).toHaveLength(3);
  });

  it("refuses an exclude that names something the suite does not have, with the path and what it has", async () => {
    const message = await loadError(
      writeSuite(
        `export default defineSuite({ name: "x", models: [${model}], scenarios: ["prefill"], workloads: [{ promptTokens: 8 }], exclude: [{ model: ["m", "mm"] }, {}] });`,
      ),
    );
    expect(message).toMatch(/exclude\.0\.model\.1|exclude › 0 › model › 1|exclude\[0\]\.model\[1\]/);
    expect(message).toContain('no model "mm" in this suite; its models: m');
    expect(message).toMatch(/an exclude entry needs at least one of model/);
  });
});
