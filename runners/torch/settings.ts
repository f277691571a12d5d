// The torch runner's settings (the suite's `torch: {…}`), with their defaults.
import { z } from "zod";

export const torchSettingsSchema = z.object({
  device: z.enum(["auto", "cpu", "cuda"]).default("auto"),
  dtype: z.enum(["fp32", "fp16", "bf16"]).default("fp32"),
  threads: z.number().int("expected a whole number").positive("expected a positive integer").optional(),
  gradientCheckpointing: z.boolean().default(false),
});

export type TorchSettings = z.output<typeof torchSettingsSchema>;

declare module "../../src/runner/contract.js" {
  interface RunnerSettingsInputs {
    /** Settings of the torch runner (transformers + peft in a Python worker). */
    torch: z.input<typeof torchSettingsSchema>;
  }
}
