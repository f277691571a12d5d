// RSLoRA (Kalajdzievski 2023): LoRA with scaling α/√r, stable at high ranks.
import { adapterAccounting, adapterLabel, adapterParams, adapterUnsupportedReason, applyAdapter } from "./adapters.js";
import type { Technique } from "./technique.js";

const params = adapterParams("rslora");

export const rsloraTechnique: Technique<typeof params> = {
  kind: "rslora",
  family: "adapter",
  params,
  label: (p) => adapterLabel("rslora", p),
  unsupportedReason: (p) => adapterUnsupportedReason("rslora", p),
  rewriteIr: (ir, p) => applyAdapter(ir, "rslora", p),
  account: (model, p) => adapterAccounting(model, "rslora", p),
};
