// Host memory of a runner that holds its weights `copies` times while it builds the model (synthesised tensors, a
// serialised or written copy, the engine's own), plus the KV cache: the estimate behind the up-front refusal.
import type { CaseInspection } from "../../src/inspect.js";
import type { MemoryNeed } from "../../src/runner/contract.js";

export function weightCopiesMemory(inspection: CaseInspection, copies: number): MemoryNeed {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  return {
    hostBytes: copies * inspection.weightBytes + inspection.kvCacheBytes,
    explanation: `${copies} × ${gib(inspection.weightBytes)} of weights while building`,
  };
}
