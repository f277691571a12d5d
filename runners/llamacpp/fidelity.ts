// Fidelity of a llamacpp case against the unmodified fp32 base, from what node-llama-cpp exposes: the full next-token
// probability distribution at each position of a fixed seeded prompt (no logits), for the case's model (and
// adapter) and for the base written as an F32 GGUF, both run by llama.cpp with the case's settings, off the timed path.
import type { LlamaModel, Token } from "node-llama-cpp";
import type { Case } from "../../src/suite/case.js";
import type { ScalarMeasure } from "../../src/runner/contract.js";
import { klDivergence, top1Agreement } from "../../src/model/fidelity.js";
import type { LlamacppSettings } from "./settings.js";
import { createContext } from "./session.js";
import { seededTokens } from "./scenarios.js";

/** Tokens of the fixed fidelity prompt (as the ort runner's). */
export const FIDELITY_TOKENS = 32;

/** log p(next token) [positions × vocab] at every position of `ids`, as llama.cpp computes them. */
export async function nextTokenLogProbs(
  model: LlamaModel,
  settings: LlamacppSettings,
  ids: number[],
  vocab: number,
  adapters?: { filePath: string }[],
): Promise<Float64Array> {
  const context = await createContext(model, settings, { contextSize: ids.length + 1, sequences: 1, adapters });
  try {
    const out = await context
      .getSequence()
      .controlledEvaluate(ids.map((t) => [t as Token, { generateNext: { probabilities: true } }]));
    const logProbs = new Float64Array(ids.length * vocab).fill(-Infinity);
    out.forEach((item, position) => {
      const probabilities = item?.next?.probabilities;
      if (!probabilities) throw new Error(`llama.cpp returned no probabilities at position ${position}`);
      for (const [token, p] of probabilities) logProbs[position * vocab + token] = Math.log(p);
    });
    return logProbs;
  } finally {
    await context.dispose();
  }
}

export function fidelityPromptOf(c: Case): number[] {
  return seededTokens(c, 1, Math.min(FIDELITY_TOKENS, c.workload.promptTokens), 1)[0]!;
}

/** KL(base ‖ technique) and top-1 agreement of the next-token distributions; the logit-based measures are null. */
export function fidelityMeasures(
  base: Float64Array,
  technique: Float64Array,
  vocab: number,
  tokens: number,
): ScalarMeasure[] {
  const label = `next-token distributions vs the unmodified base as an F32 GGUF in llama.cpp, fixed seeded ${tokens}-token prompt, all positions`;
  const kl = klDivergence(base, technique, vocab);
  const top1 = top1Agreement(technique, base, vocab);
  const noLogits = "node-llama-cpp exposes next-token probabilities, not logits: KL and top-1 are measured instead";
  const scalar = (metric: string, unit: string, value: number, text: string): ScalarMeasure =>
    Number.isFinite(value)
      ? { metric, unit, value, label: text }
      : { metric, unit, value: null, reason: `not finite (${value}): a probability underflowed to 0` };
  return [
    scalar("kl_base_technique", "nats", kl, `KL(base ‖ technique) per position, ${label}`),
    scalar("top1_agreement", "ratio", top1, label),
    { metric: "rel_l2_error", unit: "ratio", value: null, reason: noLogits },
    { metric: "max_abs_error", unit: "logit", value: null, reason: noLogits },
  ];
}
