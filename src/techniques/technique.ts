// The Technique interface (DESIGN.md §3): how a base model is changed.
import type { z } from "zod";
import type { RunnerName, Scenario } from "../suite/schema.js";

export interface Technique<P extends z.ZodObject<{ kind: z.ZodLiteral<string> }>> {
  kind: z.output<P>["kind"];
  /** Zod schema of the technique's parameters, `kind` included. */
  params: P;
  /** A short human label, e.g. "lora r8 unmerged". */
  label(params: z.output<P>): string;
  /** Which runners and scenarios can run it; `undefined` means supported, a string is the reason it is not. */
  unsupportedReason(params: z.output<P>, runner: RunnerName, scenario: Scenario): string | undefined;
}
