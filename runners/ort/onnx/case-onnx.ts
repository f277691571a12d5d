// The ONNX graph one case runs (what `bench export` writes and the ort runner times), with its inputs.
import type { Case } from "../../../src/suite/case.js";
import { caseIr } from "../../../src/model/case-model.js";
import { moleRouterExperts } from "../../../src/techniques/mole.js";
import { getTechnique } from "../../../src/techniques/registry.js";
import { checkpointNotes, checkpointProvenance } from "../../../src/model/checkpoint.js";
import { buildOnnxModel, type InputSpec } from "./onnx.js";
import { ortTechniqueNotes } from "../technique-notes.js";

export type { InputSpec } from "./onnx.js";

export interface CaseOnnx {
  bytes: Uint8Array;
  inputs: InputSpec[];
  outputs: string[];
  /** How the graph was built, recorded with the result. */
  settings: Record<string, unknown>;
  details: Record<string, unknown>;
}

export function buildCaseOnnx(c: Case): CaseOnnx {
  if (c.scenario !== "prefill" && c.scenario !== "decode")
    throw new Error(`the ONNX model covers prefill and decode, not ${c.scenario}`);
  const ir = caseIr(c);
  // The decode graph does not output the concatenated cache: the runner feeds the same past every
  // iteration, and fetching presents would time a copy of the whole cache into JS (large outputs cost copies).
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
      techniqueNotes: ortTechniqueNotes(c),
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
