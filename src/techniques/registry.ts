// The technique registry: one file per technique, one line here each (CONVENTIONS.md §1, §9).
import { z } from "zod";
import { baseTechnique } from "./base.js";
import { loraTechnique } from "./lora.js";
import { rsloraTechnique } from "./rslora.js";
import { doraTechnique } from "./dora.js";
import { int4Technique } from "./int4.js";
import { int8Technique } from "./int8.js";
import { bf16Technique, fp16Technique } from "./half.js";
import { mixloraTechnique } from "./mixlora.js";
import { loramoeTechnique } from "./loramoe.js";
import { molaTechnique } from "./mola.js";
import { xloraTechnique } from "./xlora.js";
import { smoraTechnique } from "./smora.js";
import type { Technique } from "./technique.js";

export const TECHNIQUES = [
  baseTechnique,
  loraTechnique,
  rsloraTechnique,
  doraTechnique,
  int4Technique,
  int8Technique,
  fp16Technique,
  bf16Technique,
  mixloraTechnique,
  loramoeTechnique,
  molaTechnique,
  xloraTechnique,
  smoraTechnique,
] as const satisfies readonly Technique<any>[];

const byKind = new Map<string, Technique<any>>();
for (const technique of TECHNIQUES) {
  if (byKind.has(technique.kind)) throw new Error(`technique "${technique.kind}" is registered twice`);
  byKind.set(technique.kind, technique);
}

export function getTechnique(kind: string): Technique<any> {
  const technique = byKind.get(kind);
  if (!technique) throw new Error(`unknown technique "${kind}"; known: ${[...byKind.keys()].join(", ")}`);
  return technique;
}

export const techniqueKinds = [...byKind.keys()];

type ParamsSchema = (typeof TECHNIQUES)[number] extends infer T ? (T extends Technique<infer P> ? P : never) : never;
export const techniqueSchema = z.discriminatedUnion(
  "kind",
  TECHNIQUES.map((t) => t.params) as unknown as [ParamsSchema, ...ParamsSchema[]],
);
export type TechniqueConfig = z.output<typeof techniqueSchema>;
