// DynMoLE's hybrid routing (Li et al. 2025, "DynMoLE: Boosting Mixture of LoRA Experts Fine-Tuning with a Hybrid
// Routing Mechanism", arXiv 2504.00661; the authors' code, moe_peft/adapters/dynmole/model.py `_dynamic_routing`):
// per token, p = softmax(router logits); the experts whose sorted cumulative probability stays ≤ topP are kept, and
// at least the topK most probable; when the normalised Tsallis entropy of p exceeds entropyThreshold (an uncertain
// router) every expert is kept instead. The gate is p on the kept experts (not renormalised), so the number of active
// experts varies per token: topK … E. docs/mole.md has the parameters.
import { z } from "zod";

export const dynmoleRouterSchema = z
  .object({
    kind: z.literal("dynmole"),
    /** Tsallis entropy index q (the paper's default 1.1; 1 = Shannon). */
    tsallisQ: z.number().gt(0).lte(2).default(1.1),
    /** Normalised entropy above which a token uses every expert (0 < threshold ≤ 1). */
    entropyThreshold: z.number().gt(0).lte(1).default(0.9),
    topP: z.number().gt(0).lte(1).default(0.75),
    /** Experts always kept (the most probable). */
    topK: z.number().int("expected a whole number").positive("expected a positive integer").default(2),
  })
  .strict();

export type DynmoleRouter = z.output<typeof dynmoleRouterSchema>;

/** The ε the reference code adds to p inside the entropy. */
export const TSALLIS_EPS = 1e-5;

/** Normalised Tsallis entropy of a distribution p (as the DynMoLE code: p + ε, divided by the uniform maximum). */
export function normalizedTsallisEntropy(p: ArrayLike<number>, q: number): number {
  const n = p.length;
  if (q === 1) {
    let h = 0;
    for (let i = 0; i < n; i++) h -= (p[i]! + TSALLIS_EPS) * Math.log(p[i]! + TSALLIS_EPS);
    return h / Math.log(n);
  }
  let s = 0;
  for (let i = 0; i < n; i++) s += (p[i]! + TSALLIS_EPS) ** q;
  return (1 - s) / (q - 1) / ((1 - n ** (1 - q)) / (q - 1));
}

/** The kept-expert mask (1/0) of one token's probabilities, and its entropy. Sort ties go to the lower index. */
export function dynmoleMask(p: ArrayLike<number>, router: DynmoleRouter): { mask: Float64Array; entropy: number } {
  const n = p.length;
  const mask = new Float64Array(n);
  const entropy = normalizedTsallisEntropy(p, router.tsallisQ);
  if (entropy > router.entropyThreshold) return { mask: mask.fill(1), entropy };
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[b]! - p[a]! || a - b);
  let cumulative = 0;
  order.forEach((e, rank) => {
    cumulative += p[e]!;
    if (cumulative <= router.topP || rank < router.topK) mask[e] = 1;
  });
  return { mask, entropy };
}

/** Name of the kept-expert mask output [T, E] of a DynMoLE router. */
export const dynmoleMaskOutput = (layer: number, projection: string) => `router_mask.${layer}.${projection}`;
