// What the ort runner records about how a case's technique really runs on it: the IR form's own notes (the graph is
// built from the IR), and the ort CPU EP's cast of half-precision weights.
import type { Case } from "../../src/suite/case.js";
import { getTechnique } from "../../src/techniques/registry.js";

export function ortTechniqueNotes(c: Case): string[] {
  const technique = getTechnique(c.technique.kind);
  const notes = technique.irFormNotes?.(c.technique) ?? [];
  if (technique.family === "half")
    notes.push(
      `${c.technique.kind} weights are cast to fp32 at load on the ort CPU EP: stored ${c.technique.kind}, run in fp32`,
    );
  return notes;
}
