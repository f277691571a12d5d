// MoE compression calibrated on a text: a real Mixtral checkpoint written by transformers with its own tokenizer;
// the calibration tokens are the text's tokens as transformers' tokenizer gives them, the path resolves against the
// suite's folder, the case key names the text by content, and a synthesised model (no tokenizer) is refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { validateSuite } from "../../src/suite/loader.js";
import { planSuite } from "../../src/suite/planner.js";
import { caseIr } from "../../src/model/case-model.js";
import { calibrationInput } from "../../src/model/moe-calibration.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { modelSchema } from "../../src/suite/schema.js";
import type { MoeFfn } from "../../src/model/moe.js";
import { UsageError } from "../../src/messages.js";
import { writeCheckpoints, type CheckpointFixture } from "../model/checkpoint-fixtures.js";

let root: string;
let mixtral: CheckpointFixture;

beforeAll(() => {
  const written = writeCheckpoints([
    { name: "mixtral-tok", arch: "mixtral", dtype: "float32", tie: false, maxShardBytes: 10_000_000, tokenizer: true },
  ]);
  root = written.root;
  mixtral = written.fixtures[0]!;
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const calibration = { text: "text.txt", sequences: 2, sequenceLength: 24, seed: 0 };
const plan = (baseDir: string, model: object = { checkpoint: "mixtral-tok" }, text = calibration.text) =>
  planSuite(
    validateSuite(
      {
        name: "calib-text",
        models: [model],
        techniques: [{ kind: "expert-prune", keep: 3, calibration: { ...calibration, text } }],
        scenarios: ["prefill"],
        workloads: [{ promptTokens: 8 }],
      },
      "calib-text.ts",
      baseDir,
    ).suite,
    { codeVersion: "test" },
  );

describe("MoE compression calibrated on a text with the checkpoint's tokenizer", () => {
  it("calibrates on the text's first tokens as transformers tokenises them, and says so", () => {
    const [c] = plan(root);
    const params = c!.technique as { calibration: { text: string } };
    expect(params.calibration.text).toBe(join(root, "text.txt"));
    const ids = calibrationInput(c!.model, { ...calibration, text: params.calibration.text });
    expect(ids).toEqual([mixtral.textIds!.slice(0, 24), mixtral.textIds!.slice(24, 48)]);
    const ir = caseIr(c!);
    for (const layer of ir.layers) expect((layer.ffn as MoeFfn).experts).toBe(3);
    expect(ir.notes.join("\n")).toMatch(/calibration: the first 2 × 24 tokens of text\.txt \(checkpoint tokenizer\)/);
  });

  it("names the text by content in the case key: the same text in another folder is the same case", () => {
    const other = join(root, "elsewhere");
    mkdirSync(other, { recursive: true });
    copyFileSync(join(root, "text.txt"), join(other, "calibration.txt"));
    const [a] = plan(root);
    const [b] = plan(root, { checkpoint: "mixtral-tok" }, "elsewhere/calibration.txt");
    expect(a!.caseKey).toMatch(/text\.txt#[0-9a-f]{16}/);
    expect(a!.caseKey).not.toContain(root);
    expect(b!.caseKey.replace("calibration.txt", "text.txt")).toBe(a!.caseKey);
  });

  it("says which technique's text is missing, and refuses a text for a model without a tokenizer", () => {
    let message = "";
    try {
      plan(root, { checkpoint: "mixtral-tok" }, "missing.txt");
    } catch (error) {
      expect(error).toBeInstanceOf(UsageError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/techniques\[0\]\.calibration\.text: .*missing\.txt does not exist/);
    const synthesised = modelSchema.parse({
      name: "synth-moe",
      layers: 1,
      hidden: 32,
      heads: 4,
      ffn: 48,
      vocab: 64,
      moe: { experts: 4, topK: 2 },
    });
    const technique = getTechnique("expert-prune");
    const params = technique.params.parse({ kind: "expert-prune", keep: 3, calibration: { text: "/x.txt" } });
    expect(technique.unsupportedReason(params, "prefill", synthesised)).toMatch(
      /calibration\.text needs the model's tokenizer: model synth-moe is synthesised/,
    );
  });
});
