// `bench run` with runners ["torch"] (the real CLI, a real suite file): int8, int4, QLoRA-style LoRA over int4, a
// mixture of LoRA experts and a MoE model with a capacity factor end to end, with fidelity and routing in the store
// and the train step of int4 alone recorded as unsupported.
import { describe, expect, it } from "vitest";
import { execa } from "execa";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openStore } from "../../src/store/store.js";
import { writeTinySuite } from "../support/tiny-suite.js";

const bench = resolve("bin/bench.js");

describe("bench run on the torch runner", () => {
  it(
    "stores int8/int4/QLoRA/MixLoRA/MoE-capacity cases with fidelity and routing metrics",
    { timeout: 300_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "effbench-torch-run-"));
      try {
        const suite = writeTinySuite(dir, {
          name: "torch-run",
          model: { name: "micro", layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 64, vocab: 97, maxPositions: 64 },
          scenarios: ["prefill", "train-step"],
          workloads: [{ batch: 1, promptTokens: 12, routingSkew: 1 }],
          extra: [
            `runners: ["torch"]`,
            `torch: { threads: 1 }`,
            `techniques: [{ kind: "int8" }, { kind: "int4" }, { kind: "lora", rank: 4, base: "int4" }, { kind: "mixlora", experts: 4, topK: 2, rank: 4, alpha: 8 }]`,
          ].join(",\n  "),
        });
        const moeSuite = writeTinySuite(dir, {
          file: "moe.ts",
          name: "torch-run-moe",
          model: {
            name: "micro-moe",
            layers: 2,
            hidden: 64,
            heads: 4,
            kvHeads: 2,
            ffn: 64,
            vocab: 97,
            maxPositions: 64,
            moe: { experts: 4, topK: 2, capacityFactor: 0.75 },
          },
          scenarios: ["prefill"],
          workloads: [{ batch: 2, promptTokens: 12, routingSkew: 1 }],
          extra: `runners: ["torch"],\n  torch: { threads: 1 }`,
        });
        const db = join(dir, "r.db");
        for (const file of [suite, moeSuite]) {
          const result = await execa("node", [bench, "run", file, "--db", db], { reject: false });
          expect(result.exitCode, result.stderr).toBe(0);
        }
        const store = await openStore(db, { readonly: true });
        try {
          const results = await store.loadResults();
          const byName = new Map(results.map((r) => [r.caseName, r]));
          const find = (fragment: string) => [...byName.entries()].find(([name]) => name.includes(fragment))![1];
          const metric = (r: (typeof results)[number], name: string) => r.metrics.find((m) => m.name === name);
          expect(find("int4 b32 sym · train-step")).toMatchObject({
            status: "unsupported",
            reason: expect.stringMatching(/^int4 alone is not fine-tuned on torch/),
          });
          expect(find("int8 · train-step")).toMatchObject({ status: "unsupported" });
          for (const fragment of [
            "int8 · prefill",
            "int4 b32 sym · prefill",
            "int4-base unmerged · prefill",
            "mixlora",
          ]) {
            const r = find(fragment);
            expect(r.status, `${fragment}: ${r.reason}`).toBe("completed");
            expect(metric(r, "rel_l2_error")?.value, fragment).toBeGreaterThan(1e-3);
          }
          expect(find("int4-base unmerged · train-step").status).toBe("completed");
          const mixloraStep = find("mixlora E4 top2 r4 α8 ffn:gate,up,down +attn-lora · train-step");
          expect(metric(mixloraStep, "aux_loss_mean_ratio")?.value).toBeGreaterThan(0.5);
          expect(metric(mixloraStep, "routing_max_mean_load")?.value).toBeGreaterThanOrEqual(1);
          const moe = find("micro-moe");
          expect(moe.status).toBe("completed");
          // 24 tokens × top-2 into 4 experts with capacity ceil(0.75 · 48 / 4) = 9 each: at least 48 − 36 dropped per layer.
          expect(metric(moe, "routing_dropped_tokens")?.value).toBeGreaterThanOrEqual(2 * 12);
        } finally {
          await store.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
