// Worker-seeded weights: for a model whose weight file would be large, the torch worker initialises the weights from the
// seed on the device instead of the harness writing them (about 7 s per GB, and a Mixtral-8x7B shape in fp32 would not
// fit a 64 GiB disk). Same seed, same device type and torch version → the same tensors.
import type { Case } from "../../src/suite/case.js";
import { accountModel } from "../../src/model/accounting.js";

/** fp32 weight bytes above which a torch case's weights are worker-seeded unless the model says `weights.source`. */
export const WORKER_SEEDED_THRESHOLD_BYTES = 8 * 2 ** 30;

/** Whether the worker seeds this case's weights (no weights file is written). Checkpoints always load their own. */
export function workerSeeded(c: Case): boolean {
  if (c.model.checkpoint) return false;
  if (c.model.hf) return true; // a transformers config: no IR weights to write, the worker seeds them
  const source = c.model.weights.source;
  if (source !== undefined) return source === "worker";
  return accountModel(c.model).weightBytes > WORKER_SEEDED_THRESHOLD_BYTES;
}
