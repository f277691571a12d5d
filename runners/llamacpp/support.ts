// What the llamacpp runner can run, known from the case alone: the scenarios llama.cpp has, the techniques that have
// a GGUF form (base, quant, LoRA / RSLoRA merged or as adapters), by technique family, and why the others have none.
import type { Case } from "../../src/suite/case.js";
import { getTechnique } from "../../src/techniques/registry.js";
import { ggufModelRefusal } from "./gguf/model-gguf.js";
import { caseFileType } from "./prepare.js";
import { seededAdapterRefusal } from "./gguf/seeded-adapter.js";
import type { AdapterParams } from "../../src/techniques/adapters.js";

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

/** A local GGUF file runs as it is: base, and unmerged adapters (seeded from its shapes); nothing that needs its weights. */
function localGgufReason(c: Case, family: string): string | undefined {
  const file = c.model.gguf!;
  const what = `${file.identity.split("#")[0]} is already ${file.fileType ? `a ${file.fileType} file` : "a GGUF file"}`;
  // The workload's routing skew is a router logit bias, which llama.cpp's MoE router has no place for.
  if (c.model.moe && c.workload.routingSkew > 0)
    return `${file.identity.split("#")[0]} is a MoE and llama.cpp's router has no bias: a workload routingSkew > 0 (a router logit bias) cannot be applied to it — set routingSkew: 0 for this model`;
  if (family === "gguf")
    return `${what}: the quant technique quantises the harness's own fp32 weights, and a local GGUF's tensors are not read into the harness — run the file as it is (base), or give the model's checkpoint directory (checkpoint: …) to quantise it yourself`;
  if (family === "adapter" && (c.technique as { merged?: boolean }).merged)
    return `${what}: merging an adapter rewrites the weights, which the harness does not read from a local GGUF — run the adapter unmerged (merged: false), or give a checkpoint directory to merge into`;
  if (family === "adapter")
    return seededAdapterRefusal(c.model, c.technique as unknown as Pick<AdapterParams, "targets">);
  return undefined;
}

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
  if (c.model.gguf) return localGgufReason(c, family);
  return ggufModelRefusal(c.model, caseFileType(c), c.workload.routingSkew);
}
