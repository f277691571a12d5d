// The weights and IR one case runs: the base (checkpoint or seeded) after its technique's rewrite. Shared by every runner.
import type { Case } from "../suite/case.js";
import { buildModelIr, type ModelIr } from "./ir.js";
import { type WeightMap } from "./weights.js";
import { synthesizeWeights } from "./model-weights.js";
import { loadCheckpointWeights } from "./checkpoint.js";
import { getTechnique } from "../techniques/registry.js";
import { withRoutingSkew } from "./moe.js";

/** The unmodified model's weights: a real checkpoint's (src/model/checkpoint.ts) or seeded synthetic ones. */
export function caseBaseWeights(c: Pick<Case, "model" | "workload">): WeightMap {
  const weights = c.model.checkpoint ? loadCheckpointWeights(c.model) : synthesizeWeights(c.model);
  return withRoutingSkew(c.model, weights, c.workload.routingSkew); // MoE: skewed routers
}

/** Techniques whose rewrite is costly (a calibration pass, SVDs): their last IR is kept for the same case in this process. */
const MEMOISED_KINDS = new Set(["expert-prune", "mc-smoe", "sub-moe"]);
let memo: { key: string; ir: ModelIr } | undefined;

/** The IR of a case's model after its technique (base: the model as is). */
export function caseIr(c: Case): ModelIr {
  const memoKey = MEMOISED_KINDS.has(c.technique.kind)
    ? JSON.stringify({ model: c.model, technique: c.technique, skew: c.workload.routingSkew })
    : undefined;
  if (memoKey && memo?.key === memoKey) return memo.ir; // e.g. the ort child's build, then its fidelity pass
  const ir = buildModelIr(c.model, caseBaseWeights(c));
  const technique = getTechnique(c.technique.kind);
  if (c.technique.kind === "base") return ir;
  if (!technique.rewriteIr)
    throw new Error(`technique ${c.technique.kind} has no ONNX form (run it on the torch runner)`);
  const result = technique.rewriteIr(ir, c.technique, { routingSkew: c.workload.routingSkew });
  if (memoKey) memo = { key: memoKey, ir: result };
  return result;
}
