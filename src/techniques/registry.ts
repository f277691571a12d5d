// The technique registry, the one list of techniques: one file per technique, one line here each. Everything else
// (the suite schema, the runners, the torch worker through each case's `family`) reads it; a test may register its
// own technique with `registerTechnique`.
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
import { expertPruneTechnique } from "./expert-prune.js";
import { mcSmoeTechnique } from "./mc-smoe.js";
import { subMoeTechnique } from "./sub-moe.js";
import { peftTechnique } from "./peft.js";
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
  expertPruneTechnique,
  mcSmoeTechnique,
  subMoeTechnique,
  peftTechnique,
] as const satisfies readonly Technique<any>[];

const byKind = new Map<string, Technique<any>>();

/** Registers a technique; a second one of the same kind is refused. */
export function registerTechnique(technique: Technique<any>): void {
  if (byKind.has(technique.kind)) throw new Error(`technique "${technique.kind}" is registered twice`);
  byKind.set(technique.kind, technique);
}
for (const technique of TECHNIQUES) registerTechnique(technique);

export function getTechnique(kind: string): Technique<any> {
  const technique = byKind.get(kind);
  if (!technique) throw new Error(`unknown technique "${kind}"; known: ${[...byKind.keys()].join(", ")}`);
  return technique;
}

/** The registered techniques' kinds. */
export function techniqueKinds(): string[] {
  return [...byKind.keys()];
}

type ParamsSchema = (typeof TECHNIQUES)[number] extends infer T ? (T extends Technique<infer P> ? P : never) : never;
/** The discriminated union of every registered technique's parameters. */
export function techniqueSchema(): z.ZodType<TechniqueConfig, z.input<BuiltInSchema>> {
  return z.discriminatedUnion(
    "kind",
    [...byKind.values()].map((t) => t.params) as unknown as [ParamsSchema, ...ParamsSchema[]],
  ) as never;
}
type BuiltInSchema = z.ZodDiscriminatedUnion<ParamsSchema[]>;
/** A technique's parameters as validated (the built-in techniques' union, for types). */
export type TechniqueConfig = z.output<BuiltInSchema>;
