// `bench inspect`: per case, what the model is — parameters (total, trainable, active per token), bytes, FLOPs
// per token — from arithmetic alone (no weights allocated), so that it is instant for 70B or Mixtral-sized configs.
import type { Case } from "./suite/case.js";
import type { ProbeResult, Runner } from "./runner/contract.js";
import { caseTechniqueAccounting } from "./model/case-accounting.js";
import { decodeFlopsPerToken, prefillFlopsPerToken } from "./model/accounting.js";
import { checkpointNotes } from "./model/checkpoint.js";

export interface CaseInspection {
  id: string;
  name: string;
  /** null when only the runner can count them (a peft tuner without a formula here): `countsFrom` says so. */
  totalParams: number | null;
  trainableParams: number | null;
  trainableReason?: string;
  activeParamsPerToken: number | null;
  countsFrom?: string;
  weightBytes: number;
  adapterBytes: number;
  /** Prefill FLOPs per token at the workload's prompt length; decode FLOPs per token at that context. */
  prefillFlopsPerToken: number;
  decodeFlopsPerToken: number;
  /** KV cache bytes (fp32) of the workload at its prompt length. */
  kvCacheBytes: number;
  notes: string[];
}

export function inspectCase(c: Case): CaseInspection {
  const a = caseTechniqueAccounting(c);
  const m = c.model;
  const headDim = m.headDim ?? m.hidden / m.heads;
  const kvCacheBytes =
    2 *
    m.layers *
    (m.kvHeads ?? m.heads) *
    headDim *
    4 *
    c.workload.batch *
    (c.workload.promptTokens + c.workload.newTokens);
  return {
    id: c.id,
    name: c.name,
    totalParams: a.countedByRunner ? null : a.totalParams,
    trainableParams: a.countedByRunner ? null : a.trainableParams,
    ...(a.trainableReason ? { trainableReason: a.trainableReason } : {}),
    activeParamsPerToken: a.countedByRunner ? null : a.activeParamsPerToken,
    ...(a.countedByRunner ? { countsFrom: a.countedByRunner } : {}),
    weightBytes: a.weightBytes,
    adapterBytes: a.adapterBytes,
    prefillFlopsPerToken: prefillFlopsPerToken(m, c.workload.promptTokens) + a.extraFlopsPerToken,
    decodeFlopsPerToken: decodeFlopsPerToken(m, c.workload.promptTokens) + a.extraFlopsPerToken,
    kvCacheBytes,
    // A checkpoint model's numbers come from its config.json alone: the safetensors are not opened here.
    notes: m.checkpoint
      ? [`architecture from ${m.checkpoint}/config.json (weights not read)`, ...checkpointNotes(m), ...a.notes]
      : a.notes,
  };
}

/**
 * Fills the counts only a runner can give (peft tuners without a formula, models given as a transformers config) from
 * the case's runner on the meta device (`Runner.inspect`); where the runner is unavailable, the case's notes say so.
 */
export async function withRunnerCounts(
  cases: Case[],
  rows: CaseInspection[],
  runnerOf: (name: Case["runner"]) => Promise<{ runner: Runner; probe: ProbeResult }>,
): Promise<CaseInspection[]> {
  const out: CaseInspection[] = [];
  for (const [index, row] of rows.entries()) {
    const c = cases[index]!;
    if (!row.countsFrom) {
      out.push(row);
      continue;
    }
    const { runner, probe } = await runnerOf(c.runner);
    if (!probe.available || !runner.inspect) {
      const why = probe.available ? `the ${c.runner} runner cannot count models` : probe.reason;
      out.push({ ...row, notes: [...row.notes, `parameter counts not available: ${row.countsFrom}; ${why}`] });
      continue;
    }
    try {
      const counts = await runner.inspect(c);
      out.push({
        ...row,
        totalParams: counts.total,
        trainableParams: counts.trainable,
        activeParamsPerToken: counts.activePerToken ?? null,
        notes: [
          ...row.notes,
          `counts from the ${c.runner} runner on the meta device${counts.architecture ? ` (${counts.architecture})` : ""}`,
        ],
      });
    } catch (error) {
      out.push({ ...row, notes: [...row.notes, `parameter counts not available: ${(error as Error).message}`] });
    }
  }
  return out;
}
