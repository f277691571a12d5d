import { z } from "zod";
import type { Technique } from "./technique.js";

const params = z.object({ kind: z.literal("base"), name: z.string().optional() }).strict();

/** The unmodified model. */
export const baseTechnique: Technique<typeof params> = {
  kind: "base",
  family: "base",
  params,
  label: () => "base",
  unsupportedReason: () => undefined,
};
