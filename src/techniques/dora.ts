// DoRA (Liu et al. 2024): magnitude m and direction (W + s·B·A)/‖W + s·B·A‖ per output feature; unmerged recomputes the norm each forward, as peft does by default.
import { adapterAccounting, adapterLabel, adapterParams, adapterUnsupportedReason, applyAdapter } from "./adapters.js";
import type { Technique } from "./technique.js";

const params = adapterParams("dora");

export const doraTechnique: Technique<typeof params> = {
  kind: "dora",
  family: "adapter",
  params,
  label: (p) => adapterLabel("dora", p),
  unsupportedReason: (p) => adapterUnsupportedReason("dora", p),
  rewriteIr: (ir, p) => applyAdapter(ir, "dora", p),
  account: (model, p) => adapterAccounting(model, "dora", p),
};
