// Prepares scripts/gpu-smoke.sh's mode-equality check (run here, where Node and the suites are): the 8B decode cases of
// suites/gpu-smoke.ts, paired eager / cuda-graph per technique, written as the worker receives them. On the GPU,
// runners/torch/mode_check.py builds each (worker-seeded: no weights file travels) and compares the step's logits.
//   npx tsx scripts/gpu-mode-check-prepare.ts .gpu/mode-check.json
import { writeFileSync } from "node:fs";
import { loadSuite } from "../src/suite/loader.js";
import { planSuite } from "../src/suite/planner.js";
import { workerSeeded } from "../runners/torch/seeded.js";
import type { TorchSettings } from "../runners/torch/settings.js";
import "../runners/index.js";

const out = process.argv[2] ?? ".gpu/mode-check.json";
const { suite } = await loadSuite("suites/gpu-smoke.ts");
const cases = planSuite(suite, { codeVersion: "mode-check" }).filter((c) => c.model.name === "llama-8b");
const pairs = [...new Set(cases.map((c) => JSON.stringify(c.technique)))].map((technique) => {
  const of = (mode: string) =>
    cases.find((c) => JSON.stringify(c.technique) === technique && (c.settings as TorchSettings).mode === mode)!;
  return { technique: JSON.parse(technique) as unknown, eager: of("eager"), graph: of("cuda-graph") };
});
if (!pairs.every((p) => p.eager && p.graph && workerSeeded(p.eager) && workerSeeded(p.graph)))
  throw new Error("every mode-check pair needs an eager and a cuda-graph case with worker-seeded weights");
writeFileSync(out, JSON.stringify({ pairs }, null, 1));
console.log(`mode check: ${pairs.length} pair(s) → ${out}`);
