// Any peft tuner through the `peft` technique on the torch runner: counts equal arithmetic where the formula is simple,
// seeded adapters are not identity, merged logits equal unmerged ones, train-step and adapter-swap run, and config
// mistakes or tuners peft refuses are reported with where and why.
import { describe, expect, it } from "vitest";
import { relativeL2 } from "../../src/model/fidelity.js";
import { getTechnique } from "../../src/techniques/registry.js";
import type { PeftParams } from "../../src/techniques/peft.js";
import { ortStaticReason } from "../../runners/ort/support.js";
import { completed, planCase, repeatContext, tokens, torchRunnerForFile, TINY_MODEL } from "./helpers.js";

const torchRunner = torchRunnerForFile("peft");
const qv = ["q_proj", "v_proj"];
const peft = (config: Record<string, unknown>, extra: object = {}) => ({
  kind: "peft",
  config: { target_modules: qv, ...config },
  ...extra,
});
const ids = tokens(1, 12, TINY_MODEL.vocab);

describe("peft tuners on the torch runner", () => {
  it("counts equal independent arithmetic for LoRA, LoHa, IA3 and VeRA", { timeout: 120_000 }, async () => {
    // TINY_MODEL: hidden 64, 4 heads (head dim 16), 2 KV heads → q_proj [64, 64], v_proj [32, 64]; 2 layers.
    const expected: [Record<string, unknown>, number][] = [
      [{ peft_type: "LORA", r: 4 }, 2 * (4 * (64 + 64) + 4 * (64 + 32))],
      [{ peft_type: "LOHA", r: 4 }, 2 * 2 * (4 * (64 + 64) + 4 * (64 + 32))],
      [
        { peft_type: "IA3", target_modules: ["k_proj", "down_proj"], feedforward_modules: ["down_proj"] },
        2 * (32 + 128),
      ],
      [{ peft_type: "VERA", r: 8 }, 2 * (8 + 64 + 8 + 32)],
    ];
    for (const [config, trainable] of expected) {
      const c = planCase({ techniques: [peft(config) as never] });
      const counts = await torchRunner().inspect(c);
      expect([config, counts.trainable]).toEqual([config, trainable]);
      const a = getTechnique("peft").account!(c.model, c.technique as PeftParams);
      expect(a.trainableParams).toBe(trainable);
      expect(a.totalParams).toBe(counts.total);
    }
  });

  const mergeable = [
    { peft_type: "LORA", r: 4 },
    { peft_type: "LOHA", r: 4 },
    { peft_type: "LOKR", r: 4 },
    { peft_type: "IA3", target_modules: ["k_proj", "down_proj"], feedforward_modules: ["down_proj"] },
    { peft_type: "BOFT", boft_block_size: 4 },
    { peft_type: "HRA", r: 4 },
  ];
  for (const config of mergeable)
    it(`${config.peft_type}: not identity, and merged logits equal unmerged`, { timeout: 120_000 }, async () => {
      const base = await torchRunner().forwardLogits(planCase({}), ids);
      const unmerged = await torchRunner().forwardLogits(planCase({ techniques: [peft(config) as never] }), ids);
      const merged = await torchRunner().forwardLogits(
        planCase({ techniques: [peft(config, { merged: true }) as never] }),
        ids,
      );
      // The seeded adapter moves the logits by about 10 % (calibrated), so it is not identity…
      expect(relativeL2(unmerged.data, base.data)).toBeGreaterThan(0.02);
      // …and merging it changes nothing but rounding.
      expect(relativeL2(merged.data, unmerged.data)).toBeLessThan(1e-5);
      expect(String(unmerged.counts.adapterInit)).toMatch(/seeded/);
    });

  it("runs train-step, adapter-swap and merge for a LoHa", { timeout: 180_000 }, async () => {
    for (const scenario of ["train-step", "adapter-swap", "merge"] as const) {
      const c = planCase({ techniques: [peft({ peft_type: "LOHA", r: 4 }) as never], scenarios: [scenario] });
      const outcome = completed(await torchRunner().runRepeat(c, repeatContext()));
      expect(outcome.series[0]!.values.length).toBeGreaterThan(0);
    }
  });

  it("a config mistake names where it is; a tuner peft refuses is unsupported with peft's reason", async () => {
    const typo = planCase({ techniques: [peft({ peft_type: "LORA", rr: 4 }) as never] });
    const outcome = await torchRunner().runRepeat(typo, repeatContext());
    expect(outcome.status).toBe("failed");
    expect(outcome.status !== "completed" && outcome.reason).toMatch(
      /technique › config › rr: LoraConfig has no field 'rr'/,
    );
    const unknown = planCase({ techniques: [peft({ peft_type: "NOPE" }) as never] });
    expect((await torchRunner().runRepeat(unknown, repeatContext())).status !== "completed").toBe(true);
    // RoAd needs out_features divisible by its group size (v_proj's 32 is not divisible by 64).
    const road = planCase({ techniques: [peft({ peft_type: "ROAD", group_size: 64 }) as never] });
    const refused = await torchRunner().runRepeat(road, repeatContext());
    expect(refused.status).toBe("unsupported");
    expect(refused.status === "unsupported" && refused.reason).toMatch(/divisible by group_size/);
    const prefix = planCase({
      techniques: [{ kind: "peft", config: { peft_type: "PREFIX_TUNING", num_virtual_tokens: 4 } } as never],
    });
    const prompt = await torchRunner().runRepeat(prefix, repeatContext());
    expect(prompt.status === "unsupported" && prompt.reason).toMatch(/prompt-learning/);
  });

  it("runs over worker-seeded weights too (no weights file)", { timeout: 120_000 }, async () => {
    const seededModel = { ...TINY_MODEL, weights: { seed: 3, source: "worker" } };
    const base = await torchRunner().forwardLogits(planCase({ models: [seededModel as never] }), ids);
    const adapted = await torchRunner().forwardLogits(
      planCase({ models: [seededModel as never], techniques: [peft({ peft_type: "LOHA", r: 4 }) as never] }),
      ids,
    );
    expect(adapted.counts.weightsSource).toBe("worker-seeded");
    expect(relativeL2(adapted.data, base.data)).toBeGreaterThan(0.02);
  });

  it("the ort runner refuses peft tuners with the reason", () => {
    const c = planCase({ techniques: [peft({ peft_type: "LOHA" }) as never] });
    expect(ortStaticReason({ ...c, runner: "ort" } as typeof c)).toMatch(/peft LOHA runs on the torch runner only/);
  });
});
