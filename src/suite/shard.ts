// `--shard i/n`: a deterministic split of the planned cases, balanced by expected cost (longest first onto the
// least-loaded shard). Every machine computes the same split from the same suite, so shards never overlap.
import type { Case } from "./case.js";
import { UsageError, messages } from "../messages.js";

export interface ShardSpec {
  index: number; // 1-based
  count: number;
}

export function parseShard(text: string): ShardSpec {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!match || count < 1 || index < 1 || index > count)
    throw new UsageError(messages.badOption("--shard", `expected i/n with 1 ≤ i ≤ n (e.g. 2/4), got "${text}"`));
  return { index, count };
}

/** A relative cost estimate: weight work per token × tokens per iteration × repeats (enough to balance shards). */
export function expectedCost(c: Case): number {
  const m = c.model;
  const perToken =
    m.layers * (4 * m.hidden * m.hidden + 3 * m.hidden * (m.moe ? (m.moe.expertFfn ?? m.ffn) * m.moe.topK : m.ffn)) +
    m.hidden * m.vocab;
  const tokens = c.scenario === "decode" ? c.workload.batch : c.workload.batch * c.workload.promptTokens;
  const scenarioFactor = c.scenario === "train-step" ? 3 : c.scenario === "generate" ? c.workload.newTokens : 1;
  // Fixed per-process cost (start-up, warm-up, the minimum measure time) dominates small cases.
  const fixed = 1e9;
  return c.protocol.repeats * (fixed + perToken * tokens * scenarioFactor);
}

export function shardCases(cases: Case[], shard: ShardSpec): Case[] {
  const loads = new Array<number>(shard.count).fill(0);
  const owner = new Map<string, number>();
  const ordered = [...cases].sort((a, b) => expectedCost(b) - expectedCost(a) || a.id.localeCompare(b.id));
  for (const c of ordered) {
    let target = 0;
    for (let i = 1; i < loads.length; i++) if (loads[i]! < loads[target]!) target = i;
    loads[target]! += expectedCost(c);
    owner.set(c.id, target);
  }
  return cases.filter((c) => owner.get(c.id) === shard.index - 1);
}
