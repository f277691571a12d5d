// Host memory an ort case needs, from arithmetic: the runner holds the weights about three times while it builds
// (the synthesised fp32 tensors, the serialised ONNX model, the session's own copy), plus the KV cache. A model over
// the external-data threshold holds them about once: initialisers past the threshold stream to a side file that ORT
// maps (docs/moe.md, measured: peak RSS ≈ the weights).
import type { Case } from "../../src/suite/case.js";
import type { CaseInspection } from "../../src/inspect.js";
import type { MemoryNeed } from "../../src/runner/contract.js";
import { EXTERNAL_DATA_THRESHOLD_BYTES } from "./onnx/onnx-graph.js";
import { weightCopiesMemory } from "../shared/memory.js";

export function ortHostMemory(_c: Case, inspection: CaseInspection): MemoryNeed {
  if (inspection.weightBytes <= EXTERNAL_DATA_THRESHOLD_BYTES) return weightCopiesMemory(inspection, 3);
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  return {
    hostBytes: inspection.weightBytes + EXTERNAL_DATA_THRESHOLD_BYTES + inspection.kvCacheBytes,
    explanation: `${gib(inspection.weightBytes)} of weights plus up to ${gib(EXTERNAL_DATA_THRESHOLD_BYTES)} in the graph while building (the rest goes to an external-data file)`,
  };
}
