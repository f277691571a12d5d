// Per-case accounting metrics stored with every result (parameters, bytes, analytic FLOPs and bytes
// per timed iteration — what MFU and MBU divide).
import type { Case } from "../suite/case.js";
import type { MetricRecord } from "../store/store.js";
import { accountModel, bytesPerDecodeStep, decodeFlopsPerToken, prefillFlopsPerSequence } from "./accounting.js";

export function caseAccountingMetrics(c: Case): MetricRecord[] {
  if (c.model.moe) return [{ name: "params_total", value: null, unit: "count", reason: "MoE accounting is not implemented yet" }];
  const a = accountModel(c.model);
  const { batch, promptTokens } = c.workload;
  const metrics: MetricRecord[] = [
    { name: "params_total", value: a.totalParams, unit: "count" },
    { name: "params_embedding", value: a.embeddingParams, unit: "count" },
    { name: "params_non_embedding", value: a.nonEmbeddingParams, unit: "count" },
    { name: "weight_bytes", value: a.weightBytes, unit: "B" },
  ];
  if (c.scenario === "prefill") {
    metrics.push({ name: "flops_per_iteration", value: batch * prefillFlopsPerSequence(c.model, promptTokens), unit: "FLOP", label: "analytic: 2·matmul params per token + causal attention; lm_head on the last position" });
  } else if (c.scenario === "decode") {
    metrics.push({ name: "flops_per_iteration", value: batch * decodeFlopsPerToken(c.model, promptTokens), unit: "FLOP", label: "analytic: one token per sequence at context promptTokens" });
    metrics.push({ name: "bytes_per_iteration", value: bytesPerDecodeStep(c.model, promptTokens, batch), unit: "B", label: "analytic minimum: weights once + KV cache read" });
  }
  return metrics;
}
