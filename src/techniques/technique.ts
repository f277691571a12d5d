// The Technique interface (DESIGN.md §3): how a base model is changed.
import type { z } from "zod";
import type { ModelConfig, RunnerName, Scenario } from "../suite/schema.js";
import type { ModelIr } from "../model/ir.js";
import type { TechniqueAccounting } from "./accounting.js";

/** What a rewrite may need from the case beyond the technique's parameters. */
export interface RewriteContext {
  /** The workload's routing skew (Zipf s): routers of mixtures of LoRA experts get its logit bias (docs/mole.md). */
  routingSkew: number;
}

export interface Technique<P extends z.ZodObject<{ kind: z.ZodLiteral<string> }>> {
  kind: z.output<P>["kind"];
  /** Zod schema of the technique's parameters, `kind` included. */
  params: P;
  /** A short human label, e.g. "lora r8 unmerged". */
  label(params: z.output<P>): string;
  /** Which runners, scenarios (and models, when given) can run it; `undefined` means supported, a string is the reason it is not. */
  unsupportedReason(
    params: z.output<P>,
    runner: RunnerName,
    scenario: Scenario,
    model?: ModelConfig,
  ): string | undefined;
  /**
   * Rewrites the model IR (ort runner, `bench export`, fidelity): wraps linears in adapters, swaps them
   * for quantised ones, replaces FFNs by mixtures. Absent ⇒ the technique has no ONNX form (torch only).
   * Must not mutate `ir`; returns a new IR that may share tensors.
   */
  rewriteIr?(ir: ModelIr, params: z.output<P>, context?: RewriteContext): ModelIr;
  /** Parameter, byte and FLOP accounting by arithmetic only. Absent ⇒ the base model's. */
  account?(model: ModelConfig, params: z.output<P>): TechniqueAccounting;
  /** What the ort runner should record about how the technique really ran (e.g. "fp16 cast to fp32 at load"). */
  runtimeNotes?(params: z.output<P>, runner: RunnerName): string[];
}
