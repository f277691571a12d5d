// Fidelity of a case's technique against the unmodified fp32 base (measures in src/model/fidelity.ts): both models run the same fixed,
// seeded prompt through ORT (all positions' logits), off the timed path.
import * as ort from "onnxruntime-node";
import type { Case } from "../../src/suite/case.js";
import type { ScalarMeasure } from "../../src/runner/contract.js";
import { caseIr } from "../../src/model/case-model.js";
import { buildOnnxModel } from "./onnx/onnx.js";
import { fidelity } from "../../src/model/fidelity.js";
import { createRng } from "../../src/measure/stats.js";
import { basename } from "node:path";
import { tokenizeTextFile } from "../../src/model/tokenizer.js";
import { perplexityOfIr } from "./perplexity.js";

/** Tokens of the fixed fidelity prompt (capped: fidelity needs coverage of positions, not a long context). */
const FIDELITY_TOKENS = 32;

export async function caseFidelity(
  c: Case,
  sessionOptions: ort.InferenceSession.SessionOptions,
): Promise<ScalarMeasure[]> {
  const perplexity = c.model.perplexityText ? await casePerplexity(c, sessionOptions) : [];
  if (c.technique.kind === "base") return perplexity;
  const tokens = Math.min(FIDELITY_TOKENS, c.workload.promptTokens);
  const rng = createRng(c.protocol.seed + 1);
  const ids = BigInt64Array.from({ length: tokens }, () => BigInt(Math.floor(rng() * c.model.vocab)));
  const logitsOf = async (target: Case) => {
    const built = buildOnnxModel(target.model, {
      scenario: "prefill",
      ir: caseIr(target),
      batch: 1,
      promptTokens: tokens,
      allLogits: true,
    });
    const session = await ort.InferenceSession.create(built.bytes, sessionOptions);
    try {
      const out = await session.run({ input_ids: new ort.Tensor("int64", ids, [1, tokens]) });
      return out.logits!.data as Float32Array;
    } finally {
      await session.release();
    }
  };
  const base = await logitsOf({ ...c, technique: { kind: "base" } });
  const adapted = await logitsOf(c);
  const f = fidelity(base, adapted, c.model.vocab);
  const label = `vs the unmodified fp32 base on a fixed seeded ${tokens}-token prompt, all positions`;
  // NaN/inf (overflowing logits, a zero base) is not a measurement: null with the reason (IPC JSON would make it a bare null).
  const scalar = (metric: string, unit: string, value: number, text: string): ScalarMeasure =>
    Number.isFinite(value)
      ? { metric, unit, value, label: text }
      : {
          metric,
          unit,
          value: null,
          reason: `not finite (${value}): the logits overflowed or the base logits are all zero`,
        };
  return [
    scalar("rel_l2_error", "ratio", f.relativeL2, `‖technique − base‖₂ ÷ ‖base‖₂ of the logits, ${label}`),
    scalar("max_abs_error", "logit", f.maxAbsError, label),
    scalar("top1_agreement", "ratio", f.top1Agreement, label),
    scalar("kl_base_technique", "nats", f.klDivergence, `KL(base ‖ technique) per position, ${label}`),
    ...perplexity,
  ];
}

/**
 * Perplexity of the technique's model and of the unmodified base on the model's `perplexityText`, tokenised
 * with the checkpoint's tokenizer.json (runners/ort/perplexity.ts: non-overlapping chunks of the context). A
 * failure is a null with its reason, so that the logits fidelity above is still recorded.
 */
export async function casePerplexity(
  c: Case,
  sessionOptions: ort.InferenceSession.SessionOptions,
): Promise<ScalarMeasure[]> {
  const base = c.technique.kind === "base";
  const metrics = base ? ["perplexity"] : ["perplexity", "perplexity_base"];
  let ids: number[];
  try {
    ids = tokenizeTextFile(c.model, c.model.perplexityText!);
  } catch (error) {
    return metrics.map((metric) => ({
      metric,
      unit: "ppl",
      value: null,
      reason: `perplexity not computed: ${(error as Error).message}`,
    }));
  }
  const results: ScalarMeasure[] = [];
  for (const [metric, target] of [
    ["perplexity", c],
    ...(base ? [] : [["perplexity_base", { ...c, technique: { kind: "base" } }]]),
  ] as [string, Case][]) {
    try {
      const r = await perplexityOfIr(caseIr(target), ids, sessionOptions);
      const what = metric === "perplexity_base" ? "the unmodified base" : base ? "the model" : "the technique's model";
      results.push({
        metric,
        unit: "ppl",
        value: r.perplexity,
        label: `${what} on ${basename(c.model.perplexityText!)}: exp(mean NLL) over ${r.predictedTokens} predicted of ${r.textTokens} tokens, ${r.chunks} non-overlapping chunks of ≤ ${r.chunkTokens} tokens (checkpoint tokenizer)`,
      });
    } catch (error) {
      results.push({
        metric,
        unit: "ppl",
        value: null,
        reason: `perplexity not computed: ${(error as Error).message}`,
      });
    }
  }
  return results;
}
