// Writes the tiny suite files that CLI-level tests run through `bin/bench.js` (a real suite file, loaded as users'
// are). One micro model by default: 1 layer, hidden 64, GQA 4/2, vocabulary 97 — milliseconds per case.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export const MICRO_MODEL = { name: "micro", layers: 1, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 97 };

export interface TinySuiteOptions {
  /** File name inside `dir` (default tiny.ts). */
  file?: string;
  name?: string;
  /** Overrides of the micro model's fields. */
  model?: Record<string, unknown>;
  scenarios?: string[];
  workloads?: Array<Record<string, unknown>>;
  protocol?: Record<string, unknown>;
  /** More top-level suite fields, as source text (e.g. `techniques: [...]`). */
  extra?: string;
}

/** Writes a suite file and returns its path. */
export function writeTinySuite(dir: string, options: TinySuiteOptions = {}): string {
  const path = join(dir, options.file ?? "tiny.ts");
  const fields = [
    `name: ${JSON.stringify(options.name ?? "tiny")}`,
    `models: [${JSON.stringify({ ...MICRO_MODEL, ...options.model })}]`,
    `scenarios: ${JSON.stringify(options.scenarios ?? ["prefill", "decode"])}`,
    `workloads: ${JSON.stringify(options.workloads ?? [{ batch: 1, promptTokens: 8 }])}`,
    `protocol: ${JSON.stringify(options.protocol ?? { repeats: 1, minMeasureMs: 1, minIterations: 8, maxIterations: 8, warmupMinIterations: 2, warmupMaxMs: 20 })}`,
    ...(options.extra ? [options.extra] : []),
  ];
  writeFileSync(
    path,
    `import { defineSuite } from "effbench";\nexport default defineSuite({\n  ${fields.join(",\n  ")},\n});\n`,
  );
  return path;
}
