// Report families: what kind of change a technique makes to the base model, for grouping in the report. Derived from
// the registry's implementation family (adapter, quantized, half, mole, peft) and, for peft, the tuner's type.
export const TECHNIQUE_FAMILIES = [
  "base",
  "LoRA-like",
  "orthogonal",
  "Kronecker",
  "vector-based",
  "mixtures",
  "quantised",
  "other",
] as const;
export type ReportFamily = (typeof TECHNIQUE_FAMILIES)[number];

/** peft 0.21's tuner types by family (prompt-learning types are refused by the torch worker). */
const PEFT_FAMILIES: Record<string, ReportFamily> = {
  LORA: "LoRA-like",
  ADALORA: "LoRA-like",
  LOHA: "LoRA-like",
  RANDLORA: "LoRA-like",
  VBLORA: "LoRA-like",
  DELORA: "LoRA-like",
  GRALORA: "LoRA-like",
  MISS: "LoRA-like",
  SHIRA: "LoRA-like",
  TINYLORA: "LoRA-like",
  HIRA: "LoRA-like",
  LILY: "LoRA-like",
  UNILORA: "LoRA-like",
  GLORA: "LoRA-like",
  OFT: "orthogonal",
  BOFT: "orthogonal",
  HRA: "orthogonal",
  ROAD: "orthogonal",
  PSOFT: "orthogonal",
  LOKR: "Kronecker",
  IA3: "vector-based",
  VERA: "vector-based",
  PVERA: "vector-based",
  FOURIERFT: "vector-based",
  WAVEFT: "vector-based",
  C3A: "vector-based",
  LN_TUNING: "vector-based",
  XLORA: "mixtures",
  POLY: "mixtures",
};

export function peftFamily(peftType: string): ReportFamily {
  return PEFT_FAMILIES[peftType.toUpperCase()] ?? "other";
}

const BY_IMPLEMENTATION: Record<string, ReportFamily> = {
  base: "base",
  adapter: "LoRA-like",
  quantized: "quantised",
  half: "quantised",
  mole: "mixtures",
};

/** The report family of a technique config, from its registry family (`implementation`) and its parameters. */
export function reportFamily(implementation: string, technique: { config?: { peft_type?: unknown } }): ReportFamily {
  if (implementation === "peft") return peftFamily(String(technique.config?.peft_type ?? ""));
  return BY_IMPLEMENTATION[implementation] ?? "other";
}
