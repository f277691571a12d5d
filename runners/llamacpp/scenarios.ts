// The timed iterations of the llamacpp runner's scenarios, over node-llama-cpp context sequences (one per batch
// row, which node-llama-cpp batches into one llama_decode): prefill (the prompt, logits of the last position),
// decode (one step at context promptTokens from a cached prefix, the step's KV cell erased after it), generate
// (greedy, TTFT and TPOT per request) and adapter-swap (a new context with the other adapter: llama.cpp attaches
// adapters only when a context is created, so this is what switching adapters costs here).
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import type { Case } from "../../src/suite/case.js";
import { createRng } from "../../src/measure/stats.js";
import type { LlamacppSettings } from "./settings.js";
import { createContext } from "./session.js";

export interface ScenarioRun {
  iteration: () => Promise<void>;
  tokensPerIteration: number;
  /** Series beside latency_ms, filled per timed iteration (the warm-up entries are dropped by `keepLast`). */
  extra: Record<string, number[]>;
  settings: Record<string, unknown>;
  close: () => Promise<void>;
}

/** Seeded token rows [batch][tokens], the same for every repeat (as the ort runner's inputs). */
export function seededTokens(c: Case, rows: number, length: number, seedOffset = 0): number[][] {
  const rng = createRng(c.protocol.seed + seedOffset);
  return Array.from({ length: rows }, () => Array.from({ length }, () => Math.floor(rng() * c.model.vocab)));
}

type Item = Token | [Token, { generateNext: { token: true; options: { temperature: 0 } } }];

/** Evaluates tokens on a sequence and returns the greedy next token after the last one. */
async function evaluateNext(sequence: LlamaContextSequence, tokens: number[]): Promise<number> {
  const items: Item[] = tokens.map((t) => t as Token);
  items[items.length - 1] = [
    tokens[tokens.length - 1] as Token,
    { generateNext: { token: true, options: { temperature: 0 } } },
  ];
  const out = await sequence.controlledEvaluate(items);
  const next = out[out.length - 1]?.next?.token;
  if (next === undefined || next === null) throw new Error("llama.cpp returned no next token");
  return next;
}

export function contextSizeOf(c: Case, settings: LlamacppSettings): number {
  return settings.contextSize ?? c.workload.promptTokens + c.workload.newTokens + 1;
}

export async function scenarioRun(
  c: Case,
  model: LlamaModel,
  context: LlamaContext,
  settings: LlamacppSettings,
  swapAdapters?: string[],
): Promise<ScenarioRun> {
  const { batch, promptTokens, newTokens } = c.workload;
  const rows = seededTokens(c, batch, promptTokens);
  const sequences = c.scenario === "adapter-swap" ? [] : rows.map(() => context.getSequence());
  const all = <T>(f: (sequence: LlamaContextSequence, row: number) => Promise<T>) =>
    Promise.all(sequences.map((s, i) => f(s, i)));
  const extra: Record<string, number[]> = {};
  const noClose = async () => {};
  switch (c.scenario) {
    case "prefill":
      return {
        iteration: async () => {
          await all((s) => s.clearHistory());
          await all((s, i) => evaluateNext(s, rows[i]!));
        },
        tokensPerIteration: batch * promptTokens,
        extra,
        settings: {
          timed: "clear the sequences' KV cache, evaluate the prompt, greedy next token of the last position",
        },
        close: noClose,
      };
    case "decode": {
      const next = await all((s, i) => evaluateNext(s, rows[i]!)); // the cached prefix, untimed
      return {
        iteration: async () => {
          await all((s, i) => evaluateNext(s, [next[i]!]));
          await all((s) => s.eraseContextTokenRanges([{ start: promptTokens, end: promptTokens + 1 }]));
        },
        tokensPerIteration: batch,
        extra,
        settings: {
          timed: `one token at position ${promptTokens} after a cached ${promptTokens}-token prefix, then its KV cell erased`,
        },
        close: noClose,
      };
    }
    case "generate": {
      extra.ttft_ms = [];
      extra.tpot_ms = [];
      return {
        iteration: async () => {
          await all((s) => s.clearHistory());
          const start = performance.now();
          let next = await all((s, i) => evaluateNext(s, rows[i]!));
          extra.ttft_ms!.push(performance.now() - start);
          const steps: number[] = [];
          for (let step = 1; step < newTokens; step++) {
            const t0 = performance.now();
            next = await all((s, i) => evaluateNext(s, [next[i]!]));
            steps.push(performance.now() - t0);
          }
          if (steps.length) extra.tpot_ms!.push(steps.reduce((a, b) => a + b, 0) / steps.length);
        },
        tokensPerIteration: batch * newTokens,
        extra,
        settings: { timed: `prompt then ${newTokens - 1} greedy steps per request; ttft_ms and tpot_ms per request` },
        close: noClose,
      };
    }
    case "adapter-swap": {
      if (!swapAdapters || swapAdapters.length < 2) throw new Error("adapter-swap needs an unmerged adapter");
      extra.new_context_ms = [];
      let current: LlamaContext | undefined;
      let turn = 0;
      const token = rows[0]![0]!;
      await context.dispose(); // each iteration creates its own
      return {
        iteration: async () => {
          await current?.dispose();
          const t0 = performance.now();
          current = await createContext(model, settings, {
            contextSize: contextSizeOf(c, settings),
            sequences: 1,
            adapters: [{ filePath: swapAdapters[turn++ % 2]! }],
          });
          extra.new_context_ms!.push(performance.now() - t0);
          await evaluateNext(current.getSequence(), [token]);
        },
        tokensPerIteration: 1,
        extra,
        settings: {
          timed:
            "adapter attach as llama.cpp does it: dispose the context, create a new one with the other adapter (the adapter and its negation alternate), evaluate one token; new_context_ms is the context creation alone. The KV cache does not survive a swap",
        },
        close: async () => {
          await current?.dispose();
        },
      };
    }
    default:
      throw new Error(`the llamacpp runner does not implement the ${c.scenario} scenario`);
  }
}
