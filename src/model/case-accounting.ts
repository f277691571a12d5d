// Per-case accounting metrics stored with every result (parameters, bytes, analytic FLOPs and bytes
// per timed iteration — what MFU and MBU divide).
import type { Case } from "../suite/case.js";
import type { MetricRecord } from "../store/store.js";
import { bytesPerDecodeStep, decodeFlopsPerToken, prefillFlopsPerSequence } from "./accounting.js";
import { getTechnique } from "../techniques/registry.js";
import { getRunnerDefinition } from "../runner/registry.js";
import { baseAccounting, FP32_BYTES, type TechniqueAccounting } from "../techniques/accounting.js";
import { ggufTypeSummary, type GgufModelFile } from "./gguf-model.js";

/**
 * The accounting of a case's model after its technique — as the case's runner stores it when the runner says
 * (`RunnerDefinition.heldAccounting`: its settings may change the bytes, e.g. a GGUF written in f16).
 */
export function caseTechniqueAccounting(
  c: Pick<Case, "model" | "technique"> & Partial<Pick<Case, "runner" | "settings">>,
): TechniqueAccounting {
  const technique = getTechnique(c.technique.kind);
  const own = technique.account ? technique.account(c.model, c.technique) : baseAccounting(c.model);
  const a = (c.runner && getRunnerDefinition(c.runner).heldAccounting?.(c as Case, own)) || own;
  if (c.model.gguf) return ggufAccounting(c.model.gguf, a, baseAccounting(c.model));
  // A transformers-config model may have layers the IR's arithmetic does not know (q/k norms, gates, MLA…).
  if (c.model.hf && !a.countedByRunner)
    return {
      ...a,
      countedByRunner: `counted by transformers and peft in the worker (meta device): the model is a ${String(c.model.hf.config.model_type)} config, which the IR's arithmetic does not count exactly`,
    };
  return a;
}

/**
 * What the runner actually holds, when it says so: its weights' bytes (dtype and packing as held, e.g. bf16 = 2 bytes,
 * int4 packed + scales) and the bytes of one KV-cache value (its activation dtype). Without it, the analytic
 * accounting (weights as the technique stores them, fp32 cache).
 */
export interface HeldBytes {
  weightBytes?: number | null;
  cacheValueBytes?: number | null;
}

export function caseAccountingMetrics(c: Case, held: HeldBytes = {}): MetricRecord[] {
  const a = caseTechniqueAccounting(c);
  const heldWeightBytes = held.weightBytes ?? a.weightBytes;
  const { batch, promptTokens } = c.workload;
  if (a.countedByRunner) {
    const reason = a.countedByRunner;
    return ["params_total", "params_trainable", "params_active_per_token", "adapter_bytes", "weight_bytes"].map(
      (name) => ({ name, value: null, unit: name.endsWith("bytes") ? "B" : "count", reason }),
    );
  }
  const metrics: MetricRecord[] = [
    { name: "params_total", value: a.totalParams, unit: "count" },
    a.trainableParams === null
      ? { name: "params_trainable", value: null, unit: "count", reason: a.trainableReason }
      : { name: "params_trainable", value: a.trainableParams, unit: "count" },
    { name: "params_active_per_token", value: a.activeParamsPerToken, unit: "count" },
    { name: "weight_bytes", value: a.weightBytes, unit: "B" },
    { name: "adapter_bytes", value: a.adapterBytes, unit: "B" },
  ];
  if (c.scenario === "prefill") {
    const tokens = batch * promptTokens;
    metrics.push({
      name: "flops_per_iteration",
      value:
        batch * prefillFlopsPerSequence(c.model, promptTokens) + tokens * a.extraFlopsPerToken + a.extraFlopsPerForward,
      unit: "FLOP",
      label: "analytic: 2·matmul params per token + causal attention (+ adapter paths); lm_head on the last position",
    });
  } else if (c.scenario === "decode") {
    metrics.push({
      name: "flops_per_iteration",
      value: batch * (decodeFlopsPerToken(c.model, promptTokens) + a.extraFlopsPerToken) + a.extraFlopsPerForward,
      unit: "FLOP",
      label: "analytic: one token per sequence at context promptTokens (+ adapter paths)",
    });
    const cacheValueBytes = held.cacheValueBytes ?? FP32_BYTES;
    const base = bytesPerDecodeStep(c.model, promptTokens, batch, FP32_BYTES, cacheValueBytes);
    const fp32Weights = bytesPerDecodeStep(c.model, 0, 0);
    // Weights as held: scale the fp32 weight traffic by the held/fp32 ratio of the whole model.
    const weightRatio = heldWeightBytes / baseAccounting(c.model).weightBytes;
    metrics.push({
      name: "bytes_per_iteration",
      value: base - fp32Weights + fp32Weights * weightRatio,
      unit: "B",
      label: `analytic minimum: weights once (${held.weightBytes != null ? "as the runner holds them" : "as stored"}) + KV cache read (${cacheValueBytes} B per value)`,
    });
  }
  return metrics;
}

/**
 * A local GGUF model: parameters and bytes from the file's tensor infos as stored (its own quant mix), plus what the
 * technique adds to the base (an adapter's parameters and bytes); nothing of the file is trained.
 */
function ggufAccounting(file: GgufModelFile, a: TechniqueAccounting, base: TechniqueAccounting): TechniqueAccounting {
  const adds = a.adapterParams > 0;
  return {
    ...a,
    totalParams: file.params + (a.totalParams - base.totalParams),
    activeParamsPerToken: file.activeParams + (a.activeParamsPerToken - base.activeParamsPerToken),
    weightBytes: file.tensorBytes + (a.weightBytes - base.weightBytes),
    trainableParams: adds ? a.trainableParams : null,
    ...(adds ? {} : { trainableReason: "a local GGUF file is run as it is: nothing of it is trained" }),
    notes: [
      `from the GGUF header of ${file.identity} (tensor data not read): ${ggufTypeSummary(file)}; ${file.fileBytes} bytes on disk`,
      ...a.notes,
    ],
  };
}
