// The Technique interface: how a base model is changed (parameters, label, IR rewrite, accounting, family).
import type { z } from "zod";
import type { ModelConfig, Scenario } from "../suite/schema.js";
import type { ModelIr } from "../model/ir.js";
import type { TechniqueAccounting } from "./accounting.js";

/** What a rewrite may need from the case beyond the technique's parameters. */
export interface RewriteContext {
  /** The workload's routing skew (Zipf s): routers of mixtures of LoRA experts get its logit bias (docs/mole.md). */
  routingSkew: number;
}

/** How a technique changes the model, as the runners implement it. */
export type TechniqueFamily = "base" | "adapter" | "quantized" | "half" | "mole" | (string & {});

export interface Technique<P extends z.ZodObject<{ kind: z.ZodLiteral<string> }>> {
  kind: z.output<P>["kind"];
  /** Zod schema of the technique's parameters, `kind` included. */
  params: P;
  /** A short human label, e.g. "lora r8 unmerged". */
  label(params: z.output<P>): string;
  /**
   * The family the runners implement it by: adding a technique of a known family needs no runner edit (the torch
   * worker receives it with each case). `peft` and other families may be added by new techniques.
   */
  family: TechniqueFamily;
  /**
   * Which scenarios (and models, when given) it can run in, on any runner; `undefined` means supported, a string is
   * the reason it is not. What one runner cannot do is that runner's to say (`RunnerDefinition.unsupportedReason`).
   */
  unsupportedReason(params: z.output<P>, scenario: Scenario, model?: ModelConfig): string | undefined;
  /**
   * Rewrites the model IR (ort runner, `bench export`, fidelity): wraps linears in adapters, swaps them
   * for quantised ones, replaces FFNs by mixtures. Absent ⇒ the technique has no ONNX form (torch only).
   * Must not mutate `ir`; returns a new IR that may share tensors.
   */
  rewriteIr?(ir: ModelIr, params: z.output<P>, context?: RewriteContext): ModelIr;
  /** Parameter, byte and FLOP accounting by arithmetic only. Absent ⇒ the base model's. */
  account?(model: ModelConfig, params: z.output<P>): TechniqueAccounting;
  /** How its IR form (what `rewriteIr` builds) differs from the paper's model, recorded by the runners that run it. */
  irFormNotes?(params: z.output<P>): string[];
  /**
   * Before validation, on the suite's raw entry: resolves file paths it names against the suite's folder and says
   * what is wrong with them (`issues`, each `field.path: message`).
   */
  expandInput?(raw: Record<string, unknown>, baseDir: string): { raw: Record<string, unknown>; issues: string[] };
  /** The parameters as the case key holds them, when they name files: by content, not by absolute path. */
  caseKeyParams?(params: z.output<P>): unknown;
}

/**
 * The parameters suite files may write for techniques registered outside the built-in list (by a runner that alone
 * implements them), by kind, for editor completion: each such technique's module adds its own entry
 * (`declare module … { interface TechniqueInputs { kind: … } }`). The loader validates them like any other.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface TechniqueInputs {}
