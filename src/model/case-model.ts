// The ONNX graph one case runs (what `bench export` writes and the ort runner times), with its inputs.
import type { Case } from "../suite/case.js";
import { buildModelIr, type ModelIr } from "./ir.js";
import { buildOnnxModel, type InputSpec } from "./onnx.js";
import { synthesizeWeights, type WeightMap } from "./weights.js";
import { checkpointNotes, checkpointProvenance, loadCheckpointWeights } from "./checkpoint.js";
import { getTechnique } from "../techniques/registry.js";
import { withRoutingSkew } from "./moe.js";
import { moleRouterExperts } from "../techniques/mole.js";

export type { InputSpec } from "./onnx.js";

export interface CaseOnnx {
  bytes: Uint8Array;
  inputs: InputSpec[];
  outputs: string[];
  /** How the graph was built, recorded with the result. */
  settings: Record<string, unknown>;
  details: Record<string, unknown>;
}

/** The unmodified model's weights: a real checkpoint's (src/model/checkpoint.ts) or seeded synthetic ones. */
export function caseBaseWeights(c: Pick<Case, "model" | "workload">): WeightMap {
  const weights = c.model.checkpoint ? loadCheckpointWeights(c.model) : synthesizeWeights(c.model);
  return withRoutingSkew(c.model, weights, c.workload.routingSkew); // MoE: skewed routers (issue 5)
}

/** The IR of a case's model after its technique (base: the model as is). */
export function caseIr(c: Case): ModelIr {
  const ir = buildModelIr(c.model, caseBaseWeights(c));
  const technique = getTechnique(c.technique.kind);
  if (c.technique.kind === "base") return ir;
  if (!technique.rewriteIr)
    throw new Error(`technique ${c.technique.kind} has no ONNX form (run it on the torch runner)`);
  return technique.rewriteIr(ir, c.technique, { routingSkew: c.workload.routingSkew });
}

export function buildCaseOnnx(c: Case): CaseOnnx {
  if (c.scenario !== "prefill" && c.scenario !== "decode")
    throw new Error(`the ONNX model covers prefill and decode, not ${c.scenario}`);
  const ir = caseIr(c);
  // The decode graph does not output the concatenated cache: the runner feeds the same past every
  // iteration, and fetching presents would time a copy of the whole cache into JS (DESIGN.md §4).
  const built = buildOnnxModel(c.model, {
    scenario: c.scenario,
    ir,
    batch: c.workload.batch,
    promptTokens: c.workload.promptTokens,
    presentOutputs: false,
    routingOutputs: c.model.moe !== undefined || moleRouterExperts(c.technique, c.model) !== undefined,
  });
  return {
    bytes: built.bytes,
    inputs: built.inputSpecs,
    outputs: built.outputs,
    settings: {
      graph:
        c.scenario === "decode"
          ? "decode: one token per sequence, KV cache as inputs (concatenated in-graph), last logits"
          : "prefill: causal, last-position logits",
      weightsDtype: "float32",
      technique: getTechnique(c.technique.kind).label(c.technique),
      techniqueNotes: getTechnique(c.technique.kind).runtimeNotes?.(c.technique, c.runner) ?? [],
      weightsSource: c.model.checkpoint
        ? { checkpoint: checkpointProvenance(c.model), convertedTo: "float32", notes: checkpointNotes(c.model) }
        : { synthesized: c.model.weights },
      ...(c.model.moe
        ? {
            moeCompute:
              "sparse: an If per expert, only experts with routed tokens run, each on its tokens, reading its own weights in place",
          }
        : {}),
    },
    // graphFileBytes: the .onnx file alone — with external data (over ~1.8 GiB) the weights are in a side file, so
    // initializerBytes (every initialiser, wherever stored) is the model's size.
    details: { graphFileBytes: built.bytes.byteLength, initializerBytes: built.initializerBytes, irNotes: ir.notes },
  };
}
