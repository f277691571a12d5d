// Real architectures with their published parameter counts (datasets/architectures/*.json).
// Suites import them from here: `model: architectureModel("qwen2.5-1.5b")`. JSON is imported statically so that
// the suite loader (esbuild) bundles the data into the suite.
import type { SuiteInput } from "../../src/suite/schema.js";
import type { ArchitectureInput } from "../schema.js";
import deepseekMoe16b from "./deepseek-moe-16b.json" with { type: "json" };
import llama213b from "./llama-2-13b.json" with { type: "json" };
import llama27b from "./llama-2-7b.json" with { type: "json" };
import llama318b from "./llama-3.1-8b.json" with { type: "json" };
import llama321b from "./llama-3.2-1b.json" with { type: "json" };
import llama323b from "./llama-3.2-3b.json" with { type: "json" };
import mistral7bV01 from "./mistral-7b-v0.1.json" with { type: "json" };
import mixtral8x7bV01 from "./mixtral-8x7b-v0.1.json" with { type: "json" };
import olmoe1b7b0924 from "./olmoe-1b-7b-0924.json" with { type: "json" };
import phi35Moe from "./phi-3.5-moe.json" with { type: "json" };
import qwen15MoeA27b from "./qwen1.5-moe-a2.7b.json" with { type: "json" };
import qwen2505b from "./qwen2.5-0.5b.json" with { type: "json" };
import qwen2515b from "./qwen2.5-1.5b.json" with { type: "json" };
import qwen2514b from "./qwen2.5-14b.json" with { type: "json" };
import qwen2532b from "./qwen2.5-32b.json" with { type: "json" };
import qwen253b from "./qwen2.5-3b.json" with { type: "json" };
import qwen257b from "./qwen2.5-7b.json" with { type: "json" };

/** Every architecture, as stored: defaults not filled (architectureSchema.parse fills them; test/datasets/ validates). */
export const ARCHITECTURES = [
  deepseekMoe16b,
  llama213b,
  llama27b,
  llama318b,
  llama321b,
  llama323b,
  mistral7bV01,
  mixtral8x7bV01,
  olmoe1b7b0924,
  phi35Moe,
  qwen15MoeA27b,
  qwen2505b,
  qwen2515b,
  qwen2514b,
  qwen2532b,
  qwen253b,
  qwen257b,
] as unknown as readonly ArchitectureInput[];

export type ArchitectureId = (typeof ARCHITECTURE_IDS)[number];
export const ARCHITECTURE_IDS = [
  "deepseek-moe-16b",
  "llama-2-13b",
  "llama-2-7b",
  "llama-3.1-8b",
  "llama-3.2-1b",
  "llama-3.2-3b",
  "mistral-7b-v0.1",
  "mixtral-8x7b-v0.1",
  "olmoe-1b-7b-0924",
  "phi-3.5-moe",
  "qwen1.5-moe-a2.7b",
  "qwen2.5-0.5b",
  "qwen2.5-1.5b",
  "qwen2.5-14b",
  "qwen2.5-32b",
  "qwen2.5-3b",
  "qwen2.5-7b",
] as const;

type ModelInput = SuiteInput["models"][number];

export function getArchitecture(id: ArchitectureId): ArchitectureInput {
  const found = ARCHITECTURES.find((a) => a.id === id);
  if (!found) throw new Error(`unknown architecture "${id}"; known: ${ARCHITECTURE_IDS.join(", ")}`);
  return found;
}

/**
 * A suite model of a real architecture. `overrides` may set weights, a checkpoint or a different name;
 * the model's name defaults to the architecture id so that results match across suites.
 */
export function architectureModel(id: ArchitectureId, overrides: Partial<ModelInput> = {}): ModelInput {
  const architecture = getArchitecture(id);
  return { name: id, ...structuredClone(architecture.model), ...overrides } as ModelInput;
}
