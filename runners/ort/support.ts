// What the ort runner cannot run, known without loading onnxruntime: scenarios without a graph, techniques without
// an ONNX form (no IR rewrite).
import type { Case } from "../../src/suite/case.js";
import { getTechnique } from "../../src/techniques/registry.js";

export function ortStaticReason(c: Case): string | undefined {
  if (c.model.gguf)
    return "a local GGUF runs on the llamacpp runner; the ort runner builds its graphs from weights it reads, which needs a checkpoint directory (checkpoint: …) or synthesised weights";
  if (c.scenario !== "prefill" && c.scenario !== "decode")
    return `the ort runner does not implement the ${c.scenario} scenario (use the torch runner)`;
  if (c.model.hf?.irUnsupported)
    return `the ort runner builds its graphs from the project's IR, which cannot express this ${String(c.model.hf.config.model_type)} config: ${c.model.hf.irUnsupported} — run it on the torch runner`;
  const technique = getTechnique(c.technique.kind);
  if (technique.family === "peft")
    return `peft ${String((c.technique as { config?: { peft_type?: unknown } }).config?.peft_type)} runs on the torch runner only: the ort runner's graphs come from the project's IR, which has no form for peft tuners (lora, rslora and dora have kinds of their own that it runs)`;
  if (c.technique.kind !== "base" && !technique.rewriteIr)
    return `technique ${c.technique.kind} has no ONNX form: the ort runner runs techniques that rewrite the model IR — run it on a runner that implements it`;
  return undefined;
}
