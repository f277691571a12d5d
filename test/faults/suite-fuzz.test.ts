// Fuzz of the suite loader: random mutations of a valid suite never crash with a stack trace —
// every rejection is a validation message (UsageError) naming a path.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSuite, validateSuite } from "../../src/suite/loader.js";
import { createRng } from "../../src/measure/stats.js";
import { UsageError } from "../../src/messages.js";

const valid = {
  name: "fuzz",
  models: [
    { name: "m", layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97, moe: { experts: 4, topK: 2 } },
  ],
  techniques: [{ kind: "base" }],
  scenarios: ["prefill", "decode"],
  workloads: [{ batch: 1, promptTokens: 16, routingSkew: 0.5 }],
  runners: ["ort"],
  protocol: { repeats: 2, minMeasureMs: 100 },
};

const junk: unknown[] = [
  0,
  -1,
  1.5,
  1e308,
  NaN,
  Infinity,
  "",
  "x",
  "<script>",
  null,
  undefined,
  true,
  [],
  {},
  [1, 2],
  { kind: "nope" },
  2 ** 53,
  "prefill",
];

function mutate(value: unknown, rng: () => number): unknown {
  if (Array.isArray(value)) {
    const copy = value.map((v) => (rng() < 0.3 ? mutate(v, rng) : v));
    if (rng() < 0.1) copy.push(junk[Math.floor(rng() * junk.length)]);
    if (rng() < 0.1) copy.pop();
    return copy;
  }
  if (value && typeof value === "object") {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(copy);
    const key = keys[Math.floor(rng() * keys.length)];
    const roll = rng();
    if (key === undefined || roll < 0.15)
      copy[`extra${Math.floor(rng() * 10)}`] = junk[Math.floor(rng() * junk.length)];
    else if (roll < 0.3) delete copy[key];
    else if (roll < 0.6) copy[key] = junk[Math.floor(rng() * junk.length)];
    else copy[key] = mutate(copy[key], rng);
    return copy;
  }
  return rng() < 0.5 ? junk[Math.floor(rng() * junk.length)] : value;
}

describe("suite loader fuzz", () => {
  it("answers 2,000 mutated suites with a resolved suite or a validation message, never a crash", () => {
    const rng = createRng(20261127);
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const candidate = mutate(mutate(structuredClone(valid), rng), rng);
      try {
        validateSuite(candidate, "suites/fuzz.ts");
      } catch (error) {
        expect(error, `mutation ${i}: ${JSON.stringify(candidate)}`).toBeInstanceOf(UsageError);
        expect((error as Error).message).toMatch(/suites\/fuzz\.ts › /);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(500);
  });

  it("answers mutated suite source text with a message, never a stack trace", async () => {
    const source = `import { defineSuite } from "effbench";\nexport default defineSuite(${JSON.stringify(valid)});\n`;
    const rng = createRng(7);
    const dir = mkdtempSync(join(tmpdir(), "effbench-fuzz-"));
    for (let i = 0; i < 60; i++) {
      const chars = [...source];
      for (let k = 0; k < 3; k++) {
        const at = Math.floor(rng() * chars.length);
        const roll = rng();
        if (roll < 0.33) chars.splice(at, 1);
        else if (roll < 0.66) chars.splice(at, 0, "{}[],:\"'`;)(x0"[Math.floor(rng() * 14)]!);
        else chars[at] = chars[Math.floor(rng() * chars.length)]!;
      }
      const path = join(dir, `s${i}.ts`);
      writeFileSync(path, chars.join(""));
      try {
        await loadSuite(path);
      } catch (error) {
        expect(error, `mutation ${i}`).toBeInstanceOf(UsageError);
      }
    }
  });
});
