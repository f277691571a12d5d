// The baseline of `npm run bench:overhead`: the same ORT model and inputs as a harness case, in the same kind of
// process, timed by a bare `session.run` loop (one clock read per block, not per iteration).
import "../runners/index.js"; // registers the built-in runners, as the CLI does
import type { OrtSettings } from "../runners/ort/settings.js";
import * as ort from "onnxruntime-node";
import { readFileSync } from "node:fs";
import type { Case } from "../src/suite/case.js";
import { prepareOrtCase } from "../runners/ort/prepare.js";

const c = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as Case;
const blocks = Number(process.argv[3] ?? 30);
const perBlock = Number(process.argv[4] ?? 10);
const prepared = await prepareOrtCase(c, 0);
const settings = c.settings as OrtSettings;
const session = await ort.InferenceSession.create(prepared.modelBytes, {
  executionProviders: ["cpu"],
  intraOpNumThreads: settings.intraOpThreads,
  interOpNumThreads: settings.interOpThreads,
  graphOptimizationLevel: settings.graphOptimizationLevel,
  executionMode: "sequential",
  extra: { session: { "intra_op.allow_spinning": "0", "inter_op.allow_spinning": "0" } },
});
for (let i = 0; i < 20; i++) await session.run(prepared.feeds);
const blockMeansMs: number[] = [];
for (let b = 0; b < blocks; b++) {
  const t0 = performance.now();
  for (let i = 0; i < perBlock; i++) await session.run(prepared.feeds);
  blockMeansMs.push((performance.now() - t0) / perBlock);
}
process.stdout.write(JSON.stringify(blockMeansMs) + "\n");
