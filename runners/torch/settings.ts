// The torch runner's settings (the suite's `torch: {…}`), with their defaults.
import { z } from "zod";

/** How the worker executes the model (docs/torch-runner.md): eager PyTorch, CUDA graphs replayed, or torch.compile. */
export const executionModeSchema = z.enum(["eager", "cuda-graph", "compile"]);

export const torchSettingsSchema = z.object({
  device: z.enum(["auto", "cpu", "cuda"]).default("auto"),
  dtype: z.enum(["fp32", "fp16", "bf16"]).default("fp32"),
  threads: z.number().int("expected a whole number").positive("expected a positive integer").optional(),
  gradientCheckpointing: z.boolean().default(false),
  /** One mode, or a list: each mode is its own case (an axis, so eager and cuda-graph run side by side). */
  mode: z.union([executionModeSchema, z.array(executionModeSchema).min(1)]).default("eager"),
  /** torch.compile's mode in the `compile` execution mode. */
  compileMode: z.enum(["default", "reduce-overhead", "max-autotune"]).default("default"),
});

export type TorchSettings = z.output<typeof torchSettingsSchema>;
export type ExecutionMode = z.output<typeof executionModeSchema>;

declare module "../../src/runner/contract.js" {
  interface RunnerSettingsInputs {
    /** Settings of the torch runner (transformers + peft in a Python worker). */
    torch: z.input<typeof torchSettingsSchema>;
  }
}
