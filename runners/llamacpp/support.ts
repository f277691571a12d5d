// What the llamacpp runner can run, known from the case alone: the scenarios llama.cpp has, the techniques that have
// a GGUF form (base, quant, LoRA / RSLoRA merged or as adapters), by technique family, and why the others have none.
import type { Case } from "../../src/suite/case.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { ggufModelRefusal } from "./gguf/model-gguf.js";
import { caseFileType } from "./prepare.js";

const SCENARIOS = new Set(["prefill", "decode", "generate", "adapter-swap"]);

const MOLE =
  "mixtures of LoRA experts route tokens between adapters (X-LoRA scales them per token); llama.cpp applies every attached adapter to every token at a fixed per-context scale, so the MoLE designs have no llama.cpp form";
const DORA =
  "DoRA has no GGUF adapter form: llama.cpp's adapters add s·B·A to a weight, while DoRA renormalises each output row by its magnitude vector on every forward (use lora, or merge DoRA on another runner)";

/** Why a technique family has no llama.cpp form (families not listed here, nor supported, get a generic reason). */
const FAMILY_REASON: Record<string, (kind: string) => string> = {
  mole: () => MOLE,
  quantized: (kind) =>
    `${kind} is the ONNX / torch form of weight quantisation: on the llamacpp runner use the quant technique (type q8_0, q4_0, q4_k_m…)`,
  half: (kind) =>
    `on the llamacpp runner, ${kind} weights are the quant technique's type ${kind} (or the runner's weights: ${kind})`,
};

export function llamacppUnsupportedReason(c: Case): string | undefined {
  if (!SCENARIOS.has(c.scenario))
    return `llama.cpp runs inference only: the llamacpp runner has no ${c.scenario} scenario (use the torch runner)`;
  const kind = c.technique.kind;
  const family = getTechnique(kind).family;
  if (FAMILY_REASON[family]) return FAMILY_REASON[family]!(kind);
  if (!["base", "gguf", "adapter"].includes(family))
    return `the ${kind} technique (family ${family}) has no GGUF form on the llamacpp runner`;
  const adapter = c.technique as { merged?: boolean; base?: string };
  if (family === "adapter" && kind === "dora") return DORA;
  if (family === "adapter" && adapter.base === "int4")
    return "QLoRA's int4 base is MatMulNBits / bitsandbytes: on the llamacpp runner the base is the runner's weights type (f32, f16, bf16)";
  if (c.scenario === "adapter-swap" && !(family === "adapter" && !adapter.merged))
    return "adapter-swap needs an unmerged adapter (lora or rslora with merged: false)";
  return ggufModelRefusal(c.model, caseFileType(c), c.workload.routingSkew);
}
