// Reference values from papers (datasets/references/*.json), for the report's "versus paper" section.
// Each reference states the ratio it supports in our metric names; see datasets/schema.ts and docs/metrics.md.
import type { z } from "zod";
import type { referenceFileSchema } from "../schema.js";
import efficientllm from "./efficientllm.json" with { type: "json" };
import moeLora from "./moe-lora.json" with { type: "json" };
import moeCompression from "./moe-compression.json" with { type: "json" };

type ReferenceFileInput = z.input<typeof referenceFileSchema>;

/** Every reference file, as stored (validated by test/datasets/references.test.ts). */
export const REFERENCE_FILES = [efficientllm, moeLora, moeCompression] as unknown as readonly ReferenceFileInput[];

/** All references of all files, flattened, each with the paper it comes from. */
export function allReferences(): Array<ReferenceFileInput["references"][number] & { paper: string }> {
  return REFERENCE_FILES.flatMap((file) => file.references.map((reference) => ({ ...reference, paper: file.paper })));
}
