// LoRA (Hu et al. 2021): y = W·x + (α/r)·B·A·x.
import { adapterAccounting, adapterLabel, adapterParams, adapterUnsupportedReason, applyAdapter } from "./adapters.js";
import type { Technique } from "./technique.js";

const params = adapterParams("lora");

export const loraTechnique: Technique<typeof params> = {
  kind: "lora",
  family: "adapter",
  params,
  label: (p) => adapterLabel("lora", p),
  unsupportedReason: (p) => adapterUnsupportedReason("lora", p),
  rewriteIr: (ir, p) => applyAdapter(ir, "lora", p),
  account: (model, p) => adapterAccounting(model, "lora", p),
};
