// expert-prune: keep the n most routed experts of every MoE layer (routed frequency on a seeded calibration pass),
// dropping the others' weights and their router rows, so the router picks top-k among the n kept. This is the
// structured (expert-level) stage of STUN (Lee et al. 2024, arXiv 2409.06211) with the frequency criterion MC-SMoE
// uses for dominant experts; STUN's own criterion (behaviour similarity) and its unstructured second stage are not
// modelled. datasets/references/moe-compression.json has the papers' settings.
import { z } from "zod";
import { irFloatTensor, type ModelIr } from "../model/ir.js";
import { routedFrequency } from "../model/moe-calibration.js";
import { moeShapeOf } from "../model/moe.js";
import {
  byFrequency,
  calibrationSchema,
  compressedAccounting,
  compressionUnsupportedReason,
  resolveCalibrationText,
  calibrationKeyParams,
  MOE_COMPRESSION_FAMILY,
  requireMoe,
  rewriteMoeLayers,
} from "./moe-compression.js";
import type { Technique } from "./technique.js";

const params = z
  .object({
    kind: z.literal("expert-prune"),
    name: z.string().optional(),
    /** Experts kept per MoE layer (≥ the model's top-k). */
    keep: z.number().int("expected a whole number").positive("expected a positive integer — experts kept per layer"),
    calibration: calibrationSchema,
  })
  .strict();

export type ExpertPruneParams = z.output<typeof params>;

function check(p: ExpertPruneParams, experts: number, topK: number): string | undefined {
  if (p.keep > experts)
    return `expert-prune keep ${p.keep}: the model has ${experts} experts — keep at most ${experts}`;
  if (p.keep < topK) return `expert-prune keep ${p.keep}: fewer than top-${topK} — keep at least ${topK} experts`;
  return undefined;
}

/** The kept experts of a layer (most routed first on the calibration pass), in their original order. */
export function keptExperts(frequency: number[], keep: number): number[] {
  return byFrequency(frequency)
    .slice(0, keep)
    .sort((a, b) => a - b);
}

export function pruneExperts(ir: ModelIr, p: ExpertPruneParams): ModelIr {
  const { experts, topK } = requireMoe("expert-prune", ir);
  const reason = check(p, experts, topK);
  if (reason) throw new Error(reason);
  return rewriteMoeLayers(
    ir,
    p.calibration,
    (ffn, _layer, calib, tensors) => {
      const kept = keptExperts(routedFrequency(calib), p.keep);
      const rows = (name: string) => {
        const t = irFloatTensor(ir, name);
        const width = t.data.length / t.shape[0]!;
        const data = new Float32Array(kept.length * width);
        kept.forEach((e, i) => data.set(t.data.subarray(e * width, (e + 1) * width), i * width));
        tensors.set(name, { shape: [kept.length, ...t.shape.slice(1)], data });
      };
      for (const name of [ffn.router, ffn.gateUp, ffn.down, ...(ffn.routerBias ? [ffn.routerBias] : [])]) rows(name);
      return { ...ffn, experts: kept.length };
    },
    `expert-prune: kept the ${p.keep} most routed of ${experts} experts per MoE layer (router rows dropped)`,
  );
}

export const expertPruneTechnique: Technique<typeof params> = {
  kind: "expert-prune",
  params,
  label: (p) => `expert-prune keep ${p.keep}`,
  family: MOE_COMPRESSION_FAMILY,
  unsupportedReason: (p, scenario, model) =>
    compressionUnsupportedReason("expert-prune", scenario, model, (e, k) => check(p, e, k), p.calibration),
  expandInput: resolveCalibrationText,
  caseKeyParams: calibrationKeyParams,
  rewriteIr: pruneExperts,
  account: (model, p) => {
    const s = moeShapeOf(model);
    const perExpert = 3 * model.hidden * s.expertFfn;
    return compressedAccounting(model, {
      routerExperts: p.keep,
      stored: p.keep,
      storedParams: p.keep * perExpert,
      indexEntries: 0,
      perSlotParams: perExpert,
      notes: [`${p.keep} of ${s.experts} experts kept per MoE layer, router rows of the pruned experts dropped`],
    });
  },
};
