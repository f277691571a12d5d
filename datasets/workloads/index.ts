// Prompt/generation length distributions for `generate` workloads (datasets/workloads/*.json), each with its source.
// Suites turn a dataset's points into workloads with workloadsFrom().
import type { z } from "zod";
import type { SuiteInput } from "../../src/suite/schema.js";
import type { workloadDatasetSchema } from "../schema.js";
import chatAlpaca from "./chat-alpaca.json" with { type: "json" };
import chatAzureConversation from "./chat-azure-conversation.json" with { type: "json" };
import chatSharegpt from "./chat-sharegpt.json" with { type: "json" };
import codeAzureCoding from "./code-azure-coding.json" with { type: "json" };
import summarisationCnnDailymail from "./summarisation-cnn-dailymail.json" with { type: "json" };

type WorkloadDatasetInput = z.input<typeof workloadDatasetSchema>;
type WorkloadInput = SuiteInput["workloads"][number];

/** Every workload dataset, as stored (validated by test/datasets/workloads.test.ts). */
export const WORKLOAD_DATASETS = [
  chatSharegpt,
  chatAlpaca,
  chatAzureConversation,
  codeAzureCoding,
  summarisationCnnDailymail,
] as unknown as readonly WorkloadDatasetInput[];

export type WorkloadDatasetId =
  "chat-sharegpt" | "chat-alpaca" | "chat-azure-conversation" | "code-azure-coding" | "summarisation-cnn-dailymail";

export interface WorkloadOptions {
  batch?: number;
  /** Caps applied to the dataset's points (a CPU run cannot generate 338 tokens per request in its budget); capping is recorded in the name. */
  maxPromptTokens?: number;
  maxNewTokens?: number;
}

/** The suite workloads of a dataset's points, named `<point>` or `<point>-capped` when a cap applied. */
export function workloadsFrom(id: WorkloadDatasetId, options: WorkloadOptions = {}): WorkloadInput[] {
  const dataset = WORKLOAD_DATASETS.find((d) => d.id === id);
  if (!dataset) throw new Error(`unknown workload dataset "${id}"`);
  return dataset.points.map((point) => {
    const promptTokens = Math.min(point.promptTokens, options.maxPromptTokens ?? Infinity);
    const newTokens = Math.min(point.newTokens, options.maxNewTokens ?? Infinity);
    const capped = promptTokens !== point.promptTokens || newTokens !== point.newTokens;
    return { name: capped ? `${point.name}-capped` : point.name, batch: options.batch ?? 1, promptTokens, newTokens };
  });
}
