import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REFERENCE_FILES, allReferences } from "../../datasets/references/index.js";
import { referenceFileSchema, referenceSchema } from "../../datasets/schema.js";
import { fromRoot } from "../../src/paths.js";

const dir = fromRoot("datasets/references");

describe("reference files", () => {
  it("every JSON file validates and is exported by the index", () => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    expect(files.length).toBe(REFERENCE_FILES.length);
    for (const file of files) {
      const parsed = referenceFileSchema.safeParse(JSON.parse(readFileSync(join(dir, file), "utf8")));
      expect(parsed.success, `${file}: ${parsed.success ? "" : parsed.error.message}`).toBe(true);
    }
  });

  it("ids are unique across all files", () => {
    const ids = allReferences().map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("carries the EfficientLLM headline ratios the report puts beside ours", () => {
    const byId = new Map(allReferences().map((r) => [r.id, r]));
    expect(byId.get("efficientllm-int4-bf16-amu-qwen2.5-32b")).toMatchObject({
      metric: "amu_bytes",
      paperValue: 0.68,
      numerator: { technique: "int4" },
      denominator: { technique: "bf16" },
    });
    expect(byId.get("efficientllm-int4-bf16-it-qwen2.5-32b")?.paperValue).toBe(1.09);
    expect(byId.get("efficientllm-int4-bf16-aec-qwen2.5-32b")).toMatchObject({
      metric: "mean_power_w",
      paperValue: 0.77,
    });
    expect(byId.get("efficientllm-int4-bf16-mcr-qwen2.5-32b")?.paperValue).toBe(3.7);
    expect(byId.get("efficientllm-moe-dense-amu-1.5b")).toMatchObject({
      valueKind: "computed",
      numerator: { paperValue: 76.5 },
      denominator: { paperValue: 44.8 },
    });
  });

  const valid = {
    id: "x",
    claim: "c",
    metric: "latency_s",
    paperMetric: "AL (s)",
    numerator: { technique: "int4", paperValue: 2 },
    denominator: { technique: "bf16", paperValue: 4 },
    paperValue: 0.5,
    valueKind: "computed",
    regime: { device: "H100", precision: "bf16", scale: "7B", scenario: "decode" },
    citation: { source: "s", section: "Table 1" },
    confidence: "checked",
  };

  it("rejects a computed ratio that does not equal the quotient of its two printed values", () => {
    expect(referenceSchema.safeParse(valid).success).toBe(true);
    const wrong = referenceSchema.safeParse({ ...valid, paperValue: 0.6 });
    expect(wrong.success).toBe(false);
    expect(wrong.error?.issues[0]?.message).toMatch(/computed ratio 0.6 ≠ 2 ÷ 4/);
  });

  it("rejects a direction that contradicts the value, and a direction-only claim with a value", () => {
    expect(referenceSchema.safeParse({ ...valid, direction: "numerator-higher" }).success).toBe(false);
    expect(referenceSchema.safeParse({ ...valid, valueKind: "direction", direction: "numerator-higher" }).success).toBe(
      false,
    );
    expect(
      referenceSchema.safeParse({ ...valid, valueKind: "direction", paperValue: null, direction: "numerator-higher" })
        .success,
    ).toBe(true);
  });

  it("rejects a metric name that is not one of ours", () => {
    expect(referenceSchema.safeParse({ ...valid, metric: "AMU" }).success).toBe(false);
  });
});
