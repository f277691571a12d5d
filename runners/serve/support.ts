// What the serve runner cannot run, known without starting Python: by scenario, workload, technique family and
// settings. What needs the machine (a Python with transformers serve, a CUDA device) is checked by the runner.
import type { Case } from "../../src/suite/case.js";
import { getTechnique } from "../../src/techniques/registry.js";
import type { ServeSettings } from "./settings.js";

export const MULTI_ADAPTER_UNSUPPORTED =
  "transformers serve serves one model per process (a request naming another model is refused), so it cannot spread requests over several LoRA adapters: adapter diversity needs an external server that serves many (vLLM --enable-lora --lora-modules name=path …; set serve.endpoint.adapters)";

/** Adapter kinds written as a peft directory transformers serve loads (DoRA's magnitude vector is not written yet). */
export const SERVED_ADAPTER_KINDS = new Set(["lora", "rslora"]);

export function serveStaticReason(c: Case): string | undefined {
  const s = c.settings as ServeSettings;
  if (c.scenario !== "serving")
    return `the serve runner runs the serving scenario only (requests to a server under load), not ${c.scenario}`;
  if (c.workload.batch !== 1)
    return "a serving request carries one prompt: set the workload's batch to 1 (load comes from serve.rates / serve.concurrency)";
  if (s.durationS !== undefined && s.durationS * 1000 >= c.protocol.caseTimeoutMs)
    return `serve.durationS (${s.durationS} s) does not end before the case timeout (protocol.caseTimeoutMs, ${c.protocol.caseTimeoutMs} ms): the point would always time out — shorten durationS or raise caseTimeoutMs`;
  if (s.endpoint) {
    if (s.adapterSpread && !s.endpoint.adapters)
      return "serve.adapterSpread needs the adapter names the endpoint serves: set serve.endpoint.adapters";
    if (s.adapterSpread && s.adapterSpread.count > s.endpoint.adapters!.length)
      return `serve.adapterSpread.count is ${s.adapterSpread.count} but serve.endpoint.adapters names ${s.endpoint.adapters!.length}`;
    return undefined;
  }
  if (s.adapterSpread) return MULTI_ADAPTER_UNSUPPORTED;
  if (c.model.gguf)
    return "a local GGUF runs on the llamacpp runner; a managed transformers serve loads a Hugging Face directory, which needs a checkpoint directory (checkpoint: …) — or point serve.endpoint at a llama.cpp server that serves the file";
  const family = getTechnique(c.technique.kind).family;
  const t = c.technique as { merged?: boolean; base?: string };
  if (family === "adapter") {
    if (!SERVED_ADAPTER_KINDS.has(c.technique.kind))
      return `a managed transformers serve runs LoRA and RSLoRA adapters; ${c.technique.kind}'s magnitude vector is not written as a peft directory yet — use an external endpoint that serves it`;
    if (t.merged)
      return "a merged adapter is not written by the serve runner yet: serve it unmerged (merged: false), as transformers loads a peft directory";
    if (t.base && t.base !== "fp32")
      return `an adapter over a ${t.base} base has no directory transformers serve loads`;
  } else if (family !== "base" && family !== "half")
    return `a managed transformers serve runs base, fp16, bf16 and LoRA/RSLoRA adapters; ${c.technique.kind} (family ${family}) has no Hugging Face directory it loads — use an external endpoint that serves it`;
  if (c.model.moe)
    return "MoE models are not written as a Hugging Face directory by the serve runner yet (run them on the ort or torch runner)";
  if (c.model.checkpoint)
    return "a checkpoint model is not served yet: the serve runner writes seeded models with a synthetic tokenizer";
  if (s.continuousBatching && s.device === "cpu" && !s.cbNumBlocks)
    return "continuous batching on CPU: transformers serve sizes its paged KV cache from memory on the first request and a CPU request did not answer in 45 s — set serve.cbNumBlocks (with 64 blocks a CPU request answered in 0.7 s here) or continuousBatching: false";
  return undefined;
}
