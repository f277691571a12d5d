import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WORKLOAD_DATASETS, workloadsFrom } from "../../datasets/workloads/index.js";
import { workloadDatasetSchema } from "../../datasets/schema.js";
import { fromRoot } from "../../src/paths.js";
import { workloadSchema } from "../../src/suite/schema.js";

const dir = fromRoot("datasets/workloads");

describe("workload datasets", () => {
  it("every JSON file validates, is named after its id and is exported by the index", () => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    expect(files.length).toBe(WORKLOAD_DATASETS.length);
    for (const file of files) {
      const parsed = workloadDatasetSchema.safeParse(JSON.parse(readFileSync(join(dir, file), "utf8")));
      expect(parsed.success, `${file}: ${parsed.success ? "" : parsed.error.message}`).toBe(true);
      if (parsed.success) expect(`${parsed.data.id}.json`).toBe(file);
    }
  });

  it("covers chat, summarisation and code", () => {
    expect(new Set(WORKLOAD_DATASETS.map((d) => d.task))).toEqual(new Set(["chat", "summarisation", "code"]));
  });

  it("turns a dataset's points into suite workloads, marking capped ones", () => {
    expect(workloadsFrom("chat-sharegpt")).toEqual([
      { name: "sharegpt-mean", batch: 1, promptTokens: 161, newTokens: 338 },
    ]);
    const capped = workloadsFrom("chat-sharegpt", { batch: 4, maxNewTokens: 32 });
    expect(capped).toEqual([{ name: "sharegpt-mean-capped", batch: 4, promptTokens: 161, newTokens: 32 }]);
    for (const dataset of WORKLOAD_DATASETS)
      for (const workload of workloadsFrom(dataset.id as Parameters<typeof workloadsFrom>[0]))
        expect(() => workloadSchema.parse(workload)).not.toThrow();
  });

  it("rejects a dataset without a citation", () => {
    const { citation: _citation, ...rest } = WORKLOAD_DATASETS[0]!;
    expect(workloadDatasetSchema.safeParse(rest).success).toBe(false);
  });
});
