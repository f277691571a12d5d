// The ort runner's settings (the suite's `ort: {…}`), with their defaults.
import { z } from "zod";

const positiveInt = z.number().int("expected a whole number").positive("expected a positive integer");

export const ortSettingsSchema = z.object({
  /** One intra-op thread by default: on a 2-core machine, spinning or extra threads only add noise. */
  intraOpThreads: positiveInt.default(1),
  interOpThreads: positiveInt.default(1),
  allowSpinning: z.boolean().default(false),
  graphOptimizationLevel: z.enum(["disabled", "basic", "extended", "all"]).default("all"),
  executionProvider: z.enum(["cpu", "cuda"]).default("cpu"),
});

export type OrtSettings = z.output<typeof ortSettingsSchema>;

declare module "../../src/runner/contract.js" {
  interface RunnerSettingsInputs {
    /** Settings of the ort runner (onnxruntime-node). */
    ort: z.input<typeof ortSettingsSchema>;
  }
}
