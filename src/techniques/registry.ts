// The technique registry: one file per technique, one line here each (CONVENTIONS.md §1, §9).
import { z } from "zod";
import { baseTechnique } from "./base.js";
import type { Technique } from "./technique.js";

export const TECHNIQUES = [baseTechnique] as const satisfies readonly Technique<any>[];

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
export const techniqueSchema = z.discriminatedUnion("kind", TECHNIQUES.map((t) => t.params) as unknown as [ParamsSchema, ...ParamsSchema[]]);
export type TechniqueConfig = z.output<typeof techniqueSchema>;
